# Predictions -> metrics -> tables and figures. Every prediction set lives at
# results/predictions/{dataset}/{backend}/{variant}.json; "reference" is the proposal-only
# backend (oracle upper bound, largest, random).


rule predict_reference:
    input:
        samples="results/samples/{dataset}.jsonl",
        frames="results/frames/{dataset}/manifest.json",
        proposals=lambda w: proposals_manifest(w.dataset),
    output:
        predictions="results/predictions/{dataset}/reference/{method}.json",
    wildcard_constraints:
        method="oracle|largest|random",
    params:
        params_file=PARAMS_FILE,
        cfg=section("seed"),
    resources:
        mem_mb=4000,
        runtime=30,
    log:
        "results/logs/{dataset}/reference/{method}.log",
    conda:
        "../../envs/cpu.yaml"
    shell:
        "zstvg predict-reference --params {params.params_file} --samples {input.samples} "
        "--frames {input.frames} --proposals {input.proposals} --method {wildcards.method} "
        "--out {output.predictions} --log-file {log}"


# Grounding runs per (dataset, model, setting): one GPU job per shard of the videos
# (`datasets.<name>.shards`, 1 by default) grounds every variant of that group's cells, sharing
# what they have in common (the video's features, the p = 0 maps, each tuned prompt; results
# equal separate runs, tests/workflow); `ground` then assembles one variant's predictions from
# the shards' records (CPU, seconds, computes nothing). A killed shard reruns alone and resumes
# per sample; a new sweep point adds its own jobs and leaves the others' outputs as they were.
rule ground_shard:
    input:
        unpack(ground_inputs),
    output:
        shard="results/grounding/{dataset}/{model}{setting}/shards/{shard}-of-{n}.json",
    wildcard_constraints:
        model=MODEL_RE,
        setting=SETTING_RE,
        shard=r"\d+",
        n=r"\d+",
    params:
        params_file=PARAMS_FILE,
        gpu_slots=GPU_SLOTS,
        # a function: the sub-query template's "{description}" is not a wildcard
        cfg=lambda w: section("ground", "mllm", "models", "seed"),
        sets=setting_args,
        variants=group_variants,
        out=grounding_dir,
    resources:
        gpu=1,
        mem_mb=64000,
        runtime=720,
    log:
        "results/logs/{dataset}/ground_{model}{setting}_{shard}-of-{n}.log",
    benchmark:
        "results/benchmarks/{dataset}/ground_{model}{setting}_{shard}-of-{n}.tsv"
    conda:
        "../../envs/gpu.yaml"
    shell:
        "zstvg ground --params {params.params_file} {params.sets} --claim-gpu {params.gpu_slots} "
        "--samples {input.samples} --frames {input.frames} --proposals {input.proposals} "
        "--decompositions {input.decompositions} --model {wildcards.model} "
        "--variants '{params.variants}' --out {params.out} "
        "--shard {wildcards.shard}/{wildcards.n} --no-progress --log-file {log}"


rule ground:
    input:
        unpack(ground_inputs),
        shards=ground_shard_files,
    output:
        predictions="results/predictions/{dataset}/{model}/{variant}{setting}.json",
        manifest="results/grounding/{dataset}/{model}{setting}/{variant}/manifest.json",
    wildcard_constraints:
        model=MODEL_RE,
        variant=VARIANT_RE,
        setting=SETTING_RE,
    params:
        params_file=PARAMS_FILE,
        cfg=lambda w: section("ground", "mllm", "models", "seed"),
        sets=setting_args,
        merge=n_shards,
        out=grounding_dir,
    resources:
        mem_mb=4000,
        runtime=30,
    log:
        "results/logs/{dataset}/ground_{model}{setting}_{variant}.log",
    conda:
        "../../envs/cpu.yaml"
    shell:
        "zstvg ground --params {params.params_file} {params.sets} --samples {input.samples} "
        "--frames {input.frames} --proposals {input.proposals} "
        "--decompositions {input.decompositions} --model {wildcards.model} "
        "--variants '{wildcards.variant}' --out {params.out} "
        "--predictions {output.predictions} --merge {params.merge} --no-progress --log-file {log}"


