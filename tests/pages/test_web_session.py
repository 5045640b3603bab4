"""The signed session cookie: round trip, tampering and expiry."""

import time
from pathlib import Path
from types import SimpleNamespace

from conveyor.core.settings import Settings
from conveyor.pages.web import WebSession, decode_session, encode_session, session_secret

SECRET = b"k" * 32


def test_round_trip_and_tampering() -> None:
    web = WebSession(kind="employee", subject_id=7)
    value = encode_session(web, SECRET)
    back = decode_session(value, SECRET)
    assert back is not None and (back.kind, back.subject_id, back.csrf) == ("employee", 7, web.csrf)
    assert decode_session(value, b"other-secret" * 3) is None
    body, signature = value.rsplit(".", 1)
    forged = encode_session(WebSession(kind="admin"), b"guess").rsplit(".", 1)[0]
    assert decode_session(f"{forged}.{signature}", SECRET) is None
    assert decode_session(f"{body}.{'0' * 64}", SECRET) is None
    assert decode_session("garbage", SECRET) is None
    assert decode_session("", SECRET) is None


def test_expired_session_is_anonymous() -> None:
    old = WebSession(kind="customer", subject_id=1, issued=time.time() - 13 * 3600)
    assert decode_session(encode_session(old, SECRET), SECRET) is None


def test_secret_from_settings_or_the_data_folder(tmp_path: Path) -> None:
    configured = SimpleNamespace(settings=Settings(session_secret="s" * 40, data_dir=tmp_path))
    assert session_secret(configured) == b"s" * 40
    shared = SimpleNamespace(settings=Settings(data_dir=tmp_path / "data"))
    first = session_secret(shared)
    assert len(first) >= 32 and session_secret(shared) == first  # every process reads the same
    assert (tmp_path / "data" / "session-secret").stat().st_mode & 0o777 == 0o600
