# Which layers and heads ground (`snakemake layers`, params `layers`), per dataset x model of
# `run` (the MLLMs): a held-out split of the videos, probe-layers on it (GPU, sharded like the
# other GPU steps), choose-layers' range and overlay, its figures, then `layers.variants`
# grounded on the other videos at the default range and with the overlay, and the Table 2-style
# rows comparing them. Everything lives under results/layers/{dataset}/.


rule split_samples:
    input:
        samples="results/samples/{dataset}.jsonl",
    output:
        held_out="results/layers/{dataset}/samples.held-out.jsonl",
        rest="results/layers/{dataset}/samples.rest.jsonl",
    params:
        params_file=params_file,
        cfg=split_cfg,
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        "results/logs/{dataset}/split_samples.log",
    conda:
        "../../envs/zstvg.yaml"
    shell:
        "zstvg split-samples --params {params.params_file} --samples {input.samples} "
        "--held-out {output.held_out} --rest {output.rest} --log-file {log}"


PROBE_LAYERS = Sharded(
    folder="results/layers/{dataset}/{model}/probe",
    log="results/logs/{dataset}/probe_layers_{model}",
    inputs={
        "samples": "results/layers/{dataset}/samples.held-out.jsonl",
        "frames": "results/frames/{dataset}/manifest.json",
        "proposals": layer_proposals,
        "checkpoint": model_inputs,
    },
    resources={"gpu": 1, "mem_mb": 64000, "runtime": 720},
    merge={"gpu": 0, "mem_mb": 4000, "runtime": 30},
)


rule probe_layers_shard:
    input:
        **PROBE_LAYERS.inputs,
    output:
        shard=PROBE_LAYERS.shard,
    wildcard_constraints:
        **SHARD_WILDCARDS,
    params:
        params_file=params_file,
        gpu_slots=GPU_SLOTS,
        cfg=layer_ground_cfg,
        out=PROBE_LAYERS.out,
    resources:
        **PROBE_LAYERS.shard_resources,
    log:
        PROBE_LAYERS.shard_log,
    conda:
        "../../envs/zstvg.yaml"
    shell:
        "zstvg probe-layers --params {params.params_file} --claim-gpu {params.gpu_slots} "
        "--samples {input.samples} --frames {input.frames} --proposals {input.proposals} "
        "--model {wildcards.model} --out {params.out} --shard {wildcards.shard}/{wildcards.n} "
        "--no-progress --log-file {log}"


rule probe_layers:
    input:
        **PROBE_LAYERS.inputs,
        shards=PROBE_LAYERS.shards,
    output:
        manifest="results/layers/{dataset}/{model}/probe/manifest.json",
    params:
        params_file=params_file,
        claim=PROBE_LAYERS.claim_gpu,
        merge=PROBE_LAYERS.merge_arg,
        cfg=layer_ground_cfg,
        out=output_dir("manifest"),
    resources:
        **PROBE_LAYERS.merge_resources,
    log:
        "results/logs/{dataset}/probe_layers_{model}.log",
    benchmark:
        "results/benchmarks/{dataset}/probe_layers_{model}.tsv"
    conda:
        "../../envs/zstvg.yaml"
    shell:
        "zstvg probe-layers --params {params.params_file} {params.claim} "
        "--samples {input.samples} --frames {input.frames} --proposals {input.proposals} "
        "--model {wildcards.model} --out {params.out} {params.merge} --no-progress "
        "--log-file {log}"


rule choose_layers:
    input:
        probe="results/layers/{dataset}/{model}/probe/manifest.json",
    output:
        report="results/layers/{dataset}/{model}/layers.json",
        overlay="results/layers/{dataset}/{model}/overlay.yaml",
    params:
        top_heads=top_heads,
        out=output_dir("report"),
    resources:
        mem_mb=2000,
        runtime=10,
    log:
        "results/logs/{dataset}/choose_layers_{model}.log",
    conda:
        "../../envs/zstvg.yaml"
    shell:
        "zstvg choose-layers --probes {input.probe} --dataset {wildcards.dataset} "
        "--top-heads {params.top_heads} --out {params.out} --log-file {log}"


