"""The ``prepare-data`` step: read dataset annotations into the internal ``samples.jsonl``.

One line per query, ``Sample.to_json()`` (docs/workflow.md#files-passed-between-steps): 0-based
native frame indices, half-open ``gt_span``/``clip_span``, absolute ``xyxy`` boxes. Samples that
cannot be evaluated as given (inverted span, missing video file, missing VidOR box file, a video
listed as damaged) are kept with ``error`` set and listed in the summary; the command still exits 0.
Whole-file problems exit 2 with the file named.
"""

from __future__ import annotations

from pathlib import Path

from zstvg.data import load_samples, summarize
from zstvg.data.common import mark_damaged
from zstvg.files.io import fingerprint
from zstvg.files.provenance import write_provenance
from zstvg.files.samples import write_samples
from zstvg.jobs.failures import print_failures


def prepare_data(
    dataset: str,
    annotations: Path,
    *,
    videos: Path | None,
    boxes: Path | None,
    damaged_videos: list[str],
    out: Path,
) -> int:
    """Read ``annotations`` in the ``dataset`` format (checking each video under ``videos``,
    VidSTG boxes from ``boxes``, the samples of ``damaged_videos`` failed), write ``out`` and
    its provenance sidecar; prints the summary and returns the exit code."""
    samples = load_samples(dataset, annotations, videos=videos, boxes=boxes)
    samples = mark_damaged(samples, damaged_videos)
    write_samples(out, samples)
    summary = summarize(samples)
    write_provenance(
        out,
        step="prepare-data",
        dataset_format=dataset,
        annotations=str(annotations),
        annotations_fingerprint=fingerprint(annotations),
        videos=None if videos is None else str(videos),
        boxes=None if boxes is None else str(boxes),
        damaged_videos=sorted(set(damaged_videos)),
        counts=summary,
    )

    qtypes = ", ".join(f"{n} {q}" for q, n in summary["by_qtype"].items())
    print(
        f"prepare-data: {summary['n_samples']} samples ({qtypes}) from "
        f"{summary['n_videos']} videos in {annotations}"
    )
    print(f"  with GT boxes: {summary['n_with_gt_boxes']}")
    for flag, n in summary["flags"].items():
        print(f"  flag {flag}: {n} samples")
    failed = [s for s in samples if s.error]
    print(f"  failed: {len(failed)} samples (kept with 'error'; they score 0)")
    print_failures({s.sample_id: s.error or "" for s in failed}, out)
    print(f"  wrote {out} and {out.name}.provenance.json")
    return 0
