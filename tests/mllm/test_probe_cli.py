"""zstvg probe-attention on a tiny real checkpoint and a hand-made frame store."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from PIL import Image

from zstvg.cli import main
from zstvg.files.frames import frame_path
from zstvg.files.provenance import provenance_path
from zstvg.files.records import Sample


def _sample(sid: str, **kw) -> Sample:
    base = dict(
        sample_id=sid,
        video_id="v1",
        video_path="v1.mp4",
        query="the red box jumps",
        qtype="declarative",
        fps=5.0,
        n_frames=20,
        width=64,
        height=48,
        gt_span=(4, 12),
        clip_span=(0, 20),
    )
    base.update(kw)
    return Sample(**base)


@pytest.fixture()
def workdir(tmp_path, tiny_checkpoint, params_raw):
    frames = tmp_path / "frames"
    (frames / "v1").mkdir(parents=True)
    mllm_idx = [1, 6, 11, 16]
    rng = np.random.default_rng(0)
    for f in mllm_idx:
        Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(
            frame_path(frames / "v1", f)
        )
    (frames / "v1" / "index.json").write_text(
        json.dumps(
            {
                "fps": 5.0,
                "width": 64,
                "height": 48,
                "samples": {
                    "ok": {"status": "ok", "mllm_frame_idx": mllm_idx, "grid_frame_idx": []}
                },
            }
        )
    )
    (frames / "manifest.json").write_text(
        json.dumps(
            {
                "videos": {"v1": {"status": "ok", "frames_dir": "v1"}},
                "samples": {"ok": {"video_id": "v1", "status": "ok", "flags": []}},
            }
        )
    )
    samples = tmp_path / "samples.jsonl"
    rows = [_sample("ok"), _sample("broken", error="video file not found: v1.mp4")]
    samples.write_text("".join(json.dumps(s.to_json()) + "\n" for s in rows))
    params_raw["models"]["tiny"] = {
        "backend": "qwen2-vl",
        "checkpoint": str(tiny_checkpoint("qwen2-vl")),
        "layers": [0, 2],  # of its 8 (mllm's [-26, -6) is for 28-layer models)
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params_raw))
    return tmp_path


def test_probe_writes_maps_and_lists_failures(workdir):
    out = workdir / "probe"
    rc = main(
        [
            "probe-attention",
            "--params",
            str(workdir / "params.yaml"),
            "--samples",
            str(workdir / "samples.jsonl"),
            "--frames",
            str(workdir / "frames/manifest.json"),
            "--model",
            "tiny",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["n_samples"] == 2 and manifest["n_failed"] == 1
    assert "video file not found" in manifest["samples"]["broken"]["error"]
    ok = manifest["samples"]["ok"]
    # Qwen2-VL merges 2 frames per temporal slot: 4 frames -> 2 slots.
    assert ok["frames_of_t"] == [[1, 6], [11, 16]]
    maps = np.load(out / "ok.npz")["attn_thw"]
    assert maps.shape[0] == len(ok["candidate_tokens"]) and maps.shape[1] == 2
    # GTI: the chosen candidate is the one with the highest visual activation (max attention).
    chosen = int(np.argmax(maps.reshape(len(maps), -1).max(axis=1)))
    assert ok["gti_token"] == chosen
    np.testing.assert_allclose(np.load(out / "ok.attn.npy"), maps[chosen])
    # the run records every processor setting its calls got, the backend's own included
    prov = json.loads(provenance_path(out / "manifest.json").read_text())
    assert prov["model_settings"]["processor"] == {"cap_pixels_per_frame": True}


def test_unknown_model_is_named(workdir, capsys):
    rc = main(
        [
            "probe-attention",
            "--params",
            str(workdir / "params.yaml"),
            "--samples",
            str(workdir / "samples.jsonl"),
            "--frames",
            str(workdir / "frames/manifest.json"),
            "--model",
            "gpt-5-vision",
            "--out",
            str(workdir / "p"),
        ]
    )
    assert rc == 2
    assert not (workdir / "p").exists()


def test_unexpected_error_and_out_of_memory_fail_one_sample_each(workdir, monkeypatch):
    """Two independent failure classes inside the per-sample loop: each fails its sample with
    the exception's type and message; the run finishes and writes the manifest."""
    from zstvg.mllm import probe as probe_cli

    errors = iter([KeyError("layout"), MemoryError("cannot allocate 12 GiB")])

    def broken(*args, **kwargs):
        raise next(errors)

    monkeypatch.setattr(probe_cli, "probe_sample", broken)
    rows = [json.loads(line) for line in (workdir / "samples.jsonl").read_text().splitlines()]
    ok = next(r for r in rows if r["sample_id"] == "ok")
    (workdir / "samples.jsonl").write_text(
        "".join(json.dumps({**ok, "sample_id": sid}) + "\n" for sid in ("ok", "ok2"))
    )
    manifest = json.loads((workdir / "frames/manifest.json").read_text())
    manifest["samples"]["ok2"] = manifest["samples"]["ok"]
    (workdir / "frames/manifest.json").write_text(json.dumps(manifest))
    index_path = workdir / "frames/v1/index.json"
    index = json.loads(index_path.read_text())
    index["samples"]["ok2"] = index["samples"]["ok"]
    index_path.write_text(json.dumps(index))
    out = workdir / "probe"
    rc = main(["probe-attention", "--params", str(workdir / "params.yaml"), "--samples",
               str(workdir / "samples.jsonl"), "--frames", str(workdir / "frames/manifest.json"),
               "--model", "tiny", "--out", str(out)])  # fmt: skip
    assert rc == 0
    entries = json.loads((out / "manifest.json").read_text())["samples"]
    assert entries["ok"]["error"] == "probe-attention: KeyError: 'layout'"
    assert entries["ok2"]["error"] == "probe-attention: MemoryError: cannot allocate 12 GiB"


def test_a_range_outside_the_model_stops_the_job_not_each_sample(workdir, capsys):
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["models"]["tiny"]["layers"] = [0, 100]  # 8 layers
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    out = workdir / "probe"
    rc = main(["probe-attention", "--params", str(workdir / "params.yaml"), "--samples",
               str(workdir / "samples.jsonl"), "--frames", str(workdir / "frames/manifest.json"),
               "--model", "tiny", "--out", str(out)])  # fmt: skip
    assert rc == 2
    err = capsys.readouterr().err
    assert "cannot load the qwen2-vl model" in err and "layer_stop=100" in err
    assert not (out / "manifest.json").exists()
