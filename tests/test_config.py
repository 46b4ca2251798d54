from __future__ import annotations

import dataclasses

import pytest
import yaml

from zstvg.config import params as config
from zstvg.config.params import ParamsError, apply_overrides, load_params, parse


def test_repo_params_parse_into_frozen_sections(repo_root):
    p = load_params(repo_root / "params.yaml")
    assert p.frames.n_mllm_frames == 20
    assert p.proposals.box_threshold == 0.4
    assert p.mllm.layer_start == -26 and p.mllm.layer_stop == -6
    assert p.run.protocols == ("tubedetr", "official")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.frames.n_mllm_frames = 8  # type: ignore[misc]


def test_dataclass_fields_match_schema():
    props = config.schema()["properties"]
    for name, cls in config._SECTIONS.items():
        assert {f.name for f in dataclasses.fields(cls)} == set(props[name]["properties"]), name


def test_wrong_type_names_key_value_and_expectation(params_raw):
    params_raw["frames"]["n_mllm_frames"] = "twenty"
    with pytest.raises(ParamsError) as exc:
        parse(params_raw, "p.yaml")
    msg = str(exc.value)
    assert "p.yaml: frames.n_mllm_frames" in msg and "'twenty'" in msg and "integer" in msg


def test_unknown_key_is_named(params_raw):
    params_raw["frames"]["n_frames"] = 20
    with pytest.raises(ParamsError, match=r"frames: .*'n_frames' was unexpected"):
        parse(params_raw)


def test_missing_key_is_named(params_raw):
    del params_raw["evaluate"]["grid_fps"]
    with pytest.raises(ParamsError, match=r"evaluate\.grid_fps: missing key"):
        parse(params_raw)


def test_run_must_name_known_entries(params_raw):
    params_raw["run"]["datasets"] = ["hcstvg-v3"]
    with pytest.raises(ParamsError, match=r"run\.datasets: got 'hcstvg-v3'"):
        parse(params_raw)


def test_overrides_are_parsed_as_yaml_and_validated(params_raw):
    raw = apply_overrides(params_raw, ["frames.n_mllm_frames=8", "decompose.offline=true"])
    p = parse(raw)
    assert p.frames.n_mllm_frames == 8 and p.decompose.offline is True
    with pytest.raises(ParamsError, match="KEY=VALUE"):
        apply_overrides(params_raw, ["frames.n_mllm_frames"])
    with pytest.raises(ParamsError, match="minimum"):
        parse(apply_overrides(params_raw, ["frames.n_mllm_frames=0"]))


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("frames: [1, 2\n")
    with pytest.raises(ParamsError, match="bad.yaml: malformed YAML"):
        load_params(bad)


def test_packaged_defaults_equal_repo_params(repo_root):
    assert yaml.safe_load(config.default_params_path().read_text()) == yaml.safe_load(
        (repo_root / "params.yaml").read_text()
    )


def test_params_survive_the_rewrite_of_dvc_exp_run_set_param(repo_root, tmp_path):
    """`dvc exp run -S key=value` rewrites params.yaml through OmegaConf and ruamel (YAML 1.2,
    no quotes kept); Snakemake and zstvg read it with PyYAML (YAML 1.1, where a bare Yes is
    True). Every value but the one set must read back the same."""
    from dvc.utils.hydra import apply_overrides as dvc_set_param

    path = tmp_path / "params.yaml"
    path.write_text((repo_root / "params.yaml").read_text())
    dvc_set_param(path, ["evaluate.viou_thresholds=[0.3,0.4]"])
    before = yaml.safe_load((repo_root / "params.yaml").read_text())
    after = yaml.safe_load(path.read_text())
    assert after["evaluate"].pop("viou_thresholds") == [0.3, 0.4]
    before["evaluate"].pop("viou_thresholds")
    assert after == before
    assert load_params(path).ground.answer_words == ("Yes", "No")


def test_answer_words_are_one_yes_slash_no_string(params_raw):
    params_raw["ground"]["answer_words"] = ["Yes", "No"]
    with pytest.raises(ParamsError, match="ground.answer_words"):
        parse(params_raw)
    params_raw["ground"]["answer_words"] = "yes/no"
    assert parse(params_raw).ground.answer_words == ("yes", "no")
