# Query decomposition (LLM, cached; offline by default, see params decompose.offline).


rule import_decompositions:
    input:
        file=dataset_value("decompositions"),
        samples="results/samples/{dataset}.jsonl",
    output:
        report="results/decompositions/{dataset}.import.json",
    params:
        params_file=params_file,
        cfg=section("decompose"),
    resources:
        mem_mb=2000,
        runtime=15,
    log:
        "results/logs/{dataset}/import_decompositions.log",
    conda:
        "../../envs/zstvg.yaml"
    shell:
        "zstvg import-decompositions --params {params.params_file} --file {input.file} "
        "--samples {input.samples} --report {output.report} --log-file {log}"


rule decompose:
    input:
        unpack(decompose_inputs),
    output:
        decompositions="results/decompositions/{dataset}.jsonl",
    params:
        params_file=params_file,
        cfg=section("decompose"),
    resources:
        mem_mb=2000,
        runtime=120,
    log:
        "results/logs/{dataset}/decompose.log",
    benchmark:
        "results/benchmarks/{dataset}/decompose.tsv"
    conda:
        "../../envs/zstvg.yaml"
    shell:
        "zstvg decompose --params {params.params_file} --samples {input.samples} "
        "--out {output.decompositions} --no-progress --log-file {log}"
