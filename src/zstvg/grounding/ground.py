"""The ground step (``zstvg ground``): the method (docs/method.md#the-method-as-implemented) on
every sample, one or more variants, one MLLM.

Outputs under ``--out DIR``::

    records/<sample>.json   per sample: the prediction and how it was made (candidate tokens and
                            their activations per map, chosen tokens, LRA losses and gradient
                            norms, track scores, frame scores, span, LLM calls)
    records/<sample>.run.json
                            per sample, what differs between identical reruns: the seconds
                            (``seconds``: the sample's computation, the job's variants together;
                            ``times_s``: per stage; ``tuning_s``: per LRA-tuned map), the git
                            revision, the params file; ``.dvcignore`` keeps it out of DVC's hashes
    records/<sample>.spatial.npy
                            the spatial map visualize draws
    manifest.json           every sample: ok or failed with the first reason and its step
    predictions.json        the predictions (or --predictions FILE; format:
                            docs/workflow.md#files-passed-between-steps)

The records hold only what decides them (docs/reproducibility.md#provenance-sidecars), so
grounding the same inputs twice writes the same bytes; read a record's timings with
:func:`read_run_record` and list a folder's records (not their run records) with
:func:`record_files`.

A sample that failed upstream is failed with that reason, without computing; any exception of
one sample (no tracks, an unreadable frame, out of memory) fails that sample with its type and
message and the run goes on. What no sample can succeed without (the model and its processor,
the layer range) stops the run at once with exit 2 and the file or key named. Records are
written atomically and carry a job hash (parameters, checkpoint content, the sample's inputs):
a rerun skips every finished sample, so a job killed at a time limit resumes where it stopped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zstvg.config.params import Params
from zstvg.config.variants import ground_settings_read
from zstvg.jobs import shards

log = logging.getLogger(__name__)

STEP = "ground"
MANIFEST = "manifest.json"


def variant_ground_params(params: Params, variant: Any) -> dict[str, Any]:
    """The ``ground`` settings one variant's result depends on."""
    return ground_settings_read(variant, params.section("ground"))


def mllm_frames(
    proposal_frames: list[int], clip_span: tuple[int, int], n: int
) -> tuple[list[int], list[int]]:
    """A uniform subset of the proposal frames inside the clip, and the native bins they stand
    for (``video.index.uniform_subset``): every MLLM frame has every track's mask, nothing is
    guessed, and a predicted span covers the bins of its frames."""
    from zstvg.video.index import uniform_subset

    return uniform_subset(proposal_frames, clip_span, n)


