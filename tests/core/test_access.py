from __future__ import annotations

import pytest

from chronoq.core.access import (
    AuditEntry,
    Role,
    matches,
    new_token,
    parse_role,
    token_id_of,
)
from chronoq.core.errors import ConfigurationError


def test_roles_include_the_ones_before_them() -> None:
    assert Role.ADMIN.allows(Role.OPERATE) and Role.ADMIN.allows(Role.READ)
    assert Role.OPERATE.allows(Role.READ) and not Role.OPERATE.allows(Role.ADMIN)
    assert not Role.READ.allows(Role.OPERATE)


def test_unknown_role_names_the_choices() -> None:
    with pytest.raises(ConfigurationError, match="read, operate, admin"):
        parse_role("root")
    assert parse_role(" Admin ") is Role.ADMIN


def test_a_token_is_stored_as_a_digest_and_found_by_its_id() -> None:
    record, visible = new_token("ci", Role.READ, 1)
    assert visible.startswith("cq_") and record.digest not in visible
    assert token_id_of(visible) == record.id
    assert matches(record, visible)
    assert not matches(record, visible[:-1] + ("0" if visible[-1] != "0" else "1"))
    assert record.from_json(record.id, record.to_json()) == record


MISSHAPEN = ["", "cq_", "cq_abc_def", "Bearer x", "xx_" + "a" * 12 + "_" + "b" * 48]


@pytest.mark.parametrize("text", MISSHAPEN)
def test_malformed_tokens_have_no_id(text: str) -> None:
    assert token_id_of(text) is None


def test_audit_entries_round_trip() -> None:
    entry = AuditEntry("ops", "jobs.retry", filter="status:dead", count=3, detail={"x": 1})
    back = AuditEntry.from_json("5-0", entry.to_json())
    assert back.id == "5-0" and back.count == 3 and back.detail == {"x": 1}
