# Data: the synthetic benchmark, annotation loading, frame sampling.


rule make_synthetic:
    output:
        annotations="results/synthetic/annotations/test_v2.json",
        decompositions="results/synthetic/annotations/gpt4_decompose_attr_action.json",
    params:
        params_file=params_file,
        cfg=section("seed", "synthetic"),
        out=output_dir("annotations", up=2),
    resources:
        mem_mb=2000,
        runtime=15,
    log:
        "results/logs/make_synthetic.log",
    benchmark:
        "results/benchmarks/make_synthetic.tsv"
    conda:
        "../../envs/zstvg.yaml"
    shell:
        "zstvg make-synthetic --params {params.params_file} --out {params.out} --log-file {log}"


# A checkpoint: once samples.jsonl exists, sample_frames lists the videos it names as inputs,
# so a video replaced, truncated or restored (a newer mtime) reruns sample_frames, which then
# redoes only the videos whose content fingerprint changed.
checkpoint prepare_data:
    input:
        annotations=dataset_value("annotations"),
    output:
        samples="results/samples/{dataset}.jsonl",
    params:
        params_file=params_file,
        fmt=dataset_value("format"),
        videos=dataset_value("videos"),
        boxes=boxes_arg,
        damaged=damaged_args,
    resources:
        mem_mb=4000,
        runtime=15,
    log:
        "results/logs/{dataset}/prepare_data.log",
    benchmark:
        "results/benchmarks/{dataset}/prepare_data.tsv"
    conda:
        "../../envs/zstvg.yaml"
    shell:
        "zstvg prepare-data --params {params.params_file} --dataset {params.fmt} "
        "--annotations {input.annotations} --videos {params.videos} {params.boxes} "
        "{params.damaged} --out {output.samples} --log-file {log}"


# Frames: with `datasets.<name>.shards` > 1, N jobs decode their shard's videos, then
# sample_frames resumes all of them (a stat each) and writes the manifest (Sharded, common.smk).
FRAMES = Sharded(
    folder="results/frames/{dataset}",
    log="results/logs/{dataset}/sample_frames",
    inputs={"samples": "results/samples/{dataset}.jsonl", "videos": dataset_videos},
    resources={"mem_mb": 8000, "runtime": 240},
    merge={"mem_mb": 8000, "runtime": 30},
)


rule sample_frames_shard:
    input:
        **FRAMES.inputs,
    output:
        shard=FRAMES.shard,
    wildcard_constraints:
        **SHARD_WILDCARDS,
    params:
        params_file=params_file,
        cfg=section("frames"),
        out=FRAMES.manifest,
    threads: 4
    resources:
        **FRAMES.shard_resources,
    log:
        FRAMES.shard_log,
    conda:
        "../../envs/zstvg.yaml"
    shell:
        "zstvg sample-frames --params {params.params_file} --samples {input.samples} "
        "--out {params.out} --shard {wildcards.shard}/{wildcards.n} --workers {threads} "
        "--no-progress --log-file {log}"


rule sample_frames:
    input:
        **FRAMES.inputs,
        shards=FRAMES.shards,
    output:
        manifest="results/frames/{dataset}/manifest.json",
    params:
        params_file=params_file,
        cfg=section("frames"),
    threads: 2
    resources:
        **FRAMES.merge_resources,
    log:
        "results/logs/{dataset}/sample_frames.log",
    benchmark:
        "results/benchmarks/{dataset}/sample_frames.tsv"
    conda:
        "../../envs/zstvg.yaml"
    shell:
        "zstvg sample-frames --params {params.params_file} --samples {input.samples} "
        "--out {output.manifest} --workers {threads} --no-progress --log-file {log}"
