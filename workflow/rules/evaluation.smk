# Predictions -> metrics -> tables, figures and the qualitative sheets. Every prediction set
# lives at results/predictions/{dataset}/{backend}/{variant}.json (grounding.smk); "reference"
# is the proposal-only backend (oracle upper bound, largest, random).


rule evaluate:
    input:
        samples="results/samples/{dataset}.jsonl",
        frames="results/frames/{dataset}/manifest.json",
        predictions="results/predictions/{dataset}/{backend}/{variant}.json",
    output:
        metrics="results/metrics/{dataset}/{backend}/{variant}/{protocol}.json",
        per_sample="results/metrics/{dataset}/{backend}/{variant}/{protocol}.per_sample.csv",
    params:
        params_file=params_file,
        cfg=section("evaluate"),
    resources:
        mem_mb=4000,
        runtime=30,
    log:
        "results/logs/{dataset}/{backend}/{variant}/evaluate_{protocol}.log",
    conda:
        "../../envs/zstvg.yaml"
    shell:
        "zstvg evaluate --params {params.params_file} --samples {input.samples} "
        "--frames {input.frames} --predictions {input.predictions} --protocol {wildcards.protocol} "
        "--out {output.metrics} --per-sample {output.per_sample} --dataset {wildcards.dataset} "
        "--backend {wildcards.backend} --variant {wildcards.variant} --log-file {log}"


rule tables:
    input:
        metrics=protocol_metrics,
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
        params_file=params_file,
        cells=protocol_metrics,  # a cell left out of `run` reruns it (no `input` trigger)
        out="results/tables/{protocol}",
        ablation_dataset=ablation_dataset,
        # the method beside the proposal-only and the box-decoding baselines
        variants=" ".join([*REFERENCE_VARIANTS, "full", *DIRECT_VARIANTS]),
    resources:
        mem_mb=2000,
        runtime=15,
    log:
        "results/logs/tables_{protocol}.log",
    conda:
        "../../envs/zstvg.yaml"
    shell:
        "zstvg tables --params {params.params_file} --metrics {input.metrics} --out {params.out} "
        "--protocol {wildcards.protocol} --ablation-dataset {params.ablation_dataset} "
        "--table1-variants {params.variants} --log-file {log}"


# A metrics file per cell (results/tables/<protocol>/rows/<dataset>--<backend>--<variant>.json):
# dvc.yaml's metrics, so `dvc metrics show` prints a row per cell.
rule metric_rows:
    input:
        metrics=protocol_metrics,
    output:
        rows=directory("results/tables/{protocol}/rows"),
    params:
        cells=protocol_metrics,  # a cell left out of `run` reruns it (no `input` trigger)
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        "results/logs/metric_rows_{protocol}.log",
    conda:
        "../../envs/zstvg.yaml"
    shell:
        "zstvg metric-rows --metrics {input.metrics} --out {output.rows} --log-file {log}"


rule figures:
    input:
        metrics=protocol_metrics,
        per_sample=protocol_per_sample,
    output:
        figures=report(
            directory("results/figures/{protocol}"),
            patterns=["{name}.png"],
            caption="../report/figures.rst",
            category="Figures",
        ),
    params:
        params_file=params_file,
        cells=protocol_metrics,  # a cell left out of `run` reruns it (no `input` trigger)
        ablation_dataset=ablation_dataset,
    resources:
        mem_mb=4000,
        runtime=30,
    log:
        "results/logs/figures_{protocol}.log",
    conda:
        "../../envs/zstvg.yaml"
    shell:
        "zstvg plot --params {params.params_file} --metrics {input.metrics} "
        "--per-sample {input.per_sample} --protocol {wildcards.protocol} "
        "--ablation-dataset {params.ablation_dataset} --out {output.figures} --log-file {log}"


rule visualize:
    input:
        samples="results/samples/{dataset}.jsonl",
        predictions="results/predictions/{dataset}/{backend}/{variant}.json",
        frames="results/frames/{dataset}/manifest.json",
        proposals=dataset_proposals,
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
        params_file=params_file,
        attention=attention_map,
        out=output_dir("sheet"),
    resources:
        mem_mb=4000,
        runtime=30,
    log:
        "results/logs/{dataset}/{backend}/{variant}/visualize_{sample_id}.log",
    conda:
        "../../envs/zstvg.yaml"
    shell:
        "zstvg visualize --params {params.params_file} --sample-id {wildcards.sample_id} "
        "--samples {input.samples} --predictions {input.predictions} "
        "--frames {input.frames} --proposals {input.proposals} "
        "--decompositions {input.decompositions} "
        "--attention {params.attention} --out {params.out} --log-file {log}"
