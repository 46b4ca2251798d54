# Shared helpers for the rules. No job reads params.yaml itself: each passes the file to the
# command (`--params`), and declares the sections it depends on as `params:` so that Snakemake
# reruns exactly the jobs whose parameters changed.
#
# results/ is laid out by phase, so each DVC stage owns one directory:
#   synthetic/  samples/{dataset}.jsonl  frames/{dataset}/  decompositions/{dataset}.jsonl
#   proposals/{dataset}/{source}/  predictions/{dataset}/{backend}/{variant}.json
#   metrics/{dataset}/{backend}/{variant}/{protocol}.json  tables/{protocol}/  figures/
import json
import os
import re

from zstvg.video.store import video_dir_name as safe_name

PARAMS_FILE = "params.yaml"

# Proposal-only reference predictors evaluated for every dataset (grounding/reference.py).
REFERENCE_VARIANTS = ["oracle", "largest", "random"]
# The backend whose maps are planted on the GT boxes (checks the chain; no weights).
ORACLE = "attention-oracle"


def section(*names):
    """A `params:` value of a rule; it changes whenever one of the named sections changes."""
    return json.dumps({n: config[n] for n in names}, sort_keys=True)


def dataset_cfg(wildcards):
    return config["datasets"][wildcards.dataset]


def proposals_source(dataset):
    """'released' when the dataset names the authors' proposals, else the configured tracker."""
    return "released" if config["datasets"][dataset]["proposals"] else config["proposals"]["tracker"]


def proposals_manifest(dataset):
    return f"results/proposals/{dataset}/{proposals_source(dataset)}/manifest.json"


def model_checkpoint_marker(model):
    """A file that exists once the model's checkpoint does: the tiny ones are built by a rule,
    real ones are the user's local directories (their config.json)."""
    return os.path.join(config["models"][model]["checkpoint"], "config.json")


def mllm_models():
    """The models of `run` that are real MLLMs (the attention oracle has no weights)."""
    return [m for m in config["run"]["models"] if config["models"][m]["backend"] != ORACLE]


def model_inputs(wildcards):
    """The checkpoint marker of a model, none for the attention oracle."""
    if config["models"][wildcards.model]["backend"] == ORACLE:
        return []
    return [model_checkpoint_marker(wildcards.model)]


def all_metrics(protocol):
    reference = [
        f"results/metrics/{d}/reference/{v}/{protocol}.json"
        for d in config["run"]["datasets"]
        for v in REFERENCE_VARIANTS
    ]
    grounded = [
        f"results/metrics/{d}/{m}/{v}/{protocol}.json"
        for d in config["run"]["datasets"]
        for m in config["run"]["models"]
        for v in config["run"]["variants"]
    ]
    return reference + grounded


def dataset_videos(wildcards):
    """The video files samples.jsonl names that exist (missing ones are failed samples, not
    missing inputs), read once prepare_data has written it (a checkpoint)."""
    samples = checkpoints.prepare_data.get(dataset=wildcards.dataset).output.samples
    with open(samples, encoding="utf-8") as fh:
        paths = {json.loads(line)["video_path"] for line in fh if line.strip()}
    return sorted(p for p in paths if os.path.isfile(p))


def dataset_videos(wildcards):
    """The video files samples.jsonl names that exist (missing ones are failed samples, not
    missing inputs), read once prepare_data has written it (a checkpoint)."""
    samples = checkpoints.prepare_data.get(dataset=wildcards.dataset).output.samples
    with open(samples, encoding="utf-8") as fh:
        paths = {json.loads(line)["video_path"] for line in fh if line.strip()}
    return sorted(p for p in paths if os.path.isfile(p))


def decompose_inputs(wildcards):
    inputs = {"samples": f"results/samples/{wildcards.dataset}.jsonl"}
    if dataset_cfg(wildcards)["decompositions"]:
        inputs["imported"] = f"results/decompositions/{wildcards.dataset}.import.json"
    return inputs


def attention_source(wildcards):
    """The manifest whose maps a sheet draws: the grounding run of that backend and variant,
    or, for the proposal-only reference predictors, the attention probe of the first MLLM."""
    if wildcards.backend == "reference":
        return f"results/attention/{wildcards.dataset}/{mllm_models()[0]}/manifest.json"
    return f"results/grounding/{wildcards.dataset}/{wildcards.backend}/{wildcards.variant}/manifest.json"


def attention_map(wildcards, input):
    name = safe_name(wildcards.sample_id)
    folder = os.path.dirname(input.attention)
    if wildcards.backend == "reference":
        return os.path.join(folder, f"{name}.attn.npy")
    return os.path.join(folder, "records", f"{name}.spatial.npy")
