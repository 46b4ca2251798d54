# zstvg workflow: thin rules, each a call of one `zstvg <step>` (docs/workflow.md#running-the-workflow).
#   snakemake all --cores all --resources gpu=4  everything `run` in params.yaml selects
#   snakemake demo --cores all                   the synthetic benchmark with tiny models
#   snakemake --workflow-profile slurm           on a SLURM cluster (profiles/slurm)
# One table cell: snakemake results/metrics/<dataset>/<backend>/<variant>[@<sweep point>]/<protocol>.json
#   (e.g. results/metrics/hcstvg-v1/llava-ov/full@lr=4.0,n_steps=2/tubedetr.json: Table 7)
from snakemake.utils import min_version, validate

from zstvg.config.params import apply_config_args

min_version("9.0")


configfile: "params.yaml"


# A nested --config value (`evaluate={viou_thresholds: [0.3, 0.4]}`) reaches `config` with every
# leaf a string ('0.3'): read it again as YAML before the schema sees it.
config.update(apply_config_args(config, workflow.config_settings.config_args))


validate(config, "workflow/schemas/params.schema.yaml")


report: "workflow/report/workflow.rst"


wildcard_constraints:
    dataset="[A-Za-z0-9._-]+",
    protocol="tubedetr|official|seed",


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/decompose.smk"
include: "workflow/rules/proposals.smk"
include: "workflow/rules/grounding.smk"
include: "workflow/rules/evaluation.smk"
include: "workflow/rules/layers.smk"


# Targets that only gather files run in the Snakemake process, never as cluster jobs.
localrules:
    all,
    phase_samples,
    phase_frames,
    phase_decompositions,
    phase_proposals,
    phase_checkpoints,
    phase_attention,
    phase_predictions,
    phase_grounding,
    phase_metrics,
    ground,


DATASETS = cell_datasets()
PROTOCOLS = config["run"]["protocols"]
MLLM_MODELS = mllm_models()
VARIANTS = config["run"]["variants"]


rule all:
    input:
        expand("results/tables/{protocol}/table1.md", protocol=PROTOCOLS),
        # the report's tables (an older run's tables step reruns to write them)
        expand("results/tables/{protocol}/{name}.html", protocol=PROTOCOLS, name=REPORT_TABLES),
        expand("results/figures/{protocol}", protocol=PROTOCOLS),
        # a metrics file per cell: `dvc metrics show` prints a row each (dvc.yaml)
        expand("results/tables/{protocol}/rows", protocol=PROTOCOLS),
        expand(
            "results/attention/{dataset}/{model}/manifest.json",
            dataset=DATASETS,
            model=MLLM_MODELS,
        ),
        lambda w: sample_sheets(DATASETS),
        # the demo's summary, where `run` selects its dataset (DEMO_DATASET, common.smk)
        ["results/demo/SUMMARY.md"] if demo_selected() else [],


# One target per phase: each DVC stage (dvc.yaml) builds one of these with only that phase's
# rules allowed, so a stage never rewrites another stage's outputs.
rule phase_samples:
    input:
        expand("results/samples/{dataset}.jsonl", dataset=DATASETS),


rule phase_frames:
    input:
        expand("results/frames/{dataset}/manifest.json", dataset=DATASETS),


rule phase_decompositions:
    input:
        expand("results/decompositions/{dataset}.jsonl", dataset=DATASETS),


rule phase_proposals:
    input:
        all_proposals(),


rule phase_checkpoints:
    input:
        "results/checkpoints/tiny-gdino/config.json",
        "results/checkpoints/tiny-sam2/config.json",
        tiny_checkpoint_markers(),


rule phase_attention:
    input:
        expand(
            "results/attention/{dataset}/{model}/manifest.json",
            dataset=DATASETS,
            model=MLLM_MODELS,
        ),


rule phase_predictions:
    input:
        expand(
            "results/predictions/{dataset}/reference/{variant}.json",
            dataset=DATASETS,
            variant=REFERENCE_VARIANTS,
        ),


rule phase_grounding:
    input:
        all_predictions(),


rule phase_metrics:
    input:
        [m for p in PROTOCOLS for m in all_metrics(p)],


# The same phases per dataset, `phase_<phase>_<dataset>` (e.g. phase_frames_hcstvg-v1): the
# targets of DVC's per-dataset stages (dvc.yaml's foreach), so an edit in one dataset reruns
# that dataset's stages only.
DATASET_PHASES = {
    d: {
        "samples": [f"results/samples/{d}.jsonl"],
        "frames": [f"results/frames/{d}/manifest.json"],
        "proposals": [
            *(p for p in all_proposals() if p.split("/")[2] == d),
            *([DEMO_PROPOSALS] if d == DEMO_DATASET and demo_selected() else []),
        ],
        "attention": expand(
            "results/attention/{dataset}/{model}/manifest.json", dataset=d, model=MLLM_MODELS
        ),
        "predictions": [
            *expand(
                "results/predictions/{dataset}/reference/{variant}.json",
                dataset=d,
                variant=REFERENCE_VARIANTS,
            ),
            *[p for p in all_predictions() if p.split("/")[2] == d],
        ],
        "metrics": [m for p in PROTOCOLS for m in all_metrics(p) if m.split("/")[2] == d],
    }
    for d in DATASETS
}


for _dataset, _phases in DATASET_PHASES.items():
    for _phase, _files in _phases.items():

        rule:
            name:
                f"phase_{_phase}_{_dataset}"
            input:
                _files,
            localrule: True


rule demo:
    input:
        samples="results/samples/synthetic.jsonl",
        frames="results/frames/synthetic/manifest.json",
        decompositions="results/decompositions/synthetic.jsonl",
        proposals=[proposals_manifest(DEMO_DATASET), DEMO_PROPOSALS],
        tables=[
            "results/tables/tubedetr/table1.md",
            "results/tables/tubedetr/table2.md",
            "results/tables/tubedetr/table3.md",
            "results/tables/tubedetr/table7.md",
        ],
        # the report's copies, not read here (an older run's tables step reruns to write them)
        report_tables=expand("results/tables/tubedetr/{name}.html", name=REPORT_TABLES),
        # a metrics file per cell, not read here: `dvc metrics show` prints a row each
        rows="results/tables/tubedetr/rows",
        per_sample="results/metrics/synthetic/reference/oracle/tubedetr.per_sample.csv",
        figures="results/figures/tubedetr",
        sheet="results/figures/synthetic/reference/largest/synthetic_000_sheet.png",
        sheets=lambda w: demo_sheets(),
        attention=expand("results/attention/synthetic/{model}/manifest.json", model=MLLM_MODELS),
    output:
        summary="results/demo/SUMMARY.md",
        # the report's landing page shows it (workflow/report/workflow.rst)
        html=report(
            "results/demo/SUMMARY.html", caption="workflow/report/summary.rst", category="Summary"
        ),
    params:
        params_file=params_file,
    resources:
        mem_mb=2000,
        runtime=15,
    log:
        "results/logs/demo.log",
    conda:
        "envs/zstvg.yaml"
    shell:
        "zstvg summarize --params {params.params_file} "
        "--title 'zstvg demo: synthetic benchmark' --chance-note "
        "--samples {input.samples} --frames {input.frames} "
        "--decompositions {input.decompositions} --proposals {input.proposals} "
        "--attention {input.attention} --per-sample {input.per_sample} "
        "--tables {input.tables} --figures {input.figures}/*.png {input.sheet} {input.sheets} "
        "--out {output.summary} --html {output.html} --log-file {log}"
