from __future__ import annotations

import json

import numpy as np
from eval_builders import make_pred, make_sample  # noqa: I001
from PIL import Image

from zstvg.cli import main
from zstvg.io import write_jsonl
from zstvg.proposals import official_format
from zstvg.structures import Track


def test_visualize_draws_gt_pred_tracks_and_attention(tmp_path, repo_root, capsys):
    # Sample: GT [8, 24) with box (0, 0, 10, 10) on 64x48 frames; prediction shifted to the
    # right half (box 30..40), so green and red land on different pixels.
    sample = make_sample("s", gt=(8, 24), clip=(0, 40))
    write_jsonl(tmp_path / "samples.jsonl", [sample.to_json()])
    pred = make_pred("s", span=(8, 24), box=(30.0, 20.0, 40.0, 30.0))
    (tmp_path / "pred.json").write_text(json.dumps({"s": pred.to_json()}))
    vdir = tmp_path / "frames" / sample.video_id
    vdir.mkdir(parents=True)
    frames = list(range(0, 40, 4))
    for f in frames:
        Image.new("RGB", (64, 48), (40, 40, 40)).save(vdir / f"{f:06d}.jpg", quality=95)
    index = {
        "fps": 10.0, "width": 64, "height": 48, "frame_idx": frames,
        "samples": {"s": {"status": "ok", "grid_frame_idx": frames,
                          "mllm_frame_idx": frames[::2]}},
    }  # fmt: skip
    (vdir / "index.json").write_text(json.dumps(index))
    manifest = {
        "videos": {sample.video_id: {"status": "ok", "frames_dir": sample.video_id}},
        "samples": {"s": {"status": "ok", "flags": []}},
    }
    (tmp_path / "frames" / "manifest.json").write_text(json.dumps(manifest))
    track = Track(7, "person", {f: (45.0, 5.0, 60.0, 40.0) for f in frames})
    official_format.write(tmp_path / "props.json", frames, [track], 64, 48)
    np.save(tmp_path / "att.npy", np.random.default_rng(0).random((5, 3, 4)))
    out = tmp_path / "vis"
    rc = main(
        [
            "visualize",
            "--params",
            str(repo_root / "params.yaml"),
            "--sample-id",
            "s",
            "--samples",
            str(tmp_path / "samples.jsonl"),
            "--predictions",
            str(tmp_path / "pred.json"),
            "--frames",
            str(tmp_path / "frames"),
            "--proposals",
            str(tmp_path / "props.json"),
            "--attention",
            str(tmp_path / "att.npy"),
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    sheet = np.asarray(Image.open(out / "s_sheet.png").convert("RGB")).astype(int)
    band = sheet.shape[0] - 3 * 48  # the header: query line + legend
    assert band == 14 * 2 + 6 and sheet.shape[1:] == (4 * 64, 3)  # 10 frames, 4 columns
    gif = Image.open(out / "s.gif")
    assert gif.n_frames == 10
    # Frame 8 is the third tile (row 0, col 2): green GT edge at x = 0..2, red edge at x = 30.
    tile = sheet[band : band + 48, 128:192]
    assert tile[5, 1, 1] > 150 and tile[5, 1, 0] < 100  # green
    assert tile[25, 30, 0] > 150 and tile[25, 30, 1] < 100  # red
    assert "1 proposal tracks, attention yes" in capsys.readouterr().out


def test_visualize_unknown_sample_is_an_input_error(tmp_path, repo_root):
    write_jsonl(tmp_path / "samples.jsonl", [make_sample("s").to_json()])
    rc = main(
        [
            "visualize",
            "--params",
            str(repo_root / "params.yaml"),
            "--sample-id",
            "zz",
            "--samples",
            str(tmp_path / "samples.jsonl"),
            "--frames",
            str(tmp_path),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert rc == 2
