"""The ``import-proposals`` step: validate the authors' released proposal files and copy them.

Each ``*.json`` of ``--src`` is read with ``zstvg.files.proposal_tracks`` (schema, frame
order, box format) and rewritten under ``--out`` in the same format, normalised (xyxy, nested
boxes, empty RLE on absent frames), so released and our own proposals look alike downstream.
A file that does not validate is recorded as rejected with the reason (file and field) in
``<out>/manifest.json``; the others are still imported.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from zstvg.files import proposal_tracks as official_format
from zstvg.files.io import InputError, fingerprint, read_json, write_json
from zstvg.files.provenance import is_sidecar, write_provenance
from zstvg.jobs.failures import print_failures

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
STEP = "import-proposals"


def _previous_entries(out: Path) -> dict[str, dict[str, Any]]:
    """The manifest entries of an earlier import into ``out`` (empty when there is none)."""
    try:
        manifest = read_json(out / MANIFEST, what="proposals manifest")
    except InputError:
        return {}
    videos = manifest.get("videos") if isinstance(manifest, dict) else None
    return videos if isinstance(videos, dict) else {}


def import_proposals(src: Path, out: Path) -> int:
    """Validate every proposal file of ``src`` and write its normalised copy, the manifest and
    the provenance to ``out`` (files unchanged since the last import into ``out`` are not read
    again); prints the summary and returns the exit code."""
    if not src.is_dir():
        raise InputError(f"--src: proposal folder not found: {src}")
    files = sorted(p for p in src.glob("*.json") if not is_sidecar(p) and p.name != MANIFEST)
    out.mkdir(parents=True, exist_ok=True)
    previous = _previous_entries(out)
    entries: dict[str, dict[str, Any]] = {}
    n_reused = 0
    for path in files:
        before = previous.get(path.stem, {})
        fp = fingerprint(path)
        # An unchanged source file (same content hash) whose output is still there is not
        # read again: 10,000 released files re-validated on every rerun cost minutes.
        if before.get("src_fingerprint", {}).get("sha256") == fp["sha256"] and (
            before.get("status") == "failed" or (out / path.name).is_file()
        ):
            entries[path.stem] = {**before, "src_fingerprint": fp}
            n_reused += 1
            continue
        try:
            props = official_format.read(path)
            official_format.check_in_frame(props, path)
            official_format.check_masks(props, path)
        except InputError as exc:
            entries[path.stem] = {
                "file": path.name,
                "status": "failed",
                "step": STEP,
                "error": str(exc),
                "src_fingerprint": fp,
            }
            log.warning("%s", exc)
            continue
        official_format.write(
            out / path.name, props.frame_idx, props.tracks, props.width or 1, props.height or 1
        )
        entries[path.stem] = {
            "file": path.name,
            "status": "ok" if props.tracks else "empty",
            "n_tracks": len(props.tracks),
            "src_fingerprint": fp,
        }
    failed = {k: e for k, e in entries.items() if e["status"] == "failed"}
    write_json(
        out / MANIFEST,
        {"step": STEP, "n_videos": len(entries), "n_failed": len(failed), "videos": entries},
    )
    write_provenance(out, step=STEP, src=str(src))
    print(
        f"import-proposals: {len(entries)} files from {src} ({len(entries) - len(failed)} "
        f"valid, {len(failed)} rejected, {n_reused} unchanged since the last import); wrote "
        f"them and {MANIFEST} to {out}"
    )
    print_failures({name: e["error"] for name, e in failed.items()}, out / MANIFEST, "rejected")
    return 0
