"""The probe-attention step (``zstvg probe-attention``): where a frozen MLLM looks when it
reads each sample's query.

For every sample: its MLLM frames (from sample-frames) and a prompt built from its query go
through the model's own processor; one forward pass captures, for each candidate grounding token
(the template tokens after the user text, docs/method.md#grounding-token-identification-gti), the
attention over the visual tokens averaged over heads and over the layer range in params
(``mllm.layer_start:layer_stop``), and the first answer token's Yes/No logits. Written per sample
(``<out>/<name>.npz``: ``attn_thw`` (candidates, t, h, w), and ``<name>.attn.npy``: the map of the
most visually activated candidate, the grounding-token identification rule, for ``zstvg visualize
--attention``) plus ``<out>/manifest.json`` listing every sample, its chosen token and logits, or
why it failed. The ``ground`` step builds on the same calls; this command is its inspectable first
half.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zstvg.config.params import Params
from zstvg.jobs import shards

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"


def probe_sample(
    mllm: Any, frames: list[Any], frame_idx: tuple[int, ...], fps: float, prompt: str
) -> dict[str, Any]:
    """One forward pass; the layer-averaged maps of every candidate token and the logits."""
    import torch

    with torch.no_grad():
        inputs = mllm.encode(frames, frame_idx, prompt, fps)
        result = mllm.forward(inputs)
    attn = result.attn_thw.mean(dim=1).float().cpu().numpy()  # (candidates, t, h, w)
    activation = attn.reshape(len(attn), -1).max(axis=1)
    chosen = int(activation.argmax())
    return {
        "attn_thw": attn,
        "candidate_tokens": list(inputs.candidate_tokens),
        "visual_activation": [float(a) for a in activation],
        "gti_token": chosen,
        "frames_of_t": [list(t) for t in inputs.layout.frames_of_t],
        "layers": list(result.layers),
        "yes_logit": float(result.yes_logit),
        "no_logit": float(result.no_logit),
    }


def probe_attention(
    *,
    params: Params,
    samples: str,
    frames: str,
    model: str,
    out: str,
    prompt_template: str = "{query}",
    sample_ids: Sequence[str] = (),
    shard: str | None = None,
    merge: int | None = None,
    show_progress: bool = True,
) -> int:
    """The probe-attention step on the samples of ``samples`` (all, ``sample_ids``, or those of
    shard ``"I/N"``), ``prompt_template`` with ``{query}`` replaced by each sample's query, or, with
    ``merge`` N, the manifest from what N shard jobs wrote; prints the summary and returns the
    exit code."""
    import numpy as np

    from zstvg.files.frames import FrameStore, video_dir_name
    from zstvg.files.io import (
        InputError,
        atomic_open,
        read_finished_entry,
        sha256_json,
        write_json,
    )
    from zstvg.files.provenance import checkpoint_sha256, write_provenance
    from zstvg.files.records import first_failure
    from zstvg.files.samples import sample_status
    from zstvg.jobs.failures import print_failures
    from zstvg.jobs.progress import progress
    from zstvg.jobs.shards import shard_path
    from zstvg.mllm import load_model, model_config, recorded_settings

    model_cfg = model_config(params, model)
    todo, selected = shards.samples_of(samples, sample_ids, shard, merge)
    store = FrameStore(frames)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    checkpoint_sha = checkpoint_sha256(model_cfg.checkpoint)
    base_job = {"mllm": params.section("mllm"), "model": recorded_settings(params, model),
                "checkpoint_sha256": checkpoint_sha, "prompt": prompt_template}  # fmt: skip
    mllm = None  # loaded on the first sample that needs computing
    entries: dict[str, dict[str, Any]] = {}
    n_reused = 0
    for sample in progress(todo, desc="probe-attention", unit="sample", enabled=show_progress):
        name = video_dir_name(sample.sample_id)
        prompt = prompt_template.format(query=sample.query)
        upstream = first_failure(sample_status(sample), store.sample_status(sample.sample_id))
        if upstream is not None:  # carried on, never recomputed
            entries[sample.sample_id] = {"status": "failed", "error": upstream.reason}
            continue
        job = sha256_json({**base_job, "sample": sample.to_json(),
                           "frames": store.samples.get(sample.sample_id)})  # fmt: skip
        previous = read_finished_entry(out_dir / f"{name}.json", job, merge is not None)
        if previous is not None:
            entries[sample.sample_id] = previous["entry"]
            n_reused += 1
            continue
        if merge is not None:
            reason = "probe-attention: no record of this job (its shard did not finish)"
            entries[sample.sample_id] = {"status": "failed", "error": reason}
            continue
        if mllm is None:  # a model that does not load stops the job (InputError, exit 2)
            mllm = load_model(params, model_cfg)
        try:
            stored = store.sample(sample.video_id, sample.sample_id, kind="mllm")
            probe = probe_sample(mllm, stored.read(), stored.frame_idx, stored.fps, prompt)
        except Exception as exc:  # one sample's failure (bad frames, out of memory) is data
            reason = str(exc) if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}"
            log.warning("%s: %s", sample.sample_id, reason)
            entries[sample.sample_id] = {"status": "failed", "error": f"probe-attention: {reason}"}
            write_json(
                out_dir / f"{name}.json", {"job_sha256": job, "entry": entries[sample.sample_id]}
            )
            continue
        attn = probe.pop("attn_thw")
        with atomic_open(out_dir / f"{name}.npz", "wb") as fh:
            np.savez_compressed(fh, attn_thw=attn)
        with atomic_open(out_dir / f"{name}.attn.npy", "wb") as fh:
            np.save(fh, attn[probe["gti_token"]])
        entries[sample.sample_id] = {
            "status": "ok",
            "file": f"{name}.npz",
            "prompt": prompt,
            "gti_token_text": probe["candidate_tokens"][probe["gti_token"]],
            **probe,
        }
        # written last: a record means the sample's files are complete
        write_json(
            out_dir / f"{name}.json", {"job_sha256": job, "entry": entries[sample.sample_id]}
        )
    if selected:
        failures = {k: v["error"] for k, v in entries.items() if v["status"] != "ok"}
        shard_file = shard_path(out_dir, *selected)
        write_json(shard_file, {"step": "probe-attention", "shard": shard,
                                "n_samples": len(entries), "samples": entries})  # fmt: skip
        print(f"probe-attention shard {shard} ({model}): {len(entries)} samples, "
              f"{len(failures)} failed, {n_reused} already done, in "
              f"{time.perf_counter() - started:.1f} s -> {shard_file}")  # fmt: skip
        print_failures(failures, shard_file)
        return 0
    failed = sorted(k for k, v in entries.items() if v["status"] != "ok")
    write_json(
        out_dir / MANIFEST,
        {
            "model": model,
            "backend": model_cfg.backend,
            "checkpoint": model_cfg.checkpoint,
            "n_samples": len(entries),
            "n_failed": len(failed),
            "samples": entries,
        },
    )
    write_provenance(
        out_dir / MANIFEST,
        step="probe-attention",
        params=params.section("mllm"),
        model=model,
        backend=model_cfg.backend,
        checkpoint=model_cfg.checkpoint,
        checkpoint_fingerprint=checkpoint_sha,
        model_settings=base_job["model"],  # the processor kwargs every call got included
        prompt_template=prompt_template,
        prompt_sha256=sha256_json(prompt_template),
        samples=samples,
    )
    print(
        f"probe-attention ({model}: {model_cfg.backend} from {model_cfg.checkpoint}): "
        f"{len(entries)} samples, {len(failed)} failed, {n_reused} already done, in "
        f"{time.perf_counter() - started:.1f} s -> {out_dir}"
    )
    print_failures({sid: entries[sid]["error"] for sid in failed}, out_dir / MANIFEST)
    return 0
