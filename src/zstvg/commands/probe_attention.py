"""``zstvg probe-attention``: where a frozen MLLM looks when it reads each sample's query (the
attention of its candidate grounding tokens over the frames, and the Yes/No logits). The options
below become one call of :func:`zstvg.mllm.probe.probe_attention`, which plans the samples (all,
``--sample-id``, or one ``--shard``), resumes finished ones, loads the model on the first sample
to compute, writes each sample's maps and the manifest and prints the summary.
"""

from __future__ import annotations

import argparse

from zstvg.config.params import Params
from zstvg.jobs import shards
from zstvg.mllm.probe import probe_attention


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from zstvg.files.samples import add_sample_id_argument

    parser.add_argument(
        "--samples", required=True, metavar="PATH", help="samples.jsonl from prepare-data"
    )
    parser.add_argument(
        "--frames",
        required=True,
        metavar="PATH",
        help="manifest.json of sample-frames (the MLLM frames are read from it)",
    )
    parser.add_argument(
        "--model",
        required=True,
        metavar="NAME",
        help="a key of `models` in params (backend + checkpoint)",
    )
    parser.add_argument(
        "--prompt",
        default="{query}",
        help="user prompt; {query} is replaced by the sample's query (default: %(default)s)",
    )
    add_sample_id_argument(parser)
    parser.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="output folder: <name>.npz, <name>.attn.npy and <name>.json per sample + "
        "manifest.json; a rerun reuses every sample whose record has this job's hash",
    )
    shards.add_arguments(parser, "their samples' files", merges="the manifest")


def run(args: argparse.Namespace, params: Params) -> int:
    return probe_attention(
        params=params,
        samples=args.samples,
        frames=args.frames,
        model=args.model,
        out=args.out,
        prompt_template=args.prompt,
        sample_ids=args.sample_ids,
        shard=args.shard,
        merge=args.merge,
        show_progress=not args.no_progress,
    )
