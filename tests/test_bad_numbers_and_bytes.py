"""Bad bytes and bad numbers at every border: a clear error naming file and field (exit 2), or
a failed sample with its reason; never a traceback, never a silent coercion."""

from __future__ import annotations

import copy
import csv
import json
import math
from pathlib import Path

import pytest
import yaml

from zstvg.cli import main
from zstvg.config.params import ParamsError, parse
from zstvg.data import load_samples
from zstvg.files.io import InputError, read_json, read_jsonl
from zstvg.files.predictions import read_predictions
from zstvg.files.records import Sample
from zstvg.files.samples import read_samples, write_samples

NON_UTF8 = b'{"a": 1}\n{"b": "caf\xe9"}\n'


def _sample(sid: str = "s", **kw) -> Sample:
    base = dict(
        sample_id=sid, video_id="v", video_path="v.mp4", query="a man", qtype="declarative",
        fps=10.0, n_frames=40, width=64, height=48, gt_span=(8, 24), clip_span=(0, 40),
        gt_boxes_xyxy={f: (0.0, 0.0, 10.0, 10.0) for f in range(8, 24)},
    )  # fmt: skip
    base.update(kw)
    return Sample(**base)


# -- non-UTF-8 bytes -------------------------------------------------------------------------
def test_non_utf8_json_and_jsonl_name_file_line_and_byte(tmp_path):
    path = tmp_path / "x.json"
    path.write_bytes(NON_UTF8)
    with pytest.raises(
        InputError, match=r"x\.json: JSON file is not UTF-8 text \(line 2, byte 19: 0xe9"
    ):
        read_json(path)
    with pytest.raises(InputError, match=r"x\.json: samples file is not UTF-8 text \(line 2"):
        read_jsonl(path, what="samples file")


@pytest.mark.parametrize("step", ["prepare-data", "sample-frames", "evaluate"])
def test_non_utf8_input_of_a_step_exits_2_naming_the_file(tmp_path, capsys, step):
    bad = tmp_path / "bad.json"
    bad.write_bytes(NON_UTF8)
    good_samples = tmp_path / "samples.jsonl"
    write_samples(good_samples, [_sample()])
    args = {
        "prepare-data": ["--dataset", "hcstvg-v2", "--annotations", str(bad)],
        "sample-frames": ["--samples", str(bad)],
        "evaluate": ["--samples", str(good_samples), "--predictions", str(bad)],
    }[step]
    out = tmp_path / "out" / "o.json"
    assert main([step, *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: " in err and "is not UTF-8 text (line 2" in err
    assert "Traceback" not in err
    assert not out.exists()


# -- params -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("frames", "grid_fps", math.nan),
        ("frames", "grid_fps", math.inf),
        ("decompose", "timeout_s", math.nan),
        ("evaluate", "viou_thresholds", [math.nan]),
        ("proposals", "box_threshold", -math.inf),
    ],
)
def test_non_finite_params_are_rejected_naming_the_key(params_raw, section, key, value):
    raw = copy.deepcopy(params_raw)
    raw[section][key] = value
    with pytest.raises(ParamsError) as exc:
        parse(raw, "params.yaml")
    assert f"params.yaml: {section}.{key}" in str(exc.value)
    assert "is not of type 'number'" in str(exc.value)


def test_set_nan_on_the_command_line_exits_2(tmp_path, capsys, repo_root):
    samples = tmp_path / "samples.jsonl"
    write_samples(samples, [_sample()])
    rc = main(
        ["sample-frames", "--params", str(repo_root / "params.yaml"), "--set",
         "frames.grid_fps=.nan", "--samples", str(samples), "--out", str(tmp_path / "m.json")]
    )  # fmt: skip
    assert rc == 2
    assert "frames.grid_fps: got nan" in capsys.readouterr().err
    assert not (tmp_path / "m.json").exists()


# -- annotations ------------------------------------------------------------------------------
ENTRY = {
    "bbox": [[10, 20, 30, 40], [12, 22, 30, 40], [14, 24, 30, 40]],
    "st_time": 0.14, "ed_time": 0.24, "img_num": 600, "English": "The man in red walks.",
    "img_size": [480, 640], "st_frame": 5,
}  # fmt: skip


@pytest.mark.parametrize(
    ("box", "problem"),
    [
        ([12, 22, math.nan, 40], "non-finite coordinates"),
        ([12, 22, math.inf, 40], "non-finite coordinates"),
        ([12, 22, -5, 40], "negative size"),
    ],
)
def test_bad_gt_box_is_a_sample_error_naming_the_frame(tmp_path, box, problem):
    bad = copy.deepcopy(ENTRY)
    bad["bbox"][1] = box
    path = tmp_path / "test_v2.json"
    # json.dumps writes NaN/Infinity, which the HC-STVG files' Python writers also emit
    path.write_text(json.dumps({"bad.mp4": bad, "good.mp4": ENTRY}))
    by_id = {s.sample_id: s for s in load_samples("hcstvg-v2", path)}
    assert by_id["bad"].error is not None
    assert "field bbox[1] (frame 5)" in by_id["bad"].error and problem in by_id["bad"].error
    assert 5 not in by_id["bad"].gt_boxes_xyxy
    assert by_id["good"].error is None and len(by_id["good"].gt_boxes_xyxy) == 3
    out = tmp_path / "samples.jsonl"
    write_samples(out, by_id.values())
    assert "NaN" not in out.read_text() and "Infinity" not in out.read_text()


@pytest.mark.parametrize("caption", ["", "  \t"])
def test_empty_caption_fails_its_sample_at_prepare_data(tmp_path, capsys, caption):
    path = tmp_path / "test_v2.json"
    path.write_text(json.dumps({"bad.mp4": {**ENTRY, "English": caption}, "good.mp4": ENTRY}))
    out = tmp_path / "samples.jsonl"
    assert main(["prepare-data", "--dataset", "hcstvg-v2", "--annotations", str(path),
                 "--out", str(out)]) == 0  # fmt: skip
    by_id = {s.sample_id: s for s in read_samples(out)}
    assert by_id["bad"].error == f"{path}: sample bad: empty query (caption) {caption!r}"
    assert by_id["good"].error is None
    assert "failed: 1 samples" in capsys.readouterr().out


def test_edited_samples_file_with_nan_box_is_rejected(tmp_path):
    path = tmp_path / "samples.jsonl"
    row = _sample().to_json()
    row["gt_boxes_xyxy"]["9"] = [0, 0, float("nan"), 10]
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(
        InputError, match=r"samples\.jsonl:1: field gt_boxes_xyxy\[9\] must be 4 finite"
    ):
        read_samples(path)


# -- predictions ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"span": [1.7, 99.9, 5]}, "field span must be two integers"),
        ({"span": [1.7, 99.9]}, "field span must be two integers"),
        ({"span": ["10", "20"]}, "field span must be two integers"),
        ({"span": [True, 20]}, "field span must be two integers"),
        ({"span": [20, 10]}, r"field span \[20, 10\] must have start < end"),
        ({"span": [10, 10]}, r"must have start < end"),
        ({"span": None}, "field span is missing or null and there is no error"),
        ({"span": [8, 10], "boxes_xyxy": {"8": [0, 0, float("nan"), 1]}}, r"boxes_xyxy\[8\]"),
        ({"span": [8, 10], "boxes_xyxy": {"8": [5, 0, 1, 1]}}, r"boxes_xyxy\[8\] must be 4 finite"),
        (
            {"span": [8, 10], "boxes_xyxy": {"8": ["0", 0, 1, 1]}},
            r"boxes_xyxy\[8\] must be 4 numbers",
        ),
        ({"span": [8, 10], "boxes_xyxy": {"8": [0, 0, 1]}}, r"boxes_xyxy\[8\] must be 4 numbers"),
        ({"span": [8, 10], "boxes_xyxy": {"x": [0, 0, 1, 1]}}, "is not a frame index"),
    ],
)
def test_malformed_prediction_names_sample_and_field(tmp_path, record, message):
    path = tmp_path / "pred.json"
    path.write_text(json.dumps({"s": {"boxes_xyxy": {}, **record}}))
    with pytest.raises(InputError, match=rf"pred\.json: sample s: .*{message}"):
        read_predictions(path, ["s"])


