from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest
from eval_builders import HALF_SHIFTED, make_pred, make_sample

from zstvg.cli import main
from zstvg.evaluation import io as evaluation_io
from zstvg.evaluation.io import load_predictions
from zstvg.files.io import InputError, write_jsonl

METRIC_KEYS = ["m_vIoU", "vIoU@0.3", "vIoU@0.5", "m_tIoU", "gt_vIoU"]
COUNTS = ["n_samples", "n_missing", "n_failed", "n_pred_outside_frame"]
TOP_KEYS = ["protocol", "dataset", "backend", "variant", *COUNTS]


@pytest.fixture()
def files(tmp_path):
    samples = [make_sample("a"), make_sample("b"), make_sample("c")]
    write_jsonl(tmp_path / "samples.jsonl", [s.to_json() for s in samples])
    preds = {"a": make_pred("a").to_json(), "b": make_pred("b", box=HALF_SHIFTED).to_json()}
    (tmp_path / "pred.json").write_text(json.dumps(preds))
    return tmp_path


def test_evaluate_writes_the_contract_and_lists_missing(files, capsys, repo_root):
    out = files / "m" / "metrics.json"
    rc = main(
        [
            "evaluate",
            "--params",
            str(repo_root / "params.yaml"),
            "--samples",
            str(files / "samples.jsonl"),
            "--predictions",
            str(files / "pred.json"),
            "--out",
            str(out),
            "--per-sample",
            str(files / "per.csv"),
            "--dataset",
            "hcstvg-v1",
            "--backend",
            "llava-ov",
            "--variant",
            "gti",
        ]
    )
    assert rc == 0
    m = json.loads(out.read_text())
    assert list(m) == TOP_KEYS + METRIC_KEYS
    assert (m["dataset"], m["backend"], m["variant"], m["protocol"]) == (
        "hcstvg-v1",
        "llava-ov",
        "gti",
        "tubedetr",
    )
    assert m["n_missing"] == 1 and m["m_vIoU"] == pytest.approx((1 + 1 / 3 + 0) / 3)
    assert (files / "m" / "metrics.json.provenance.json").is_file()
    df = pd.read_csv(files / "per.csv")
    assert list(df.sample_id) == ["a", "b", "c"]
    assert df.set_index("sample_id").loc["c", "status"] == "missing"
    assert "1 missing" in capsys.readouterr().out


def test_vidstg_metrics_nest_per_query_type(files, repo_root):
    out = files / "metrics.json"
    main(
        [
            "evaluate",
            "--params",
            str(repo_root / "params.yaml"),
            "--samples",
            str(files / "samples.jsonl"),
            "--predictions",
            str(files / "pred.json"),
            "--out",
            str(out),
            "--dataset",
            "vidstg",
            "--protocol",
            "official",
        ]
    )
    m = json.loads(out.read_text())
    assert list(m["declarative"]) == COUNTS + METRIC_KEYS
    assert m["interrogative"]["n_samples"] == 0 and m["interrogative"]["m_vIoU"] is None


def test_unknown_prediction_ids_are_an_error(files, capsys, repo_root):
    preds = json.loads((files / "pred.json").read_text())
    preds["zz"] = preds["a"]
    (files / "pred.json").write_text(json.dumps(preds))
    with pytest.raises(InputError, match=r"pred\.json: 1 prediction\(s\) .*'zz'"):
        load_predictions(files / "pred.json", ["a", "b", "c"])
    rc = main(
        [
            "evaluate",
            "--params",
            str(repo_root / "params.yaml"),
            "--samples",
            str(files / "samples.jsonl"),
            "--predictions",
            str(files / "pred.json"),
            "--out",
            str(files / "metrics.json"),
        ]
    )
    assert rc == 2 and not (files / "metrics.json").exists()


