# Data: the synthetic benchmark, annotation loading, frame sampling.


rule make_synthetic:
    output:
        annotations="results/synthetic/annotations/test_v2.json",
        decompositions="results/synthetic/annotations/gpt4_decompose_attr_action.json",
    params:
        params_file=PARAMS_FILE,
        cfg=section("seed", "synthetic"),
        out=lambda w, output: os.path.dirname(os.path.dirname(output.annotations)),
    resources:
        mem_mb=2000,
        runtime=15,
    log:
        "results/logs/make_synthetic.log",
    benchmark:
        "results/benchmarks/make_synthetic.tsv"
    conda:
        "../../envs/cpu.yaml"
    shell:
        "zstvg make-synthetic --params {params.params_file} --out {params.out} --log-file {log}"


# A checkpoint: once samples.jsonl exists, sample_frames lists the videos it names as inputs,
# so a video replaced, truncated or restored (a newer mtime) reruns sample_frames, which then
# redoes only the videos whose content fingerprint changed.
checkpoint prepare_data:
    input:
        annotations=lambda w: dataset_cfg(w)["annotations"],
    output:
        samples="results/samples/{dataset}.jsonl",
    params:
        params_file=PARAMS_FILE,
        cfg=lambda w: json.dumps(dataset_cfg(w), sort_keys=True),
        fmt=lambda w: dataset_cfg(w)["format"],
        videos=lambda w: dataset_cfg(w)["videos"],
        boxes=lambda w: f"--boxes {dataset_cfg(w)['boxes']}" if dataset_cfg(w)["boxes"] else "",
        damaged=lambda w: " ".join(
            f"--damaged-video {shlex.quote(v)}" for v in dataset_cfg(w).get("damaged_videos", [])
        ),
    resources:
        mem_mb=4000,
        runtime=15,
    log:
        "results/logs/{dataset}/prepare_data.log",
    benchmark:
        "results/benchmarks/{dataset}/prepare_data.tsv"
    conda:
        "../../envs/cpu.yaml"
    shell:
        "zstvg prepare-data --params {params.params_file} --dataset {params.fmt} "
        "--annotations {input.annotations} --videos {params.videos} {params.boxes} "
        "{params.damaged} --out {output.samples} --log-file {log}"


# With `datasets.<name>.shards` > 1: N jobs decode their shard's videos, then sample_frames
# resumes all of them (a stat each) and writes the manifest.
rule sample_frames_shard:
    input:
        samples="results/samples/{dataset}.jsonl",
        videos=dataset_videos,
    output:
        shard="results/frames/{dataset}/shards/{shard}-of-{n}.json",
    wildcard_constraints:
        shard=r"\d+",
        n=r"\d+",
    params:
        params_file=PARAMS_FILE,
        cfg=section("frames"),
        out=lambda w: f"results/frames/{w.dataset}/manifest.json",
    threads: 4
    resources:
        mem_mb=8000,
        runtime=240,
    log:
        "results/logs/{dataset}/sample_frames_{shard}-of-{n}.log",
    conda:
        "../../envs/cpu.yaml"
    shell:
        "zstvg sample-frames --params {params.params_file} --samples {input.samples} "
        "--out {params.out} --shard {wildcards.shard}/{wildcards.n} --workers {threads} "
        "--no-progress --log-file {log}"


rule sample_frames:
    input:
        samples="results/samples/{dataset}.jsonl",
        videos=dataset_videos,
        shards=frames_shard_files,
    output:
        manifest="results/frames/{dataset}/manifest.json",
    params:
        params_file=PARAMS_FILE,
        cfg=section("frames"),
    threads: 2
    resources:
        mem_mb=8000,
        runtime=lambda w: 30 if n_shards(w) > 1 else 240,
    log:
        "results/logs/{dataset}/sample_frames.log",
    benchmark:
        "results/benchmarks/{dataset}/sample_frames.tsv"
    conda:
        "../../envs/cpu.yaml"
    shell:
        "zstvg sample-frames --params {params.params_file} --samples {input.samples} "
        "--out {output.manifest} --workers {threads} --no-progress --log-file {log}"