def test_failed_prediction_may_have_no_span(tmp_path):
    path = tmp_path / "pred.json"
    path.write_text(json.dumps({"s": {"span": None, "error": "ground: out of memory"}}))
    assert read_predictions(path, ["s"])["s"].error == "ground: out of memory"


def test_evaluate_exits_2_on_a_coerced_span(tmp_path, capsys):
    samples = tmp_path / "samples.jsonl"
    write_samples(samples, [_sample()])
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps({"s": {"span": [1.7, 99.9, 5], "boxes_xyxy": {}}}))
    out = tmp_path / "m.json"
    assert main(["evaluate", "--samples", str(samples), "--predictions", str(pred),
                 "--out", str(out)]) == 2  # fmt: skip
    assert "sample s: field span must be two integers" in capsys.readouterr().err
    assert not out.exists()


def test_predicted_boxes_mostly_outside_the_frame_are_flagged_and_counted(tmp_path, capsys):
    # 64 x 48 frames: a 64 x 48 box from x = 32 is half inside (kept), from x = 40 it is
    # 24 x 48 = 1152 of 3072 pixels inside (37.5%, flagged); the huge box is 0.1% inside
    samples = tmp_path / "samples.jsonl"
    write_samples(samples, [_sample("huge"), _sample("half"), _sample("third")])
    boxes = {
        "huge": [-5000, -5000, 50000, 50000],
        "half": [32, 0, 96, 48],
        "third": [40, 0, 104, 48],
    }
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps({
        sid: {"span": [8, 24], "boxes_xyxy": {"8": box, "9": [0, 0, 10, 10]}}
        for sid, box in boxes.items()
    }))  # fmt: skip
    out, rows = tmp_path / "m.json", tmp_path / "rows.csv"
    assert main(["evaluate", "--samples", str(samples), "--predictions", str(pred),
                 "--out", str(out), "--per-sample", str(rows)]) == 0  # fmt: skip
    assert json.loads(out.read_text())["n_pred_outside_frame"] == 2
    flags = {r["sample_id"]: r["flags"] for r in csv.DictReader(rows.open())}
    assert flags == {
        "huge": "pred_box_outside_frame:1",
        "half": "",
        "third": "pred_box_outside_frame:1",
    }
    assert "2 samples with predicted boxes mostly outside the frame" in capsys.readouterr().out


def test_params_file_yaml_nan_spelling(tmp_path, repo_root, capsys):
    raw = yaml.safe_load((repo_root / "params.yaml").read_text())
    raw["frames"]["grid_fps"] = float("nan")
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert ".nan" in path.read_text()
    assert main(["prepare-data", "--params", str(path), "--dataset", "hcstvg-v2",
                 "--annotations", str(Path(tmp_path / "none.json")), "--out",
                 str(tmp_path / "s.jsonl")]) == 2  # fmt: skip
    assert "frames.grid_fps" in capsys.readouterr().err