class VideoFrames:
    """MLLM frames of one video: stored JPEGs where sample-frames kept them, else decoded
    from the video once (released proposals may sit on frames the grid does not hold)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._decoded: dict[str, dict[int, np.ndarray]] = {}

    def get(self, video_id: str, video_path: str, frame_idx: list[int]) -> list[np.ndarray]:
        from zstvg.files.frames import frame_path, read_frame

        directory = Path(self.store.index(video_id)["_dir"])
        missing = [f for f in frame_idx if not frame_path(directory, f).is_file()]
        if video_id not in self._decoded:  # samples come video by video: keep one video's
            self._decoded = {video_id: {}}  # frames, not 10,000 videos' worth
        decoded = self._decoded[video_id]
        todo = [f for f in missing if f not in decoded]
        if todo:
            from zstvg.video.decode import decode_frames

            def sink(f: int, _t: float | None, image: Any) -> None:
                decoded[f] = np.asarray(image.convert("RGB"))

            report = decode_frames(video_path, todo, sink)
            if report.missing_frame_idx:
                raise ValueError(
                    f"{video_path}: frames {report.missing_frame_idx[:5]} are past the video's "
                    f"end ({report.n_frames} frames)"
                )
        return [decoded[f] if f in decoded else read_frame(directory, f) for f in frame_idx]


def _parse_variants(
    variant: str | None, variants: str | None, predictions: str | None
) -> list[Any]:
    """The variants of ``--variant`` or ``--variants`` (exactly one of them), without repeats."""
    from zstvg.config.variants import get_variant
    from zstvg.files.io import InputError

    if (variant is None) == (variants is None):
        raise InputError("give exactly one of --variant NAME and --variants A,B,C")
    names = [variant] if variant else [v for v in (variants or "").split(",") if v]
    try:
        parsed = [get_variant(n) for n in dict.fromkeys(names)]
    except ValueError as exc:
        raise InputError(f"--variants: {exc}") from None
    if predictions and len(parsed) > 1:
        raise InputError("--predictions names one file: use --predictions-dir with --variants")
    return parsed


class _Grounder:
    """One ground run over its samples: the inputs and settings every sample shares, the
    engine (loaded on the first sample that needs computing) and what the samples gave."""

    def __init__(
        self,
        params: Params,
        model: str,
        model_cfg: Any,
        variants: list[Any],
        folders: dict[str, Path],
        inputs: dict[str, str],
    ) -> None:
        from zstvg.files.decompositions import read_decompositions
        from zstvg.files.frames import FrameStore
        from zstvg.files.proposals import ProposalStore
        from zstvg.files.provenance import fingerprint_tree, run_facts
        from zstvg.mllm import recorded_settings

        self.params, self.model, self.model_cfg, self.variants, self.folders = (
            params,
            model,
            model_cfg,
            variants,
            folders,
        )
        self.inputs = inputs  # samples, frames, proposals, decompositions: their paths
        self.store = FrameStore(inputs["frames"])
        self.proposals = ProposalStore(inputs["proposals"])
        self.decompositions = read_decompositions(inputs["decompositions"])
        self.checkpoint_fp = (
            fingerprint_tree(model_cfg.checkpoint)
            if Path(model_cfg.checkpoint).exists()
            else None  # a hub id: its revision is its identity
        )
        settings = recorded_settings(params, model)  # processor: what every call gets
        self.base_job = {
            "mllm": params.section("mllm"),
            "model": {"backend": model_cfg.backend, "checkpoint": model_cfg.checkpoint},
            "checkpoint_sha256": self.checkpoint_fp["sha256"] if self.checkpoint_fp else None,
            "model_settings": {
                k: settings.get(k) for k in ("processor", "config", "frame_size", "system_prompt")
            }
            # a model's own layer range and heads, only where set: the other models' jobs keep
            # their hash
            | {k: settings[k] for k in ("layers", "heads") if k in settings},
            "seed": params.seed,
            "preset": params.preset,
        }
        self.engine: Any = None
        self.frames = VideoFrames(self.store)
        self.proposal_sha: dict[str, str] = {}
        # each sample's prediction as compact JSON (predictions.prediction_json): a job holds
        # ~40 bytes a box of its dense predictions until it writes them, not Python objects
        self.preds: dict[str, dict[str, str]] = {v.name: {} for v in variants}
        self.entries: dict[str, dict[str, dict[str, Any]]] = {v.name: {} for v in variants}
        self.jobs_of: dict[str, dict[str, str]] = {v.name: {} for v in variants}  # a merge reads
        self.n_reused = 0
        self.job_calls: dict[str, float] = {
            "forwards": 0, "backwards": 0, "forward_equivalents": 0.0
        }  # fmt: skip
        self.run_facts = run_facts()  # every sample's run record: read once (git, 2 calls)

    def ground(self, sample: Any) -> None:
        """One sample, every variant: carried on (failed upstream), reused (finished with the
        same job hash), or computed; each computed record written at once."""
        from zstvg.files.frames import video_dir_name
        from zstvg.files.predictions import prediction_json
        from zstvg.files.records import Prediction, first_failure
        from zstvg.files.samples import sample_status

        sid = sample.sample_id
        paths = {n: f / "records" / f"{video_dir_name(sid)}.json" for n, f in self.folders.items()}
        upstream = first_failure(
            sample_status(sample),
            self.store.sample_status(sid),
            self.proposals.video_status(sample.video_id),
        )
        if upstream is not None:  # carried on, never recomputed
            for v in self.variants:
                self.preds[v.name][sid] = prediction_json(
                    Prediction(sid, None, error=upstream.reason)
                )
                self.entries[v.name][sid] = {
                    "status": "failed", "step": upstream.step, "error": upstream.reason
                }  # fmt: skip
            return
        dec = self.decompositions.get(sid)
        jobs = self._job_hashes(sample, dec)
        todo = []
        for v in self.variants:
            previous = _finished(paths[v.name], jobs[v.name])
            if previous is None:
                todo.append(v)
                continue
            self.preds[v.name][sid] = prediction_json(
                Prediction.from_json(sid, previous["prediction"])
            )
            self.entries[v.name][sid] = _entry(previous)
            self.n_reused += 1
        if not todo:
            return
        t0 = time.perf_counter()
        results = self._compute(sample, dec, todo)
        seconds = round(time.perf_counter() - t0, 4)
        for name, (pred, record) in results.items():
            run = {"step": STEP, "sample_id": sid, "variant": name, "job_sha256": jobs[name],
                   **self.run_facts, "seconds": seconds}  # fmt: skip
            _write_record(paths[name], record, jobs[name], pred, run)
            self.preds[name][sid] = prediction_json(pred)
            self.entries[name][sid] = _entry(record)

    def _job_hashes(self, sample: Any, dec: Any) -> dict[str, str]:
        """Each variant's job hash of one sample (parameters, checkpoint, the sample's
        inputs), recorded for the merge."""
        from zstvg.files.io import sha256_file, sha256_json

        sid = sample.sample_id
        if sample.video_id not in self.proposal_sha:
            self.proposal_sha[sample.video_id] = sha256_file(self.proposals.path(sample.video_id))
        inputs_job = {
            **self.base_job,
            "sample": sample.to_json(),
            "frames": self.store.samples.get(sid),
            "proposals_sha256": self.proposal_sha[sample.video_id],
            "decomposition": dec.to_json() if dec is not None else None,
        }
        jobs = {
            v.name: sha256_json({**inputs_job, "ground": variant_ground_params(self.params, v),
                                 "variant": v.to_json()})
            for v in self.variants
        }  # fmt: skip
        for name, job in jobs.items():
            self.jobs_of[name][sid] = job
        return jobs

    def _compute(
        self, sample: Any, dec: Any, todo: list[Any]
    ) -> dict[str, tuple[Any, dict[str, Any]]]:
        """{variant: (prediction, record)} of the variants ``todo``; a failure of the sample
        (no tracks, an unreadable frame, out of memory) fails each of them, the run goes on."""
        from zstvg.files.io import InputError
        from zstvg.files.records import Prediction, Status
        from zstvg.grounding.engine import GroundInput, texts_for

        sid = sample.sample_id
        ground_cfg = self.params.ground
        if self.engine is None:  # a model that does not load stops the job (InputError, exit 2)
            self.engine = _build_engine(self.params, self.model_cfg)
        try:
            props = self.proposals.read(sample.video_id)
            frame_idx, bins = mllm_frames(
                list(props.frame_idx), sample.clip_span, ground_cfg.n_frames
            )
            spatial, temporal, text_flags = texts_for(sample, dec, ground_cfg.subquery_template)
            frames_status = self.store.sample_status(sid)
            gin = GroundInput(
                sample=sample,
                frames=self.frames.get(sample.video_id, sample.video_path, frame_idx),
                mllm_frame_idx=tuple(frame_idx),
                mllm_bins=tuple(bins),
                fps=float(self.store.index(sample.video_id)["fps"]),
                tracks=props.tracks,
                spatial_text=spatial,
                temporal_text=temporal,
                flags=(*text_flags, *frames_status.flags),
            )
            results = self.engine.ground_many(gin, todo)
            for k in self.job_calls:
                self.job_calls[k] = round(self.job_calls[k] + self.engine.last_calls[k], 4)
        except Exception as exc:  # one sample's failure is data; the run goes on
            reason = str(exc) if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}"
            status = Status(STEP, reason)
            log.warning("%s: %s", sid, reason)
            failed_record = {"sample_id": sid, "status": "failed", "step": STEP,
                             "error": status.reason}  # fmt: skip
            results = {
                v.name: (Prediction(sid, None, error=status.reason), dict(failed_record))
                for v in todo
            }
        return results

    def provenance(self) -> dict[str, Any]:
        """The run's provenance fields (beside the manifests or the shard file)."""
        return dict(
            step=STEP,
            params={
                "ground": self.params.section("ground"),
                "mllm": self.base_job["mllm"],
                "seed": self.base_job["seed"],
            },  # fmt: skip
            preset=self.params.preset,
            model=self.model,
            backend=self.model_cfg.backend,
            checkpoint=self.model_cfg.checkpoint,
            checkpoint_fingerprint=self.checkpoint_fp,
            # processor kwargs (the backend's reference ones included), config, frame size, system
            model_settings=self.base_job["model_settings"],
            **self.inputs,
        )


