"""zstvg probe-layers and choose-layers (issue 27): which layers and heads ground.

The planted-head backend puts the attention oracle's GT-aligned map in (layer 5, head 2) of 8 x 4
and uniform noise in [0, 0.2) everywhere else; its params entry keeps the default range at
layers [0, 2), which hold only noise.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from zstvg.cli import main
from zstvg.grounding import scoring
from zstvg.grounding.layer_probe import ProbeTarget, probe_scores

PLANTED = (5, 2)
SETS = ["--set=synthetic.width=160", "--set=synthetic.height=120"]


@pytest.fixture(scope="module")
def bench(tmp_path_factory, repo_root) -> dict[str, Path]:
    """8 synthetic videos (160 x 120), their frames, released-format proposals, offline
    decompositions, and a params file with the planted model and a tiny Qwen2-VL."""
    root = tmp_path_factory.mktemp("probe")
    raw = root / "raw"
    assert main(["make-synthetic", *SETS, "--out", str(raw), "--n-videos", "8", "--seed", "1",
                 "-q"]) == 0  # fmt: skip
    files = {k: root / v for k, v in dict(samples="samples.jsonl", frames="frames/manifest.json",
                                          props="props", dec="dec.jsonl", params="params.yaml",
                                          tiny="tiny-qwen2-vl").items()}  # fmt: skip
    assert main(["prepare-data", *SETS, "--dataset", "synthetic", "--annotations",
                 str(raw / "annotations/test_v2.json"), "--videos", str(raw / "videos"),
                 "--out", str(files["samples"]), "-q"]) == 0  # fmt: skip
    assert main(["sample-frames", "--samples", str(files["samples"]), "--out",
                 str(files["frames"]), "-q"]) == 0  # fmt: skip
    assert main(["import-proposals", "--src", str(raw / "proposals"), "--out",
                 str(files["props"]), "-q"]) == 0  # fmt: skip
    assert main(["decompose", "--samples", str(files["samples"]), "--out", str(files["dec"]),
                 "--offline", "-q"]) == 0  # fmt: skip
    assert main(["make-tiny-checkpoint", "--family", "qwen2-vl", "--out", str(files["tiny"]),
                 "-q"]) == 0  # fmt: skip
    params = yaml.safe_load((repo_root / "params.yaml").read_text())
    params["models"]["planted"] = {
        "backend": "planted-head", "checkpoint": "none", "layers": [0, 2],
        "config": {"num_layers": 8, "num_heads": 4, "planted_layer": 5, "planted_head": 2},
    }  # fmt: skip
    params["models"]["tiny-qwen2-vl"]["checkpoint"] = str(files["tiny"])
    files["params"].write_text(yaml.safe_dump(params, sort_keys=False))
    return files


def _probe(bench, model: str, out: Path, *extra: str) -> int:
    return main(["probe-layers", "--params", str(bench["params"]), "--samples",
                 str(bench["samples"]), "--frames", str(bench["frames"]), "--proposals",
                 str(bench["props"] / "manifest.json"), "--model", model, "--out", str(out),
                 "--no-progress", *extra])  # fmt: skip


def _ground(bench, model: str, out: Path, *extra: str) -> dict[str, int]:
    assert main(["ground", "--params", str(bench["params"]), "--samples", str(bench["samples"]),
                 "--frames", str(bench["frames"]), "--proposals",
                 str(bench["props"] / "manifest.json"), "--decompositions", str(bench["dec"]),
                 "--model", model, "--variant", "gti", "--out", str(out), "--no-progress",
                 *extra]) == 0  # fmt: skip
    records = [json.loads(p.read_text()) for p in sorted((out / "records").glob("*.json"))
               if not p.name.endswith(".run.json")]  # fmt: skip
    return {r["sample_id"]: r["chosen_track"] for r in records}


@pytest.fixture(scope="module")
def planted(bench, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("planted")
    assert _probe(bench, "planted", root / "probe") == 0
    assert main(["choose-layers", "--probes", str(root / "probe"), "--dataset", "synthetic",
                 "--out", str(root / "choice")]) == 0  # fmt: skip
    return {"probe": root / "probe", "choice": root / "choice", "root": root}


def test_the_planted_pair_ranks_first_on_every_metric(planted):
    report = json.loads((planted["choice"] / "layers.json").read_text())
    assert report["n_layers"] == 8 and report["n_heads"] == 4 and report["n_scored"] == 8
    for metric in ("pointing", "mass", "track"):
        table = np.array(report["heads"][metric], dtype=float)
        best = np.argwhere(table == table.max())
        assert best.tolist() == [list(PLANTED)], (metric, table)
    assert report["heads"]["track"][5][2] == 1.0
    assert (report["ranked_heads"][0]["layer"], report["ranked_heads"][0]["head"]) == PLANTED
    # per layer (head mean): the planted layer points and picks best
    for metric in ("pointing", "track"):
        curve = report["layers"][metric]
        assert max(curve) == curve[5], (metric, curve)


def test_the_recommended_range_holds_the_planted_layer_and_grounds(bench, planted):
    report = json.loads((planted["choice"] / "layers.json").read_text())
    a, b = report["chosen"]["layers"]
    assert a <= PLANTED[0] < b and report["chosen"]["track"] == 1.0
    assert report["default"]["layers"] == [0, 2] and report["default"]["track"] < 1.0
    overlay = yaml.safe_load((planted["choice"] / "overlay.yaml").read_text())
    assert overlay == {"models": {"planted": {"layers": [a, b]}}}
    manifest = json.loads((planted["probe"] / "manifest.json").read_text())
    gt = {sid: e["gt_track"] for sid, e in manifest["samples"].items()}
    default = _ground(bench, "planted", planted["root"] / "default")
    chosen = _ground(bench, "planted", planted["root"] / "chosen", "--configfile",
                     str(planted["choice"] / "overlay.yaml"))  # fmt: skip
    assert chosen == gt  # the planted track on every sample
    assert sum(default[s] == gt[s] for s in gt) < len(gt)  # noise: not everywhere
    # the probe's default-range column is what ground's default range chose
    for sid, entry in manifest["samples"].items():
        with np.load(planted["probe"] / entry["file"]) as z:
            assert z["ranges_track"][0, 2] == float(default[sid] == gt[sid]), sid


def test_a_head_subset_overlay_grounds_with_those_heads(bench, planted, tmp_path):
    assert main(["choose-layers", "--probes", str(planted["probe"]), "--top-heads", "1",
                 "--out", str(tmp_path / "c")]) == 0  # fmt: skip
    overlay = yaml.safe_load((tmp_path / "c" / "overlay.yaml").read_text())
    entry = overlay["models"]["planted"]
    assert entry["heads"] == [2] and entry["layers"][0] <= 5 < entry["layers"][1]
    manifest = json.loads((planted["probe"] / "manifest.json").read_text())
    gt = {sid: e["gt_track"] for sid, e in manifest["samples"].items()}
    chosen = _ground(bench, "planted", tmp_path / "g", "--configfile",
                     str(tmp_path / "c" / "overlay.yaml"))  # fmt: skip
    assert chosen == gt


def test_reruns_resume_and_shards_merge_to_the_same_manifest(bench, planted, tmp_path, capsys):
    before = {p.name: p.read_bytes() for p in planted["probe"].glob("*.npz")}
    assert _probe(bench, "planted", planted["probe"]) == 0
    assert "8 already done" in capsys.readouterr().out
    assert {p.name: p.read_bytes() for p in planted["probe"].glob("*.npz")} == before
    out = tmp_path / "sharded"
    for shard in ("0/2", "1/2"):
        assert _probe(bench, "planted", out, "--shard", shard) == 0
    assert _probe(bench, "planted", out, "--merge", "2") == 0
    merged = json.loads((out / "manifest.json").read_text())
    whole = json.loads((planted["probe"] / "manifest.json").read_text())
    assert merged == whole
    assert {p.name: p.read_bytes() for p in out.glob("*.npz")} == before


def test_a_sample_without_proposals_fails_alone(bench, tmp_path, capsys):
    manifest = json.loads((bench["props"] / "manifest.json").read_text())
    gone = sorted(manifest["videos"])[0]
    manifest["videos"][gone] = {**manifest["videos"][gone], "status": "empty"}
    props = tmp_path / "props"
    props.mkdir()
    for p in bench["props"].glob("*.json"):
        (props / p.name).write_bytes(p.read_bytes())
    (props / "manifest.json").write_text(json.dumps(manifest))
    out = tmp_path / "probe"
    assert main(["probe-layers", "--params", str(bench["params"]), "--samples",
                 str(bench["samples"]), "--frames", str(bench["frames"]), "--proposals",
                 str(props / "manifest.json"), "--model", "planted", "--out", str(out),
                 "--no-progress"]) == 0  # fmt: skip
    result = json.loads((out / "manifest.json").read_text())
    failed = {s: e for s, e in result["samples"].items() if e["status"] != "ok"}
    assert result["n_failed"] == 1 and len(result["samples"]) == 8
    (entry,) = failed.values()
    assert entry["error"].startswith("import-proposals: ") and "empty" in entry["error"]
    assert "1 failed" in capsys.readouterr().out


def test_a_real_backend_probes_every_layer_and_head(bench, tmp_path):
    """Tiny Qwen2-VL (8 layers x 4 heads, default range [0, 2)): the probe's column of the
    default range is, sample by sample, whether ground's gti picked the GT's track."""
    out = tmp_path / "probe"
    assert _probe(bench, "tiny-qwen2-vl", out, "--sample-id", "synthetic_000",
                  "--sample-id", "synthetic_001") == 0  # fmt: skip
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["n_layers"], manifest["n_heads"], manifest["default_layers"]) == (8, 4, [0, 2])
    chosen = _ground(bench, "tiny-qwen2-vl", tmp_path / "g", "--sample-id", "synthetic_000",
                     "--sample-id", "synthetic_001")  # fmt: skip
    for sid, entry in manifest["samples"].items():
        assert entry["status"] == "ok", entry
        with np.load(out / entry["file"]) as z:
            assert z["heads_pointing"].shape == (8, 4) and z["ranges_mass"].shape == (9, 9)
            for key in z.files:
                finite = z[key][np.isfinite(z[key])]
                assert ((finite >= 0) & (finite <= 1)).all(), key
            assert z["ranges_track"][0, 2] == float(chosen[sid] == entry["gt_track"]), sid


def test_scores_of_hand_made_maps():
    """One token, 2 layers x 2 heads, a 2 x 2 grid over a 20 x 20 frame; the GT box and track 1
    are the top-left quadrant, track 2 the bottom-right one."""
    top_left, bottom_right = np.zeros((2, 2)), np.zeros((2, 2))
    top_left[0, 0], bottom_right[1, 1] = 0.6, 0.6
    top_left[1, 1] = bottom_right[0, 0] = 0.2  # the rest of each map: mass 0.6 / 0.8 = 0.75
    query = np.zeros((1, 2, 2, 1, 2, 2), np.float32)
    query[0, 0, 0, 0] = top_left  # (layer 0, head 0) looks at the GT
    query[0, 0, 1, 0] = top_left
    query[0, 1, 0, 0] = bottom_right  # layer 1 looks away
    query[0, 1, 1, 0] = bottom_right
    neutral = np.full_like(query, 0.25)
    quadrant = np.zeros((20, 20), bool)
    target = ProbeTarget(
        slots=[0], gt_boxes_xyxy=[(0.0, 0.0, 10.0, 10.0)],
        masks={1: [quadrant.copy()], 2: [quadrant.copy()]}, gt_track=1,
        height=20, width=20, region=(0.0, 0.0, 20.0, 20.0),
    )  # fmt: skip
    target.masks[1][0][:10, :10] = True
    target.masks[2][0][10:, 10:] = True
    s = probe_scores(query, neutral, target, eps=1e-4)
    assert s["heads_pointing"].tolist() == [[1.0, 1.0], [0.0, 0.0]]
    np.testing.assert_allclose(s["heads_mass"], [[0.75, 0.75], [0.25, 0.25]], atol=1e-6)
    assert s["heads_track"].tolist() == [[1.0, 1.0], [0.0, 0.0]]
    assert s["layers_track"].tolist() == [1.0, 0.0]
    # [0, 2) averages both layers: equal peaks at both corners (the first cell is the peak),
    # mass 0.4 / 0.8; the track is the one the engine's own scoring functions pick from that
    # map (bilinear weights make the two corners' upsampled maxima differ in the last bits)
    assert s["ranges_pointing"][0, 2] == 1.0
    assert s["ranges_mass"][0, 2] == pytest.approx(0.5)
    relative = (query[0, :, :, 0].mean(axis=1).astype(np.float64).mean(axis=0)) / (0.25 + 1e-4)
    up = [scoring.upsample(relative, 20, 20)]
    pick = scoring.choose_track({k: scoring.track_score(up, m) for k, m in target.masks.items()})
    assert s["ranges_track"][0, 2] == float(pick == 1)
    assert s["ranges_track"][1, 2] == 0.0 and np.isnan(s["ranges_track"][1, 0])


def test_configfile_errors_name_the_file(tmp_path, capsys, repo_root):
    missing = tmp_path / "nope.yaml"
    rc = main(["probe-layers", "--params", str(repo_root / "params.yaml"), "--configfile",
               str(missing), "--samples", "s", "--frames", "f", "--proposals", "p", "--model",
               "attention-oracle", "--out", str(tmp_path / "o")])  # fmt: skip
    assert rc == 2 and f"--configfile {missing}: not found" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("models:\n  attention-oracle:\n    heads: [-1]\n")
    rc = main(["probe-layers", "--params", str(repo_root / "params.yaml"), "--configfile",
               str(bad), "--samples", "s", "--frames", "f", "--proposals", "p", "--model",
               "attention-oracle", "--out", str(tmp_path / "o")])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and str(bad) in err and "models.attention-oracle.heads" in err
    assert not (tmp_path / "o").exists()


def test_params_head_subsets_reach_the_backend(bench):
    """mllm.heads applies to every model; a model's own heads (the overlay's) win over it."""
    from zstvg.config.params import load_params
    from zstvg.mllm import load_model

    params = load_params(bench["params"], ["mllm.heads=[1, 3]"])
    assert load_model(params, params.models["tiny-qwen2-vl"]).heads == (1, 3)
    own = load_params(bench["params"], ["mllm.heads=[1, 3]", "models.tiny-qwen2-vl.heads=[0]"])
    assert load_model(own, own.models["tiny-qwen2-vl"]).heads == (0,)
    assert load_model(own, own.models["planted"]).heads == (1, 3)
    assert load_params(bench["params"]).mllm.heads is None  # default: every head


def test_a_head_subset_is_part_of_a_ground_job(bench, tmp_path, capsys):
    """A rerun into the same folder with the overlay's heads recomputes every sample: the
    records of the other head set are not this job's."""
    out = tmp_path / "g"
    _ground(bench, "planted", out, "--sample-id", "synthetic_000")
    _ground(bench, "planted", out, "--sample-id", "synthetic_000")
    assert "1 already done" in capsys.readouterr().out
    _ground(bench, "planted", out, "--sample-id", "synthetic_000",
            "--set", "models.planted.heads=[2]")  # fmt: skip
    assert "0 already done" in capsys.readouterr().out


def test_choose_layers_and_layer_table_name_what_they_cannot_use(tmp_path, capsys, planted):
    empty = tmp_path / "empty" / "manifest.json"
    empty.parent.mkdir()
    failed = {"s": {"status": "failed", "error": "x"}}
    empty.write_text(json.dumps({"step": "probe-layers", "model": "m", "backend": "b",
                                 "default_layers": [0, 2], "samples": failed}))  # fmt: skip
    assert main(["choose-layers", "--probes", str(empty), "--out", str(tmp_path / "c")]) == 2
    assert "no probed sample to choose from" in capsys.readouterr().err
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"model": "m", "samples": {}}))  # probe-attention's, say
    assert main(["choose-layers", "--probes", str(other), "--out", str(tmp_path / "c")]) == 2
    assert f"{other}: not a probe-layers manifest" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"protocol": "tubedetr", "variant": "gti"}))
    rc = main(["layer-table", "--report", str(planted["choice"] / "layers.json"), "--default",
               str(bad), "--chosen", str(bad), "--out", str(tmp_path / "t")])  # fmt: skip
    assert rc == 2 and f"{bad}: not a metrics file of zstvg evaluate" in capsys.readouterr().err
    assert not (tmp_path / "t").exists()
