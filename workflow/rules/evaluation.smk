# Predictions -> metrics -> tables and figures. Every prediction set lives at
# results/{dataset}/{backend}/{variant}/predictions.json; "reference" is the proposal-only
# backend (oracle upper bound, largest, random).


rule predict_reference:
    input:
        samples="results/{dataset}/samples.jsonl",
        proposals=lambda w: proposals_manifest(w.dataset),
    output:
        predictions="results/{dataset}/reference/{method}/predictions.json",
    wildcard_constraints:
        method="oracle|largest|random",
    params:
        cfg=section("seed"),
        proposals_dir=lambda w, input: os.path.dirname(input.proposals),
    log:
        "results/logs/{dataset}/reference/{method}.log",
    shell:
        "zstvg predict-reference --params {PARAMS_FILE} --samples {input.samples} "
        "--proposals {params.proposals_dir} --method {wildcards.method} "
        "--out {output.predictions} --log-file {log}"


rule evaluate:
    input:
        samples="results/{dataset}/samples.jsonl",
        predictions="results/{dataset}/{backend}/{variant}/predictions.json",
    output:
        metrics="results/{dataset}/{backend}/{variant}/metrics/{protocol}.json",
        per_sample="results/{dataset}/{backend}/{variant}/metrics/{protocol}.per_sample.csv",
    wildcard_constraints:
        protocol="tubedetr|official|seed",
    params:
        cfg=section("evaluate"),
    log:
        "results/logs/{dataset}/{backend}/{variant}/evaluate_{protocol}.log",
    shell:
        "zstvg evaluate --params {PARAMS_FILE} --samples {input.samples} "
        "--predictions {input.predictions} --protocol {wildcards.protocol} "
        "--out {output.metrics} --per-sample {output.per_sample} --dataset {wildcards.dataset} "
        "--backend {wildcards.backend} --variant {wildcards.variant} --log-file {log}"


rule tables:
    input:
        metrics=lambda w: all_metrics(w.protocol),
    output:
        table1="results/tables/{protocol}/table1.md",
        table2="results/tables/{protocol}/table2.md",
    params:
        out="results/tables/{protocol}",
        ablation_dataset=lambda w: config["run"]["datasets"][0],
    log:
        "results/logs/tables_{protocol}.log",
    shell:
        "zstvg tables --params {PARAMS_FILE} --metrics {input.metrics} --out {params.out} "
        "--protocol {wildcards.protocol} --ablation-dataset {params.ablation_dataset} "
        "--table1-variants {REFERENCE_VARIANTS} --log-file {log}"
