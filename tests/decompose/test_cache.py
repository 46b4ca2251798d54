from __future__ import annotations

import json

from zstvg.decompose.cache import DecompositionCache, cache_key

ANSWER = {"target_class": "person", "attribute": "the man", "action": "the man walking"}


def test_put_get_sharded_and_whitespace_insensitive(tmp_path):
    cache = DecompositionCache(tmp_path)
    path = cache.put("gpt-4o", "p1", "The man  walks.", ANSWER, source="api")
    key = cache_key("gpt-4o", "p1", "The man walks.")
    assert path == tmp_path / key[:2] / f"{key}.json"
    assert json.loads(path.read_text())["query"] == "The man walks."
    assert cache.get("gpt-4o", "p1", " The man walks. ")["answer"] == ANSWER
    assert cache.get("gpt-4o", "p2", "The man walks.") is None
    assert cache.get("gpt-4o-mini", "p1", "The man walks.") is None
    assert cache.get("gpt-4o", "p1", "the man walks.") is None  # case is kept in the key
    assert [p.name for p in tmp_path.rglob("*")] == [key[:2], f"{key}.json"]  # no temp files


def test_corrupt_or_invalid_entries_are_misses(tmp_path, caplog):
    cache = DecompositionCache(tmp_path)
    path = cache.put("m", "p", "q", ANSWER)
    path.write_text("{not json")
    assert cache.get("m", "p", "q") is None
    path.write_text(json.dumps({"answer": {"target_class": "person"}}))
    assert cache.get("m", "p", "q") is None
    path.write_text("[]")  # JSON, but not an entry
    assert cache.get("m", "p", "q") is None
    assert "ignoring" in caplog.text