def _write_record(
    path: Path, record: dict[str, Any], job: str, pred: Any, run: dict[str, Any]
) -> None:
    """A sample's record (and its spatial map, for visualize), written atomically, and its run
    record beside it (``run`` plus the engine's timings): the record last, as it marks the
    sample done."""
    from zstvg.files.io import atomic_open, write_json
    from zstvg.files.provenance import run_record_path

    maps = record.pop("_maps", None)
    if maps is not None:  # the spatial map (TAS-assembled) drawn by visualize
        with atomic_open(path.with_suffix(".spatial.npy"), "wb") as fh:
            np.save(fh, maps["spatial"])
    write_json(run_record_path(path), {**run, **record.pop("_run", {})})
    record.update(job_sha256=job, prediction=pred.to_json())
    write_json(path, record)


def _check_record_names(samples: list[Any]) -> None:
    """Refuse samples whose records would clash with another's run record (ids ``x`` and
    ``x.run``: ``records/x.run.json`` would be both)."""
    from zstvg.files.frames import video_dir_name
    from zstvg.files.io import InputError

    names = {video_dir_name(s.sample_id) for s in samples}
    clash = sorted(n for n in names if n.endswith(".run") and n[: -len(".run")] in names)
    if clash:
        raise InputError(f"sample ids {clash[:3]} name their records like the run records of "
                         f"{[n[: -len('.run')] for n in clash[:3]]}: rename them")  # fmt: skip


