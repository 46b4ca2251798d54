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
