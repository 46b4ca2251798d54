"""``zstvg prepare-data``: read dataset annotations into the internal ``samples.jsonl``.

One line per query, ``Sample.to_json()`` (DESIGN §4): 0-based native frame indices, half-open
``gt_span``/``clip_span``, absolute ``xyxy`` boxes. Samples that cannot be evaluated as given
(inverted span, missing video file, missing VidOR box file, a video listed as damaged) are kept
with ``error`` set and listed in the summary; the command still exits 0. Whole-file problems
exit 2 with the file named.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from zstvg.config.params import Params
from zstvg.jobs.failures import print_failures

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from zstvg.data import DATASET_FORMATS

    parser.add_argument(
        "--dataset",
        required=True,
        choices=DATASET_FORMATS.names(),
        help="annotation format: hcstvg-v1/hcstvg-v2 ({train,test}.json / {train,val}_v2.json), "
        "vidstg (raw {split}_annotations.json + VidOR box files), vidstg-tubedetr (TubeDETR's "
        "preprocessed {split}.json), synthetic (make-synthetic output, HC-STVG v2 format)",
    )
    parser.add_argument(
        "--annotations", required=True, metavar="PATH", help="the dataset's annotation JSON file"
    )
    parser.add_argument(
        "--videos",
        metavar="DIR",
        default=None,
        help="video folder (VidSTG: VidOR's video/ folder); when given, every sample's video "
        "must exist there (also found in sub-folders by file name), else that sample is marked "
        "failed; when omitted, video paths stay as the annotations name them, unchecked",
    )
    parser.add_argument(
        "--boxes",
        metavar="DIR",
        default=None,
        help="vidstg only: VidOR annotation folder with <vid>.json box files (any depth, e.g. "
        "validation/0001/<vid>.json); without it samples carry spans only (flag no_gt_boxes)",
    )
    parser.add_argument(
        "--damaged-video",
        action="append",
        default=[],
        metavar="ID",
        help="a video known to be damaged (video id, file name or file name without extension; "
        "repeatable): its samples are kept as failed and score 0 (datasets.<name>.damaged_videos)",
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="PATH",
        help="output samples.jsonl (written atomically, with <out>.provenance.json beside it)",
    )


def run(args: argparse.Namespace, params: Params) -> int:
    from zstvg.data import load_samples, summarize
    from zstvg.data.common import mark_damaged
    from zstvg.files.io import fingerprint, write_provenance
    from zstvg.files.samples import write_samples

    annotations = Path(args.annotations)
    samples = load_samples(args.dataset, annotations, videos=args.videos, boxes=args.boxes)
    samples = mark_damaged(samples, args.damaged_video)
    out = Path(args.out)
    write_samples(out, samples)
    summary = summarize(samples)
    write_provenance(
        out,
        step="prepare-data",
        dataset_format=args.dataset,
        annotations=str(annotations),
        annotations_fingerprint=fingerprint(annotations),
        videos=args.videos,
        boxes=args.boxes,
        damaged_videos=sorted(set(args.damaged_video)),
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
