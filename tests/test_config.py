from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
import yaml

from zstvg.config import params as config
from zstvg.config.params import (
    ParamsError,
    apply_config_args,
    apply_overrides,
    load_params,
    parse,
)


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


def test_k_frames_cannot_exceed_the_mllm_frames(params_raw):
    # 50 bins of 20 MLLM frames would be a span over the whole clip
    params_raw["ground"].update(n_frames=20, k_frames=50)
    with pytest.raises(
        ParamsError, match=r"ground\.k_frames: got 50; expected <= ground\.n_frames \(20"
    ):
        parse(params_raw)
    params_raw["ground"]["k_frames"] = 20
    assert parse(params_raw).ground.k_frames == 20


def test_overrides_are_parsed_as_yaml_and_validated(params_raw):
    raw = apply_overrides(params_raw, ["frames.n_mllm_frames=8", "decompose.offline=true"])
    p = parse(raw)
    assert p.frames.n_mllm_frames == 8 and p.decompose.offline is True
    with pytest.raises(ParamsError, match="KEY=VALUE"):
        apply_overrides(params_raw, ["frames.n_mllm_frames"])
    with pytest.raises(ParamsError, match="minimum"):
        parse(apply_overrides(params_raw, ["frames.n_mllm_frames=0"]))


def test_snakemake_config_args_are_read_again_as_yaml(params_raw):
    """What Snakemake's `--config` made of nested values (every leaf a string) is read again:
    mappings merge key by key, lists replace, scalars stay as Snakemake typed them."""
    seen = dict(params_raw, evaluate=dict(params_raw["evaluate"], viou_thresholds=["0.3", "0.4"]))
    seen["run"] = dict(params_raw["run"], datasets=["synthetic"])
    seen["seed"] = "7"  # Snakemake would have made it 7; a scalar is left as it is
    raw = apply_config_args(
        seen, ["evaluate={viou_thresholds: [0.3, 0.4]}", "run={datasets: [synthetic]}", "seed=7"]
    )
    assert raw["evaluate"]["viou_thresholds"] == [0.3, 0.4]
    assert raw["evaluate"]["grid_fps"] == params_raw["evaluate"]["grid_fps"]
    assert raw["run"]["models"] == params_raw["run"]["models"] and raw["seed"] == "7"
    assert seen["evaluate"]["viou_thresholds"] == ["0.3", "0.4"]  # the input is not changed
    with pytest.raises(ParamsError, match="--config 'evaluate={viou_thresholds: \\[0.3'"):
        apply_config_args(seen, ["evaluate={viou_thresholds: [0.3"])
    with pytest.raises(ParamsError, match="expected KEY=VALUE"):
        apply_config_args(seen, ["evaluate"])


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


def test_committed_schema_is_the_one_the_dataclasses_generate(repo_root):
    """The Snakefile validates with resources/params.schema.yaml (through workflow/schemas/):
    after changing a dataclass of zstvg.config.params, `make schema` rewrites it."""
    committed = repo_root / "src/zstvg/resources/params.schema.yaml"
    assert committed.read_text(encoding="utf-8") == config.schema_yaml(), "stale: `make schema`"
    assert (repo_root / "workflow/schemas/params.schema.yaml").resolve() == committed.resolve()
    assert yaml.safe_load(committed.read_text(encoding="utf-8")) == config.schema()


def test_write_schema_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(config, "schema_path", lambda: tmp_path / "s.yaml")
    assert config.main(["--write-schema"]) == 0
    assert (tmp_path / "s.yaml").read_text(encoding="utf-8") == config.schema_yaml()
    assert config.main([]) == 2 and "usage" in capsys.readouterr().err


def test_schema_defaults_are_only_those_snakemake_fills_in():
    """Snakemake's validate() writes the schema's defaults into the config its rules hash, so a
    new default would change every job's params: only these three keys carry one."""
    found = []

    def walk(node, path):
        if "default" in node:
            found.append((path, node["default"]))
        for name, sub in node.get("properties", {}).items():
            walk(sub, f"{path}.{name}")
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], f"{path}.*")

    walk(config.schema(), "")
    assert found == [
        (".run.experiments", []),
        (".datasets.*.shards", 1),
        (".datasets.*.damaged_videos", []),
    ]


def test_sections_parse_into_their_types(params_raw):
    p = parse(params_raw)
    assert isinstance(p.datasets["synthetic"], config.DatasetConfig)
    assert p.datasets["synthetic"].shards == 1 and p.datasets["synthetic"].damaged_videos == ()
    assert p.experiments["demo-lr-steps"].grid["ground.lr"] == (4.0, 8.0)
    assert p.experiments["demo-k"].grid == {} and p.experiments["demo-k"].description
    assert p.proposals.box_trackers["botsort"]["enable_cmc"] is True
    with pytest.raises(TypeError):
        p.models["x"] = p.models["attention-oracle"]  # type: ignore[index]
    assert p.raw == params_raw and p.source == "params.yaml"


def test_a_value_the_schema_passes_but_the_dataclass_refuses_is_a_params_error(params_raw):
    # Python's re (jsonschema) lets "$" match before a final newline; pydantic's regex does not
    params_raw["mllm"]["device"] = "cpu\n"
    with pytest.raises(ParamsError, match=r"p\.yaml: mllm\.device: got 'cpu\\n'; String should"):
        parse(params_raw, "p.yaml")


def test_the_gdino_official_worker_imports_without_pydantic():
    """The gdino-official worker runs in .venv-gdino, which has no pydantic (nor jsonschema): the
    detector modules it imports name ProposalsConfig for type checking only."""
    code = (
        "import sys; sys.modules.update(pydantic=None, jsonschema=None); "
        "import zstvg.proposals.detectors.gdino_official"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_merged_config_is_written_once_under_its_content_name(params_raw, tmp_path):
    """results/config/<digest>.yaml: the same config, the same file, left untouched; another
    config, another file beside it (what a running job reads never changes)."""
    import hashlib
    import os

    first = config.write_merged_config(params_raw, tmp_path)
    text = first.read_text()
    assert first.name == hashlib.sha256(text.encode()).hexdigest()[:16] + ".yaml"
    assert yaml.safe_load(text) == params_raw
    os.utime(first, (0, 0))
    assert config.write_merged_config(dict(params_raw), tmp_path) == first
    assert first.stat().st_mtime == 0  # not rewritten
    other = config.write_merged_config({**params_raw, "seed": params_raw["seed"] + 1}, tmp_path)
    assert other != first and first.read_text() == text
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([first.name, other.name])


def test_run_records_name_the_params_file_and_its_hash(repo_root, tmp_path, monkeypatch):
    import hashlib
    import json

    from zstvg.files import provenance

    monkeypatch.setattr(provenance, "_RUN_FACTS", {})
    params_file = repo_root / "params.yaml"
    provenance.note_params_file(params_file)
    out = tmp_path / "out.json"
    out.write_text("{}")
    provenance.write_provenance(out, step="test", params={"a": 1})
    record = json.loads(provenance.run_record_path(provenance.provenance_path(out)).read_text())
    assert record["params_file"] == str(params_file)
    assert record["params_file_sha256"] == hashlib.sha256(params_file.read_bytes()).hexdigest()
    assert "params_file" not in json.loads(provenance.provenance_path(out).read_text())
