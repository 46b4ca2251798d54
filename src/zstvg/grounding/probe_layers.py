"""The probe-layers step (``zstvg probe-layers``): which decoder layers and attention heads of a
frozen MLLM ground each sample (docs/method.md#which-layers-and-heads-ground).

Per sample, on the frames ``ground`` shows the model (a uniform subset of the proposal frames,
``ground.n_frames``): two forwards (the query in ``ground.query_template``'s form, as the
untuned rows ask it, and the neutral prompt) that keep every head's rows of the grounding
candidates at the visual tokens, every layer streamed to the CPU as it finishes; then
:func:`zstvg.grounding.layer_probe.probe_scores` for every (layer, head), every layer and every
contiguous layer range. Outputs under ``--out DIR``::

    <sample>.npz      heads_<metric> (layers, heads), layers_<metric> (layers,),
                      ranges_<metric> (layers + 1, layers + 1) for pointing, mass, track
    <sample>.json     the sample's record (job hash, GT track, texts, or why it failed)
    manifest.json     every sample, the model's shape (layers, heads) and its default range

A sample that failed upstream, has no GT boxes or whose forward fails is failed with the reason
and the run goes on; a rerun reuses every sample whose record has this job's hash (resumable);
``--shard I/N`` and ``--merge N`` split it as the other GPU steps.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zstvg.config.params import Params
from zstvg.jobs import shards

log = logging.getLogger(__name__)

STEP = "probe-layers"
MANIFEST = "manifest.json"


def probe_layers(
    *,
    params: Params,
    samples: str,
    frames: str,
    proposals: str,
    model: str,
    out: str,
    sample_ids: Sequence[str] = (),
    shard: str | None = None,
    merge: int | None = None,
    show_progress: bool = True,
) -> int:
    """The probe-layers step on the samples of ``samples`` (all, ``sample_ids``, or those of
    shard ``"I/N"``), or, with ``merge`` N, the manifest from what N shard jobs wrote; prints
    the summary and returns the exit code."""
    from zstvg.files.frames import FrameStore, video_dir_name
    from zstvg.files.io import (
        InputError,
        atomic_open,
        read_finished_entry,
        sha256_file,
        sha256_json,
        write_json,
    )
    from zstvg.files.proposals import ProposalStore
    from zstvg.files.provenance import checkpoint_sha256, write_provenance
    from zstvg.files.records import first_failure
    from zstvg.files.samples import sample_status
    from zstvg.grounding.ground import VideoFrames
    from zstvg.jobs.failures import print_failures
    from zstvg.jobs.progress import progress
    from zstvg.jobs.shards import shard_path
    from zstvg.mllm import model_config, recorded_settings

    model_cfg = model_config(params, model)
    todo, selected = shards.samples_of(samples, sample_ids, shard, merge)
    store = FrameStore(frames)
    props = ProposalStore(proposals)
    video_frames = VideoFrames(store)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    checkpoint_sha = checkpoint_sha256(model_cfg.checkpoint)
    ground = params.section("ground")
    base_job = {
        "mllm": params.section("mllm"), "model": recorded_settings(params, model),
        "checkpoint_sha256": checkpoint_sha, "seed": params.seed,
        # what the maps and their scores read of `ground`
        "ground": {k: ground[k] for k in ("n_frames", "eps", "neutral_prompt",
                                          "query_template", "answer_words", "gti_activation")},
    }  # fmt: skip
    prober: _Prober | None = None  # the model, loaded on the first sample that needs computing
    entries: dict[str, dict[str, Any]] = {}
    shape: dict[str, Any] = {}
    n_reused = 0
    for sample in progress(todo, desc=STEP, unit="sample", enabled=show_progress):
        sid = sample.sample_id
        name = video_dir_name(sid)
        upstream = first_failure(
            sample_status(sample), store.sample_status(sid), props.video_status(sample.video_id)
        )
        if upstream is not None:  # carried on, never recomputed
            entries[sid] = {"status": "failed", "step": upstream.step, "error": upstream.reason}
            continue
        inputs = {"sample": sample.to_json(), "frames": store.samples.get(sid),
                  "proposals_sha256": sha256_file(props.path(sample.video_id))}  # fmt: skip
        job = sha256_json({**base_job, **inputs})
        previous = read_finished_entry(out_dir / f"{name}.json", job, merge is not None)
        if previous is not None:
            entries[sid] = previous["entry"]
            shape = shape or previous.get("shape", {})
            n_reused += 1
            continue
        if merge is not None:
            reason = f"{STEP}: no record of this job (its shard did not finish)"
            entries[sid] = {"status": "failed", "step": STEP, "error": reason}
            continue
        if prober is None:  # a model that does not load stops the job (InputError, exit 2)
            prober = _Prober(params, model_cfg)
            shape = prober.shape
        try:
            scores, entry = prober.sample(sample, props, video_frames, store)
        except Exception as exc:  # one sample's failure (bad frames, out of memory) is data
            reason = str(exc) if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}"
            log.warning("%s: %s", sid, reason)
            entries[sid] = {"status": "failed", "step": STEP, "error": f"{STEP}: {reason}"}
            write_json(out_dir / f"{name}.json", {"job_sha256": job, "entry": entries[sid]})
            continue
        with atomic_open(out_dir / f"{name}.npz", "wb") as fh:
            savez: Any = np.savez_compressed  # typed for positional arrays, not named ones
            savez(fh, **scores)
        entries[sid] = {"status": "ok", "file": f"{name}.npz", **entry}
        # written last: a record means the sample's scores are complete
        write_json(
            out_dir / f"{name}.json", {"job_sha256": job, "shape": shape, "entry": entries[sid]}
        )
    failures = {k: v["error"] for k, v in entries.items() if v["status"] != "ok"}
    if selected:
        shard_file = shard_path(out_dir, *selected)
        write_json(shard_file, {"step": STEP, "shard": shard, "n_samples": len(entries),
                                "samples": entries})  # fmt: skip
        print(f"{STEP} shard {shard} ({model}): {len(entries)} samples, {len(failures)} failed, "
              f"{n_reused} already done, in {time.perf_counter() - started:.1f} s "
              f"-> {shard_file}")  # fmt: skip
        print_failures(failures, shard_file)
        return 0
    write_json(
        out_dir / MANIFEST,
        {
            "step": STEP,
            "model": model,
            "backend": model_cfg.backend,
            "checkpoint": model_cfg.checkpoint,
            **shape,
            "n_samples": len(entries),
            "n_failed": len(failures),
            "samples": entries,
        },
    )
    write_provenance(
        out_dir / MANIFEST,
        step=STEP,
        params={"mllm": base_job["mllm"], "ground": base_job["ground"]},
        model=model,
        backend=model_cfg.backend,
        checkpoint=model_cfg.checkpoint,
        checkpoint_fingerprint=checkpoint_sha,
        model_settings=base_job["model"],
        samples=samples,
        proposals=proposals,
    )
    print(
        f"{STEP} ({model}: {model_cfg.backend}): {len(entries)} samples, {len(failures)} "
        f"failed, {n_reused} already done, in {time.perf_counter() - started:.1f} s "
        f"-> {out_dir}"
    )
    print_failures(failures, out_dir / MANIFEST)
    return 0


class _Prober:
    """The loaded model and the settings every sample's probe shares."""

    def __init__(self, params: Params, model_cfg: Any) -> None:
        from zstvg.files.io import InputError
        from zstvg.mllm import load_model
        from zstvg.mllm.protocol import GroundTruthModel, HeadProbingModel

        self.params = params
        mllm = load_model(params, model_cfg)
        if not isinstance(mllm, HeadProbingModel):
            raise InputError(f"{model_cfg.backend}: this backend returns no per-head maps")
        self.mllm: HeadProbingModel = mllm
        self.ground_truth = mllm if isinstance(mllm, GroundTruthModel) else None
        if self.ground_truth is not None:
            self.ground_truth.neutral_prompt = params.ground.neutral_prompt
        mllm.set_answer_words(tuple(params.ground.answer_words))
        device = getattr(mllm, "device", None)
        self.device = str(device) if device is not None else "cpu"
        self.shape = {
            "n_layers": mllm.num_layers,
            "n_heads": mllm.num_heads,
            # the range the method averages with these params: [first, last + 1)
            "default_layers": [min(mllm.layers), max(mllm.layers) + 1],
        }

    def sample(
        self, sample: Any, props: Any, video_frames: Any, store: Any
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """One sample's scores and its record's entry; raises on a failure."""
        import torch

        from zstvg.grounding import scoring
        from zstvg.grounding.baselines import track_gt_overlap
        from zstvg.grounding.engine import query_text, track_masks
        from zstvg.grounding.ground import mllm_frames
        from zstvg.grounding.layer_probe import ProbeTarget, probe_scores

        cfg = self.params.ground
        if not sample.has_gt_boxes:
            raise ValueError("the sample has no GT boxes to score maps against")
        proposals = props.read(sample.video_id)
        tracks = [t for t in proposals.tracks if t.boxes_xyxy]
        if not tracks:
            raise ValueError("empty proposal set")
        frame_idx, _ = mllm_frames(list(proposals.frame_idx), sample.clip_span, cfg.n_frames)
        frames = video_frames.get(sample.video_id, sample.video_path, frame_idx)
        fps = float(store.index(sample.video_id)["fps"])
        if self.ground_truth is not None:
            self.ground_truth.bind_sample(sample)
        texts = {"query": query_text(cfg.query_template, sample.query),
                 "neutral": cfg.neutral_prompt}  # fmt: skip
        maps: dict[str, np.ndarray] = {}
        features = None
        layout = None
        for key, text in texts.items():
            inputs = self.mllm.encode(frames, frame_idx, text, fps)
            layout = inputs.layout
            with torch.no_grad():
                if features is None:
                    features = self.mllm.visual_features(inputs)
                out = self.mllm.forward(inputs, features, capture=False, per_head=True)
            assert out.attn_heads_thw is not None  # per_head=True
            maps[key] = out.attn_heads_thw.numpy()
            del out
        assert layout is not None  # two texts encoded
        height, width = frames[0].shape[:2]
        overlap = {t.track_id: track_gt_overlap(t, sample) for t in tracks}
        gt_track = max(sorted(overlap), key=lambda k: overlap[k])
        target = ProbeTarget(
            slots=scoring.slot_of_frame(layout.frames_of_t, frame_idx),
            gt_boxes_xyxy=[sample.gt_boxes_xyxy.get(f) for f in frame_idx],
            masks={t.track_id: track_masks(t, frame_idx, height, width) for t in tracks},
            gt_track=gt_track if overlap[gt_track] > 0 else None,
            height=height,
            width=width,
            region=tuple(float(v) for v in self.mllm.region(width, height)),  # type: ignore[arg-type]
        )
        scores = probe_scores(maps["query"], maps["neutral"], target, cfg.eps,
                              cfg.gti_activation, self.device)  # fmt: skip
        entry = {
            "texts": texts,
            "mllm_frame_idx": list(frame_idx),
            "n_gt_frames": sum(b is not None for b in target.gt_boxes_xyxy),
            "gt_track": target.gt_track,
            "gt_track_overlap": round(overlap[gt_track], 6),
            "n_tracks": len(tracks),
        }
        return {k: v.astype(np.float32) for k, v in scores.items()}, entry
