"""The receiving side's example that the tests verify deliveries with is the README's copy."""

import time

from conveyor.outbound.signing import signature, verify_example_source
from tests.utils.processes import ROOT


def test_the_readme_shows_the_tested_verification_example() -> None:
    readme = (ROOT / "README.md").read_text()
    assert f"```python\n{verify_example_source()}```" in readme


def test_the_example_checks_what_conveyor_signs() -> None:
    namespace: dict = {}
    exec(verify_example_source(), namespace)
    verify = namespace["verify"]
    body = b'{"id":"evt_1","type":"order.created"}'
    now = int(time.time())
    assert verify("whsec_a", body, signature("whsec_a", body, now))
    assert not verify("whsec_b", body, signature("whsec_a", body, now))
    assert not verify("whsec_a", body, signature("whsec_a", body, now - 301))  # too old
    assert not verify("whsec_a", body, "v1=00")
