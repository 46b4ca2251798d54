"""The experiment matrix: which cells `run` selects and how a sweep point names its paths."""

from __future__ import annotations

import pytest

from zstvg.config.experiments import Cell, cells, groups, overrides
from zstvg.config.params import ParamsError, parse


def _run(raw, *names, **experiments):
    raw["run"].update(datasets=["synthetic"], models=["attention-oracle"], variants=["gti"])
    raw["run"]["experiments"] = list(names)
    raw["experiments"] = experiments
    return raw


def test_a_grid_is_every_combination_and_a_sweep_one_key_at_a_time(params_raw):
    grid = {"ground.lr": [4.0, 8.0], "ground.n_steps": [1, 2, 3]}
    sweep = {"ground.k_frames": [3, 9], "ground.n_frames": [8]}
    exp = {"datasets": ["synthetic"], "models": ["attention-oracle"]}
    raw = _run(
        params_raw,
        "t7",
        "f6",
        t7={**exp, "variants": ["full"], "grid": grid},
        f6={**exp, "variants": ["full", "vanilla-tuning"], "sweep": sweep},
    )
    got = cells(raw)
    names = [c.name for c in got]
    assert names[0] == "gti"  # run's own cell first, at the defaults
    assert len([n for n in names if "lr=" in n]) == 2 * 3
    assert "full@lr=4.0,n_steps=3" in names
    # a sweep moves one key at a time: 3 points x 2 variants
    assert [n for n in names if "frames" in n] == [
        "full@k_frames=3", "vanilla-tuning@k_frames=3", "full@k_frames=9",
        "vanilla-tuning@k_frames=9", "full@n_frames=8", "vanilla-tuning@n_frames=8",
    ]  # fmt: skip
    cell = got[names.index("full@lr=4.0,n_steps=3")]
    assert overrides(cell.setting) == ["ground.lr=4.0", "ground.n_steps=3"]
    # one grounding job per (dataset, model, setting): the sweep's two variants share theirs
    jobs = groups(got)
    assert jobs[("synthetic", "attention-oracle", "@k_frames=3")] == ["full", "vanilla-tuning"]
    assert jobs[("synthetic", "attention-oracle", "")] == ["gti"]
    assert len(jobs) == 1 + 6 + 3


def test_a_cell_listed_twice_is_one_cell(params_raw):
    exp = {"datasets": ["synthetic"], "models": ["attention-oracle"], "variants": ["gti"]}
    raw = _run(params_raw, "again", again=exp)
    assert cells(raw) == [Cell("synthetic", "attention-oracle", "gti")]


@pytest.mark.parametrize(
    ("experiment", "message"),
    [
        ({"datasets": ["hcstvg-v3"]}, r"experiments\.x\.datasets: unknown 'hcstvg-v3'"),
        ({"variants": ["best"]}, r"experiments\.x\.variants: unknown 'best'"),
        ({"sweep": {"frames.n_mllm_frames": [8]}}, r"'frames\.n_mllm_frames' cannot be swept"),
        ({"sweep": {"ground.learning_rate": [8]}}, r"'ground\.learning_rate' is not a parameter"),
        ({"sweep": {"ground.lr": [1]}, "grid": {"ground.n_steps": [1]}}, "not both"),
        ({"sweep": {"ground.lr": ["1/2"]}}, "characters a path cannot hold"),
        ({"sweep": {"ground.lr": [True]}}, r"experiments\.x\.sweep\.ground\.lr\.0: got True"),
        # K above the point's MLLM frames (the base values pass the params check)
        (
            {"sweep": {"ground.k_frames": [50]}},
            r"experiments\.x: point @k_frames=50: ground\.k_frames 50 > ground\.n_frames 20",
        ),
        (
            {"grid": {"ground.k_frames": [7], "ground.n_frames": [4, 8]}},
            r"point @k_frames=7,n_frames=4: ground\.k_frames 7 > ground\.n_frames 4",
        ),
    ],
)
def test_a_bad_experiment_is_named_with_its_field(params_raw, experiment, message):
    exp = {"datasets": ["synthetic"], "models": ["attention-oracle"], "variants": ["gti"]}
    raw = _run(params_raw, "x", x={**exp, **experiment})
    with pytest.raises(ParamsError, match=message) as err:
        parse(raw, "p.yaml")
    assert "p.yaml: " in str(err.value)


def test_run_names_only_known_experiments(params_raw):
    raw = _run(params_raw, "table9")
    with pytest.raises(ParamsError, match=r"run\.experiments: 'table9' is not in `experiments`"):
        parse(raw, "p.yaml")


def test_the_paper_matrix_in_the_repo_params(params_raw):
    params_raw["run"].update(
        datasets=["hcstvg-v1", "hcstvg-v2", "vidstg"],
        models=["llava-next-video", "qwen2-vl", "llava-ov"],
        variants=["full"],
        experiments=["table2", "table3", "table7", "fig6-frames", "fig6-k", "fig6-tracker"],
    )
    got = cells(params_raw)
    names = {(c.dataset, c.model, c.name) for c in got}
    assert ("hcstvg-v1", "llava-ov", "full@lr=8.0,n_steps=2") in names  # Table 7
    assert ("hcstvg-v1", "llava-ov", "vanilla-tuning@n_frames=32") in names  # Fig. 6(a)
    assert ("hcstvg-v1", "llava-ov", "full@tracker=bytetrack") in names  # Fig. 6(c)
    assert ("hcstvg-v1", "llava-next-video", "gti+entropy") in names  # Table 3
    # 9 Table 1 cells; Table 2 adds 5 variants x 2 models; Table 3 two more x 2 models
    assert len([c for c in got if not c.setting]) == 9 + 5 * 2 + 2 * 2