def record_files(records: Path) -> list[Path]:
    """The per-sample records in a ``records`` folder, sorted: not their run records."""
    return sorted(p for p in Path(records).glob("*.json") if not p.name.endswith(".run.json"))


def read_run_record(record: Path) -> dict[str, Any] | None:
    """The run record of a sample's record (its seconds, ``times_s``, ``tuning_s``, git
    revision), or None when there is none (written before run records existed) or it is of
    another job than the record's."""
    from zstvg.files.io import InputError, read_json
    from zstvg.files.provenance import run_record_path

    path = run_record_path(record)
    try:
        run, rec = read_json(path), read_json(record)
    except (InputError, OSError):
        return None
    if not isinstance(run, dict) or not isinstance(rec, dict):
        return None
    if run.get("job_sha256") != rec.get("job_sha256"):
        return None
    return run


def ground(
    *,
    params: Params,
    samples: str,
    frames: str,
    proposals: str,
    decompositions: str,
    model: str,
    out: str,
    variant: str | None = None,
    variants: str | None = None,
    predictions: str | None = None,
    predictions_dir: str | None = None,
    sample_ids: Sequence[str] = (),
    shard: str | None = None,
    merge: int | None = None,
    show_progress: bool = True,
) -> int:
    """The ground step: ``variant`` (its records in ``out``) or the comma-separated ``variants``
    (one sub-folder each) on the samples of ``samples`` (all, ``sample_ids``, or those of shard
    ``"I/N"``), or, with ``merge`` N, the predictions and manifests from what N shard jobs
    wrote; prints the summary and returns the exit code."""
    from zstvg.files.io import write_json
    from zstvg.files.provenance import write_provenance
    from zstvg.files.samples import read_samples, select_samples
    from zstvg.jobs.failures import print_failures
    from zstvg.jobs.progress import progress
    from zstvg.jobs.shards import samples_in_shard, shard_path
    from zstvg.mllm import model_config

    started = time.perf_counter()
    model_cfg = model_config(params, model)
    chosen = _parse_variants(variant, variants, predictions)
    _check_box_decoding(model, model_cfg, chosen)
    names = ", ".join(v.name for v in chosen)
    todo = select_samples(read_samples(samples), list(sample_ids), samples)
    _check_record_names(todo)
    selected = shards.selected(shard, merge)
    todo = samples_in_shard(todo, selected)
    out_dir = Path(out)
    single = variant is not None
    # one variant: --out is its folder; several: one sub-folder per variant
    folders = {v.name: out_dir if single else out_dir / v.name for v in chosen}
    for folder in folders.values():
        (folder / "records").mkdir(parents=True, exist_ok=True)
    if merge is not None:
        preds, entries, job_calls, provenance = _merge(out_dir, merge, todo, chosen, folders)
        _write_outputs(params, model_cfg, chosen, folders, preds, entries, job_calls, provenance,
                       model=model, single=single, predictions=predictions,
                       predictions_dir=predictions_dir)  # fmt: skip
        print(f"ground --merge {merge} ({names}; {model}): {len(todo)} samples "
              f"-> {out_dir}")  # fmt: skip
        return 0
    inputs = {"samples": samples, "frames": frames, "proposals": proposals,
              "decompositions": decompositions}  # fmt: skip
    g = _Grounder(params, model, model_cfg, chosen, folders, inputs)
    for sample in progress(todo, desc="ground", unit="sample", enabled=show_progress):
        g.ground(sample)
    provenance = g.provenance()
    all_failed = {f"{k} ({v.name})": e["error"] for v in chosen
                  for k, e in g.entries[v.name].items() if e["status"] != "ok"}  # fmt: skip
    if selected:  # the records are the output; the merge writes predictions and manifests
        shard_file = shard_path(out_dir, *selected)
        write_json(shard_file, {
            "step": STEP, "model": model, "shard": shard,
            "n_samples": len(todo),
            "variants": {v.name: g.entries[v.name] for v in chosen},
            "jobs": g.jobs_of,
        })  # fmt: skip
        # the LLM calls this run made depend on what it resumed: a run record, not the output
        write_provenance(shard_file, **provenance, volatile={"llm_calls": g.job_calls})
        print(f"ground shard {shard} ({names}; {model}):"
              f" {len(todo)} samples, {len(all_failed)} failed, {g.n_reused} already done, in "
              f"{time.perf_counter() - started:.1f} s -> {shard_file}")  # fmt: skip
        print_failures(all_failed, shard_file)
        return 0
    _write_outputs(params, model_cfg, chosen, folders, g.preds, g.entries, g.job_calls,
                   provenance, model=model, single=single, predictions=predictions,
                   predictions_dir=predictions_dir)  # fmt: skip
    print(
        f"ground ({names}; {model}: {model_cfg.backend}): "
        f"{len(todo)} samples, {len(all_failed)} failed, {g.n_reused} already done, "
        f"{g.job_calls['forwards']} LLM forwards + {g.job_calls['backwards']} backwards, in "
        f"{time.perf_counter() - started:.1f} s -> {out_dir}"
    )
    print_failures(all_failed, out_dir)
    return 0