def test_malformed_prediction_names_file_and_sample(files):
    (files / "pred.json").write_text(json.dumps({"a": {"span": [3]}}))
    with pytest.raises(InputError, match=r"pred\.json: sample a: field span must be two integers"):
        load_predictions(files / "pred.json", ["a"])
    (files / "pred.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="expected a JSON object"):
        load_predictions(files / "pred.json", ["a"])


def test_frames_manifest_fails_samples_and_rescales_gt(tmp_path, capsys):
    """With --frames, a sample sample-frames failed scores 0 with that reason even when a
    prediction exists (n_failed counts it), and a uniform 0.5 frame-size ratio maps the GT
    boxes (annotated on a 2x copy) onto the decoded frames before scoring."""
    big = {f: (0.0, 0.0, 20.0, 20.0) for f in range(8, 24)}  # BOX at 2x
    samples = [make_sample("a"), dataclasses.replace(make_sample("b"), gt_boxes_xyxy=big)]
    write_jsonl(tmp_path / "samples.jsonl", [s.to_json() for s in samples])
    preds = {"a": make_pred("a").to_json(), "b": make_pred("b").to_json()}
    (tmp_path / "pred.json").write_text(json.dumps(preds))
    frames = {
        "videos": {},
        "samples": {
            "a": {"status": "failed", "step": "sample-frames", "error": "a.mp4: cannot open"},
            "b": {
                "status": "ok",
                "flags": ["frame_size_mismatch:128x96->64x48"],
                "gt_scale_xy": [0.5, 0.5],
            },  # fmt: skip
        },
    }
    (tmp_path / "frames.json").write_text(json.dumps(frames))
    out = tmp_path / "m.json"
    rc = main(["evaluate", "--samples", str(tmp_path / "samples.jsonl"), "--frames",
               str(tmp_path / "frames.json"), "--predictions", str(tmp_path / "pred.json"),
               "--out", str(out), "--per-sample", str(tmp_path / "per.csv")])  # fmt: skip
    assert rc == 0
    metrics = json.loads(out.read_text())
    assert metrics["n_failed"] == 1 and metrics["m_vIoU"] == pytest.approx(0.5)
    rows = pd.read_csv(tmp_path / "per.csv", keep_default_na=False).set_index("sample_id")
    assert rows.loc["a", "status"] == "failed"
    assert rows.loc["a", "reason"] == "sample-frames: a.mp4: cannot open"
    assert rows.loc["b", "vIoU"] == pytest.approx(1.0)


def _evaluate(files, out_name: str, protocol: str = "tubedetr") -> int:
    return main(["evaluate", "--samples", str(files / "samples.jsonl"), "--predictions",
                 str(files / "pred.json"), "--protocol", protocol, "--out",
                 str(files / out_name / "metrics.json"), "--per-sample",
                 str(files / out_name / "per.csv")])  # fmt: skip


@pytest.mark.parametrize("protocol", ["tubedetr", "official", "seed"])
def test_samples_read_in_a_second_process_beside_a_large_predictions_file_score_the_same(
    files, monkeypatch, protocol
):
    assert _evaluate(files, "here", protocol) == 0
    monkeypatch.setattr(evaluation_io, "PARALLEL_READ_BYTES", 0)  # every file counts as large
    calls = []
    real = evaluation_io._unpack
    monkeypatch.setattr(evaluation_io, "_unpack", lambda packed: calls.append(1) or real(packed))
    assert _evaluate(files, "there", protocol) == 0
    assert calls == [1]  # the samples did come from the second process
    for name in ("metrics.json", "per.csv"):
        assert (files / "there" / name).read_bytes() == (files / "here" / name).read_bytes()


def test_errors_of_the_second_process_are_the_same_named_errors(files, monkeypatch, capsys):
    monkeypatch.setattr(evaluation_io, "PARALLEL_READ_BYTES", 0)
    preds = json.loads((files / "pred.json").read_text())
    preds["b"]["boxes_xyxy"]["12"] = [0, 0, "1", 1]
    (files / "pred.json").write_text(json.dumps(preds))
    assert _evaluate(files, "bad") == 2
    assert "pred.json: sample b: field boxes_xyxy[12] must be 4 numbers" in capsys.readouterr().err
    assert not (files / "bad").exists()
    preds["b"]["boxes_xyxy"]["12"] = [0, 0, 1, 1]
    preds["zz"] = preds["a"]
    (files / "pred.json").write_text(json.dumps(preds))
    assert _evaluate(files, "foreign") == 2
    assert "1 prediction(s) for sample ids not in the samples file: 'zz'" in (
        capsys.readouterr().err
    )
    # both files bad: the samples file's error (read in the second process) comes first
    preds["b"]["boxes_xyxy"]["12"] = [0, 0, "1", 1]
    (files / "pred.json").write_text(json.dumps(preds))
    rows = (files / "samples.jsonl").read_text().splitlines()
    (files / "samples.jsonl").write_text("\n".join([rows[0], "{not json", *rows[1:]]) + "\n")
    assert _evaluate(files, "both") == 2
    err = capsys.readouterr().err
    assert "samples.jsonl:2: malformed JSON line" in err and "pred.json" not in err


def test_without_process_semaphores_a_large_file_is_read_here(files, monkeypatch):
    assert _evaluate(files, "here") == 0
    monkeypatch.setattr(evaluation_io, "PARALLEL_READ_BYTES", 0)

    def no_semaphores(*_args, **_kwargs):
        raise OSError(38, "Function not implemented")  # sem_open in some sandboxes

    monkeypatch.setattr(evaluation_io, "ProcessPoolExecutor", no_semaphores)
    assert _evaluate(files, "fallback") == 0
    for name in ("metrics.json", "per.csv"):
        assert (files / "fallback" / name).read_bytes() == (files / "here" / name).read_bytes()
