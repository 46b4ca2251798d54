# Object tubes: the authors' released proposals (imported and validated) or our detector +
# tracker; tiny checkpoints for the demo and tests.


rule import_proposals:
    input:
        annotations=lambda w: dataset_cfg(w)["annotations"],
    output:
        manifest="results/proposals/{dataset}/released/manifest.json",
    params:
        params_file=PARAMS_FILE,
        src=lambda w: dataset_cfg(w)["proposals"],
        out=lambda w, output: os.path.dirname(output.manifest),
    resources:
        mem_mb=2000,
        runtime=30,
    log:
        "results/logs/{dataset}/import_proposals.log",
    conda:
        "../../envs/cpu.yaml"
    shell:
        "zstvg import-proposals --params {params.params_file} --src {params.src} --out {params.out} "
        "--log-file {log}"


rule make_tiny_checkpoint:
    output:
        config="results/checkpoints/tiny-{family}/config.json",
    params:
        params_file=PARAMS_FILE,
        cfg=section("seed"),
        out=lambda w, output: os.path.dirname(output.config),
    resources:
        mem_mb=2000,
        runtime=15,
    log:
        "results/logs/make_tiny_checkpoint_{family}.log",
    conda:
        "../../envs/cpu.yaml"
    shell:
        "zstvg make-tiny-checkpoint --params {params.params_file} --family {wildcards.family} "
        "--out {params.out} --log-file {log}"


# As ground: one job, or with `datasets.<name>.shards` > 1 N GPU shard jobs and a CPU merge.
rule propose_shard:
    input:
        samples="results/samples/{dataset}.jsonl",
        frames="results/frames/{dataset}/manifest.json",
        decompositions="results/decompositions/{dataset}.jsonl",
    output:
        shard="results/proposals/{dataset}/{tracker}/shards/{shard}-of-{n}.json",
    wildcard_constraints:
        tracker="sam2-hf|sam2-official|bytetrack|botsort|ocsort|sort",
        shard=r"\d+",
        n=r"\d+",
    params:
        params_file=PARAMS_FILE,
        gpu_slots=GPU_SLOTS,
        cfg=section("proposals"),
        out=lambda w: f"results/proposals/{w.dataset}/{w.tracker}",
        default_class=lambda w: dataset_cfg(w)["default_class"],
    resources:
        gpu=1,
        mem_mb=32000,
        runtime=720,
    log:
        "results/logs/{dataset}/propose_{tracker}_{shard}-of-{n}.log",
    conda:
        "../../envs/gpu.yaml"
    shell:
        "zstvg propose --params {params.params_file} --claim-gpu {params.gpu_slots} --set proposals.tracker={wildcards.tracker} "
        "--samples {input.samples} --frames {input.frames} "
        "--decompositions {input.decompositions} --default-class {params.default_class} "
        "--out {params.out} --shard {wildcards.shard}/{wildcards.n} --no-progress --log-file {log}"


rule propose:
    input:
        samples="results/samples/{dataset}.jsonl",
        frames="results/frames/{dataset}/manifest.json",
        decompositions="results/decompositions/{dataset}.jsonl",
        shards=propose_shard_files,
    output:
        manifest="results/proposals/{dataset}/{tracker}/manifest.json",
    wildcard_constraints:
        tracker="sam2-hf|sam2-official|bytetrack|botsort|ocsort|sort",
    params:
        params_file=PARAMS_FILE,
        claim=lambda w: "" if n_shards(w) > 1 else f"--claim-gpu {GPU_SLOTS}",
        merge=lambda w: f"--merge {n_shards(w)}" if n_shards(w) > 1 else "",
        cfg=section("proposals"),
        out=lambda w, output: os.path.dirname(output.manifest),
        default_class=lambda w: dataset_cfg(w)["default_class"],
    resources:
        gpu=lambda w: 0 if n_shards(w) > 1 else 1,
        mem_mb=lambda w: 4000 if n_shards(w) > 1 else 32000,
        runtime=lambda w: 30 if n_shards(w) > 1 else 720,
    log:
        "results/logs/{dataset}/propose_{tracker}.log",
    benchmark:
        "results/benchmarks/{dataset}/propose_{tracker}.tsv"
    conda:
        "../../envs/gpu.yaml"
    shell:
        "zstvg propose --params {params.params_file} {params.claim} --set proposals.tracker={wildcards.tracker} "
        "--samples {input.samples} --frames {input.frames} "
        "--decompositions {input.decompositions} --default-class {params.default_class} "
        "--out {params.out} {params.merge} --no-progress --log-file {log}"


# The demo runs the real detector and tracker code (tiny random-weight Grounding DINO and SAM 2,
# detection threshold 0 so random weights still yield boxes) on the first synthetic video; the
# other videos use the benchmark's released-format proposals.
rule propose_tiny_demo:
    input:
        samples="results/samples/synthetic.jsonl",
        frames="results/frames/synthetic/manifest.json",
        decompositions="results/decompositions/synthetic.jsonl",
        gdino="results/checkpoints/tiny-gdino/config.json",
        sam2="results/checkpoints/tiny-sam2/config.json",
    output:
        manifest="results/proposals/synthetic/tiny-demo/manifest.json",
    params:
        params_file=PARAMS_FILE,
        cfg=section("proposals"),  # the settings not overridden below still apply
        out=lambda w, output: os.path.dirname(output.manifest),
        gdino=lambda w, input: os.path.dirname(input.gdino),
        sam2=lambda w, input: os.path.dirname(input.sam2),
    resources:
        mem_mb=4000,
        runtime=30,
    log:
        "results/logs/synthetic/propose_tiny_demo.log",
    conda:
        "../../envs/cpu.yaml"
    shell:
        "zstvg propose --params {params.params_file} --video-id synthetic_000 "
        "--set proposals.detector_checkpoint={params.gdino} "
        "--set proposals.tracker_checkpoint={params.sam2} --set proposals.tracker=sam2-hf "
        "--set proposals.box_threshold=0.0 --set proposals.text_threshold=0.0 "
        "--set proposals.max_detections_per_frame=2 --set proposals.max_tracks_per_video=3 "
        "--samples {input.samples} --frames {input.frames} "
        "--decompositions {input.decompositions} --out {params.out} --no-progress --log-file {log}"