def _merge(
    out: Path, n_shards: int, samples: list[Any], variants: list[Any], folders: dict[str, Path]
) -> tuple[
    dict[str, dict[str, str]],
    dict[str, dict[str, dict[str, Any]]],
    dict[str, float],
    dict[str, Any],
]:
    """Assemble what the ``n_shards`` shard jobs wrote, computing nothing: each shard manifest
    names, per variant and sample, the job hash its record must carry, so the merge needs
    neither the model nor its checkpoint (a 15 GB tree is never re-hashed) nor the proposals. A
    sample its shard never wrote, or whose record is not that job's, fails, named."""
    from zstvg.files.frames import video_dir_name
    from zstvg.files.io import read_json
    from zstvg.files.predictions import prediction_json
    from zstvg.files.provenance import provenance_path, run_record_path
    from zstvg.files.records import Prediction
    from zstvg.jobs.shards import shard_path

    job_calls: dict[str, float] = {"forwards": 0, "backwards": 0, "forward_equivalents": 0.0}
    written: dict[str, dict[str, tuple[dict[str, Any], str | None]]] = {
        v.name: {} for v in variants
    }
    provenance: dict[str, Any] = {}
    for i in range(n_shards):
        f = shard_path(out, i, n_shards)
        if not f.is_file():
            log.warning("%s: missing: its samples fail", f)
            continue
        shard = read_json(f)
        run_record = run_record_path(provenance_path(f))
        calls = read_json(run_record).get("llm_calls", {}) if run_record.is_file() else {}
        job_calls = {k: round(job_calls[k] + calls.get(k, 0), 4) for k in job_calls}
        for v in variants:
            jobs = shard.get("jobs", {}).get(v.name, {})
            for sid, entry in shard["variants"].get(v.name, {}).items():
                written[v.name][sid] = (entry, jobs.get(sid))
        if not provenance:
            provenance = read_json(provenance_path(f))
    # what the shard jobs recorded, less what write_provenance derives again
    for derived in ("output", "zstvg_version", "params_sha256"):
        provenance.pop(derived, None)
    preds: dict[str, dict[str, str]] = {v.name: {} for v in variants}
    entries: dict[str, dict[str, dict[str, Any]]] = {v.name: {} for v in variants}
    for v in variants:
        for sample in samples:
            sid = sample.sample_id
            entry, job = written[v.name].get(sid, (None, None))
            record = None
            if job is not None:
                path = folders[v.name] / "records" / f"{video_dir_name(sid)}.json"
                record = _finished(path, job, failed_too=True)
            if record is not None:
                preds[v.name][sid] = prediction_json(
                    Prediction.from_json(sid, record["prediction"])
                )
                entries[v.name][sid] = _entry(record)
            elif entry is not None and job is None:  # failed upstream: carried as it is
                preds[v.name][sid] = prediction_json(Prediction(sid, None, error=entry["error"]))
                entries[v.name][sid] = entry
            else:
                reason = f"{STEP}: no record of this job (its shard did not finish)"
                preds[v.name][sid] = prediction_json(Prediction(sid, None, error=reason))
                entries[v.name][sid] = {"status": "failed", "step": STEP, "error": reason}
    return preds, entries, job_calls, provenance


