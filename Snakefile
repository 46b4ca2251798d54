# zstvg workflow: thin rules, each a call of one `zstvg <step>` (DESIGN §2, §8).
#   snakemake --cores all --resources gpu=4          (everything `run` in params.yaml selects)
#   snakemake --cores all demo                        (the synthetic benchmark, tiny models)
#   snakemake --profile workflow/profiles/slurm       (on a SLURM cluster)
from snakemake.utils import min_version, validate

min_version("9.0")

configfile: "params.yaml"


validate(config, "workflow/schemas/params.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"


rule all:
    input:
        expand("results/{dataset}/frames/manifest.json", dataset=config["run"]["datasets"]),


rule demo:
    input:
        frames="results/synthetic/frames/manifest.json",
        samples="results/synthetic/samples.jsonl",
    output:
        "results/demo/SUMMARY.md",
    log:
        "results/logs/demo.log",
    shell:
        "zstvg summarize --samples {input.samples} --frames {input.frames} "
        "--out {output} --log-file {log}"
