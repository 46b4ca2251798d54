# The method and the reference predictors, each writing results/predictions/{dataset}/
# {backend}/{variant}.json: the MLLM's attention probe, grounding, and the proposal-only
# reference backend (oracle upper bound, largest, random).


# The MLLM's attention of each sample (the reference sheets' maps, the demo's summary): one GPU
# job, or with `datasets.<name>.shards` > 1 N GPU shard jobs and a CPU merge (Sharded,
# common.smk).
PROBE = Sharded(
    folder="results/attention/{dataset}/{model}",
    log="results/logs/{dataset}/probe_attention_{model}",
    inputs={
        "samples": "results/samples/{dataset}.jsonl",
        "frames": "results/frames/{dataset}/manifest.json",
        "checkpoint": model_checkpoint,
    },
    resources={"gpu": 1, "mem_mb": 64000, "runtime": 720},
    merge={"gpu": 0, "mem_mb": 4000, "runtime": 30},
)


rule probe_attention_shard:
    input:
        **PROBE.inputs,
    output:
        shard=PROBE.shard,
    wildcard_constraints:
        **SHARD_WILDCARDS,
    params:
        params_file=params_file,
        gpu_slots=GPU_SLOTS,
        cfg=model_cfg,
        out=PROBE.out,
    resources:
        **PROBE.shard_resources,
    log:
        PROBE.shard_log,
    conda:
        "../../envs/zstvg.yaml"
    shell:
        "zstvg probe-attention --params {params.params_file} --claim-gpu {params.gpu_slots} "
        "--samples {input.samples} --frames {input.frames} --model {wildcards.model} "
        "--out {params.out} --shard {wildcards.shard}/{wildcards.n} --no-progress --log-file {log}"


rule probe_attention:
    input:
        **PROBE.inputs,
        shards=PROBE.shards,
    output:
        manifest="results/attention/{dataset}/{model}/manifest.json",
    params:
        params_file=params_file,
        claim=PROBE.claim_gpu,
        merge=PROBE.merge_arg,
        cfg=model_cfg,
        out=output_dir("manifest"),
    resources:
        **PROBE.merge_resources,
    log:
        "results/logs/{dataset}/probe_attention_{model}.log",
    benchmark:
        "results/benchmarks/{dataset}/probe_attention_{model}.tsv"
    conda:
        "../../envs/zstvg.yaml"
    shell:
        "zstvg probe-attention --params {params.params_file} {params.claim} "
        "--samples {input.samples} --frames {input.frames} --model {wildcards.model} "
        "--out {params.out} {params.merge} --no-progress --log-file {log}"


# Grounding runs per (dataset, model, setting): one GPU job per shard of the videos
# (`datasets.<name>.shards`, 1 by default) grounds every variant of that group's cells, sharing
# what they have in common (the video's features, the p = 0 maps, each tuned prompt; results
# equal separate runs, tests/workflow); `ground` then assembles one variant's predictions from
# the shards' records (CPU, seconds, computes nothing), so a variant never waits for the
# others' merge. A killed shard reruns alone and resumes per sample; a new sweep point adds its
# own jobs and leaves the others' outputs as they were.
GROUND = Sharded(
    folder="results/grounding/{dataset}/{model}{setting}",
    log="results/logs/{dataset}/ground_{model}{setting}",
    inputs={
        "samples": "results/samples/{dataset}.jsonl",
        "frames": "results/frames/{dataset}/manifest.json",
        "proposals": ground_proposals,
        "decompositions": "results/decompositions/{dataset}.jsonl",
        "checkpoint": model_inputs,
    },
    resources={"gpu": 1, "mem_mb": 64000, "runtime": 720},
    merge={"mem_mb": 4000, "runtime": 30},
    always=True,
)


rule ground_shard:
    input:
        **GROUND.inputs,
    output:
        shard=GROUND.shard,
    wildcard_constraints:
        **SHARD_WILDCARDS,
        model=MODEL_RE,
        setting=SETTING_RE,
    params:
        params_file=params_file,
        gpu_slots=GPU_SLOTS,
        cfg=ground_cfg(group_variant_names),
        sets=setting_args,
        variants=group_variants,
        out=GROUND.out,
    resources:
        **GROUND.shard_resources,
    log:
        GROUND.shard_log,
    benchmark:
        "results/benchmarks/{dataset}/ground_{model}{setting}_{shard}-of-{n}.tsv"
    conda:
        "../../envs/zstvg.yaml"
    shell:
        "zstvg ground --params {params.params_file} {params.sets} --claim-gpu {params.gpu_slots} "
        "--samples {input.samples} --frames {input.frames} --proposals {input.proposals} "
        "--decompositions {input.decompositions} --model {wildcards.model} "
        "--variants '{params.variants}' --out {params.out} "
        "--shard {wildcards.shard}/{wildcards.n} --no-progress --log-file {log}"


rule ground:
    input:
        **GROUND.inputs,
        shards=GROUND.shards,
    output:
        predictions="results/predictions/{dataset}/{model}/{variant}{setting}.json",
        manifest="results/grounding/{dataset}/{model}{setting}/{variant}/manifest.json",
    wildcard_constraints:
        model=MODEL_RE,
        variant=VARIANT_RE,
        setting=SETTING_RE,
    params:
        params_file=params_file,
        cfg=ground_cfg(one_variant),
        sets=setting_args,
        merge=GROUND.merge_arg,
        out=GROUND.out,
    resources:
        **GROUND.merge_resources,
    log:
        "results/logs/{dataset}/ground_{model}{setting}_{variant}.log",
    conda:
        "../../envs/zstvg.yaml"
    shell:
        "zstvg ground --params {params.params_file} {params.sets} --samples {input.samples} "
        "--frames {input.frames} --proposals {input.proposals} "
        "--decompositions {input.decompositions} --model {wildcards.model} "
        "--variants '{wildcards.variant}' --out {params.out} "
        "--predictions {output.predictions} {params.merge} --no-progress --log-file {log}"


rule predict_reference:
    input:
        samples="results/samples/{dataset}.jsonl",
        frames="results/frames/{dataset}/manifest.json",
        proposals=dataset_proposals,
    output:
        predictions="results/predictions/{dataset}/reference/{method}.json",
    wildcard_constraints:
        method="oracle|largest|random",
    params:
        params_file=params_file,
        cfg=section("seed"),
    resources:
        mem_mb=4000,
        runtime=30,
    log:
        "results/logs/{dataset}/reference/{method}.log",
    conda:
        "../../envs/zstvg.yaml"
    shell:
        "zstvg predict-reference --params {params.params_file} --samples {input.samples} "
        "--frames {input.frames} --proposals {input.proposals} --method {wildcards.method} "
        "--out {output.predictions} --log-file {log}"
