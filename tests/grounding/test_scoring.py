"""The scoring core on hand-made arrays (DESIGN §3): every expected value computed by hand."""

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


def test_span_to_native_uses_the_bins_of_the_mllm_frames():
    frames = [5, 15, 25, 35]  # bins [5, 15), [15, 25), [25, 35), [35, clip end 40)
    assert scoring.span_to_native(1, 2, frames, 40) == (15, 35)
    assert scoring.span_to_native(2, 3, frames, 40) == (25, 40)


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


def test_interpolated_boxes_between_proposal_frames():
    boxes = {0: (0.0, 0.0, 10.0, 10.0), 10: (10.0, 0.0, 20.0, 10.0)}
    out, flagged = scoring.interpolate_boxes(boxes, [0, 5, 12])
    assert out == {0: (0.0, 0.0, 10.0, 10.0), 5: (5.0, 0.0, 15.0, 10.0)}  # 12: no extrapolation
    assert flagged


def test_slot_of_frame_maps_qwen_two_frame_slots():
    assert scoring.slot_of_frame(((5, 15), (25, 35)), [5, 15, 25, 35]) == [0, 0, 1, 1]
    with pytest.raises(ValueError, match="no temporal slot"):
        scoring.slot_of_frame(((5,),), [6])


def test_mllm_frames_are_a_uniform_subset_of_the_proposal_frames_inside_the_clip():
    from zstvg.grounding.ground_cli import mllm_frames

    released = list(range(0, 200, 10))  # every 10th native frame, as the authors' files
    # clip [50, 150): 10 proposal frames 50..140; 5 bin centres at positions 1, 3, 5, 7, 9
    assert mllm_frames(released, (50, 150), 5) == [60, 80, 100, 120, 140]
    assert mllm_frames(released, (50, 80), 20) == [50, 60, 70]  # fewer than asked: all
    with pytest.raises(ValueError, match="no proposal frame inside the clip"):
        mllm_frames(released, (201, 300), 5)
