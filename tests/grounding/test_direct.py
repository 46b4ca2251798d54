"""The `direct` baseline on one sample: a scripted box-decoding backend answers fixed texts in
each family's format; the predictions are the planted span and boxes (hand-checkable), a
malformed answer fails its sample with the raw text kept, and both variants share one answer."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from zstvg.cli import main
from zstvg.config.params import load_params
from zstvg.config.variants import DIRECT_BACKENDS, DIRECT_VARIANTS, VARIANTS
from zstvg.files.records import Sample, Track
from zstvg.grounding.direct import DirectAnswerCache, best_track, ground_direct
from zstvg.grounding.engine import GroundingEngine, GroundInput

# 640 x 360 at 10 fps, 100 frames; the MLLM sees native frames 0, 10, ..., 90 (t = 0.0 ... 9.0 s)
W, H, FPS = 640, 360, 10.0
MLLM_FRAMES = tuple(range(0, 100, 10))
BOX = (64.0, 36.0, 320.0, 180.0)  # native pixels
# the same box in each family's convention: Qwen2.5-VL's absolute pixels of a 448 x 252 input
# (x 0.7), Qwen3-VL's 0-1000 relative coordinates
IN_FAMILY = {"qwen2.5-vl": [44.8, 25.2, 224.0, 126.0], "qwen3-vl": [100, 100, 500, 500]}


def _answer(family: str) -> str:
    box = IN_FAMILY[family]
    boxes = [{"time": t, "bbox_2d": box} for t in (1.0, 2.0)]
    return (
        "Here it is:\n```json\n"
        + json.dumps({"start_time": 1.0, "end_time": 2.0, "boxes": boxes})
        + "\n```"
    )


class Scripted:
    """A box-decoding backend whose answer is fixed; counts its generations."""

    name = "scripted"

    def __init__(self, family: str, answer: str) -> None:
        self.box_family, self.answer = family, answer
        self.prompts: list[str] = []

    def set_answer_words(self, words) -> None:
        pass

    def encode(self, frames, frame_idx, prompt, fps):
        return SimpleNamespace(prompt=prompt, seq_len=100 + len(prompt))

    def input_wh(self, inputs) -> tuple[int, int]:
        return (448, 252)

    def generate_text(self, inputs, max_new_tokens: int) -> tuple[str, int]:
        self.prompts.append(inputs.prompt)
        return self.answer, 42


def _gin(tracks=()) -> GroundInput:
    sample = Sample("s", "v", "v.mp4", "the man in red walks", "declarative", FPS, 100, W, H,
                    (10, 30), (0, 100))  # fmt: skip
    frames = [np.zeros((H, W, 3), np.uint8) for _ in MLLM_FRAMES]
    return GroundInput(sample, frames, MLLM_FRAMES, (*MLLM_FRAMES, 100), FPS, list(tracks),
                       "a man in red", "walks")  # fmt: skip


@pytest.mark.parametrize("family", list(IN_FAMILY))
def test_the_planted_span_and_boxes_come_back_in_native_pixels(family):
    mllm = Scripted(family, _answer(family))
    pred, record = ground_direct(mllm, _gin(), DIRECT_VARIANTS["direct"], 1024,
                                 DirectAnswerCache())  # fmt: skip
    # frames at 1.0 s and 2.0 s are native 10 and 20; the span runs to the next MLLM frame
    assert pred.span == (10, 30) and pred.error is None
    assert sorted(pred.boxes_xyxy) == list(range(10, 30))
    assert all(b == pytest.approx(BOX) for b in pred.boxes_xyxy.values())
    assert record["status"] == "ok" and record["answer_text"] == mllm.answer
    assert record["generation"] == {"greedy": True, "max_new_tokens": 1024, "n_new_tokens": 42,
                                    "n_prompt_tokens": 100 + len(record["prompt"])}  # fmt: skip
    assert "the man in red walks" in record["prompt"] and "0.00, 1.00, 2.00" in record["prompt"]
    assert ("448x252" in record["prompt"]) == (family == "qwen2.5-vl")
    assert "variant:direct" in pred.flags


def test_direct_tracks_keeps_the_span_and_takes_the_best_matching_track():
    near = Track(3, "person", {f: (70.0, 40.0, 320.0, 180.0) for f in range(0, 100, 10)})
    far = Track(1, "person", {f: (400.0, 200.0, 600.0, 350.0) for f in range(0, 100, 10)})
    mllm = Scripted("qwen3-vl", _answer("qwen3-vl"))
    pred, record = ground_direct(mllm, _gin([far, near]), DIRECT_VARIANTS["direct+tracks"], 64,
                                 DirectAnswerCache())  # fmt: skip
    assert pred.span == (10, 30) and pred.track_id == 3
    assert all(b == (70.0, 40.0, 320.0, 180.0) for b in pred.boxes_xyxy.values())
    # IoU of the near track with the decoded box: 250 x 140 over 256 x 144
    assert record["track_scores"]["3"] == pytest.approx(250 * 140 / (256 * 144))
    assert record["track_scores"]["1"] == 0.0


def test_best_track_counts_frames_the_track_does_not_reach_as_zero():
    boxes = {f: (0.0, 0.0, 10.0, 10.0) for f in range(10, 20)}
    short = Track(1, "person", {10: (0.0, 0.0, 10.0, 10.0), 11: (0.0, 0.0, 10.0, 10.0)})
    half = Track(2, "person", {f: (0.0, 0.0, 10.0, 5.0) for f in range(10, 20)})
    chosen, scores = best_track([short, half], boxes, (0, 100))
    # short: IoU 1 on the 2 of 10 frames it reaches -> 0.2; half: 0.5 on all
    assert scores == pytest.approx({1: 0.2, 2: 0.5}) and chosen.track_id == 2


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("I cannot tell where the man is.", "no complete JSON answer"),
        ('{"start_time": 5.0, "end_time": 2.0, "boxes": [{"time": 5.0, "bbox_2d": [1, 1, 9, 9]}]}',
         "before"),
        ('{"start_time": 1.0, "end_time": 2.0, "boxes": []}', "no box"),
    ],
)  # fmt: skip
def test_a_malformed_answer_fails_the_sample_and_keeps_the_text(answer, reason):
    mllm = Scripted("qwen2.5-vl", answer)
    pred, record = ground_direct(mllm, _gin(), DIRECT_VARIANTS["direct"], 1024,
                                 DirectAnswerCache())  # fmt: skip
    assert pred.span is None and pred.error.startswith("ground: direct: ")
    assert reason in pred.error
    assert record["status"] == "failed" and record["error"] == pred.error
    assert record["answer_text"] == answer


def test_both_variants_share_one_answer_and_the_attention_variants_run_beside_them():
    cfg = load_params("params.yaml").ground
    mllm = Scripted("qwen2.5-vl", _answer("qwen2.5-vl"))
    engine = GroundingEngine(mllm, cfg, max_new_tokens=77)
    track = Track(0, "person", {f: BOX for f in range(0, 100, 10)})
    out = engine.ground_many(_gin([track]), list(DIRECT_VARIANTS.values()))
    assert len(mllm.prompts) == 1  # one generation for direct and direct+tracks
    assert out["direct"][0].span == out["direct+tracks"][0].span == (10, 30)
    assert out["direct"][1]["generation"]["max_new_tokens"] == 77
    assert out["direct+tracks"][0].track_id == 0


def test_direct_cells_are_planned_for_box_decoding_models_only(params_raw):
    from zstvg.config import experiments
    from zstvg.mllm import MLLMS

    decoders = [n for n in MLLMS.names() if getattr(MLLMS.get(n), "box_family", None)]
    assert sorted(decoders) == sorted(DIRECT_BACKENDS)
    params_raw["run"].update(models=["tiny-qwen2-vl", "tiny-qwen2.5-vl"],
                             variants=["full", "direct"], experiments=[])  # fmt: skip
    cells = {(c.model, c.variant) for c in experiments.cells(params_raw)}
    assert cells == {("tiny-qwen2-vl", "full"), ("tiny-qwen2.5-vl", "full"),
                     ("tiny-qwen2.5-vl", "direct")}  # fmt: skip
    assert not set(DIRECT_VARIANTS) & set(VARIANTS)


def test_asking_a_model_that_decodes_no_boxes_is_the_jobs_error(tmp_path, capsys, repo_root):
    rc = main(["ground", "--params", str(repo_root / "params.yaml"), "--samples", "s.jsonl",
               "--frames", "f.json", "--proposals", "p.json", "--decompositions", "d.jsonl",
               "--model", "tiny-qwen2-vl", "--variants", "gti,direct", "--out",
               str(tmp_path / "g")])  # fmt: skip
    assert rc == 2
    err = capsys.readouterr().err
    assert "--model 'tiny-qwen2-vl': its backend 'qwen2-vl' decodes no boxes, which direct" in err
