from __future__ import annotations

import gc
import hashlib
import json
import os
import shutil
import stat

import pytest

import zstvg.files.io
from zstvg.files.io import InputError, atomic_open, fingerprint, read_json, read_jsonl, write_json
from zstvg.files.provenance import fingerprint_tree, provenance_path, write_provenance


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
    assert gc.isenabled()  # the collector, paused while parsing, is back after the error


def test_read_json_takes_what_pythons_json_writes(tmp_path):
    # orjson refuses these three; the fallback parser reads them as Python's json would
    obj = {"nan": float("nan"), "inf": [float("inf"), -float("inf")], "big": 2**70, "s": "\ud800"}
    path = tmp_path / "py.json"
    path.write_text(json.dumps(obj))
    got = read_json(path)
    assert got["nan"] != got["nan"] and got["inf"] == [float("inf"), -float("inf")]
    assert got["big"] == 2**70 and got["s"] == "\ud800"
    rows = tmp_path / "py.jsonl"
    rows.write_text(json.dumps(obj) + "\n" + json.dumps({"x": 0.1}) + "\n")
    assert read_jsonl(rows)[1] == {"x": 0.1} and read_jsonl(rows)[0]["big"] == 2**70


def test_read_json_floats_are_the_standard_parsers_to_the_last_bit(tmp_path):
    values = [0.1, 1 / 3, 1e-310, 5e-324, 1.7976931348623157e308, 123.45, -0.0, 2.5e15 + 0.5]
    path = tmp_path / "f.json"
    path.write_text(json.dumps(values))
    assert [v.hex() for v in read_json(path)] == [v.hex() for v in json.loads(path.read_text())]


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
    from zstvg.files.io import read_finished, write_json

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


def test_fingerprint_is_size_and_content_only_and_survives_a_fresh_copy(tmp_path):
    """A checkout on another machine (new mtime, new inode) gives the same identity, so
    provenance that holds it is byte-identical."""
    f = tmp_path / "a.bin"
    f.write_bytes(b"abc")
    fp = fingerprint(f)
    assert fp == {"size": 3, "sha256": hashlib.sha256(b"abc").hexdigest()}
    copy = tmp_path / "copy" / "a.bin"
    copy.parent.mkdir()
    shutil.copy(f, copy)
    os.utime(copy, ns=(1, 1))
    assert fingerprint(copy) == fp
    tree = fingerprint_tree(tmp_path / "copy")
    assert tree["files"] == {"a.bin": fp}


def test_fingerprint_reads_an_unchanged_file_once_and_a_changed_one_again(tmp_path, monkeypatch):
    reads = []
    real = zstvg.files.io.sha256_file
    monkeypatch.setattr(zstvg.files.io, "sha256_file", lambda p: reads.append(p) or real(p))
    f = tmp_path / "v.mp4"
    f.write_bytes(b"x" * 10)
    first = fingerprint(f)
    assert fingerprint(f) == first and len(reads) == 1  # the hash cache answered
    f.write_bytes(b"y" * 10)  # same size, new bytes (and mtime)
    os.utime(f, ns=(10**18, 10**18))
    assert fingerprint(f)["sha256"] == hashlib.sha256(b"y" * 10).hexdigest() and len(reads) == 2
    os.utime(f, ns=(2 * 10**18, 2 * 10**18))  # touched: read again, same identity
    assert fingerprint(f)["sha256"] == hashlib.sha256(b"y" * 10).hexdigest() and len(reads) == 3


def test_fingerprint_without_a_writable_hash_cache_still_answers(tmp_path, monkeypatch):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv(zstvg.files.io.HASH_CACHE_ENV, str(blocker))
    f = tmp_path / "a.bin"
    f.write_bytes(b"abc")
    assert fingerprint(f)["sha256"] == hashlib.sha256(b"abc").hexdigest()
