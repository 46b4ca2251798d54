# Shared helpers for the rules. No rule reads params.yaml itself: each passes the file to the
# command (`--params`), and declares the sections it depends on as `params:` so that Snakemake
# reruns exactly the jobs whose parameters changed.
import json

PARAMS_FILE = "params.yaml"


def section(*names):
    """A rule `params:` value that changes whenever one of the named sections changes."""
    return json.dumps({n: config[n] for n in names}, sort_keys=True)


def dataset_cfg(wildcards):
    return config["datasets"][wildcards.dataset]

import os

# Proposal-only reference predictors evaluated for every dataset (grounding/reference.py).
REFERENCE_VARIANTS = ["oracle", "largest", "random"]


def proposals_manifest(dataset):
    """Released proposals when the dataset names them, else the configured tracker's output."""
    source = "released" if config["datasets"][dataset]["proposals"] else config["proposals"]["tracker"]
    return f"results/{dataset}/proposals/{source}/manifest.json"


def all_metrics(protocol):
    return [
        f"results/{d}/reference/{v}/metrics/{protocol}.json"
        for d in config["run"]["datasets"]
        for v in REFERENCE_VARIANTS
    ]
