"""``zstvg fingerprint-inputs``: what `run` selects, by content, and nothing else."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml

from zstvg.cli import main


@pytest.fixture()
def project(tmp_path: Path, params_raw: dict, monkeypatch: pytest.MonkeyPatch) -> Path:
    """data/hc (a real dataset), data/unused, checkpoints/big; run selects hc and two models."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data/hc/videos/sub").mkdir(parents=True)
    Path("data/hc/test.json").write_text('{"a.mp4": {}}')
    Path("data/hc/videos/sub/a.mp4").write_bytes(b"video")
    (tmp_path / "data/unused").mkdir()
    Path("data/unused/test.json").write_text("{}")
    (tmp_path / "checkpoints/big").mkdir(parents=True)
    Path("checkpoints/big/model.safetensors").write_bytes(b"weights")
    hc = dict(params_raw["datasets"]["hcstvg-v1"], annotations="data/hc/test.json",
              videos="data/hc/videos")  # fmt: skip
    params_raw["datasets"] = {
        "hc": hc,
        "unused": dict(hc, annotations="data/unused/test.json"),
        "synthetic": params_raw["datasets"]["synthetic"],
    }
    params_raw["models"]["big"] = {"backend": "qwen2-vl", "checkpoint": "checkpoints/big"}
    params_raw["run"].update(datasets=["hc", "synthetic"], models=["big", "tiny-qwen2-vl"])
    Path("params.yaml").write_text(yaml.safe_dump(params_raw, sort_keys=False))
    return tmp_path


def _run() -> dict[str, dict]:
    assert main(["fingerprint-inputs", "--params", "params.yaml", "--out", "out"]) == 0
    return {p.relative_to("out").as_posix(): json.loads(p.read_text())
            for p in Path("out").rglob("*.json") if p.name != "provenance.json"}  # fmt: skip


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_fingerprints_what_run_selects_and_names_stage_outputs_and_absent_paths(project):
    out = _run()
    hc = out["datasets/hc.json"]
    assert hc["annotations"] == {"path": "data/hc/test.json", "size": 13,
                                 "sha256": _sha(b'{"a.mp4": {}}')}  # fmt: skip
    assert hc["videos"]["files"] == {"sub/a.mp4": {"size": 5, "sha256": _sha(b"video")}}
    assert {name for name in out if name.startswith("datasets/")} == {
        "datasets/hc.json", "datasets/synthetic.json"}  # not "unused"  # fmt: skip
    assert out["datasets/synthetic.json"]["videos"]["kind"] == "stage output"
    models = out["mllm_checkpoints.json"]
    assert models["big"]["files"] == {"model.safetensors": {"size": 7, "sha256": _sha(b"weights")}}
    assert models["tiny-qwen2-vl"]["kind"] == "stage output"
    # hc has no released proposals: the detector and tracker run (not downloaded here)
    assert out["proposal_checkpoints.json"]["detector"]["kind"] == "absent"


def test_a_change_run_does_not_read_leaves_the_files_byte_identical(project):
    _run()
    before = {p.as_posix(): p.read_bytes() for p in Path("out").rglob("*.json")}
    Path("data/unused/test.json").write_text('{"b.mp4": {}}')
    Path("checkpoints/other").mkdir()
    _run()
    assert {p.as_posix(): p.read_bytes() for p in Path("out").rglob("*.json")} == before
    Path("data/hc/videos/sub/a.mp4").write_bytes(b"another video")
    _run()
    after = {p.as_posix(): p.read_bytes() for p in Path("out").rglob("*.json")}
    # only that dataset's file: the other dataset's stages stay up to date
    assert {p for p in after if after[p] != before[p]} == {"out/datasets/hc.json"}


def test_a_raw_input_outside_data_and_checkpoints_is_named(project, tmp_path, capsys):
    params = yaml.safe_load(Path("params.yaml").read_text())
    params["models"]["big"]["checkpoint"] = str(tmp_path / "checkpoints/big")
    Path("params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    _run()
    assert "checkpoints/big is outside data/ and checkpoints/" in capsys.readouterr().out


def test_a_box_tracker_without_a_checkpoint_fingerprints_the_detector_only(project):
    params = yaml.safe_load(Path("params.yaml").read_text())
    params["proposals"].update(tracker="bytetrack", tracker_checkpoint=None)
    Path("params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert set(_run()["proposal_checkpoints.json"]) == {"detector"}
