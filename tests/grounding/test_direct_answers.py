"""The prompt and the answer parser of the `direct` baseline (docs/method.md, its section).

One made-up video throughout: 640 x 360, 10 fps, 200 frames (20 s); the MLLM frames are native
frames 0, 10, ..., 190 at 0.0, 1.0, ..., 19.0 s, so MLLM frame j stands for native frames
[10 j, 10 j + 10). Qwen2.5-VL sees them resized to 448 x 252 (x 0.7 on both axes); Qwen3-VL
answers on a 0-1000 scale. Every expected value is computed by hand in a comment.
"""

from __future__ import annotations

import json

import pytest

from zstvg.grounding.direct_answers import (
    ANSWER_FORMAT,
    AnswerError,
    build_prompt,
    parse_answer,
)

FPS = 10.0
N_FRAMES = 200
NATIVE_WH = (640, 360)
INPUT_WH = (448, 252)
MLLM_FRAME_IDX = list(range(0, N_FRAMES, 10))
FRAMES_T_SEC = [f / FPS for f in MLLM_FRAME_IDX]

# The left half of the frame, rows 90-270: [0, 90, 320, 270] in native pixels is
# [0, 63, 224, 189] in Qwen2.5-VL's 448 x 252 input (x 0.7) and [0, 250, 500, 750] on
# Qwen3-VL's 0-1000 scale (320 / 640 = 0.5, 90 / 360 = 0.25, 270 / 360 = 0.75).
NATIVE_BOX = (0.0, 90.0, 320.0, 270.0)
IN_FAMILY = {"qwen2.5-vl": [0, 63, 224, 189], "qwen3-vl": [0, 250, 500, 750]}


def parse(text, family="qwen2.5-vl", input_wh=INPUT_WH):
    return parse_answer(
        text,
        family,
        frames_t_sec=FRAMES_T_SEC,
        mllm_frame_idx=MLLM_FRAME_IDX,
        input_wh=input_wh,
        native_wh=NATIVE_WH,
        n_frames=N_FRAMES,
        fps=FPS,
    )


def answer(start, end, boxes):
    """An answer in the pinned format; ``boxes`` maps time -> bbox_2d."""
    return json.dumps(
        {
            "start_time": start,
            "end_time": end,
            "boxes": [{"time": t, "bbox_2d": b} for t, b in boxes.items()],
        }
    )


# --- the prompt -------------------------------------------------------------------------------


def test_each_prompt_asks_for_the_pinned_format_at_the_frame_times():
    for family in ("qwen2.5-vl", "qwen3-vl"):
        prompt = build_prompt(family, "the man in red sits down", FRAMES_T_SEC, INPUT_WH)
        assert '"the man in red sits down"' in prompt
        assert ANSWER_FORMAT in prompt
        assert "20 frames" in prompt
        assert "0.00, 1.00, 2.00," in prompt and prompt.count(", ") >= 19


def test_qwen25_prompt_asks_for_input_pixels_and_qwen3_for_the_0_1000_scale():
    q25 = build_prompt("qwen2.5-vl", "a dog", FRAMES_T_SEC, INPUT_WH)
    q3 = build_prompt("qwen3-vl", "a dog", FRAMES_T_SEC, INPUT_WH)
    assert "absolute pixel coordinates of the 448x252 frames" in q25
    assert "1000" not in q25
    assert "relative coordinates from 0 to 1000" in q3 and "<t seconds>" in q3
    assert "448" not in q3


def test_an_unknown_family_is_a_caller_error_not_an_answer_error():
    with pytest.raises(ValueError, match="expected one of qwen2.5-vl, qwen3-vl") as err:
        build_prompt("llava-ov", "a dog", FRAMES_T_SEC, INPUT_WH)
    assert not isinstance(err.value, AnswerError)
    with pytest.raises(ValueError, match="expected one of"):
        parse(answer(1.0, 1.0, {1.0: [0, 0, 1, 1]}), family="qwen2-vl")


# --- coordinates and frames -------------------------------------------------------------------


