"""Importing the authors' released decomposition file and using it offline."""

from __future__ import annotations

import json

import pytest
from conftest import QUERIES
from fake_server import FakeChatServer

from zstvg.decompose.cache import DecompositionCache
from zstvg.decompose.official_import import import_official
from zstvg.files.io import InputError

# The authors' shape: keyed by video file name, one-element lists, a failure marker.
OFFICIAL = {
    "v0.mp4": {
        "decompose_attribute": ["the man in the red shirt."],
        "decompose_action": ["The man walks to the door and sits down."],
    },
    "v1.mp4": {
        "decompose_attribute": ["please describe this video"],
        "decompose_action": ["please describe this video"],
    },
    "v2.mp4": {"decompose_attribute": "a brown dog", "decompose_action": "a dog chasing a ball"},
    "v9.mp4": {"decompose_attribute": ["a cat"], "decompose_action": ["a cat sleeping"]},
    "v3.mp4": {"decompose_attribute": []},
}


def _write(tmp_path, data):
    path = tmp_path / "gpt4_decompose_attr_action.json"
    path.write_text(json.dumps(data))
    return path


def test_import_then_offline_decompose_uses_official_answers(
    run_cli, samples_file, tmp_path, api_key, capsys
):
    official = _write(tmp_path, OFFICIAL)
    report = tmp_path / "import_report.json"
    rc, _ = run_cli(
        "--file",
        str(official),
        "--samples",
        str(samples_file),
        "--report",
        str(report),
        command="import-decompositions",
    )
    assert rc == 0
    rep = json.loads(report.read_text())
    assert rep["n_entries"] == 5 and rep["n_imported_samples"] == 2
    assert rep["failed_in_source"] == ["v1.mp4"] and rep["unmatched"] == ["v9.mp4"]
    assert rep["malformed"] == ["v3.mp4"] and rep["samples_without_entry"] == ["s1"]
    assert "2 of 3 samples imported" in capsys.readouterr().out
    with FakeChatServer() as server:
        rc, rows = run_cli("--samples", str(samples_file), "--offline", base_url=server.base_url)
        assert server.n_requests == 0
    assert rc == 0 and [r["source"] for r in rows] == ["official", "fallback", "official"]
    r0 = rows[0]
    assert (r0["target_class"], r0["attribute"], r0["action"]) == (
        "person",
        "the man in the red shirt",
        "The man walks to the door and sits down",
    )
    assert r0["temporal_query"] == "Is there the man walks to the door and sits down in this video?"
    assert r0["model"] == "official" and r0["prompt_sha256"] == "official" and r0["flags"] == []
    assert rows[2]["target_class"] == "dog"
    # online, only the sample without an official answer is asked
    with FakeChatServer() as server:
        rc, rows = run_cli("--samples", str(samples_file), base_url=server.base_url)
        assert server.n_requests == 1 and server.per_query[QUERIES[1]] == 1
    assert [r["source"] for r in rows] == ["official", "api", "official"]


def test_own_cache_entry_wins_over_official(run_cli, samples_file, tmp_path, api_key):
    with FakeChatServer() as server:
        run_cli("--samples", str(samples_file), base_url=server.base_url)
    run_cli(
        "--file",
        str(_write(tmp_path, OFFICIAL)),
        "--samples",
        str(samples_file),
        command="import-decompositions",
    )
    rc, rows = run_cli("--samples", str(samples_file), "--offline")
    assert [r["source"] for r in rows] == ["cache"] * 3


def test_shared_videos_match_by_query_text_or_are_ambiguous(tmp_path):
    samples = [
        {"sample_id": "vid7_0", "video_id": "vid7", "query": "The child holds a toy."},
        {"sample_id": "vid7_1", "video_id": "vid7", "query": "Who is next to the car?"},
        {"sample_id": "vid8_0", "video_id": "vid8", "query": "A horse runs."},
        {"sample_id": "vid8_1", "video_id": "vid8", "query": "A dog barks."},
    ]
    data = [
        {
            "vid": "vid7",
            "sentence": "the child holds a toy.",
            "decompose_attribute": ["a child"],
            "decompose_action": ["a child holding a toy"],
        },
        {"vid": "vid8", "decompose_attribute": ["a horse"], "decompose_action": ["a horse"]},
    ]
    cache = DecompositionCache(tmp_path / "cache")
    report = import_official(_write(tmp_path, data), samples, cache)
    assert report.imported == ["vid7_0"] and report.ambiguous == ["vid8"]
    entry = cache.get("official", "official", "The child holds a toy.")
    assert entry["answer"]["target_class"] == "person" and entry["source_key"] == "vid7"


@pytest.mark.parametrize(
    "content,match",
    [
        ("{not json", "malformed JSON"),
        ("[1, 2]", "record 0: no key field"),
        ('"text"', "expected a JSON object"),
    ],
)
def test_bad_official_files_name_the_file(tmp_path, content, match):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InputError, match=match) as exc:
        import_official(path, [{"sample_id": "a", "query": "q"}], DecompositionCache(tmp_path))
    assert "bad.json" in str(exc.value)
    assert not list((tmp_path).rglob("*/*.json"))  # nothing was imported
