from __future__ import annotations

import json

import numpy as np
import pytest

from zstvg.files import rle


def test_hand_made_4x4_mask_has_known_counts_area_and_box():
    mask = np.zeros((4, 4), dtype=bool)
    mask[1:3, 1:3] = True
    # Column-major runs, starting with zeros: 5 off, 2 on, 2 off, 2 on, 5 off.
    # Compressed: counts from index 3 on are stored as deltas to the count two before
    # (2-2=0, 5-2=3), each small value one character chr(48 + v): "5", "2", "2", "0", "3".
    encoded = rle.encode(mask)
    assert encoded == {"size": [4, 4], "counts": "52203"}
    assert rle.area(encoded) == 4
    # Pixels in columns 1..2 and rows 1..2 -> continuous box [1, 1, 3, 3].
    assert rle.box_xyxy(encoded) == (1.0, 1.0, 3.0, 3.0)
    # The same mask given as an uncompressed (list) RLE normalises to the same string.
    assert rle.normalize({"size": [4, 4], "counts": [5, 2, 2, 2, 5]}) == encoded
    assert json.loads(json.dumps(encoded)) == encoded


def test_round_trip_is_exact_on_a_random_mask():
    rng = np.random.default_rng(0)
    mask = rng.random((37, 53)) > 0.6  # odd sizes, many runs
    encoded = rle.encode(mask)
    assert isinstance(encoded["counts"], str)
    assert encoded["size"] == [37, 53]
    decoded = rle.decode(encoded)
    assert decoded.dtype == bool and decoded.shape == (37, 53)
    assert np.array_equal(decoded, mask)
    assert rle.area(encoded) == int(mask.sum())
    ys, xs = np.nonzero(mask)
    assert rle.box_xyxy(encoded) == (xs.min(), ys.min(), xs.max() + 1.0, ys.max() + 1.0)


def test_empty_mask_has_zero_area_and_no_box():
    encoded = rle.empty(6, 8)
    assert encoded["size"] == [6, 8]
    assert rle.area(encoded) == 0
    assert rle.box_xyxy(encoded) is None
    assert not rle.decode(encoded).any()


def test_encode_rejects_a_3d_array():
    with pytest.raises(ValueError, match="2-D mask"):
        rle.encode(np.zeros((2, 2, 3), dtype=bool))


def test_box_mask_covers_the_box_pixels_and_clips_to_the_frame():
    encoded = rle.box_mask((1.0, 2.0, 4.0, 3.0), height=5, width=6)
    assert rle.area(encoded) == 3 * 1
    assert rle.box_xyxy(encoded) == (1.0, 2.0, 4.0, 3.0)
    # Fractional edges round outward; a box past the border is clipped.
    assert rle.box_xyxy(rle.box_mask((4.5, -2.0, 9.0, 1.2), height=5, width=6)) == (
        4.0,
        0.0,
        6.0,
        2.0,
    )


def test_runs_are_read_as_pycocotools_reads_them_and_short_ones_are_named():
    # the hand-worked strings of test_official_format.HAND_WRITTEN (4 x 6 frame)
    assert rle.runs({"size": [4, 6], "counts": "5220;"}).tolist() == [5, 2, 2, 2, 13]
    assert rle.runs({"size": [4, 6], "counts": "h0"}).tolist() == [24]
    assert rle.run_problem({"size": [4, 6], "counts": [12, 12]}) is None
    # pycocotools' area says 0; its decode returns whatever the buffer held
    assert rle.run_problem({"size": [200, 200], "counts": "0"}) == (
        "RLE runs cover 0 pixels, not the 200 x 200 = 40000 of its size (it would decode to "
        "arbitrary pixels)"
    )
    assert rle.run_problem({"size": [4, 6], "counts": "zzzz"}).startswith(
        "RLE counts do not decode"
    )