@pytest.mark.parametrize("family", ["qwen2.5-vl", "qwen3-vl"])
def test_a_box_on_frame_10_maps_back_to_the_same_native_pixels(family):
    # 1.0 s is MLLM frame 1 = native frame 10; the span 1.0-1.0 s is that frame's bin [10, 20)
    got = parse(answer(1.0, 1.0, {1.0: IN_FAMILY[family]}), family)
    assert got.span == (10, 20)
    assert sorted(got.boxes_xyxy) == list(range(10, 20))
    assert got.boxes_xyxy[10] == NATIVE_BOX
    assert got.boxes_xyxy[19] == NATIVE_BOX  # held over the bin: frames 11-19 are not MLLM frames
    assert got.flags == ("boxes_held:9",)


@pytest.mark.parametrize(
    ("start", "end", "box_t", "span"),
    [
        (1.0, 3.0, 1.0, (10, 40)),  # frames at 1.0 .. 3.0 s; 3.0 s's bin is [30, 40)
        (1.5, 3.2, 2.0, (20, 40)),  # first frame at or after 1.5 s: 2.0 s (20); 3.2 s in [30, 40)
        (1.2, 1.8, 1.0, (10, 20)),  # no MLLM frame inside: the bin holding both, [10, 20)
        (0.0, 20.0, 0.0, (0, 200)),  # the whole video; the last bin runs to n_frames
        (19.5, 19.5, 19.0, (190, 200)),  # after the last MLLM frame: its bin [190, 200)
    ],
)
def test_span_starts_at_the_first_frame_at_or_after_start_and_ends_with_the_bin_of_end(
    start, end, box_t, span
):
    assert parse(answer(start, end, {box_t: [0, 0, 70, 70]})).span == span


def test_the_methods_centred_bins_are_used_when_given():
    # MLLM frames 5, 15, ..., 195 (0.5, 1.5, ... s) stand for [0, 10), [10, 20), ...: an answer
    # of 1.5-2.5 s covers frames 15 and 25, so native [10, 30), as the method's span would
    frames = [f + 5 for f in MLLM_FRAME_IDX]
    got = parse_answer(answer(1.5, 2.5, {1.5: [0, 0, 70, 70]}), "qwen2.5-vl",
                       frames_t_sec=[f / FPS for f in frames], mllm_frame_idx=frames,
                       input_wh=INPUT_WH, native_wh=NATIVE_WH, n_frames=N_FRAMES, fps=FPS,
                       mllm_bins=[*MLLM_FRAME_IDX, N_FRAMES])  # fmt: skip
    assert got.span == (10, 30) and sorted(got.boxes_xyxy) == list(range(10, 30))
    with pytest.raises(ValueError, match="expected T \\+ 1 edges"):
        parse_answer(answer(1.5, 2.5, {1.5: [0, 0, 70, 70]}), "qwen2.5-vl",
                     frames_t_sec=[f / FPS for f in frames], mllm_frame_idx=frames,
                     input_wh=INPUT_WH, native_wh=NATIVE_WH, n_frames=N_FRAMES, fps=FPS,
                     mllm_bins=MLLM_FRAME_IDX)  # fmt: skip


def test_a_box_goes_to_the_nearest_mllm_frame_and_the_earlier_of_two_equally_near():
    # 1.4 s -> 1.0 s (frame 10); 2.6 s -> 3.0 s (frame 30); 4.5 s is 0.5 s from 4.0 and 5.0 s:
    # frame 40 (Qwen3-VL labels a 2-frame slot with its mean time: 4.0 and 5.0 s -> 4.5 s)
    boxes = {1.4: [0, 0, 70, 70], 2.6: [7, 0, 77, 70], 4.5: [14, 0, 84, 70]}
    got = parse(answer(1.0, 5.0, boxes))
    assert got.boxes_xyxy[10][0] == 0.0
    assert got.boxes_xyxy[30][0] == 10.0  # 7 * 640 / 448
    assert got.boxes_xyxy[40][0] == 20.0  # 14 * 640 / 448


