"""The scoring core on hand-made arrays (docs/method.md#track-and-frame-scores): every expected
value computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from zstvg.grounding import scoring


def test_relative_map_cancels_what_the_neutral_prompt_shares():
    # cell (0, 0): both look there equally -> ratio 1; cell (0, 1): only the query -> large
    query = np.array([[[[0.5, 0.5]]]])
    neutral = np.array([[[[0.5, 0.0]]]])
    rel = scoring.relative_map(query, neutral, eps=0.5)
    assert rel[0, 0, 0, 0] == pytest.approx(0.5 / 1.0)
    assert rel[0, 0, 0, 1] == pytest.approx(0.5 / 0.5)
    rel = scoring.relative_map(query, neutral, eps=1e-4)
    assert rel[0, 0, 0, 1] / rel[0, 0, 0, 0] == pytest.approx(0.5001 / 1e-4)


def test_gti_picks_the_highest_visual_activation_first_of_ties():
    maps = np.zeros((3, 2, 2, 2))
    maps[1, 1, 0, 1] = 5.0
    maps[2, 0, 1, 1] = 5.0
    assert scoring.gti(maps) == 1
    assert list(scoring.visual_activation(maps)) == [0.0, 5.0, 5.0]


@pytest.mark.parametrize(
    ("profile", "k", "expected"),
    [
        ([0, 1, 2, 9, 2, 1, 0], 3, (2, 4)),  # peak in the middle, symmetric: tie -> left first
        ([9, 5, 4, 3, 2, 1, 0], 3, (0, 2)),  # peak at the left edge: can only grow right
        ([0, 1, 2, 3, 4, 5, 9], 3, (4, 6)),  # peak at the right edge
        (
            [1, 1, 1, 1, 1, 1, 1],
            3,
            (0, 2),
        ),  # plateau: earliest max, ties grow left (none) then right
        ([0, 5, 5, 0, 0, 5, 5], 2, (1, 2)),  # two equal maxima: the earliest wins
        ([0, 0, 3, 0, 0, 4, 0], 3, (3, 5)),  # absent frames (0) around the peak: ties go left twice
        ([1, 2, 3], 7, (0, 2)),  # fewer frames than K: the whole clip
    ],
)
def test_grow_span_hand_made_profiles(profile, k, expected):
    assert scoring.grow_span(profile, k) == expected


def test_grow_span_takes_the_larger_neighbour_not_the_nearer_plateau():
    # from 9 at position 3: neighbours 1 (left) and 8 (right) -> right; then 1 vs 7 -> right
    assert scoring.grow_span([0, 0, 1, 9, 8, 7, 0], 3) == (3, 5)


def test_topk_span_is_the_hull_of_the_best_frames():
    assert scoring.topk_span([5, 0, 0, 4, 0, 6], 3) == (0, 5)


def test_span_to_native_covers_the_bins_the_frames_stand_for():
    # 30 fps [0, 600): 100 grid frames, 20 MLLM frames 12, 42, ..., each the centre of a 1 s bin
    from zstvg.video.index import grid_frame_idx, uniform_subset

    frames, bins = uniform_subset(grid_frame_idx((0, 600), 30.0), (0, 600), 20)
    assert frames[:3] == [12, 42, 72] and bins[:3] == [0, 30, 60] and bins[-1] == 600
    assert scoring.span_to_native(1, 2, bins) == (30, 90)  # not (42, 102): 0.4 s late
    assert scoring.span_to_native(19, 19, bins) == (570, 600)


@pytest.mark.parametrize("fps", [24, 25, 30])
def test_an_ideal_temporal_scorer_recovers_the_gt_span(fps):
    """Frame score 1 inside GT and 0 outside, K = the MLLM frames inside GT: over 3,000 random
    GT spans of 2-10 s in 20 s clips, the spans cover the GT's bins (mean tIoU 0.83 when a
    frame stood for the bin after it)."""
    from zstvg.evaluation.metrics import temporal_iou
    from zstvg.video.index import grid_frame_idx, uniform_subset

    n = 20 * fps
    frames, bins = uniform_subset(grid_frame_idx((0, n), float(fps)), (0, n), 20)
    rng = np.random.default_rng(fps)
    ious = []
    for _ in range(3000):
        length = int(rng.integers(2 * fps, 10 * fps + 1))
        start = int(rng.integers(0, n - length + 1))
        s_f = np.array([1.0 if start <= f < start + length else 0.0 for f in frames])
        k = int(s_f.sum())
        if k == 0:
            ious.append(0.0)
            continue
        first, last = scoring.grow_span(s_f, k)
        span = scoring.span_to_native(first, last, bins)
        ious.append(temporal_iou(span, (start, start + length)))
    assert np.mean(ious) >= 0.90


def test_tas_unreverses_a_reversed_map_before_averaging():
    forward = np.zeros((3, 1, 1))
    forward[0] = 2.0
    planted = np.zeros((3, 1, 1))
    planted[2] = 4.0  # the reversed run saw frame 0's content in its last slot
    out = scoring.tas_assemble(forward, planted)
    assert out[:, 0, 0].tolist() == [3.0, 0.0, 0.0]


def test_upsample_onto_a_crop_region_puts_a_cell_on_its_pixels():
    # a 2x2 map over the centre square [20, 60) x [0, 40) of an 80x40 frame (a centre crop)
    m = np.zeros((2, 2))
    m[0, 1] = 1.0  # top-right cell -> pixels x in [40, 60), y in [0, 20)
    up = scoring.upsample(m, 40, 80, region=(20.0, 0.0, 60.0, 40.0))
    assert up[:, :20].max() == 0.0 and up[:, 60:].max() == 0.0  # never seen: 0
    y, x = np.unravel_index(np.argmax(up), up.shape)
    assert 40 <= x < 60 and 0 <= y < 20


def test_track_and_frame_scores_use_the_mask_and_zero_for_absent_frames():
    up = [np.zeros((4, 4)), np.zeros((4, 4))]
    up[0][1, 1] = 3.0
    up[1][3, 3] = 7.0
    inside = np.zeros((4, 4), bool)
    inside[:2, :2] = True
    assert scoring.track_score(up, [inside, None]) == 3.0
    assert scoring.frame_scores(up, [inside, None]).tolist() == [3.0, 0.0]
    assert scoring.choose_track({2: 1.0, 1: 1.0, 3: 0.5}) == 1  # tie -> lower id


def test_dense_boxes_fill_the_track_extent_and_hold_at_the_span_ends():
    boxes = {10: (0.0, 0.0, 10.0, 10.0), 20: (10.0, 0.0, 20.0, 10.0), 40: (0.0, 0.0, 1.0, 1.0)}
    # the span [5, 25) starts before the track's first box: frames 5..9 hold the box of 10
    out = scoring.dense_boxes({**boxes, 90: (0.0, 0.0, 2.0, 2.0)}, (5, 25), (0, 50))
    assert sorted(out.boxes_xyxy) == list(range(5, 41))  # span + extent; 90 is past the clip
    assert out.boxes_xyxy[15] == (5.0, 0.0, 15.0, 10.0)  # halfway between 10 and 20
    assert out.boxes_xyxy[30] == (5.0, 0.0, 10.5, 5.5)  # halfway between 20 and 40
    assert out.boxes_xyxy[5] == out.boxes_xyxy[9] == (0.0, 0.0, 10.0, 10.0)
    assert out.boxes_xyxy[20] == (10.0, 0.0, 20.0, 10.0)  # its own box
    assert (out.n_held, out.n_interpolated) == (5, 9 + 19)  # 5..9; 11..19 and 21..39
    assert out.flags == ("boxes_interpolated", "boxes_held:5")
    exact = scoring.dense_boxes({3: (1.0, 2.0, 3.0, 4.0), 4: (1.0, 2.0, 3.0, 4.0)}, (3, 5), (0, 9))
    assert exact.flags == () and sorted(exact.boxes_xyxy) == [3, 4]


def test_slot_of_frame_maps_qwen_two_frame_slots():
    assert scoring.slot_of_frame(((5, 15), (25, 35)), [5, 15, 25, 35]) == [0, 0, 1, 1]
    with pytest.raises(ValueError, match="no temporal slot"):
        scoring.slot_of_frame(((5,),), [6])


def test_mllm_frames_are_a_uniform_subset_of_the_proposal_frames_inside_the_clip():
    from zstvg.grounding.ground import mllm_frames

    released = list(range(0, 200, 10))  # every 10th native frame, as the authors' files
    # clip [50, 150): 10 proposal frames 50..140; 5 bin centres at positions 1, 3, 5, 7, 9
    # each stands for its two proposal frames' stretch: [50, 70), [70, 90), ..., [130, 150)
    assert mllm_frames(released, (50, 150), 5) == (
        [60, 80, 100, 120, 140],
        [50, 70, 90, 110, 130, 150],
    )
    # fewer than asked: all, each standing for its own stretch up to the next
    assert mllm_frames(released, (50, 80), 20) == ([50, 60, 70], [50, 60, 70, 80])
    assert mllm_frames(released, (45, 80), 20) == ([50, 60, 70], [45, 60, 70, 80])
    with pytest.raises(ValueError, match="no listed frame inside the clip"):
        mllm_frames(released, (201, 300), 5)