rule evaluate:
    input:
        samples="results/samples/{dataset}.jsonl",
        frames="results/frames/{dataset}/manifest.json",
        predictions="results/predictions/{dataset}/{backend}/{variant}.json",
    output:
        metrics="results/metrics/{dataset}/{backend}/{variant}/{protocol}.json",
        per_sample="results/metrics/{dataset}/{backend}/{variant}/{protocol}.per_sample.csv",
    params:
        params_file=PARAMS_FILE,
        cfg=section("evaluate"),
    resources:
        mem_mb=4000,
        runtime=30,
    log:
        "results/logs/{dataset}/{backend}/{variant}/evaluate_{protocol}.log",
    conda:
        "../../envs/cpu.yaml"
    shell:
        "zstvg evaluate --params {params.params_file} --samples {input.samples} "
        "--frames {input.frames} --predictions {input.predictions} --protocol {wildcards.protocol} "
        "--out {output.metrics} --per-sample {output.per_sample} --dataset {wildcards.dataset} "
        "--backend {wildcards.backend} --variant {wildcards.variant} --log-file {log}"


rule tables:
    input:
        metrics=lambda w: all_metrics(w.protocol),
    output:
        table1="results/tables/{protocol}/table1.md",
        table2="results/tables/{protocol}/table2.md",
        table3="results/tables/{protocol}/table3.md",
        table7="results/tables/{protocol}/table7.md",
        sweeps="results/tables/{protocol}/sweeps.md",
        cells="results/tables/{protocol}/metrics.json",
        # The report shows the HTML tables in its page (workflow/report/workflow.rst) and
        # offers the CSVs as downloads.
        html=[
            report(
                f"results/tables/{{protocol}}/{name}.html",
                caption="../report/tables.rst",
                category="Tables",
                subcategory="{protocol}",
                labels={"table": label},
            )
            for name, label in REPORT_TABLES.items()
        ],
        csv=[
            report(
                f"results/tables/{{protocol}}/{name}.csv",
                caption="../report/tables.rst",
                category="Tables",
                subcategory="{protocol} (CSV)",
                labels={"table": label},
            )
            for name, label in REPORT_TABLES.items()
        ],
    params:
        params_file=PARAMS_FILE,
        out="results/tables/{protocol}",
        ablation_dataset=lambda w: config["run"]["datasets"][0],
        variants=" ".join([*REFERENCE_VARIANTS, "full"]),
    resources:
        mem_mb=2000,
        runtime=15,
    log:
        "results/logs/tables_{protocol}.log",
    conda:
        "../../envs/cpu.yaml"
    shell:
        "zstvg tables --params {params.params_file} --metrics {input.metrics} --out {params.out} "
        "--protocol {wildcards.protocol} --ablation-dataset {params.ablation_dataset} "
        "--table1-variants {params.variants} --log-file {log}"


rule figures:
    input:
        metrics=lambda w: all_metrics(w.protocol),
        per_sample=lambda w: [
            m.replace(".json", ".per_sample.csv") for m in all_metrics(w.protocol)
        ],
    output:
        figures=report(
            directory("results/figures/{protocol}"),
            patterns=["{name}.png"],
            caption="../report/figures.rst",
            category="Figures",
        ),
    params:
        params_file=PARAMS_FILE,
        ablation_dataset=lambda w: config["run"]["datasets"][0],
    resources:
        mem_mb=4000,
        runtime=30,
    log:
        "results/logs/figures_{protocol}.log",
    conda:
        "../../envs/cpu.yaml"
    shell:
        "zstvg plot --params {params.params_file} --metrics {input.metrics} "
        "--per-sample {input.per_sample} --protocol {wildcards.protocol} "
        "--ablation-dataset {params.ablation_dataset} --out {output.figures} --log-file {log}"