def test_boxes_are_interpolated_between_given_frames_and_held_to_the_span_ends():
    # span 1.0-4.0 s -> [10, 50); boxes at 2.0 s (frame 20, x1 = 0) and 3.0 s (frame 30,
    # x1 = 20): frame 25 is halfway, x1 = 10; frames 10-19 hold frame 20's box, 31-49 frame 30's
    got = parse(answer(1.0, 4.0, {2.0: [0, 0, 100, 50], 3.0: [20, 0, 120, 50]}), input_wh=NATIVE_WH)
    assert got.span == (10, 50)
    assert sorted(got.boxes_xyxy) == list(range(10, 50))
    assert got.boxes_xyxy[25] == (10.0, 0.0, 110.0, 50.0)
    assert got.boxes_xyxy[10] == (0.0, 0.0, 100.0, 50.0)
    assert got.boxes_xyxy[49] == (20.0, 0.0, 120.0, 50.0)
    # 9 frames between 20 and 30; held: 10 before frame 20 plus 19 after frame 30
    assert got.flags == ("boxes_interpolated", "boxes_held:29")


def test_a_box_partly_outside_the_frame_is_clipped_and_flagged():
    # x2 = 500 > 448 and y2 = 300 > 252 in the input: 714.3 and 428.6 native, clipped to 640, 360
    got = parse(answer(1.0, 1.0, {1.0: [392, 189, 500, 300]}))
    assert got.boxes_xyxy[10] == (560.0, 270.0, 640.0, 360.0)
    assert "boxes_clipped:1" in got.flags


def test_boxes_outside_the_span_and_repeated_frames_are_dropped_and_flagged():
    # span 2.0-3.0 s -> [20, 40); 0.0 s (frame 0) lies outside; 2.1 s is frame 20 again
    boxes = {0.0: [0, 0, 7, 7], 2.0: [0, 0, 70, 70], 2.1: [7, 7, 77, 77], 3.0: [0, 0, 70, 70]}
    got = parse(answer(2.0, 3.0, boxes))
    assert got.span == (20, 40)
    assert got.boxes_xyxy[20] == (0.0, 0.0, 100.0, 100.0)
    assert "boxes_outside_span:1" in got.flags and "boxes_repeated:1" in got.flags


# --- finding the JSON -------------------------------------------------------------------------


def test_json_inside_prose_is_found_and_the_raw_text_kept():
    text = (
        "The man in red [the target] walks in at 1 s. Here is the answer: "
        + answer(1.0, 2.0, {1.0: [0, 63, 224, 189]})
        + " I hope this helps!"
    )
    got = parse(text)
    assert got.span == (10, 30)
    assert got.boxes_xyxy[10] == NATIVE_BOX
    assert got.raw_text == text


def test_json_inside_a_code_fence_is_found():
    text = "Sure.\n```json\n" + answer(1.0, 1.0, {1.0: [0, 250, 500, 750]}) + "\n```\nDone."
    assert parse(text, "qwen3-vl").boxes_xyxy[10] == NATIVE_BOX


def test_single_quotes_and_trailing_commas_are_accepted():
    text = (
        "{'start_time': 1.0, 'end_time': 1.0,"
        " 'boxes': [{'time': 1.0, 'bbox_2d': [0, 63, 224, 189],},],}"
    )
    assert parse(text).boxes_xyxy[10] == NATIVE_BOX


def test_a_truncated_answer_keeps_its_complete_boxes_and_is_flagged():
    # cut off inside the third box: boxes at 1.0 and 2.0 s are kept, the span is as stated
    full = answer(1.0, 3.0, {1.0: [0, 0, 70, 70], 2.0: [7, 0, 77, 70], 3.0: [14, 0, 84, 70]})
    text = "```json\n" + full[: full.index("[14")] + "[14, 0"
    got = parse(text)
    assert got.span == (10, 40)
    assert got.boxes_xyxy[20] == (10.0, 0.0, 110.0, 100.0)
    assert got.boxes_xyxy[39] == got.boxes_xyxy[20]  # held: 3.0 s's box never arrived
    assert got.flags[0] == "answer_truncated"


