"""``zstvg export-predictions``: the exported files, scored by small re-implementations of the
released evaluators' rules that read only the exported file and the GT, give what ``zstvg
evaluate`` gives (protocols ``official`` and ``tubedetr``) on the same inputs."""

from __future__ import annotations

import json
import os

import pytest
from eval_builders import BOX, HALF_SHIFTED, make_sample

from zstvg.cli import main
from zstvg.evaluation.export import export_hcstvg_challenge, tubedetr_video_ids
from zstvg.files.io import InputError, write_jsonl
from zstvg.files.records import Prediction

ODD = (1.0, 1.0, 11.0, 11.0)  # a box seen nowhere else, to follow one frame through the export


# --- the released rules, re-implemented from their documented behaviour ----------------------


def iou(a, b) -> float:
    """Both scripts' box IoU: absolute xyxy, area (x2 - x1) * (y2 - y1), no +1."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def hcvg_eval(pred: dict, gt: dict) -> tuple[float, float]:
    """tzhhhh123/HC-STVG eval_hcvg.py: every native frame; a GT frame counts when its key is in
    the predicted bbox; union = max(ed) - min(st) + 1 (inclusive); a missing video scores 0."""
    vious, tious = [], []
    for video, g in gt.items():
        if video not in pred:
            vious.append(0.0)
            tious.append(0.0)
            continue
        p = pred[video]
        ious = [iou(p["bbox"][f], g["bbox"][f]) for f in g["bbox"] if f in p["bbox"]]
        union = max(g["ed_frame"], p["ed_frame"]) - min(g["st_frame"], p["st_frame"]) + 1
        vious.append(sum(ious) / union)
        tious.append(len(ious) / union)
    return sum(vious) / len(vious), sum(tious) / len(tious)


def challenge_gt(samples) -> dict:
    """The challenge GT as the annotation files number it: 1-based, inclusive ends."""
    return {
        os.path.basename(s.video_path): {
            "st_frame": s.gt_span[0] + 1,
            "ed_frame": s.gt_span[1],
            "bbox": {str(f + 1): list(b) for f, b in s.gt_boxes_xyxy.items()},
        }
        for s in samples
    }


def tubedetr_frame_ids(start: int, end: int, fps: float, grid_fps=5, max_len=200) -> list[int]:
    """TubeDETR's test-time frame_ids loop."""
    rate = grid_fps / fps
    ids = [start]
    for f in range(start, end):
        if int(ids[-1] * rate) < int(f * rate):
            ids.append(f)
    if len(ids) > max_len:
        ids = [ids[(j * len(ids)) // max_len] for j in range(max_len)]
    return ids


def tubedetr_gt(samples, hcstvg: bool) -> dict:
    """TubeDETR's evaluator state from its preprocessed files: HC-STVG ids are list positions,
    tube_start_frame is the 1-based st_frame, frames scanned over range(0, frame_count - 1);
    VidSTG ids are in the sample id, frames 0-based over [start_frame, end_frame)."""
    gt = {}
    for i, s in enumerate(samples):
        if hcstvg:
            vid, shift, frames = i, 1, tubedetr_frame_ids(0, s.n_frames - 1, s.fps)
        else:
            vid, shift, frames = (
                int(s.sample_id.split(":")[1]),
                0,
                tubedetr_frame_ids(*s.clip_span, s.fps),
            )
        gs, ge = s.gt_span[0] + shift, s.gt_span[1] + shift
        boxes = {f: s.gt_boxes_xyxy[f - shift] for f in frames if gs <= f < ge}
        gt[vid] = {"frame_ids": frames, "sted": (gs, ge), "boxes": boxes}
    return gt


def tubedetr_eval(exported: dict, gt: dict) -> tuple[float, float]:
    """antoyang/TubeDETR hcstvg_eval.py / vidstg_eval.py (3c32cc9): 5 fps grid, half-open tIoU,
    vIoU = sum IoU over grid frames in [max_start, min_end) / grid frames in [min_start, max_end);
    raises on a missing video or a GT grid frame without a box."""
    predictions = exported["predictions"]
    videos = {int(k): v for k, v in exported["video_predictions"].items()}
    if len(videos) < len(gt):
        raise RuntimeError(f"{len(gt) - len(videos)} video predictions missing")
    vious, tious = [], []
    for vid, v in videos.items():
        g = gt[vid]
        (gs, ge), (ps, pe) = g["sted"], v["sted"]
        max_start, min_end = max(gs, ps), min(ge, pe)
        min_start, max_end = min(gs, ps), max(ge, pe)
        inter = min_end - max_start
        tious.append(0.0 if inter <= 0 else inter / ((ge - gs) + (pe - ps) - inter))
        union = [f for f in g["frame_ids"] if min_start <= f < max_end]
        viou = 0.0
        for f, box in g["boxes"].items():
            key = f"{vid}_{f}"
            if key not in predictions:
                raise RuntimeError(f"No prediction for frame {key}")
            if max_start <= f < min_end:
                viou += iou(predictions[key]["boxes"][0], box)
        vious.append(viou / max(len(union), 1))
    return sum(vious) / len(vious), sum(tious) / len(tious)


# --- helpers -----------------------------------------------------------------------------------


def pred(sid, span, boxes) -> dict:
    return Prediction(sample_id=sid, span=span, boxes_xyxy=boxes).to_json()


def write_inputs(tmp_path, samples, preds) -> None:
    write_jsonl(tmp_path / "samples.jsonl", [s.to_json() for s in samples])
    (tmp_path / "pred.json").write_text(json.dumps(preds))


def cli_args(tmp_path, repo_root, *extra: str) -> list[str]:
    return [
        "--params",
        str(repo_root / "params.yaml"),
        "--samples",
        str(tmp_path / "samples.jsonl"),
        "--predictions",
        str(tmp_path / "pred.json"),
        *extra,
    ]


def evaluate(tmp_path, repo_root, protocol: str) -> tuple[float, float]:
    out = tmp_path / f"{protocol}.json"
    rc = main(
        ["evaluate", *cli_args(tmp_path, repo_root, "--protocol", protocol, "--out", str(out))]
    )
    assert rc == 0
    m = json.loads(out.read_text())
    return m["m_vIoU"], m["m_tIoU"]


def export(tmp_path, repo_root, fmt: str, *extra: str) -> tuple[int, dict | None]:
    out = tmp_path / f"{fmt}.json"
    rc = main(
        ["export-predictions", *cli_args(tmp_path, repo_root, "--format", fmt, "--out", str(out))]
        + list(extra)
    )
    return rc, json.loads(out.read_text()) if out.exists() else None


# --- VidSTG-style ids: a 30 fps, 20-frame clip (grid 0, 6, 12, 18) -------------------------------


def vidstg_case():
    """A: perfect dense prediction. B: GT [0, 12), span [6, 18) (half overlap), boxes on every
    frame of the track's extent [0, 20): half-shifted (IoU 1/3) on 0..6, exact on 7..19."""
    a = make_sample("vidA:0:declarative", gt=(6, 18), clip=(0, 20), fps=30.0, video_id="vidA")
    b = make_sample("vidB:1:declarative", gt=(0, 12), clip=(0, 20), fps=30.0, video_id="vidB")
    preds = {
        a.sample_id: pred(a.sample_id, (6, 18), {f: BOX for f in range(6, 18)}),
        b.sample_id: pred(
            b.sample_id, (6, 18), {f: HALF_SHIFTED if f <= 6 else BOX for f in range(0, 20)}
        ),
    }
    return [a, b], preds


def test_challenge_export_scores_like_official(tmp_path, repo_root):
    samples, preds = vidstg_case()
    write_inputs(tmp_path, samples, preds)
    rc, exported = export(tmp_path, repo_root, "hcstvg-challenge")
    assert rc == 0 and exported is not None
    b = exported["vidB.mp4"]
    # inclusive, 1-based ends; boxes only on st_frame..ed_frame (never the track's frames 0..5)
    assert (b["st_frame"], b["ed_frame"]) == (7, 18)
    assert sorted(map(int, b["bbox"])) == list(range(7, 19))
    # B: GT frames 6..11 in the span: 1/3 + 5 * 1 over a union of 18 frames; tIoU 6/18
    v_b, t_b = (1 / 3 + 5) / 18, 6 / 18
    ours = hcvg_eval(exported, challenge_gt(samples))
    assert ours == pytest.approx(((1 + v_b) / 2, (1 + t_b) / 2))
    assert evaluate(tmp_path, repo_root, "official") == pytest.approx(ours)


def test_tubedetr_export_scores_like_tubedetr(tmp_path, repo_root):
    samples, preds = vidstg_case()
    write_inputs(tmp_path, samples, preds)
    rc, exported = export(tmp_path, repo_root, "tubedetr")
    assert rc == 0 and exported is not None
    # every grid frame with a box, 0-based VidSTG frames, half-open sted, qtype for vidstg_eval
    assert sorted(k for k in exported["predictions"] if k.startswith("1_")) == [
        "1_0",
        "1_12",
        "1_18",
        "1_6",
    ]
    assert exported["predictions"]["1_0"] == {"boxes": [list(HALF_SHIFTED)]}
    assert exported["video_predictions"]["1"] == {"sted": [6, 18], "qtype": "declarative"}
    assert exported["sample_ids"] == {"0": "vidA:0:declarative", "1": "vidB:1:declarative"}
    # B: union [0, 18) = grid frames 0, 6, 12; intersection [6, 12) = frame 6 (IoU 1/3)
    ours = tubedetr_eval(exported, tubedetr_gt(samples, hcstvg=False))
    assert ours == pytest.approx(((1 + 1 / 9) / 2, (1 + 1 / 3) / 2))
    assert evaluate(tmp_path, repo_root, "tubedetr") == pytest.approx(ours)


# --- HC-STVG-style ids: 20 s at 5 fps (every frame on the grid), 1-based frames ----------------


def test_hcstvg_exports_are_one_based_and_score_like_evaluate(tmp_path, repo_root):
    h0 = make_sample("h0", gt=(10, 30), clip=(0, 100), fps=5.0)
    h1 = make_sample("h1", gt=(50, 70), clip=(0, 100), fps=5.0)
    track = {f: BOX for f in range(5, 45)} | {5: ODD}  # the track extent covers the GT tube
    preds = {
        "h0": pred("h0", (20, 40), track),
        "h1": pred("h1", (50, 70), {f: BOX for f in range(50, 70)}),
    }
    write_inputs(tmp_path, [h0, h1], preds)

    rc, challenge = export(tmp_path, repo_root, "hcstvg-challenge")
    assert rc == 0 and challenge is not None
    assert list(challenge) == ["h0.mp4", "h1.mp4"]
    assert (challenge["h0.mp4"]["st_frame"], challenge["h0.mp4"]["ed_frame"]) == (21, 40)
    assert "6" not in challenge["h0.mp4"]["bbox"]  # the track's frame outside the span
    ours = hcvg_eval(challenge, challenge_gt([h0, h1]))
    assert ours == pytest.approx(((1 / 3 + 1) / 2, (1 / 3 + 1) / 2))
    assert evaluate(tmp_path, repo_root, "official") == pytest.approx(ours)

    rc, tubedetr = export(tmp_path, repo_root, "tubedetr")
    assert rc == 0 and tubedetr is not None
    # list positions as video ids; our frame f under f + 1, as TubeDETR reads HC-STVG's st_frame
    assert tubedetr["predictions"]["0_6"] == {"boxes": [list(ODD)]}
    assert tubedetr["video_predictions"] == {"0": {"sted": [21, 41]}, "1": {"sted": [51, 71]}}
    ours = tubedetr_eval(tubedetr, tubedetr_gt([h0, h1], hcstvg=True))
    assert ours == pytest.approx(((1 / 3 + 1) / 2, (1 / 3 + 1) / 2))
    assert evaluate(tmp_path, repo_root, "tubedetr") == pytest.approx(ours)


# --- failures, gaps and clear errors -----------------------------------------------------------


def test_a_failed_sample_is_left_out_of_the_challenge_file_and_scores_zero(
    tmp_path, repo_root, capsys
):
    samples, preds = vidstg_case()
    c = make_sample("vidC:2:declarative", gt=(0, 12), clip=(0, 20), fps=30.0, video_id="vidC")
    preds[c.sample_id] = {"span": None, "boxes_xyxy": {}, "error": "ground: out of memory"}
    write_inputs(tmp_path, [*samples, c], preds)
    rc, exported = export(tmp_path, repo_root, "hcstvg-challenge")
    assert rc == 0 and exported is not None and "vidC.mp4" not in exported
    assert "2 of 3 samples" in capsys.readouterr().out
    ours = hcvg_eval(exported, challenge_gt([*samples, c]))
    assert evaluate(tmp_path, repo_root, "official") == pytest.approx(ours)

    rc, _ = export(tmp_path, repo_root, "tubedetr")
    assert rc == 2  # TubeDETR would raise "video predictions missing"
    err = capsys.readouterr().err
    assert "1 sample(s) have no prediction to export (vidC:2:declarative: ground: out of" in err
    rc, exported = export(tmp_path, repo_root, "tubedetr", "--allow-missing")
    assert rc == 0 and exported is not None and "2" not in exported["video_predictions"]
    assert "1 left out" in capsys.readouterr().out


def test_a_gt_grid_frame_without_a_box_is_an_error_naming_sample_and_frame(
    tmp_path, repo_root, capsys
):
    # span [6, 18) but boxes only from 12: grid frame 6 of the GT tube [0, 12) lies in the
    # span and has none (a prediction that breaks the contract)
    s = make_sample("vidC:0:declarative", gt=(0, 12), clip=(0, 20), fps=30.0, video_id="vidC")
    write_inputs(
        tmp_path, [s], {s.sample_id: pred(s.sample_id, (6, 18), {f: BOX for f in range(12, 18)})}
    )
    rc, exported = export(tmp_path, repo_root, "tubedetr")
    assert rc == 2 and exported is None
    err = capsys.readouterr().err  # the CLI logs to stderr (its own handler)
    assert "pred.json: sample vidC:0:declarative: field boxes_xyxy: no box on frame(s) 6 " in err
    assert "GT tube [0, 12)" in err and "'0_6'" in err and "No prediction for frame" in err

    rc, exported = export(tmp_path, repo_root, "tubedetr", "--allow-missing")
    assert rc == 0 and exported is not None
    assert sorted(exported["predictions"]) == ["0_0", "0_12"]  # 0: the zero placeholder
    assert "1 GT-tube grid frames of 1 samples have no box" in capsys.readouterr().out
    with pytest.raises(RuntimeError, match="No prediction for frame 0_6"):
        tubedetr_eval(exported, tubedetr_gt([s], hcstvg=False))


def test_gt_frames_outside_the_span_where_the_track_is_absent_get_a_zero_box(tmp_path, repo_root):
    """A dense prediction has no box where its track is absent outside its span: TubeDETR
    would raise there, so the export writes [0, 0, 0, 0] (IoU 0, as our protocol scores the
    frame) and TubeDETR's rule gives our numbers."""
    s = make_sample("vidC:0:declarative", gt=(0, 12), clip=(0, 20), fps=30.0, video_id="vidC")
    write_inputs(
        tmp_path, [s], {s.sample_id: pred(s.sample_id, (6, 18), {f: BOX for f in range(6, 18)})}
    )
    rc, exported = export(tmp_path, repo_root, "tubedetr")
    assert rc == 0 and exported is not None
    assert exported["predictions"]["0_0"] == {"boxes": [[0.0, 0.0, 0.0, 0.0]]}
    # grid frames 0 and 6 of [0, 12): vIoU 1 / 3 (union grid 0, 6, 12), tIoU 6 / 18
    theirs = tubedetr_eval(exported, tubedetr_gt([s], hcstvg=False))
    assert theirs == pytest.approx(evaluate(tmp_path, repo_root, "tubedetr"), abs=1e-9)
    assert theirs == pytest.approx((1 / 3, 1 / 3), abs=1e-9)


def test_two_queries_on_one_video_cannot_be_a_challenge_file(tmp_path, repo_root, capsys):
    a = make_sample("v:0:declarative", video_id="v")
    b = make_sample("v:1:interrogative", video_id="v", qtype="interrogative")
    write_inputs(tmp_path, [a, b], {a.sample_id: pred(a.sample_id, (8, 24), {})})
    rc, exported = export(tmp_path, repo_root, "hcstvg-challenge")
    assert rc == 2 and exported is None
    err = capsys.readouterr().err
    assert "samples.jsonl: samples 'v:0:declarative' and 'v:1:interrogative'" in err
    assert "field video_path" in err and "'v.mp4'" in err and "one query per video" in err
    with pytest.raises(InputError, match="field video_id: both are on video 'v'"):
        export_hcstvg_challenge([a, b], {}, video_key="stem")


def test_tubedetr_ids_of_raw_vidstg_follow_its_preprocessing_order():
    # entry 0 holds two captions and one question; TubeDETR numbers its questions first
    ids = [
        "x:0:declarative:0",
        "x:0:declarative:1",
        "x:0:interrogative:0",
        "y:1:declarative:0",
    ]
    got, dataset = tubedetr_video_ids([make_sample(i) for i in ids])
    assert dataset == "vidstg"
    assert got == {ids[2]: 0, ids[0]: 1, ids[1]: 2, ids[3]: 3}
    assert tubedetr_video_ids([make_sample("a"), make_sample("b")]) == ({"a": 0, "b": 1}, "hcstvg")
    with pytest.raises(InputError, match="some ids are VidSTG ids"):
        tubedetr_video_ids([make_sample("a"), make_sample("x:0:declarative")])


def test_boxes_are_scaled_back_to_the_annotation_pixels():
    s = make_sample("h0", gt=(8, 24))
    p = Prediction("h0", (8, 10), {8: (0.0, 0.0, 20.0, 20.0), 9: (2.0, 4.0, 6.0, 8.0)})
    out = export_hcstvg_challenge([s], {"h0": p}, box_scale={"h0": (2.0, 4.0)})
    assert out.payload["h0.mp4"]["bbox"] == {"9": [0.0, 0.0, 10.0, 5.0], "10": [1.0, 1.0, 3.0, 2.0]}