# As ground: one job, or with `datasets.<name>.shards` > 1 N GPU shard jobs and a CPU merge.
rule probe_attention_shard:
    input:
        samples="results/samples/{dataset}.jsonl",
        frames="results/frames/{dataset}/manifest.json",
        checkpoint=lambda w: model_checkpoint_marker(w.model),
    output:
        shard="results/attention/{dataset}/{model}/shards/{shard}-of-{n}.json",
    wildcard_constraints:
        shard=r"\d+",
        n=r"\d+",
    params:
        params_file=PARAMS_FILE,
        gpu_slots=GPU_SLOTS,
        cfg=section("mllm", "models"),
        out=lambda w: f"results/attention/{w.dataset}/{w.model}",
    resources:
        gpu=1,
        mem_mb=64000,
        runtime=720,
    log:
        "results/logs/{dataset}/probe_attention_{model}_{shard}-of-{n}.log",
    conda:
        "../../envs/gpu.yaml"
    shell:
        "zstvg probe-attention --params {params.params_file} --claim-gpu {params.gpu_slots} "
        "--samples {input.samples} --frames {input.frames} --model {wildcards.model} "
        "--out {params.out} --shard {wildcards.shard}/{wildcards.n} --no-progress --log-file {log}"


rule probe_attention:
    input:
        samples="results/samples/{dataset}.jsonl",
        frames="results/frames/{dataset}/manifest.json",
        checkpoint=lambda w: model_checkpoint_marker(w.model),
        shards=probe_shard_files,
    output:
        manifest="results/attention/{dataset}/{model}/manifest.json",
    params:
        params_file=PARAMS_FILE,
        claim=lambda w: "" if n_shards(w) > 1 else f"--claim-gpu {GPU_SLOTS}",
        merge=lambda w: f"--merge {n_shards(w)}" if n_shards(w) > 1 else "",
        cfg=section("mllm", "models"),
        out=lambda w, output: os.path.dirname(output.manifest),
    resources:
        gpu=lambda w: 0 if n_shards(w) > 1 else 1,
        mem_mb=lambda w: 4000 if n_shards(w) > 1 else 64000,
        runtime=lambda w: 30 if n_shards(w) > 1 else 720,
    log:
        "results/logs/{dataset}/probe_attention_{model}.log",
    benchmark:
        "results/benchmarks/{dataset}/probe_attention_{model}.tsv"
    conda:
        "../../envs/gpu.yaml"
    shell:
        "zstvg probe-attention --params {params.params_file} {params.claim} "
        "--samples {input.samples} --frames {input.frames} --model {wildcards.model} "
        "--out {params.out} {params.merge} --no-progress --log-file {log}"


rule visualize:
    input:
        samples="results/samples/{dataset}.jsonl",
        predictions="results/predictions/{dataset}/{backend}/{variant}.json",
        frames="results/frames/{dataset}/manifest.json",
        proposals=lambda w: proposals_manifest(w.dataset),
        decompositions="results/decompositions/{dataset}.jsonl",
        attention=attention_source,
    output:
        sheet=report(
            "results/figures/{dataset}/{backend}/{variant}/{sample_id}_sheet.png",
            caption="../report/sample.rst",
            category="Samples",
            subcategory="{dataset}",
            labels={"sample": "{sample_id}", "model": "{backend}", "variant": "{variant}"},
        ),
        gif="results/figures/{dataset}/{backend}/{variant}/{sample_id}.gif",
    params:
        params_file=PARAMS_FILE,
        attention=attention_map,
        out=lambda w, output: os.path.dirname(output.sheet),
    resources:
        mem_mb=4000,
        runtime=30,
    log:
        "results/logs/{dataset}/{backend}/{variant}/visualize_{sample_id}.log",
    conda:
        "../../envs/cpu.yaml"
    shell:
        "zstvg visualize --params {params.params_file} --sample-id {wildcards.sample_id} "
        "--samples {input.samples} --predictions {input.predictions} "
        "--frames {input.frames} --proposals {input.proposals} "
        "--decompositions {input.decompositions} "
        "--attention {params.attention} --out {params.out} --log-file {log}"
