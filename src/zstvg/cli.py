"""The ``zstvg`` command: one subcommand per pipeline step (docs/workflow.md#steps-and-commands).

Each subcommand lives in its own module exposing ``add_arguments(parser)`` and
``run(args, params) -> int``; modules are imported only when their command runs (or shows its
``--help``), so ``zstvg --help`` stays fast and never imports torch. This is the only place that
configures logging.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from zstvg import __version__

# name -> one-line help, in pipeline order. The command `zstvg a-b` lives in
# zstvg/commands/a_b.py (argparse options and one call into the step's library).
COMMANDS: dict[str, str] = {
    "fingerprint-inputs": (
        "size and SHA-256 of the raw data and weights `run` selects (DVC's first stage)"
    ),
    "make-synthetic": (
        "write the built-in synthetic benchmark (videos, HC-STVG v2 annotations, proposals)"
    ),
    "prepare-data": "read HC-STVG v1/v2 or VidSTG annotations into the internal samples.jsonl",
    "sample-frames": (
        "decode each video once and store the MLLM frames and the proposal/evaluation grid"
    ),
    "make-tiny-checkpoint": (
        "write a tiny random-weight checkpoint of a model family (real architecture, offline)"
    ),
    "import-decompositions": (
        "load the authors' released query decompositions (JSON) into the decomposition cache"
    ),
    "decompose": "split each query into target class, attribute and action with an LLM (cached)",
    "propose": "detect the target class and track it into candidate object tubes (authors' format)",
    "import-proposals": (
        "validate the authors' released per-video proposal files and copy them, normalised"
    ),
    "probe-attention": (
        "run a frozen MLLM on each sample: attention of its grounding tokens + Yes/No logits"
    ),
    "split-samples": (
        "a held-out split of a dataset's samples (by video) and the rest, as two samples files"
    ),
    "probe-layers": (
        "which layers and heads ground: per (layer, head), layer and layer range, pointing, "
        "attention mass in the GT box and the method's track choice"
    ),
    "choose-layers": (
        "the layer range (and heads) probe-layers found best: a report, figures and a params "
        "overlay"
    ),
    "layer-table": (
        "Table 2-style rows: the method at the default layer range and at choose-layers' range"
    ),
    "ground": (
        "the method: pick a track and a span per sample with a frozen MLLM (one or more variants)"
    ),
    "ground-video": (
        "the whole method on one video file: frames, decomposition, tracks, grounding, MP4/GIF"
    ),
    "predict-reference": (
        "proposal-only reference predictions: oracle track (upper bound), largest, random"
    ),
    "evaluate": (
        "score predictions (m_vIoU, vIoU@R, m_tIoU) under the tubedetr, official or seed protocol"
    ),
    "export-predictions": (
        "write predictions in a released evaluator's input format (HC-STVG challenge, TubeDETR)"
    ),
    "tables": "build the paper's tables (Markdown, LaTeX, CSV) from metrics files, paper vs ours",
    "metric-rows": "one metrics file per table cell, a row each in `dvc metrics show`",
    "plot": "draw the figures: vIoU histogram, tIoU vs vIoU, ablation bars, parameter sweeps",
    "visualize": (
        "draw one sample's frames with GT, prediction, proposals and attention (PNG sheet, GIF)"
    ),
    "summarize": "write a Markdown page of what a run produced: counts, failures, tables, figures",
    "devices": (
        "show the device a step would run on here (visible GPUs, claimed slot, torch's choice)"
    ),
}

log = logging.getLogger("zstvg")

# What torch's and the BLAS libraries' thread pools read when they load (`--threads`).
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def command_module(name: str) -> str:
    """The module of subcommand ``name``: ``ground-video`` -> ``zstvg.commands.ground_video``."""
    return f"zstvg.commands.{name.replace('-', '_')}"


class _RedactSecrets(logging.Filter):
    """Last line of defence: never let the API key reach a log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        key = os.environ.get("OPENAI_API_KEY")
        if key and len(key) >= 8:
            msg = record.getMessage()
            if key in msg:
                record.msg = msg.replace(key, "***")
                record.args = None
        return True


def configure_logging(verbosity: int, log_file: str | None = None) -> None:
    level = logging.WARNING if verbosity < 0 else logging.DEBUG if verbosity > 0 else logging.INFO
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        os.makedirs(os.path.dirname(os.path.abspath(log_file)), exist_ok=True)
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
    root = logging.getLogger()
    root.handlers.clear()
    for h in handlers:
        h.setFormatter(fmt)
        h.addFilter(_RedactSecrets())
        root.addHandler(h)
    root.setLevel(level)
    # Third-party chatter (httpx request lines, PIL plugin probing) only at -vv.
    # openai's HTTP stack logs as httpx/httpcore, or httpx2/httpcore2 where that fork is what
    # is installed (it is in this lock): one INFO line per API request otherwise.
    for noisy in ("httpx", "httpcore", "httpx2", "httpcore2", "PIL", "matplotlib", "urllib3",
                  "openai"):  # fmt: skip
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbosity > 1 else logging.WARNING)