rule layer_figures:
    input:
        report="results/layers/{dataset}/{model}/layers.json",
    output:
        figures=report(
            directory("results/layers/{dataset}/{model}/figures"),
            patterns=["{name}.png"],
            caption="../report/layers.rst",
            category="Layers",
            subcategory="{dataset} / {model}",
        ),
    resources:
        mem_mb=2000,
        runtime=10,
    log:
        "results/logs/{dataset}/layer_figures_{model}.log",
    conda:
        "../../envs/zstvg.yaml"
    shell:
        "zstvg plot --layers {input.report} --out {output.figures} --log-file {log}"


# The comparison: `layers.variants` on the videos the probe did not see, at the default range
# and with choose-layers' overlay (--configfile), one job each (the rest is 1 - holdout of a
# dataset; run it sharded by hand with `zstvg ground --shard` where that is too long).
rule ground_layers:
    input:
        samples="results/layers/{dataset}/samples.rest.jsonl",
        frames="results/frames/{dataset}/manifest.json",
        proposals=layer_proposals,
        decompositions="results/decompositions/{dataset}.jsonl",
        checkpoint=model_inputs,
        overlay=overlay_input,
    output:
        predictions=expand(
            "results/layers/{{dataset}}/{{model}}/{{range}}/predictions/{variant}.json",
            variant=config["layers"]["variants"],
        ),
    wildcard_constraints:
        range="default|chosen",
    params:
        params_file=params_file,
        gpu_slots=GPU_SLOTS,
        cfg=layer_ground_cfg,
        variants=layer_variants(),
        overlay=overlay_arg,
        out="results/layers/{dataset}/{model}/{range}/grounding",
        predictions="results/layers/{dataset}/{model}/{range}/predictions",
    resources:
        gpu=1,
        mem_mb=64000,
        runtime=720,
    log:
        "results/logs/{dataset}/ground_layers_{model}_{range}.log",
    conda:
        "../../envs/zstvg.yaml"
    shell:
        "zstvg ground --params {params.params_file} {params.overlay} "
        "--claim-gpu {params.gpu_slots} --samples {input.samples} --frames {input.frames} "
        "--proposals {input.proposals} --decompositions {input.decompositions} "
        "--model {wildcards.model} --variants '{params.variants}' --out {params.out} "
        "--predictions-dir {params.predictions} --no-progress --log-file {log}"


rule evaluate_layers:
    input:
        samples="results/layers/{dataset}/samples.rest.jsonl",
        frames="results/frames/{dataset}/manifest.json",
        predictions="results/layers/{dataset}/{model}/{range}/predictions/{variant}.json",
    output:
        metrics="results/layers/{dataset}/{model}/{range}/metrics/{variant}/{protocol}.json",
    wildcard_constraints:
        range="default|chosen",
    params:
        params_file=params_file,
        cfg=section("evaluate"),
    resources:
        mem_mb=4000,
        runtime=30,
    log:
        "results/logs/{dataset}/{model}/layers_{range}_{variant}_evaluate_{protocol}.log",
    conda:
        "../../envs/zstvg.yaml"
    shell:
        "zstvg evaluate --params {params.params_file} --samples {input.samples} "
        "--frames {input.frames} --predictions {input.predictions} "
        "--protocol {wildcards.protocol} --out {output.metrics} --dataset {wildcards.dataset} "
        "--backend {wildcards.model} --variant {wildcards.variant} --log-file {log}"


rule layer_table:
    input:
        report="results/layers/{dataset}/{model}/layers.json",
        default=layer_metrics("default"),
        chosen=layer_metrics("chosen"),
    output:
        table="results/layers/{dataset}/{model}/layers_table.md",
        csv="results/layers/{dataset}/{model}/layers_table.csv",
        html=report(
            "results/layers/{dataset}/{model}/layers_table.html",
            caption="../report/layers.rst",
            category="Layers",
            subcategory="{dataset} / {model}",
        ),
    params:
        out=output_dir("table"),
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        "results/logs/{dataset}/layer_table_{model}.log",
    conda:
        "../../envs/zstvg.yaml"
    shell:
        "zstvg layer-table --report {input.report} --default {input.default} "
        "--chosen {input.chosen} --out {params.out} --log-file {log}"


# The target: every dataset x MLLM of `run` (not part of `all`: it grounds the rest twice).
rule layers:
    input:
        expand(
            "results/layers/{dataset}/{model}/{name}",
            dataset=config["run"]["datasets"],
            model=layer_models(),
            name=["layers_table.md", "figures", "overlay.yaml"],
        ),
