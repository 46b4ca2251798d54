"""``zstvg import-proposals``: validate the authors' released proposal files and copy them.

Each ``*.json`` of ``--src`` is read with ``zstvg.proposals.official_format`` (schema, frame
order, box format) and rewritten under ``--out`` in the same format, normalised (xyxy, nested
boxes, empty RLE on absent frames), so released and our own proposals look alike downstream.
A file that does not validate is recorded as rejected with the reason (file and field) in
``<out>/manifest.json``; the others are still imported.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from zstvg.config import Params
from zstvg.io import InputError, write_json, write_provenance

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
MAX_LISTED_FAILURES = 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--src",
        required=True,
        metavar="DIR",
        help="folder of the authors' per-video proposal JSON files",
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="output folder: validated, normalised copies + manifest.json",
    )


def run(args: argparse.Namespace, params: Params) -> int:
    from zstvg.proposals import official_format

    src, out = Path(args.src), Path(args.out)
    if not src.is_dir():
        raise InputError(f"--src: proposal folder not found: {src}")
    files = sorted(
        p
        for p in src.glob("*.json")
        if not p.name.endswith(".provenance.json") and p.name != MANIFEST
    )
    out.mkdir(parents=True, exist_ok=True)
    entries: dict[str, dict[str, Any]] = {}
    for path in files:
        try:
            props = official_format.read(path)
        except InputError as exc:
            entries[path.stem] = {"file": path.name, "status": "failed", "error": str(exc)}
            log.warning("%s", exc)
            continue
        official_format.write(
            out / path.name, props.frame_idx, props.tracks, props.width or 1, props.height or 1
        )
        entries[path.stem] = {
            "file": path.name,
            "status": "ok" if props.tracks else "empty",
            "n_tracks": len(props.tracks),
        }
    failed = {k: e for k, e in entries.items() if e["status"] == "failed"}
    write_json(
        out / MANIFEST, {"n_videos": len(entries), "n_failed": len(failed), "videos": entries}
    )
    write_provenance(out, step="import-proposals", src=str(src))
    print(
        f"import-proposals: {len(entries)} files from {src} ({len(entries) - len(failed)} "
        f"valid, {len(failed)} rejected); wrote them and {MANIFEST} to {out}"
    )
    for name, e in list(failed.items())[:MAX_LISTED_FAILURES]:
        print(f"  rejected {name}: {e['error']}")
    return 0
