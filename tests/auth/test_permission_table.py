"""The README shows the permission table as it is in the code."""

from pathlib import Path

from conveyor.auth.permissions import GRANTS, Role, allows, refusal, table_markdown

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_shows_the_table_in_force() -> None:
    assert table_markdown() in README.read_text()


def test_admins_hold_everything_and_others_only_what_is_granted() -> None:
    for permission, grant in GRANTS.items():
        assert allows(permission, [Role.ADMIN], 0)
        for role in Role:
            if role is Role.ADMIN:
                continue
            assert allows(permission, [role], 10) == (role in grant.roles), (permission, role)
            if grant.clearance:
                assert not allows(permission, [role], grant.clearance - 1), (permission, role)


def test_a_refusal_names_what_would_allow_it() -> None:
    assert refusal(next(p for p, g in GRANTS.items() if not g.roles)).endswith("admins only")
    assert "clearance 2" in refusal(next(p for p, g in GRANTS.items() if g.clearance == 2))
