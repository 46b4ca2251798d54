"""End to end: the real ``openai`` client against a local chat-completions server."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from conftest import FAKE_KEY, QUERIES, write_samples
from fake_server import FakeChatServer, default_answer

from zstvg import cli
from zstvg.decompose.prompts import load_prompt
from zstvg.files.provenance import provenance_path


def _expected(query: str) -> dict[str, str]:
    a = default_answer(query)
    return {**a, "attribute": a["attribute"].rstrip("."), "action": a["action"].rstrip(".")}


def test_good_answers_are_written_cached_and_reused(run_cli, samples_file, api_key, capsys):
    with FakeChatServer(expected_key=api_key) as server:
        rc, rows = run_cli("--samples", str(samples_file), base_url=server.base_url)
        assert rc == 0
        assert server.n_requests == 3 and server.auth_ok == 3 and server.auth_bad == 0
        assert server.response_formats == {"json_schema": 3}
        first = capsys.readouterr().out
        rc, rows2 = run_cli("--samples", str(samples_file), base_url=server.base_url)
        assert rc == 0 and server.n_requests == 3  # the second run made zero requests
    assert [r["sample_id"] for r in rows] == ["s0", "s1", "s2"]
    r0 = rows[0]
    assert r0["target_class"] == "person"
    assert r0["attribute"] == "The man in the red shirt walks to the door"
    assert r0["action"] == "sits down"
    assert r0["spatial_query"] == (
        "Is there the man in the red shirt walks to the door in this video?"
    )
    assert r0["temporal_query"] == "Is there sits down in this video?"
    assert r0["source"] == "api" and r0["flags"] == [] and r0["model"] == "gpt-4o"
    assert r0["prompt_sha256"] == load_prompt().sha256
    assert [r["source"] for r in rows2] == ["cache"] * 3
    assert [{k: r[k] for k in ("attribute", "action")} for r in rows2] == [
        {k: r[k] for k in ("attribute", "action")} for r in rows
    ]
    prov = json.loads(provenance_path(samples_file.parent / "decompositions.jsonl").read_text())
    assert prov["usage"]["requests"] == 0 and prov["by_source"] == {"cache": 3}
    assert prov["prompt_sha256"] == load_prompt().sha256
    assert "by source: api 3" in first and "estimated cost $" in first


def test_identical_queries_are_asked_once(run_cli, tmp_path, api_key):
    samples = write_samples(tmp_path / "dup.jsonl", [QUERIES[0], QUERIES[0] + "  ", QUERIES[1]])
    with FakeChatServer() as server:
        rc, rows = run_cli("--samples", str(samples), base_url=server.base_url)
    assert rc == 0 and server.n_requests == 2 and len(rows) == 3
    assert rows[0]["attribute"] == rows[1]["attribute"]


def test_rate_limit_honours_retry_after(run_cli, samples_file, api_key):
    q = QUERIES[0]
    with FakeChatServer(script={q: ["429", "429"]}, retry_after_s=0.25) as server:
        rc, rows = run_cli("--samples", str(samples_file), base_url=server.base_url)
        times = server.times[q]
    assert rc == 0 and server.modes["429"] == 2 and server.per_query[q] == 3
    assert rows[0]["source"] == "api" and rows[0]["flags"] == []
    # Retry-After is a floor on the wait (the jittered backoff alone is at most 0.02 s here).
    assert times[1] - times[0] >= 0.24 and times[2] - times[1] >= 0.24
    prov = json.loads(provenance_path(samples_file.parent / "decompositions.jsonl").read_text())
    assert prov["usage"]["retries"] == 2 and prov["usage"]["requests"] == 5


@pytest.mark.parametrize("mode", ["500", "hang", "malformed"])
def test_transient_failures_are_retried(run_cli, samples_file, api_key, mode):
    q = QUERIES[1]
    with FakeChatServer(script={q: [mode, mode]}, hang_s=1.0) as server:
        rc, rows = run_cli("--samples", str(samples_file), base_url=server.base_url)
    assert rc == 0 and server.modes[mode] == 2 and server.per_query[q] == 3
    assert rows[1]["source"] == "api" and rows[1]["flags"] == []
    assert rows[1]["attribute"] == _expected(q)["attribute"]


def test_persistent_server_errors_give_flagged_fallback(run_cli, samples_file, api_key, capsys):
    q = QUERIES[2]
    with FakeChatServer(script={q: ["500"] * 10}) as server:
        rc, rows = run_cli(
            "--samples",
            str(samples_file),
            base_url=server.base_url,
            sets=["decompose.max_retries=2"],
        )
    assert rc == 0 and server.per_query[q] == 3  # one request + max_retries retries
    r = rows[2]
    assert r["source"] == "fallback" and r["flags"] == ["fallback", "api_error"]
    assert r["target_class"] == "dog" and r["attribute"] == "a brown dog"
    assert r["action"] == "a dog that chases a ball on the grass"
    assert r["model"] == "rules-v1" and r["prompt_sha256"] is None
    assert "HTTP 500 after 3 requests" in r["error"]
    assert [x["source"] for x in rows[:2]] == ["api", "api"]
    assert "1 without an LLM answer" in capsys.readouterr().out
    # failures are not cached: the next run asks again, the good answers come from the cache
    with FakeChatServer() as server:
        rc, rows = run_cli("--samples", str(samples_file), base_url=server.base_url)
    assert server.n_requests == 1 and [x["source"] for x in rows] == ["cache", "cache", "api"]


@pytest.mark.parametrize("mode,flag", [("refusal", "refusal"), ("garbage", "unparsable")])
def test_refusals_and_unparsable_answers_retried_then_flagged(
    run_cli, samples_file, api_key, mode, flag
):
    q = QUERIES[0]
    with FakeChatServer(script={q: [mode] * 10}) as server:
        rc, rows = run_cli("--samples", str(samples_file), base_url=server.base_url)
    assert rc == 0 and server.per_query[q] == 3  # asked again twice (CONTENT_RETRIES)
    assert rows[0]["source"] == "fallback" and rows[0]["flags"] == ["fallback", flag]
    assert rows[0]["attribute"] == "the man in the red shirt"
    assert rows[0]["action"] == "the man who walks to the door and sits down"


def test_refusal_then_good_answer(run_cli, samples_file, api_key):
    q = QUERIES[0]
    with FakeChatServer(script={q: ["refusal"]}) as server:
        rc, rows = run_cli("--samples", str(samples_file), base_url=server.base_url)
    assert server.per_query[q] == 2 and rows[0]["source"] == "api"


def test_server_without_structured_outputs_uses_json_mode(run_cli, tmp_path, api_key):
    samples = write_samples(tmp_path / "s.jsonl", [f"person {i} and walks" for i in range(6)])
    with FakeChatServer(structured=False) as server:
        rc, rows = run_cli(
            "--samples",
            str(samples),
            base_url=server.base_url,
            sets=["decompose.max_concurrency=1"],
        )
    assert rc == 0 and all(r["source"] == "api" for r in rows)
    # one refused json_schema request, then JSON mode for this query and every later one
    assert server.response_formats == {"json_schema": 1, "json_object": 6}
    assert rows[3]["attribute"] == "person 3" and rows[3]["action"] == "walks"


def test_server_without_json_mode_uses_tolerant_parsing(run_cli, tmp_path, api_key):
    samples = write_samples(tmp_path / "s.jsonl", ["a man and runs", "a dog and barks"])
    with FakeChatServer(structured=False, json_mode=False) as server:
        rc, rows = run_cli(
            "--samples",
            str(samples),
            base_url=server.base_url,
            sets=["decompose.max_concurrency=1"],
        )
    assert rc == 0 and [r["source"] for r in rows] == ["api", "api"]
    assert server.response_formats == {"json_schema": 1, "json_object": 1, "none": 2}
    assert rows[1]["attribute"] == "a dog" and rows[1]["action"] == "barks"


def test_offline_with_empty_cache_uses_fallback_and_no_request(run_cli, samples_file, api_key):
    with FakeChatServer() as server:
        rc, rows = run_cli("--samples", str(samples_file), "--offline", base_url=server.base_url)
        rc2, rows2 = run_cli(
            "--samples",
            str(samples_file),
            base_url=server.base_url,
            sets=["decompose.offline=true"],
        )
        assert server.n_requests == 0
    assert rc == 0 and rc2 == 0 and rows == rows2
    assert all(r["source"] == "fallback" and r["flags"] == ["fallback", "offline"] for r in rows)
    assert rows[1]["attribute"] == "the woman with long hair"
    assert rows[1]["temporal_query"] == (
        "Is there the woman who turns around and leaves the room in this video?"
    )
    prov = json.loads(provenance_path(samples_file.parent / "decompositions.jsonl").read_text())
    assert prov["offline"] is True and prov["server"] is None and prov["usage"]["requests"] == 0


def test_offline_uses_the_cache_first(run_cli, samples_file, api_key):
    with FakeChatServer() as server:
        run_cli("--samples", str(samples_file), base_url=server.base_url)
    rc, rows = run_cli("--samples", str(samples_file), "--offline")
    assert rc == 0 and [r["source"] for r in rows] == ["cache"] * 3


def test_openai_base_url_env_applies_when_params_leave_it_empty(
    run_cli, samples_file, api_key, monkeypatch
):
    with FakeChatServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        rc, rows = run_cli("--samples", str(samples_file), base_url="")
    assert rc == 0 and server.n_requests == 3 and rows[0]["source"] == "api"


def test_changing_the_model_changes_the_cache_key(run_cli, samples_file, api_key):
    with FakeChatServer() as server:
        run_cli("--samples", str(samples_file), base_url=server.base_url)
        rc, rows = run_cli(
            "--samples",
            str(samples_file),
            base_url=server.base_url,
            sets=["decompose.model=other-model"],
        )
    assert server.n_requests == 6 and {r["model"] for r in rows} == {"other-model"}


def test_api_key_never_written_to_files_or_logs(run_cli, samples_file, api_key, tmp_path, capsys):
    q = QUERIES[0]
    with FakeChatServer(
        script={q: ["429", "500", "refusal"]}, retry_after_s=0.01, expected_key=api_key
    ) as server:
        rc, _ = run_cli("--samples", str(samples_file), base_url=server.base_url)
        assert rc == 0 and server.auth_ok == server.n_requests == 6
    with FakeChatServer(default_mode="500") as server:  # failures: error texts are written too
        run_cli(
            "--samples", str(samples_file), base_url=server.base_url, out=tmp_path / "failed.jsonl"
        )
    captured = capsys.readouterr()
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) >= 6 and (tmp_path / "run.log").stat().st_size > 0
    for path in files:
        assert FAKE_KEY.encode() not in path.read_bytes(), path
    assert FAKE_KEY not in captured.out and FAKE_KEY not in captured.err


def test_missing_key_is_a_clear_error_and_writes_nothing(
    run_cli, samples_file, monkeypatch, tmp_path
):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    rc, rows = run_cli("--samples", str(samples_file), base_url="http://127.0.0.1:9/v1")
    assert rc == 2 and rows == []
    log = (tmp_path / "run.log").read_text()
    assert "OPENAI_API_KEY is not set" in log and "--offline" in log


def test_wrong_key_stops_the_run(run_cli, samples_file, monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-key-0123456789")
    with FakeChatServer(default_mode="401") as server:
        rc, rows = run_cli("--samples", str(samples_file), base_url=server.base_url)
    assert rc == 2 and rows == []
    assert "authentication failed" in (tmp_path / "run.log").read_text()


def test_bad_samples_file_names_file_and_key(run_cli, tmp_path, api_key):
    bad = tmp_path / "bad.jsonl"
    write_samples(bad, ["a man and walks", "a woman and sits"])
    rows = [json.loads(line) for line in bad.read_text().splitlines()]
    del rows[1]["query"]
    bad.write_text("".join(json.dumps(r) + "\n" for r in rows))
    rc, rows = run_cli("--samples", str(bad), "--offline")
    assert rc == 2 and rows == []
    assert "bad.jsonl:2: missing required key 'query'" in (tmp_path / "run.log").read_text()
    rc, _ = run_cli("--samples", str(tmp_path / "nope.jsonl"), "--offline")
    assert rc == 2


def test_samples_with_errors_and_empty_queries(run_cli, tmp_path, api_key):
    samples = write_samples(
        tmp_path / "s.jsonl", ["a man and runs", "  "], error="unreadable video"
    )
    with FakeChatServer() as server:
        rc, rows = run_cli("--samples", str(samples), base_url=server.base_url)
    assert rc == 0 and server.n_requests == 1
    assert rows[0]["source"] == "api"  # a sample error does not stop its decomposition
    assert rows[1]["error"] == "empty query: nothing to decompose" and rows[1]["flags"] == ["error"]


def test_output_rows_follow_input_order_under_concurrency(run_cli, tmp_path, api_key):
    queries = [f"person number {i} and walks away" for i in range(40)]
    samples = write_samples(tmp_path / "s.jsonl", queries)
    with FakeChatServer(latency_s=0.01) as server:
        rc, rows = run_cli(
            "--samples",
            str(samples),
            base_url=server.base_url,
            sets=["decompose.max_concurrency=8"],
        )
    assert rc == 0 and server.n_requests == 40
    assert [r["attribute"] for r in rows] == [f"person number {i}" for i in range(40)]
    cache_files = list((Path(tmp_path) / "cache").rglob("*.json"))
    assert len(cache_files) == 40 and all(p.parent.name == p.stem[:2] for p in cache_files)


def test_401_names_the_endpoint_from_openai_base_url(run_cli, samples_file, monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-key-0123456789")
    with FakeChatServer(default_mode="401") as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        rc, _ = run_cli("--samples", str(samples_file), base_url="")
    assert rc == 2
    log = (tmp_path / "run.log").read_text()
    assert f"at {server.base_url}" in log and "default base URL" not in log
    assert "sk-wrong-key-0123456789" not in log


def test_cache_entries_are_readable_by_others_and_requests_not_logged(
    tmp_path, api_key, repo_root, samples_file
):
    old = os.umask(0o022)
    try:
        with FakeChatServer() as server:
            rc = cli.main(
                ["decompose", "--params", str(repo_root / "params.yaml"), "--log-file",
                 str(tmp_path / "quiet.log"), "--samples", str(samples_file), "--out",
                 str(tmp_path / "d.jsonl"), "--no-progress",
                 "--set", f"decompose.cache_dir={tmp_path / 'cache'}",
                 "--set", f"decompose.base_url='{server.base_url}'",
                 "--set", "decompose.offline=false"]
            )  # fmt: skip
    finally:
        os.umask(old)
    assert rc == 0
    entries = list((tmp_path / "cache").rglob("*.json"))
    assert entries and all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in entries)
    log = (tmp_path / "quiet.log").read_text()
    assert "HTTP Request" not in log and "httpx" not in log
