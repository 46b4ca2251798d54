# Shared helpers for the rules. One source of configuration: Snakemake's merged config
# (params.yaml, then any --configfile, then --config) is written once, under a name derived from
# its content (results/config/<digest>.yaml, never rewritten), and every job passes that file to
# its command (`--params`); the `params` of each rule name what of it the job reads, so
# Snakemake reruns exactly the jobs whose parameters changed (docs/workflow.md#what-a-change-reruns).
#
# results/ is laid out by phase, so each DVC stage owns one directory:
#   synthetic/  samples/{dataset}.jsonl  frames/{dataset}/  decompositions/{dataset}.jsonl
#   proposals/{dataset}/{source}/  grounding/{dataset}/{model}{setting}/
#   predictions/{dataset}/{backend}/{variant}{setting}.json
#   metrics/{dataset}/{backend}/{variant}{setting}/{protocol}.json  tables/{protocol}/  figures/
# where {setting} is "" at the defaults or a sweep point "@lr=4.0,n_steps=2" (zstvg.config.experiments).
import json
import os
import re
import shlex

from snakemake.exceptions import WorkflowError

from zstvg.config import experiments
from zstvg.config.params import write_merged_config
from zstvg.config.variants import ALL_VARIANTS as KNOWN_VARIANTS
from zstvg.config.variants import DIRECT_VARIANTS
from zstvg.config.variants import ground_settings_read
from zstvg.files.frames import video_dir_name as safe_name

# The merged config of this invocation. A dry run, a lint, a report or a second invocation with
# other overrides writes its own file beside it and never touches this one. The name is pinned in
# the environment for the jobs started from here: a SLURM job's own Snakemake (sbatch exports the
# environment) parses the Snakefile again when it starts, and must not merge a params.yaml edited
# while the job waited in the queue.
PINNED_PARAMS_FILE = "ZSTVG_PARAMS_FILE"
PARAMS_FILE = os.environ.get(PINNED_PARAMS_FILE) or str(
    write_merged_config(config, "results/config")
)
os.environ[PINNED_PARAMS_FILE] = PARAMS_FILE


def params_file(wildcards, output):
    """A job's `--params`: the merged config file. A params function of the output, so
    Snakemake's params trigger leaves it out: a new file name alone (another config that this
    job does not read) reruns nothing; what the job reads is its rule's other params."""
    return PARAMS_FILE


# The GPU slot pool of a local run (zstvg.jobs.gpus): each running GPU job takes its own device;
# under SLURM the scheduler's CUDA_VISIBLE_DEVICES is kept.
GPU_SLOTS = ".snakemake/gpu-slots"

# The tables `zstvg tables` writes, as the report labels them (each also .md, .tex, .csv).
REPORT_TABLES = {
    "table1": "Table 1",
    "table2": "Table 2",
    "table3": "Table 3",
    "table7": "Table 7",
    "sweeps": "Fig. 6 sweeps",
}
# Proposal-only reference predictors evaluated for every dataset (grounding/reference.py).
REFERENCE_VARIANTS = ["oracle", "largest", "random"]
# The backend whose maps are planted on the GT boxes (checks the chain; no weights).
ORACLE = "attention-oracle"
# Every backend without weights (its maps come from the GT; zstvg.mllm.GT_BACKENDS).
GT_BACKENDS = (ORACLE, "planted-head")

# Every table cell `run` selects (run.datasets x models x variants, and run.experiments' sweeps
# and grids), and the grounding jobs they make: one per (dataset, model, setting).
try:
    CELLS = experiments.cells(config)
except ValueError as exc:
    raise WorkflowError(f"params: {exc}") from None
GROUPS = experiments.groups(CELLS)
SETTINGS = experiments.settings(CELLS)
SETTING_RE = r"(@[^/]+)?"
VARIANT_RE = "|".join(re.escape(v) for v in KNOWN_VARIANTS)
MODEL_RE = "|".join(re.escape(m) for m in config["models"])


