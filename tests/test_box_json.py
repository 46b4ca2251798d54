"""The frame -> box maps of the samples and predictions files: arrays out, or an error naming the
first bad entry. The fast path and the naming path must agree on what is bad."""

from __future__ import annotations

import numpy as np
import pytest

from zstvg.files.box_maps import check_box_map
from zstvg.files.io import InputError


def test_valid_map_comes_back_as_arrays_in_file_order():
    got = check_box_map({"12": [0, 0, 10, 10], "3": [1.5, 2, 4, 8.25]}, "f:1", "gt_boxes_xyxy")
    assert got.frame_idx.dtype == np.int64 and got.frame_idx.tolist() == [12, 3]
    assert got.boxes_xyxy.dtype == np.float64
    assert got.boxes_xyxy.tolist() == [[0, 0, 10, 10], [1.5, 2, 4, 8.25]]
    empty = check_box_map({}, "f:1", "gt_boxes_xyxy")
    assert empty.frame_idx.shape == (0,) and empty.boxes_xyxy.shape == (0, 4)


def test_long_but_valid_frame_keys():
    got = check_box_map({"0": [0, 0, 1, 1], "9" * 18: [0, 0, 1, 1]}, "f", "b")
    assert got.frame_idx.tolist() == [0, 10**18 - 1]


def test_zero_area_box_is_valid():
    assert check_box_map({"0": [5, 5, 5, 5]}, "f", "b").boxes_xyxy.tolist() == [[5, 5, 5, 5]]


@pytest.mark.parametrize(
    ("boxes", "message"),
    [
        ({"7": [True, 0, 1, 1]}, r"f:3: field b\[7\] must be 4 numbers, got \[True, 0, 1, 1\]"),
        ({"7": [[0], 0, 1, 1]}, r"field b\[7\] must be 4 numbers"),  # was a numpy traceback
        ({"7": ["0", 0, 1, 1]}, r"field b\[7\] must be 4 numbers"),
        ({"7": [None, 0, 1, 1]}, r"field b\[7\] must be 4 numbers"),
        ({"7": (0, 0, 1, 1)}, r"field b\[7\] must be 4 numbers"),
        ({"7": [0, 0, 1, 1, 1]}, r"field b\[7\] must be 4 numbers"),
        ({"7": [0, 0, float("inf"), 1]}, r"field b\[7\] must be 4 finite numbers"),
        ({"7": [0, 5, 1, 1]}, r"field b\[7\] must be 4 finite numbers .* y2 >= y1"),
        ({"": [0, 0, 1, 1]}, "field b: key '' is not a frame index"),
        ({"1": [0, 0, 1, 1], "": [0, 0, 1, 1]}, "field b: key '' is not a frame index"),
        ({"1": [0, 0, 1, 1], " 2": [0, 0, 1, 1]}, "field b: key ' 2' is not a frame index"),
        ({"1 ": [0, 0, 1, 1], "2": [0, 0, 1, 1]}, "field b: key '1 ' is not a frame index"),
        ({"1 2": [0, 0, 1, 1]}, "field b: key '1 2' is not a frame index"),
        ({"3": [0, 0, 1, 1], "9" * 20: [0, 0, 1, 1]}, "is not a frame index"),
        ({"-1": [0, 0, 1, 1]}, "field b: key '-1' is not a frame index"),
        ({"1.0": [0, 0, 1, 1]}, "field b: key '1.0' is not a frame index"),
        ({"²": [0, 0, 1, 1]}, "field b: key '²' is not a frame index"),
        ({"1" * 19: [0, 0, 1, 1]}, "is not a frame index"),
        ([[0, 0, 1, 1]], "field b must be an object keyed by frame index"),
    ],
)
def test_bad_entry_is_named(boxes, message):
    with pytest.raises(InputError, match=message):
        check_box_map(boxes, "f:3", "b")


def test_the_first_bad_box_in_file_order_is_named():
    boxes = {str(f): [0, 0, 1, 1] for f in range(100)}
    boxes["40"] = [0, 0, -1, 1]
    boxes["60"] = [0, 0, "1", 1]
    with pytest.raises(InputError, match=r"b\[40\] must be 4 finite"):
        check_box_map(boxes, "f", "b")
