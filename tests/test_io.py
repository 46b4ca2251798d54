from __future__ import annotations

import json
import os
import stat

import pytest

from zstvg.io import (
    InputError,
    atomic_open,
    provenance_path,
    read_json,
    read_jsonl,
    write_json,
    write_provenance,
)


def test_atomic_write_keeps_old_file_when_interrupted(tmp_path):
    target = tmp_path / "out.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError), atomic_open(target, "w") as fh:
        fh.write('{"a": 2, "half')
        raise RuntimeError("killed mid-write")
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temp file left behind


def test_outputs_get_umask_mode_not_0600(tmp_path):
    old = os.umask(0o022)
    try:
        write_json(tmp_path / "x.json", {})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "x.json").stat().st_mode) == 0o644


def test_read_errors_name_the_file_and_position(tmp_path):
    with pytest.raises(InputError, match="not found: .*missing.json"):
        read_json(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": 1,\n "b": }')
    with pytest.raises(InputError, match=r"bad.json: malformed JSON at line 2"):
        read_json(bad)
    lines = tmp_path / "x.jsonl"
    lines.write_text('{"a": 1}\n{oops}\n')
    with pytest.raises(InputError, match=r"x.jsonl:2: malformed JSON line"):
        read_jsonl(lines)


def test_provenance_sidecar_beside_files_and_inside_directories(tmp_path):
    f = tmp_path / "m.json"
    write_json(f, {})
    assert provenance_path(f) == tmp_path / "m.json.provenance.json"
    d = tmp_path / "frames"
    d.mkdir()
    assert provenance_path(d) == d / "provenance.json"
    rec = json.loads(write_provenance(f, step="t", params={"x": 1}).read_text())
    assert rec["step"] == "t" and rec["params"] == {"x": 1} and len(rec["params_sha256"]) == 64


def test_read_finished_takes_only_this_jobs_done_records(tmp_path):
    from zstvg.io import read_finished, write_json

    path = tmp_path / "s.json"
    assert read_finished(path, "a") is None  # never written
    write_json(path, {"job_sha256": "a", "status": "ok"})
    assert read_finished(path, "a") == {"job_sha256": "a", "status": "ok"}
    assert read_finished(path, "b") is None  # another job's (changed parameters)
    assert read_finished(path, "a", complete=lambda r: False) is None  # its files are gone
    write_json(path, {"job_sha256": "a", "status": "failed"})
    assert read_finished(path, "a") is None  # a run retries a failed item
    assert read_finished(path, "a", failed_too=True)["status"] == "failed"  # a merge keeps it
    path.write_text('{"job_sha256": "a", "sta')  # killed mid-write without atomic_open
    assert read_finished(path, "a") is None
