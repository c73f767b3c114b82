"""Client.records: JSON records by key in a namespace, with an optional ttl."""

from __future__ import annotations

import pytest

from chronoq import Client, ConfigurationError


async def test_put_get_many_ttl_and_delete(client: Client) -> None:
    records = client.records("notes")
    await records.put("a", {"n": 1})
    await records.put("b", [1, 2], ttl=0.05)
    assert await records.get("a") == {"n": 1}
    assert await records.get_many(["a", "b", "c"]) == {"a": {"n": 1}, "b": [1, 2]}
    assert await client.records("other").get("a") is None  # namespaces apart
    assert await records.delete("a") and not await records.delete("a")
    with pytest.raises(ConfigurationError, match="ttl"):
        await records.put("x", 1, ttl=0)
    with pytest.raises(ConfigurationError, match="record key"):
        await records.put("bad{key}", 1)
