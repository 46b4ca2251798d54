# Query decomposition (LLM, cached; offline by default, see params decompose.offline).


rule import_decompositions:
    input:
        file=lambda w: dataset_cfg(w)["decompositions"],
        samples="results/samples/{dataset}.jsonl",
    output:
        report="results/decompositions/{dataset}.import.json",
    params:
        cfg=section("decompose"),
    log:
        "results/logs/{dataset}/import_decompositions.log",
    shell:
        "zstvg import-decompositions --params {PARAMS_FILE} --file {input.file} "
        "--samples {input.samples} --report {output.report} --log-file {log}"


def decompose_inputs(wildcards):
    inputs = {"samples": f"results/samples/{wildcards.dataset}.jsonl"}
    if dataset_cfg(wildcards)["decompositions"]:
        inputs["imported"] = f"results/decompositions/{wildcards.dataset}.import.json"
    return inputs


rule decompose:
    input:
        unpack(decompose_inputs),
    output:
        decompositions="results/decompositions/{dataset}.jsonl",
    params:
        cfg=section("decompose"),
    log:
        "results/logs/{dataset}/decompose.log",
    benchmark:
        "results/benchmarks/{dataset}/decompose.tsv"
    shell:
        "zstvg decompose --params {PARAMS_FILE} --samples {input.samples} "
        "--out {output.decompositions} --no-progress --log-file {log}"
