# Object tubes: the authors' released proposals (imported and validated) or our detector +
# tracker; tiny checkpoints for the demo and tests.


rule import_proposals:
    input:
        annotations=dataset_value("annotations"),
    output:
        manifest="results/proposals/{dataset}/released/manifest.json",
    params:
        params_file=params_file,
        src=dataset_value("proposals"),
        out=output_dir("manifest"),
    resources:
        mem_mb=2000,
        runtime=30,
    log:
        "results/logs/{dataset}/import_proposals.log",
    conda:
        "../../envs/zstvg.yaml"
    shell:
        "zstvg import-proposals --params {params.params_file} --src {params.src} --out {params.out} "
        "--log-file {log}"


rule make_tiny_checkpoint:
    output:
        config="results/checkpoints/tiny-{family}/config.json",
    params:
        params_file=params_file,
        cfg=section("seed"),
        out=output_dir("config"),
    resources:
        mem_mb=2000,
        runtime=15,
    log:
        "results/logs/make_tiny_checkpoint_{family}.log",
    conda:
        "../../envs/zstvg.yaml"
    shell:
        "zstvg make-tiny-checkpoint --params {params.params_file} --family {wildcards.family} "
        "--out {params.out} --log-file {log}"


# Our detector + tracker: one GPU job, or with `datasets.<name>.shards` > 1 N GPU shard jobs
# and a CPU merge (Sharded, common.smk).
PROPOSE = Sharded(
    folder="results/proposals/{dataset}/{tracker}",
    log="results/logs/{dataset}/propose_{tracker}",
    inputs={
        "samples": "results/samples/{dataset}.jsonl",
        "frames": "results/frames/{dataset}/manifest.json",
        "decompositions": "results/decompositions/{dataset}.jsonl",
    },
    resources={"gpu": 1, "mem_mb": 32000, "runtime": 720},
    merge={"gpu": 0, "mem_mb": 4000, "runtime": 30},
)
TRACKERS = "sam2-hf|sam2-official|bytetrack|botsort|ocsort|sort"


rule propose_shard:
    input:
        **PROPOSE.inputs,
    output:
        shard=PROPOSE.shard,
    wildcard_constraints:
        **SHARD_WILDCARDS,
        tracker=TRACKERS,
    params:
        params_file=params_file,
        gpu_slots=GPU_SLOTS,
        cfg=section("proposals"),
        out=PROPOSE.out,
        default_class=dataset_value("default_class"),
    resources:
        **PROPOSE.shard_resources,
    log:
        PROPOSE.shard_log,
    conda:
        "../../envs/zstvg.yaml"
    shell:
        "zstvg propose --params {params.params_file} --claim-gpu {params.gpu_slots} --set proposals.tracker={wildcards.tracker} "
        "--samples {input.samples} --frames {input.frames} "
        "--decompositions {input.decompositions} --default-class {params.default_class} "
        "--out {params.out} --shard {wildcards.shard}/{wildcards.n} --no-progress --log-file {log}"


rule propose:
    input:
        **PROPOSE.inputs,
        shards=PROPOSE.shards,
    output:
        manifest="results/proposals/{dataset}/{tracker}/manifest.json",
    wildcard_constraints:
        tracker=TRACKERS,
    params:
        params_file=params_file,
        claim=PROPOSE.claim_gpu,
        merge=PROPOSE.merge_arg,
        cfg=section("proposals"),
        out=output_dir("manifest"),
        default_class=dataset_value("default_class"),
    resources:
        **PROPOSE.merge_resources,
    log:
        "results/logs/{dataset}/propose_{tracker}.log",
    benchmark:
        "results/benchmarks/{dataset}/propose_{tracker}.tsv"
    conda:
        "../../envs/zstvg.yaml"
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
        params_file=params_file,
        cfg=section("proposals"),  # the settings not overridden below still apply
        out=output_dir("manifest"),
        gdino=input_dir("gdino"),
        sam2=input_dir("sam2"),
    resources:
        mem_mb=4000,
        runtime=30,
    log:
        "results/logs/synthetic/propose_tiny_demo.log",
    conda:
        "../../envs/zstvg.yaml"
    shell:
        "zstvg propose --params {params.params_file} --video-id synthetic_000 "
        "--set proposals.detector_checkpoint={params.gdino} "
        "--set proposals.tracker_checkpoint={params.sam2} --set proposals.tracker=sam2-hf "
        "--set proposals.box_threshold=0.0 --set proposals.text_threshold=0.0 "
        "--set proposals.max_detections_per_frame=2 --set proposals.max_tracks_per_video=3 "
        "--samples {input.samples} --frames {input.frames} "
        "--decompositions {input.decompositions} --out {params.out} --no-progress --log-file {log}"