def cell_datasets():
    """The datasets of every cell, in order (run.datasets first)."""
    return list(dict.fromkeys(c.dataset for c in CELLS))


def setting_args(wildcards):
    """The sweep point of a path as `--set KEY=VALUE` arguments ("" at the defaults)."""
    return " ".join(f"--set {o}" for o in experiments.overrides(cell_setting(wildcards)))


def cell_setting(wildcards):
    """The setting a path's suffix names (one of the cells')."""
    if wildcards.setting not in SETTINGS:
        raise WorkflowError(f"no cell of run/experiments has the setting {wildcards.setting!r}")
    return SETTINGS[wildcards.setting]


def group_variants(wildcards):
    """The variants one grounding job runs: those of its (dataset, model, setting) cells."""
    key = (wildcards.dataset, wildcards.model, wildcards.setting)
    if key not in GROUPS:
        raise WorkflowError(f"no cell of run/experiments grounds {key}")
    return ",".join(GROUPS[key])


def section(*names):
    """A `params:` value of a rule; it changes whenever one of the named sections changes."""
    return json.dumps({n: config[n] for n in names}, sort_keys=True)


def dataset_cfg(wildcards):
    return config["datasets"][wildcards.dataset]


def proposals_source(dataset):
    """'released' when the dataset names the authors' proposals, else the configured tracker."""
    return (
        "released" if config["datasets"][dataset]["proposals"] else config["proposals"]["tracker"]
    )


def proposals_manifest(dataset):
    return f"results/proposals/{dataset}/{proposals_source(dataset)}/manifest.json"


def model_checkpoint_marker(model):
    """A file that exists once the model's checkpoint does: the tiny ones are built by a rule,
    real ones are the user's local directories (their config.json)."""
    return os.path.join(config["models"][model]["checkpoint"], "config.json")


def mllm_models():
    """The models of `run` that are real MLLMs (the attention oracle has no weights)."""
    return [m for m in config["run"]["models"] if config["models"][m]["backend"] not in GT_BACKENDS]


def tiny_checkpoint_markers():
    """The markers of the tiny checkpoints any cell grounds with (run.models and the models of
    run.experiments: the demo's box decoder is an experiment's)."""
    models = dict.fromkeys(c.model for c in CELLS)
    return [
        model_checkpoint_marker(m)
        for m in models
        if config["models"][m]["checkpoint"].startswith("results/checkpoints/")
    ]


def model_inputs(wildcards):
    """The checkpoint marker of a model, none for the GT backends (no weights)."""
    if config["models"][wildcards.model]["backend"] in GT_BACKENDS:
        return []
    return [model_checkpoint_marker(wildcards.model)]


def n_shards(wildcards):
    """How many shard jobs a dataset's sharded steps run as (`datasets.<name>.shards`)."""
    return int(config["datasets"][wildcards.dataset].get("shards", 1))


def ground_proposals(wildcards):
    """The proposals a grounding job reads: a tracker sweep's point grounds on that tracker's."""
    tracker = dict(cell_setting(wildcards)).get("proposals.tracker")
    if tracker:
        return f"results/proposals/{wildcards.dataset}/{tracker}/manifest.json"
    return proposals_manifest(wildcards.dataset)


# ----------------------------------------------------------------------------- sharded steps
# The wildcards of a shard's paths: results/<step folder>/shards/{shard}-of-{n}.json.
SHARD_WILDCARDS = {"shard": r"\d+", "n": r"\d+"}