def test_a_bare_list_of_boxes_spans_its_first_to_last_box():
    # Qwen3-VL's cookbook format: [{"time", "bbox_2d", "label"}, ...]; 2.0-4.0 s -> [20, 50)
    text = json.dumps(
        [
            {"time": 2.0, "bbox_2d": [0, 250, 500, 750], "label": "man"},
            {"time": 4.0, "bbox_2d": [0, 250, 500, 750], "label": "man"},
        ]
    )
    got = parse(text, "qwen3-vl")
    assert got.span == (20, 50)
    assert "span_from_boxes" in got.flags


def test_times_may_be_written_as_text():
    text = json.dumps(
        {
            "start_time": "<1.0 seconds>",
            "end_time": "00:02.00",
            "boxes": [{"time": "1.0 s", "bbox_2d": [0, 63, 224, 189]}],
        }
    )
    assert parse(text).span == (10, 30)


# --- malformed answers ------------------------------------------------------------------------

GOOD_BOX = [0, 63, 224, 189]


@pytest.mark.parametrize(
    ("text", "family", "reason"),
    [
        ("The man walks to the door at 3 s.", "qwen2.5-vl", "no complete JSON answer"),
        ('{"start_time": 1.0, "end_time": 2.0, "boxes": []}', "qwen2.5-vl", "no boxes"),
        ('{"start_time": 1.0, "end_time": 2.0}', "qwen2.5-vl", "no boxes"),
        (answer(3.0, 1.0, {1.0: GOOD_BOX}), "qwen2.5-vl", "end_time 1 s is before start_time 3 s"),
        (
            answer(1.0, 25.0, {1.0: GOOD_BOX}),
            "qwen2.5-vl",
            r"end_time 25 s is outside the video \[0, 20\] s",
        ),
        (answer(1.0, 2.0, {-1.0: GOOD_BOX}), "qwen2.5-vl", "box 1: time -1 s is outside the video"),
        (
            answer(1.0, 2.0, {1.0: [0, 250, 1200, 750]}),
            "qwen3-vl",
            "box 1 \\(1 s\\): coordinate 1200 is outside qwen3-vl's 0-1000 scale",
        ),
        (answer(1.0, 2.0, {1.0: [224, 63, 0, 189]}), "qwen2.5-vl", "has x2 <= x1 or y2 <= y1"),
        (
            answer(1.0, 2.0, {1.0: [0, float("nan"), 5, 5]}),  # json.dumps writes NaN
            "qwen2.5-vl",
            "box 1 \\(1 s\\): a coordinate is NaN",
        ),
        (answer(float("nan"), 2.0, {1.0: GOOD_BOX}), "qwen2.5-vl", "start_time is NaN"),
        (
            answer(1.0, 2.0, {1.0: [450, 10, 600, 50]}),
            "qwen2.5-vl",
            r"bbox_2d \[450.0, 10.0, 600.0, 50.0\] lies wholly outside the frame",
        ),
        (answer(1.0, 2.0, {1.0: [0, 63, 224]}), "qwen2.5-vl", r"is not \[x1, y1, x2, y2\]"),
        (
            '{"start_time": 1.0, "boxes": [{"time": 1.0, "bbox_2d": [0, 63, 224, 189]}]}',
            "qwen2.5-vl",
            "end_time is missing",
        ),
        (
            answer(5.0, 6.0, {1.0: GOOD_BOX}),
            "qwen2.5-vl",
            r"no box lies in the span 5-6 s \(native frames \[50, 70\)\)",
        ),
    ],
)
def test_a_malformed_answer_fails_with_one_line_naming_the_reason(text, family, reason):
    with pytest.raises(AnswerError, match=reason) as err:
        parse(text, family)
    assert "\n" not in str(err.value)
    assert isinstance(err.value, ValueError)
