"""The packaged prompt is pinned by a snapshot; any change to it changes the hash and cache key."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from zstvg.config.params import load_params
from zstvg.decompose.cache import DecompositionCache, cache_key
from zstvg.decompose.decompose import decompose_samples
from zstvg.decompose.prompts import load_prompt, normalize_description, sub_query

SNAPSHOT = Path(__file__).parent / "snapshots" / "decompose_v1.json"
SNAPSHOT_QUERY = "The man in the blue coat picks up the phone and walks out."


def test_rendered_prompt_matches_snapshot():
    prompt = load_prompt()
    current = {
        "version": prompt.version,
        "sha256": prompt.sha256,
        "messages": prompt.render(SNAPSHOT_QUERY),
    }
    if os.environ.get("ZSTVG_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(json.dumps(current, indent=1) + "\n")
    expected = json.loads(SNAPSHOT.read_text())
    assert current["messages"] == expected["messages"], (
        "the prompt changed: bump its version, then rerun with ZSTVG_UPDATE_SNAPSHOTS=1"
    )
    assert current == expected


def test_prompt_shape():
    prompt = load_prompt()
    messages = prompt.render("a query")
    assert messages[0]["role"] == "system"
    assert [m["role"] for m in messages[1:-1]] == ["user", "assistant"] * len(prompt.examples)
    assert messages[-1] == {"role": "user", "content": 'Query: "a query"'}
    for m in messages[2:-1:2]:
        assert set(json.loads(m["content"])) == {"target_class", "attribute", "action"}


def test_any_prompt_change_changes_hash_and_cache_key():
    prompt = load_prompt()
    variants = [
        dataclasses.replace(prompt, system=prompt.system + " "),
        dataclasses.replace(prompt, user_template="Sentence: {query}"),
        dataclasses.replace(prompt, examples=prompt.examples[:-1]),
    ]
    hashes = {prompt.sha256} | {v.sha256 for v in variants}
    assert len(hashes) == 4
    keys = {cache_key("gpt-4o", h, "the man walks") for h in hashes}
    assert len(keys) == 4


def test_a_changed_prompt_misses_the_old_cache(tmp_path, repo_root):
    cfg = dataclasses.replace(
        load_params(repo_root / "params.yaml").decompose, cache_dir=str(tmp_path)
    )
    prompt = load_prompt()
    answer = {"target_class": "person", "attribute": "the man", "action": "the man walking"}
    DecompositionCache(tmp_path).put(cfg.model, prompt.sha256, "The man walks.", answer)
    samples = [{"sample_id": "a", "query": "The man walks."}]
    hit = decompose_samples(samples, cfg, prompt, offline=True, api_key=None, progress=False)
    assert hit.rows[0].source == "cache" and hit.rows[0].action == "the man walking"
    edited = dataclasses.replace(prompt, system=prompt.system.replace("video", "clip"))
    miss = decompose_samples(samples, cfg, edited, offline=True, api_key=None, progress=False)
    assert miss.rows[0].source == "fallback"


def test_sub_query_template():
    assert sub_query("The man in red.") == "Is there the man in red in this video?"
    assert sub_query("  a dog   chasing a ball ") == "Is there a dog chasing a ball in this video?"
    assert sub_query("Tom walking") == "Is there Tom walking in this video?"
    assert normalize_description("An old woman!") == "an old woman"