class Sharded:
    """A step over a dataset's videos, written as a pair of rules that both take their inputs,
    paths and resources from here:

    `<step>_shard`: one job per shard of the videos (`datasets.<name>.shards`, 1 by default;
    stable subsets, zstvg.shards, so a dry run shows every job), writing
    ``folder``/shards/{shard}-of-{n}.json, with ``resources``;

    `<step>`: the merge of those shards (`--merge N`: records only, seconds) with ``merge``
    resources, or, for a one-shard dataset, the one job doing the whole step with
    ``resources``. With ``always`` the step runs as shard jobs even then, and `<step>` always
    merges (ground: a shard grounds every variant of its group, `ground` assembles one).

    ``folder``: the step's output folder (wildcards in braces); ``log``: `<step>`'s log path
    without ".log" (a shard's adds "_{shard}-of-{n}"); ``inputs``: both rules' inputs, paths
    or input functions, by name.
    """

    def __init__(self, folder, log, inputs, resources, merge, always=False):
        self.folder, self.inputs, self.always = folder, inputs, always
        self.shard = f"{folder}/shards/{{shard}}-of-{{n}}.json"
        self.shard_log = f"{log}_{{shard}}-of-{{n}}.log"
        self.shard_resources = resources
        self._merge = merge
        self.merge_resources = (
            merge if always else {key: self._merge_or_one_job(key) for key in resources}
        )

    def out(self, wildcards):
        """The step's folder for a job's wildcards."""
        return self.folder.format(**dict(wildcards.items()))

    def manifest(self, wildcards):
        return f"{self.out(wildcards)}/manifest.json"

    def merges(self, wildcards):
        """Whether `<step>` merges shards here (else it is the one job of the step)."""
        return self.always or n_shards(wildcards) > 1

    def shards(self, wildcards):
        """`<step>`'s input: the shard manifests it merges, none for the one job."""
        if not self.merges(wildcards):
            return []
        n = n_shards(wildcards)
        return [f"{self.out(wildcards)}/shards/{i}-of-{n}.json" for i in range(n)]

    # The two below are params functions of the job's input: Snakemake's params trigger leaves
    # them out, so a new shard count (a runtime knob) reruns no finished step.
    def claim_gpu(self, wildcards, input):
        """`<step>`'s GPU claim: none for a merge, the slot pool's for the one job."""
        return "" if self.merges(wildcards) else f"--claim-gpu {GPU_SLOTS}"

    def merge_arg(self, wildcards, input):
        """`<step>`'s `--merge N` (N: the shards it merges), or nothing for the one job."""
        return f"--merge {len(input.shards)}" if self.merges(wildcards) else ""

    def _merge_or_one_job(self, key):
        def value(wildcards):
            return (self._merge if self.merges(wildcards) else self.shard_resources)[key]

        return value


def all_proposals():
    """Every proposals manifest a cell grounds on: each dataset's, and a tracker sweep's."""
    found = {proposals_manifest(d): None for d in cell_datasets()}
    for c in CELLS:
        tracker = dict(c.setting).get("proposals.tracker")
        if tracker:
            found[f"results/proposals/{c.dataset}/{tracker}/manifest.json"] = None
    return list(found)


def all_predictions():
    return [f"results/predictions/{c.dataset}/{c.model}/{c.name}.json" for c in CELLS]


def all_metrics(protocol):
    reference = [
        f"results/metrics/{d}/reference/{v}/{protocol}.json"
        for d in cell_datasets()
        for v in REFERENCE_VARIANTS
    ]
    grounded = [f"results/metrics/{c.dataset}/{c.model}/{c.name}/{protocol}.json" for c in CELLS]
    return reference + grounded


