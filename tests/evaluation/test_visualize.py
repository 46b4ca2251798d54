from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
from eval_builders import make_pred, make_sample  # noqa: I001
from PIL import Image

from zstvg.cli import main
from zstvg.evaluation.visualize import sheet_header, with_header
from zstvg.files import proposal_tracks as official_format
from zstvg.files.decompositions import Decomposition
from zstvg.files.io import write_jsonl
from zstvg.files.records import Track


def _inputs(tmp_path, repo_root) -> list[str]:
    """One sample on 64x48 frames: GT [8, 24) with box (0, 0, 10, 10); the prediction shifted
    to the right half (box 30..40), so green and red land on different pixels; one track."""
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
    return [
        "visualize",
        "--params", str(repo_root / "params.yaml"),
        "--sample-id", "s",
        "--samples", str(tmp_path / "samples.jsonl"),
        "--predictions", str(tmp_path / "pred.json"),
        "--frames", str(tmp_path / "frames"),
        "--proposals", str(tmp_path / "props.json"),
        "--out", str(tmp_path / "vis"),
    ]  # fmt: skip


def test_visualize_draws_gt_pred_tracks_and_attention(tmp_path, repo_root, capsys):
    np.save(tmp_path / "att.npy", np.random.default_rng(0).random((5, 3, 4)))
    rc = main([*_inputs(tmp_path, repo_root), "--attention", str(tmp_path / "att.npy")])
    assert rc == 0
    out = tmp_path / "vis"
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


def test_visualize_without_its_attention_map_draws_the_boxes_and_says_so(
    tmp_path, repo_root, capsys
):
    """A sample whose grounding failed has no map; its sheet is still drawn (failures are data)."""
    rc = main([*_inputs(tmp_path, repo_root), "--attention", str(tmp_path / "missing.npy")])
    assert rc == 0
    sheet = Image.open(tmp_path / "vis" / "s_sheet.png")
    lines = (sheet.size[1] - 3 * 48 - 6) // 14
    assert lines > 2  # query, legend and the "no attention map" note
    assert "attention no" in capsys.readouterr().out


def test_visualize_a_sample_without_frames_writes_a_sheet_with_the_reason(
    tmp_path, repo_root, capsys
):
    args = _inputs(tmp_path, repo_root)
    manifest = tmp_path / "frames" / "manifest.json"
    m = json.loads(manifest.read_text())
    m["samples"]["s"] = {"status": "failed", "step": "sample-frames", "error": "moov not found"}
    manifest.write_text(json.dumps(m))
    assert main(args) == 0
    assert Image.open(tmp_path / "vis" / "s_sheet.png").size[0] == 640
    assert Image.open(tmp_path / "vis" / "s.gif").n_frames == 1
    out = capsys.readouterr().out
    assert "s: no frames (sample-frames): moov not found" in out


def test_sheet_header_shows_the_query_and_both_sub_queries():
    dec = Decomposition(
        sample_id="s", query="The man in red runs.", target_class="man",
        attribute="a man in red", action="a man running",
        spatial_query="Is there a man in red in this video?",
        temporal_query="Is there a man running in this video?",
        source="llm", model="gpt-4o", prompt_sha256="ab",
    )  # fmt: skip
    assert sheet_header("The man in red runs.", dec) == [
        "query: The man in red runs.",
        "spatial sub-query: Is there a man in red in this video?",
        "temporal sub-query: Is there a man running in this video?",
    ]
    fallback = replace(dec, source="fallback", flags=("fallback",), error="LLM call: timeout")
    assert sheet_header("q", fallback)[-1] == (
        "sub-queries from the rule-based fallback: LLM call: timeout"
    )
    assert sheet_header("q", None) == ["query: q"]


def test_header_text_grows_with_the_sheet():
    """A 4 x 640 px sheet of real frames gets 3x the demo's 14 px text lines."""
    small = with_header(Image.new("RGB", (256, 10)), ["query: q"])
    large = with_header(Image.new("RGB", (2560, 10)), ["query: q"])
    assert small.size[1] - 10 == 14 * 2 + 6 and large.size[1] - 10 == 3 * 14 * 2 + 6
    # the query's glyphs are 3x taller: rows holding white text pixels in the first line
    rows = [np.flatnonzero(np.asarray(im.convert("L"))[: 14 * k].max(axis=1) > 128).size
            for im, k in ((small, 1), (large, 3))]  # fmt: skip
    assert rows[1] >= 2.5 * rows[0]


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


def test_visualize_draws_the_predicted_box_inside_the_span_only(tmp_path, repo_root):
    """A dense prediction also holds its track outside the span (for gt_vIoU): red marks the
    predicted tube, so frame 0 (before the span [8, 24)) shows no red box, frame 8 does."""
    from zstvg.files.records import Prediction

    args = _inputs(tmp_path, repo_root)
    box = (30.0, 20.0, 40.0, 30.0)
    dense = Prediction("s", (8, 24), {f: box for f in range(0, 40)}, track_id=7)
    (tmp_path / "pred.json").write_text(json.dumps({"s": dense.to_json()}))
    assert main(args) == 0
    sheet = np.asarray(Image.open(tmp_path / "vis" / "s_sheet.png").convert("RGB")).astype(int)
    band = sheet.shape[0] - 3 * 48
    frame0, frame8 = sheet[band : band + 48, 0:64], sheet[band : band + 48, 128:192]
    assert frame8[25, 30, 0] > 150 and frame8[25, 30, 1] < 100  # red
    assert not (frame0[25, 30, 0] > 150 and frame0[25, 30, 1] < 100)