def default_threads() -> int:
    """OMP_NUM_THREADS where it is set to a count (Snakemake sets it to a job's threads), else
    the cores this process may run on."""
    try:
        n = int(os.environ.get("OMP_NUM_THREADS", "").split(",")[0])
    except ValueError:
        n = 0
    if n > 0:
        return n
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _thread_count(text: str) -> int:
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def _threads_given(argv: Sequence[str]) -> int | None:
    """The last `--threads N` of a command line, read before the parser imports the step's
    module (and numpy with it); None where absent or not a count (the parser reports it)."""
    value = None
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--threads" and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith("--threads="):
            value = arg.partition("=")[2]
    try:
        return _thread_count(value) if value is not None else None
    except (ValueError, argparse.ArgumentTypeError):
        return None


def set_threads(n: int) -> None:
    """Use ``n`` threads in this process and the ones it starts: OpenMP and MKL (torch's
    intra-op pool, numpy's BLAS) read THREAD_VARS when they load; a torch already loaded is
    told directly."""
    for var in THREAD_VARS:
        os.environ[var] = str(n)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n)


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("common options")
    g.add_argument(
        "--params",
        default=None,
        metavar="PATH",
        help="parameters file, validated against the schema (default: ./params.yaml, "
        "else the packaged defaults)",
    )
    g.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="overrides",
        help="override one parameter, e.g. --set frames.n_mllm_frames=8 (repeatable)",
    )
    g.add_argument(
        "--preset",
        default=None,
        metavar="NAME",
        help="merge a packaged params overlay before --set (authors: the released code's "
        "settings: squashed frames, 6x6 tokens, fp16, system turn, N 2, lowercase yes/no)",
    )
    g.add_argument(
        "--configfile",
        action="append",
        default=[],
        metavar="PATH",
        help="merge a params overlay (a YAML mapping, as Snakemake's --configfile: nested "
        "mappings key by key) over --params and --preset, before --set (repeatable; e.g. the "
        "overlay.yaml of choose-layers)",
    )
    g.add_argument(
        "--claim-gpu", default=None, metavar="DIR",
        help="take a free GPU from the slot pool in DIR (one lock file per GPU) for this "
        "command's lifetime; kept as is where CUDA_VISIBLE_DEVICES is set (SLURM)",
    )  # fmt: skip
    g.add_argument(
        "--threads", type=_thread_count, default=default_threads(), metavar="N",
        help="threads of torch and the BLAS libraries here and in the processes this command "
        "starts (sets OMP_NUM_THREADS and MKL_NUM_THREADS; default: OMP_NUM_THREADS where set, "
        "as in a Snakemake job, else the cores this process may use: %(default)s)",
    )  # fmt: skip
    g.add_argument(
        "-v", "--verbose", action="count", default=0,
        help="DEBUG logging; the HTTP, image and plotting libraries stay at WARNING unless -vv",
    )  # fmt: skip
    g.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    g.add_argument(
        "--no-progress", action="store_true",
        help="no progress bar (default: one per long step when stderr is a terminal, none in logs)",
    )  # fmt: skip
    g.add_argument("--log-file", metavar="PATH", help="also write the log to this file")
    return common


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zstvg",
        description="Zero-shot spatio-temporal video grounding with multimodal LLMs. "
        "Each subcommand is one pipeline step; the Snakemake workflow chains them.",
    )
    parser.add_argument("--version", action="version", version=f"zstvg {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="STEP", required=True)
    common = _common()
    wanted = next((a for a in argv if not a.startswith("-")), None)
    for name, help_text in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text, parents=[common])
        if name == wanted:
            module = importlib.import_module(command_module(name))
            module.add_arguments(p)
            p.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Before the parser imports the step's module: numpy's BLAS sizes its pool when it loads.
    set_threads(_threads_given(argv) or default_threads())
    args = build_parser(argv).parse_args(argv)
    set_threads(args.threads)
    from zstvg.files.io import WRITE_ERRNOS, InputError

    try:
        configure_logging(-1 if args.quiet else args.verbose, args.log_file)
    except OSError as exc:
        if exc.errno not in WRITE_ERRNOS:
            raise
        # no log to write to yet: the one line goes to stderr
        print(f"zstvg: --log-file {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 1
    from zstvg.config.params import load_params
    from zstvg.files.provenance import note_params_file
    from zstvg.jobs.progress import stderr_is_terminal

    if args.no_progress or not stderr_is_terminal():
        # The libraries' own bars too (transformers' "Loading weights", hub downloads): they read
        # this when transformers is first imported, which the steps do lazily, after this line.
        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    if args.claim_gpu:  # before anything starts CUDA
        from zstvg.jobs.gpus import claim_gpu

        claim_gpu(args.claim_gpu)
    try:
        params = load_params(
            args.params, args.overrides, preset=args.preset, overlays=args.configfile
        )
        note_params_file(params.source)
        return int(args._module.run(args, params) or 0)
    except InputError as exc:
        log.error("%s", exc)
        return 2
    except OSError as exc:
        # A full, read-only or forbidden output (atomic_open names the file of a failed write;
        # nothing half-written is left): one line, not a traceback. Other OSErrors are bugs.
        if exc.errno not in (*WRITE_ERRNOS, errno.EIO):
            raise
        log.error("%s: %s", exc.filename or "(no file named)", exc.strerror or exc)
        return 1
    except KeyboardInterrupt:
        log.error("interrupted; finished outputs are kept, rerun to resume")
        return 130


if __name__ == "__main__":
    sys.exit(main())