def prepared_rows(dataset):
    """The rows of samples.jsonl, read once prepare_data (a checkpoint) has written it."""
    samples = checkpoints.prepare_data.get(dataset=dataset).output.samples
    with open(samples, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def dataset_videos(wildcards):
    """The video files samples.jsonl names that exist (missing ones are failed samples, not
    missing inputs), read once prepare_data has written it (a checkpoint); a shard job's
    are those of its shard."""
    from zstvg.jobs.shards import shard_of

    rows = prepared_rows(wildcards.dataset)
    if hasattr(wildcards, "shard"):
        index, n = int(wildcards.shard), int(wildcards.n)
        rows = [r for r in rows if shard_of(str(r["video_id"]), n) == index]
    return sorted({r["video_path"] for r in rows if os.path.isfile(r["video_path"])})


# Qualitative sheets in the report: the first samples of every dataset, each drawn for every
# model of `run` with the full method (or the first variant run when `full` is not).
SHEET_SAMPLES = 2


def first_sample_ids(dataset, n=SHEET_SAMPLES):
    """The first ``n`` samples of samples.jsonl (read once prepare_data, a checkpoint, has
    written it) that prepared without error and whose video exists: a sheet needs frames."""
    rows = prepared_rows(dataset)
    ok = [r for r in rows if not r.get("error") and os.path.isfile(r["video_path"])]
    return [str(r["sample_id"]) for r in ok[:n]]


def sample_sheets(datasets):
    """The qualitative sheets of ``datasets``' first samples (SHEET_SAMPLES)."""
    variants = config["run"]["variants"]
    variant = "full" if "full" in variants else variants[0]
    return [
        f"results/figures/{d}/{m}/{variant}/{s}_sheet.png"
        for d in datasets
        for s in first_sample_ids(d)
        for m in config["run"]["models"]
    ]


# The demo (`snakemake demo`: the synthetic benchmark's summary, a real detector + tracker run
# on one video, one sample's sheet under every variant) is also part of `all` when `run` selects
# the synthetic benchmark, so the DVC stages build and version its outputs too (a pulled clone's
# `snakemake -n demo` has nothing to do).
DEMO_DATASET = "synthetic"
DEMO_PROPOSALS = f"results/proposals/{DEMO_DATASET}/tiny-demo/manifest.json"


def demo_selected():
    """Whether `run` selects the demo's dataset and its protocol (the summary's tables)."""
    return DEMO_DATASET in cell_datasets() and "tubedetr" in config["run"]["protocols"]


def demo_sheets():
    """The demo's sheets: the first samples' (as `all` draws them), and one sample under every
    variant of the first model."""
    variants = config["run"]["variants"]
    first = mllm_models()[:1]
    return sorted(
        {
            *sample_sheets([DEMO_DATASET]),
            *(
                f"results/figures/{DEMO_DATASET}/{m}/{v}/{DEMO_DATASET}_000_sheet.png"
                for m in first
                for v in variants
            ),
        }
    )


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
    variant, at, point = wildcards.variant.partition("@")
    folder = f"results/grounding/{wildcards.dataset}/{wildcards.backend}{at}{point}"
    return f"{folder}/{variant}/manifest.json"


def attention_map(wildcards, input):
    name = safe_name(wildcards.sample_id)
    folder = os.path.dirname(input.attention)
    if wildcards.backend == "reference":
        return os.path.join(folder, f"{name}.attn.npy")
    return os.path.join(folder, "records", f"{name}.spatial.npy")


# ------------------------------------------------------------------- params and input functions
# Named functions of a job's wildcards. One that also takes the job's output or input derives
# from its paths, and Snakemake's params trigger leaves it out.


def dataset_value(key):
    """A function of a job's wildcards: its dataset's `datasets.<name>.<key>`."""

    def value(wildcards):
        return dataset_cfg(wildcards)[key]

    return value


def boxes_arg(wildcards):
    """prepare-data's `--boxes` (VidSTG's VidOR boxes), or nothing."""
    boxes = dataset_cfg(wildcards)["boxes"]
    return f"--boxes {boxes}" if boxes else ""


def damaged_args(wildcards):
    """prepare-data's `--damaged-video` arguments (`datasets.<name>.damaged_videos`)."""
    damaged = dataset_cfg(wildcards).get("damaged_videos", [])
    return " ".join(f"--damaged-video {shlex.quote(v)}" for v in damaged)


def dataset_proposals(wildcards):
    return proposals_manifest(wildcards.dataset)


def model_checkpoint(wildcards):
    return model_checkpoint_marker(wildcards.model)


def protocol_metrics(wildcards):
    """Every cell's metrics file under a job's protocol."""
    return all_metrics(wildcards.protocol)


def protocol_per_sample(wildcards):
    return [m.replace(".json", ".per_sample.csv") for m in all_metrics(wildcards.protocol)]


def ablation_dataset(wildcards):
    """The dataset of the ablation tables and figures: the first of `run.datasets`."""
    return config["run"]["datasets"][0]


def model_cfg(wildcards):
    """What a probe job reads of the config: its own model's entry and `mllm` (never another
    model's entry: adding a model that `run` does not select reruns nothing)."""
    return json.dumps(
        {"model": config["models"][wildcards.model], "mllm": config["mllm"]}, sort_keys=True
    )


def ground_cfg(variants):
    """What a grounding job of ``variants`` reads: its own model's entry, `mllm`, `seed`, the
    preset, and the `ground` settings these variants read (ground_settings_read: the LRA's only
    where one tunes) at the job's sweep point (its `ground.*` overrides in place of the base
    values, so a sweep point that sets a key does not rerun when the base value changes)."""

    def cfg(wildcards):
        ground = experiments.ground_at(cell_setting(wildcards), config["ground"])
        read = {}
        for name in variants(wildcards):
            read.update(ground_settings_read(KNOWN_VARIANTS[name], ground))
        return json.dumps(
            {
                "model": config["models"][wildcards.model],
                "mllm": config["mllm"],
                "seed": config["seed"],
                "preset": config.get("preset"),
                "ground": read,
            },
            sort_keys=True,
        )

    return cfg


def group_variant_names(wildcards):
    return group_variants(wildcards).split(",")


def one_variant(wildcards):
    return [wildcards.variant]


def output_dir(name, up=1):
    """A params function: the folder ``up`` levels above the job's output ``name``."""

    def folder(wildcards, output):
        path = getattr(output, name)
        for _ in range(up):
            path = os.path.dirname(path)
        return path

    return folder


def input_dir(name):
    """A params function: the folder of the job's input ``name``."""

    def folder(wildcards, input):
        return os.path.dirname(getattr(input, name))

    return folder


# ------------------------------------------------------------------- layers.smk (snakemake layers)
def layer_proposals(wildcards):
    return proposals_manifest(wildcards.dataset)


def layer_models():
    """The models of `run` a probe can read layers of (the attention oracle has none)."""
    return [m for m in config["run"]["models"] if config["models"][m]["backend"] != ORACLE]


def layer_variants():
    return ",".join(config["layers"]["variants"])


def layer_ground_cfg(wildcards):
    """What a comparison job reads: its model's entry, `mllm`, `seed`, the preset, `ground`."""
    return json.dumps(
        {
            "model": config["models"][wildcards.model],
            "mllm": config["mllm"],
            "seed": config["seed"],
            "preset": config.get("preset"),
            "ground": config["ground"],
            "variants": config["layers"]["variants"],
        },
        sort_keys=True,
    )


def overlay_input(wildcards):
    """The chosen range's overlay; none for the default range."""
    if wildcards.range == "chosen":
        return f"results/layers/{wildcards.dataset}/{wildcards.model}/overlay.yaml"
    return []


def overlay_arg(wildcards, input):
    return f"--configfile {input.overlay}" if input.overlay else ""


def layer_metrics(which):
    def files(wildcards):
        return [
            f"results/layers/{wildcards.dataset}/{wildcards.model}/{which}/metrics/"
            f"{variant}/{protocol}.json"
            for variant in config["layers"]["variants"]
            for protocol in config["run"]["protocols"]
        ]

    return files


def split_cfg(wildcards):
    """What split-samples reads: the seed and the held-out share."""
    return json.dumps(
        {"seed": config["seed"], "holdout_fraction": config["layers"]["holdout_fraction"]}
    )


def top_heads(wildcards):
    return config["layers"]["top_heads"]
