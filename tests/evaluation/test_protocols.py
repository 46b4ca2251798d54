"""Hand-checkable protocol tests: every expected number is worked out in the comment above it."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from eval_builders import BOX, HALF_SHIFTED, make_pred, make_sample  # noqa: I001

from zstvg.evaluation.metrics import box_iou, temporal_iou
from zstvg.evaluation.protocols import evaluate, score_official, score_seed, score_tubedetr
from zstvg.files.records import Prediction


def run_eval(samples, preds, protocol, dataset="hcstvg-v1"):
    return evaluate(
        samples,
        {p.sample_id: p for p in preds},
        protocol,
        dataset=dataset,
        backend="b",
        variant="full",
        grid_fps=5.0,
        max_grid_frames=200,
        thresholds=(0.3, 0.5),
    )


def test_box_and_temporal_iou_by_hand():
    assert box_iou(np.array([BOX]), np.array([HALF_SHIFTED]))[0] == pytest.approx(1 / 3)
    assert box_iou(np.array([BOX]), np.array([BOX]))[0] == 1.0
    assert box_iou(np.array([BOX]), np.array([(20, 20, 30, 30)]))[0] == 0.0
    assert box_iou(np.array([(1, 1, 1, 1)]), np.array([(1, 1, 1, 1)]))[0] == 0.0  # no NaN
    # [0, 10) vs [5, 15): inter 5, union 15.
    assert temporal_iou((0, 10), (5, 15)) == pytest.approx(1 / 3)
    assert temporal_iou((0, 5), (5, 10)) == 0.0  # half-open: touching spans do not overlap
    assert temporal_iou((7, 3), (0, 10)) == 0.0


@pytest.mark.parametrize("protocol", ["tubedetr", "official", "seed"])
def test_perfect_prediction_scores_one(protocol):
    m, scores = run_eval([make_sample()], [make_pred()], protocol)
    assert m["m_vIoU"] == pytest.approx(1.0) and m["gt_vIoU"] == pytest.approx(1.0)
    assert m["vIoU@0.3"] == 1.0 and m["vIoU@0.5"] == 1.0
    assert m["m_tIoU"] == pytest.approx(1.0)
    assert (m["n_samples"], m["n_missing"], m["n_failed"]) == (1, 0, 0)


@pytest.mark.parametrize("protocol", ["tubedetr", "official", "seed"])
def test_disjoint_spans_score_zero(protocol):
    # GT [8, 24), prediction [30, 40): no common frame under any grid.
    m, _ = run_eval([make_sample()], [make_pred(span=(30, 40))], protocol)
    assert m["m_vIoU"] == 0.0 and m["m_tIoU"] == 0.0 and m["vIoU@0.3"] == 0.0


def test_half_overlap_tubedetr_by_hand():
    # fps 10, grid 5 fps -> grid = even frames 0, 2, ..., 38.
    # GT [8, 24), pred [17, 33). Native tIoU: inter [17, 24) = 7, union [8, 33) = 25 -> 7/25.
    # Grid: inter frames in [17, 24) = 18, 20, 22 (3); union frames in [8, 33) = 8..32 even (13).
    # vIoU = 3/13. gt_vIoU: GT grid frames 8..22 (8), predicted boxes on 18, 20, 22 -> 3/8.
    grid = np.arange(0, 40, 2)
    s = score_tubedetr(make_sample(), make_pred(span=(17, 33)), grid)
    assert s.t_iou == pytest.approx(7 / 25)
    assert s.v_iou == pytest.approx(3 / 13)
    assert s.gt_v_iou == pytest.approx(3 / 8)
    assert (s.n_gt_frames, s.n_union_frames) == (8, 13)
    # The same through evaluate() with the real grid function.
    m, _ = run_eval([make_sample()], [make_pred(span=(17, 33))], "tubedetr")
    assert m["m_vIoU"] == pytest.approx(3 / 13) and m["m_tIoU"] == pytest.approx(7 / 25)


def test_half_overlap_official_by_hand():
    # Every native frame. union = max(end) - min(start) = 33 - 8 = 25 (= 32 - 8 + 1 inclusive).
    # GT frames with a predicted box inside the predicted span: 17..23 = 7.
    # vIoU = 7 * 1.0 / 25; "tIoU" = 7 / 25; gt_vIoU = 7 / 16.
    s = score_official(make_sample(), make_pred(span=(17, 33)))
    assert s.v_iou == pytest.approx(7 / 25) and s.t_iou == pytest.approx(7 / 25)
    assert s.gt_v_iou == pytest.approx(7 / 16)


def test_official_ignores_boxes_outside_the_predicted_span():
    # A box on GT frame 10 outside the predicted span [17, 33) does not count for vIoU.
    pred = make_pred(span=(17, 33))
    pred = Prediction("s0", (17, 33), {**pred.boxes_xyxy, 10: BOX})
    assert score_official(make_sample(), pred).v_iou == pytest.approx(7 / 25)


def test_half_overlap_seed_by_hand():
    # 1/10 grid: frames 0, 10, 20, 30 = positions 0..3. GT [8, 24) -> positions 1..2 (inclusive);
    # pred [17, 33) -> positions 2..3. Inclusive union 3 - 1 + 1 = 3; intersection position 2
    # (frame 20, IoU 1) -> vIoU 1/3. Their tIoU uses end - start on inclusive ends:
    # min_end 2 <= max_start 2 -> 0. gt_vIoU: frames 10 (no box) and 20 (1) -> 1/2.
    s = score_seed(make_sample(), make_pred(span=(17, 33)), inclusive_union=True)
    assert s.v_iou == pytest.approx(1 / 3) and s.t_iou == 0.0 and s.gt_v_iou == pytest.approx(0.5)
    # VidSTG variant: union range(1, 3) = 2 positions, intersection range(2, 2) empty -> 0.
    assert score_seed(make_sample(), make_pred(span=(17, 33)), inclusive_union=False).v_iou == 0.0


@pytest.mark.parametrize("protocol", ["tubedetr", "official", "seed"])
def test_box_shifted_by_half_its_width_scores_one_third(protocol):
    m, _ = run_eval([make_sample()], [make_pred(box=HALF_SHIFTED)], protocol)
    assert m["m_vIoU"] == pytest.approx(1 / 3)
    assert m["vIoU@0.3"] == 1.0 and m["vIoU@0.5"] == 0.0  # 1/3 > 0.3, 1/3 <= 0.5


def test_threshold_is_strictly_greater():
    # fps 5 = grid fps: every frame is a grid frame. GT [0, 10), pred [0, 3): vIoU = 3/10 = 0.3
    # exactly, which is NOT > 0.3. pred [0, 5): 5/10 = 0.5, not > 0.5.
    samples = [
        make_sample("a", gt=(0, 10), clip=(0, 10), fps=5.0),
        make_sample("b", gt=(0, 10), clip=(0, 10), fps=5.0),
    ]
    m, scores = run_eval(
        samples, [make_pred("a", span=(0, 3)), make_pred("b", span=(0, 5))], "tubedetr"
    )
    assert [s.v_iou for s in scores] == [0.3, 0.5]
    assert m["vIoU@0.3"] == 0.5  # only b
    assert m["vIoU@0.5"] == 0.0


def test_video_longer_than_200_grid_frames():
    # fps 5, clip [0, 1000): 1000 grid frames -> subsampled to frames[j * 1000 // 200] = 0, 5, ...
    # GT [100, 200) -> GT grid frames 100..195 (20). pred [152, 250):
    # native tIoU = 48 / 150 = 0.32; grid inter [152, 200) = 155..195 (9), union [100, 250) =
    # 100..245 (30) -> vIoU 9/30 = 0.3.
    sample = make_sample(gt=(100, 200), clip=(0, 1000), fps=5.0)
    m, scores = run_eval([sample], [make_pred(span=(152, 250))], "tubedetr")
    assert scores[0].n_frames_scored == 200 and scores[0].n_gt_frames == 20
    assert scores[0].t_iou == pytest.approx(0.32)
    assert scores[0].v_iou == pytest.approx(0.3)


def test_vidstg_reports_per_query_type():
    samples = [make_sample("d1"), make_sample("d2"), make_sample("i1", qtype="interrogative")]
    preds = [make_pred("d1"), make_pred("d2", span=(30, 40)), make_pred("i1", box=HALF_SHIFTED)]
    m, _ = run_eval(samples, preds, "tubedetr", dataset="vidstg")
    assert "m_vIoU" not in m
    assert m["declarative"]["m_vIoU"] == pytest.approx(0.5)  # (1 + 0) / 2
    assert m["declarative"]["vIoU@0.5"] == pytest.approx(0.5)
    assert m["interrogative"]["m_vIoU"] == pytest.approx(1 / 3)
    assert m["interrogative"]["n_samples"] == 1 and m["n_samples"] == 3


def test_vidstg_without_boxes_reports_temporal_metrics_only():
    samples = [make_sample("d1", has_gt_boxes=False)]
    m, _ = run_eval(samples, [make_pred("d1", span=(8, 16))], "tubedetr", dataset="vidstg")
    # tIoU [8, 16) vs [8, 24) = 8 / 16.
    assert m["declarative"]["m_tIoU"] == pytest.approx(0.5)
    assert m["declarative"]["m_vIoU"] is None and m["declarative"]["gt_vIoU"] is None


@pytest.mark.parametrize("protocol", ["tubedetr", "official"])
def test_missing_and_failed_predictions_score_zero_and_are_counted(protocol):
    samples = [
        make_sample("ok"),
        make_sample("gone"),
        make_sample("bad"),
        make_sample("broken", error="unreadable video"),
    ]
    preds = [make_pred("ok"), Prediction("bad", None, error="CUDA OOM"), make_pred("broken")]
    m, scores = run_eval(samples, preds, protocol)
    assert m["n_samples"] == 4 and m["n_missing"] == 1 and m["n_failed"] == 2
    assert m["m_vIoU"] == pytest.approx(0.25)  # 1 + 0 + 0 + 0 over 4
    status = {s.sample_id: (s.status, s.reason) for s in scores}
    assert status["gone"] == ("missing", "no prediction")
    assert status["bad"] == ("failed", "CUDA OOM")
    assert status["broken"][0] == "failed" and "unreadable video" in status["broken"][1]


def test_seed_drops_failures_and_hard_excluded_videos_and_says_so():
    samples = [
        make_sample("ok"),
        make_sample("gone"),
        make_sample("x", video_id="119_E-6ruyZFfZs.mkv"),
    ]
    m, scores = run_eval(samples, [make_pred("ok"), make_pred("x", span=(30, 40))], "seed")
    assert m["m_vIoU"] == 1.0  # only "ok" is averaged
    assert m["n_missing"] == 1 and "comparison only" in m["note"]
    assert "Dropped here: 2 of 3" in m["note"]
    assert [s.status for s in scores] == ["ok", "dropped", "dropped"]


def test_metric_code_imports_no_method_code():
    code = (
        "import sys, zstvg.evaluation.protocols, zstvg.commands.evaluate, "
        "zstvg.evaluation.metrics;"
        "bad = [m for m in sys.modules if m.startswith(('zstvg.grounding', 'zstvg.mllm', "
        "'zstvg.proposals'))]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().replace("'", '"')) == []
