"""``zstvg ground-video VIDEO "QUERY"``: the whole method on one video file, in one process
(frames, decomposition, proposal tracks, grounding; the prediction, an MP4 and a GIF under
``--out``). The options below become one call of :func:`zstvg.grounding.video.ground_video`;
``--tiny`` runs it offline on tiny random-weight checkpoints, for trying the command only.
"""

from __future__ import annotations

import argparse

from zstvg.config.params import Params
from zstvg.grounding.video import ground_video


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from zstvg.config.variants import VARIANTS

    parser.add_argument("video", help="a video file (any format FFmpeg reads)")
    parser.add_argument("query", help='the sentence, e.g. "the man in red walks to the door"')
    parser.add_argument("--model", default="tiny-qwen2-vl", help="a key of `models` in params")
    parser.add_argument("--variant", default="full", choices=list(VARIANTS))
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument(
        "--tiny", action="store_true",
        help="use tiny random-weight checkpoints (built offline on first use): for trying "
        "the command, not for results",
    )  # fmt: skip
    parser.add_argument(
        "--tiny-dir", default="results/checkpoints", metavar="DIR",
        help="where --tiny keeps its checkpoints (default: results/checkpoints)",
    )  # fmt: skip


def run(args: argparse.Namespace, params: Params) -> int:
    return ground_video(
        params=params,
        video=args.video,
        query=args.query,
        out=args.out,
        model=args.model,
        variant=args.variant,
        tiny=args.tiny,
        tiny_dir=args.tiny_dir,
        overrides=args.overrides,
    )