def _write_outputs(
    params: Params,
    model_cfg: Any,
    variants: list[Any],
    folders: dict[str, Path],
    preds: dict[str, dict[str, str]],
    entries: dict[str, dict[str, dict[str, Any]]],
    job_calls: dict[str, float],
    provenance: dict[str, Any],
    *,
    model: str,
    single: bool,
    predictions: str | None,
    predictions_dir: str | None,
) -> None:
    """Each variant's predictions file and manifest, with their provenance."""
    from zstvg.files.io import write_json
    from zstvg.files.predictions import write_prediction_lines
    from zstvg.files.provenance import write_provenance

    for v in variants:
        folder = folders[v.name]
        if predictions:
            path = Path(predictions)
        elif predictions_dir and not single:
            path = Path(predictions_dir) / f"{v.name}.json"
        else:
            path = folder / "predictions.json"
        write_prediction_lines(path, preds[v.name])
        failed = {k: e["error"] for k, e in entries[v.name].items() if e["status"] != "ok"}
        write_json(folder / MANIFEST, {
            "step": STEP, "model": model, "backend": model_cfg.backend,
            "variant": v.name, "preset": params.preset, "n_samples": len(entries[v.name]),
            "n_failed": len(failed),
            "job": {"variants": [x.name for x in variants]},
            "samples": entries[v.name],
        })  # fmt: skip
        prov = {k: val for k, val in provenance.items() if k != "variant"}
        # the LLM calls of the job(s) that grounded it, shared across its variants: reused
        # samples count 0, so a resumed job's differ from an uninterrupted one's (a run record)
        write_provenance(folder / MANIFEST, **prov, variant=v.name,
                         volatile={"llm_calls": job_calls})  # fmt: skip
        write_provenance(path, **prov, variant=v.name)


def _check_box_decoding(model: str, model_cfg: Any, variants: list[Any]) -> None:
    """The direct baseline's variants need a box-decoding backend: the whole job's error."""
    from zstvg.config.variants import DIRECT_BACKENDS, DirectVariant
    from zstvg.files.io import InputError

    direct = [v.name for v in variants if isinstance(v, DirectVariant)]
    if direct and model_cfg.backend not in DIRECT_BACKENDS:
        raise InputError(
            f"--model {model!r}: its backend {model_cfg.backend!r} decodes no boxes, which "
            f"{', '.join(direct)} ask for (backends that do: {', '.join(DIRECT_BACKENDS)})"
        )


def _build_engine(params: Params, model_cfg: Any) -> Any:
    import torch

    from zstvg.grounding.direct import DEFAULT_MAX_NEW_TOKENS
    from zstvg.grounding.engine import GroundingEngine
    from zstvg.mllm import load_model

    torch.manual_seed(params.seed)
    cap = model_cfg.max_new_tokens or DEFAULT_MAX_NEW_TOKENS
    return GroundingEngine(load_model(params, model_cfg), params.ground, max_new_tokens=cap)


def _finished(path: Path, job: str, failed_too: bool = False) -> dict[str, Any] | None:
    """A sample's record of this job, done when its spatial map (what visualize draws) is
    there too."""
    from zstvg.files.io import read_finished

    return read_finished(
        path, job, failed_too=failed_too,
        # the direct baseline draws no map
        complete=lambda r: r.get("status") == "ok" and (
            path.with_suffix(".spatial.npy").is_file() or r["variant"].get("method") == "direct"
        ),
    )  # fmt: skip


def _entry(record: dict[str, Any]) -> dict[str, Any]:
    if record.get("status") == "ok":
        return {"status": "ok", "track_id": record.get("chosen_track"), "span": record.get("span")}
    return {"status": "failed", "step": record.get("step", STEP), "error": record.get("error")}
