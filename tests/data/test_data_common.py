"""Pure helpers of the loaders: box conversion, clipping, span checks, key checks, registry."""

from __future__ import annotations

import pytest

from zstvg.data import DATASET_FORMATS, load_samples
from zstvg.data.common import clip_box, join_errors, require, span_problem, xywh_to_xyxy
from zstvg.files.io import InputError


def test_xywh_to_xyxy_adds_size_to_corner() -> None:
    assert xywh_to_xyxy([10, 20, 30, 40]) == (10.0, 20.0, 40.0, 60.0)
    assert xywh_to_xyxy([0.5, 1.5, 2, 2]) == (0.5, 1.5, 2.5, 3.5)


def test_clip_box_inside_is_unchanged() -> None:
    assert clip_box((10.0, 20.0, 40.0, 60.0), 640, 480) == ((10.0, 20.0, 40.0, 60.0), False)
    # Touching the border is inside: x2 == width, y2 == height.
    assert clip_box((0.0, 0.0, 640.0, 480.0), 640, 480) == ((0.0, 0.0, 640.0, 480.0), False)


def test_clip_box_partly_outside_is_cut_to_the_frame() -> None:
    assert clip_box((-5.0, 400.0, 700.0, 500.0), 640, 480) == ((0.0, 400.0, 640.0, 480.0), True)


def test_clip_box_wholly_outside_collapses_to_zero_area() -> None:
    box, clipped = clip_box((700.0, 10.0, 750.0, 50.0), 640, 480)
    assert clipped
    assert box == (640.0, 10.0, 640.0, 50.0)  # zero width: IoU 0 with anything


@pytest.mark.parametrize(
    ("span", "n_frames", "problem"),
    [
        ((4, 7), 10, None),
        ((0, 10), 10, None),
        ((5, 5), 10, "empty span [5, 5)"),
        ((7, 4), 10, "inverted span [7, 4)"),
        ((-1, 3), 10, "span [-1, 3) outside the video's frames [0, 10)"),
        ((8, 11), 10, "span [8, 11) outside the video's frames [0, 10)"),
    ],
)
def test_span_problem(span: tuple[int, int], n_frames: int, problem: str | None) -> None:
    assert span_problem(span, n_frames) == problem


def test_require_names_file_entry_and_key() -> None:
    assert require({"a": 1}, "a", "f.json", "e1") == 1
    with pytest.raises(InputError, match=r"^f\.json: entry e1: missing required key 'b'$"):
        require({"a": 1}, "b", "f.json", "e1")
    with pytest.raises(InputError, match=r"f\.json: entry e1: expected a JSON object, got list"):
        require([1], "b", "f.json", "e1")


def test_join_errors_skips_empty_parts() -> None:
    assert join_errors([]) is None
    assert join_errors(["", "a"]) == "a"
    assert join_errors(["a", "b"]) == "a; b"


def test_registry_lists_every_format() -> None:
    assert DATASET_FORMATS.names() == [
        "hcstvg-v1",
        "hcstvg-v2",
        "synthetic",
        "vidstg",
        "vidstg-tubedetr",
    ]
    # synthetic is written in the HC-STVG v2 format and read by the same loader.
    assert DATASET_FORMATS.get("synthetic") is DATASET_FORMATS.get("hcstvg-v2")


def test_unknown_format_is_an_input_error_listing_the_known_ones(tmp_path) -> None:
    with pytest.raises(InputError, match="unknown dataset format 'hcstvg-v3'; known: hcstvg-v1"):
        load_samples("hcstvg-v3", tmp_path / "x.json")


def test_missing_video_folder_is_an_input_error(tmp_path) -> None:
    (tmp_path / "a.json").write_text("{}")
    with pytest.raises(InputError, match="video folder not found: .*nowhere"):
        load_samples("hcstvg-v1", tmp_path / "a.json", videos=tmp_path / "nowhere")
