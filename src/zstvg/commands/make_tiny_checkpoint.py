"""``zstvg make-tiny-checkpoint``: write a tiny random-weight checkpoint of one family.

The options (``--text-config KEY=VALUE`` read as JSON values) become one call of
:func:`zstvg.tiny.write_tiny_checkpoint`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from zstvg.config.params import Params
from zstvg.files.io import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from zstvg.tiny import FAMILIES

    parser.add_argument(
        "--family", required=True, choices=FAMILIES.names(), help="architecture family to build"
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="output directory (created; loadable with from_pretrained(DIR))",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="weight seed (default: the params file's seed)"
    )
    parser.add_argument(
        "--text-config", action="append", default=[], metavar="KEY=VALUE",
        help="LLM config field (JSON value), repeatable, qwen2-vl only: e.g. "
        "num_hidden_layers=28, or a 7B width: hidden_size=3584 intermediate_size=18944 "
        "num_attention_heads=28 num_key_value_heads=4",
    )  # fmt: skip
    parser.add_argument(
        "--dtype", default="float32", choices=("float32", "bfloat16"), help="stored weight type"
    )


def run(args: argparse.Namespace, params: Params) -> int:
    from zstvg.tiny import write_tiny_checkpoint

    return write_tiny_checkpoint(
        args.family,
        Path(args.out),
        seed=params.seed if args.seed is None else args.seed,
        text=_fields(args.text_config),
        dtype=args.dtype,
    )


def _fields(items: list[str]) -> dict[str, Any]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--text-config {item!r}: expected KEY=VALUE")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError as exc:
            raise InputError(f"--text-config {item!r}: the value is not JSON ({exc})") from exc
    return out
