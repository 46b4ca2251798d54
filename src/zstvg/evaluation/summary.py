"""The sections of a run's SUMMARY.md (``zstvg summarize``): what each step wrote, its counts
and its failures; :func:`write_summary` assembles and writes the page."""

from __future__ import annotations

import collections
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CHANCE_NOTE = (
    "> Models in this run are tiny random-weight checkpoints built offline: every MLLM and "
    "detector number below is chance-level and says nothing about the method. The `oracle` "
    "rows are the proposals' upper bound, `largest`/`random` the floors; `attention-oracle` "
    "rows plant the attention on the GT boxes: they check the chain from maps to tracks, spans "
    "and metrics, not the method."
)


def _failed_videos(videos: dict[str, Any]) -> dict[str, str]:
    return {
        k: v.get("error", v.get("status")) for k, v in videos.items() if v.get("status") != "ok"
    }


def _failures(label: str, items: dict[str, str], limit: int = 10) -> list[str]:
    """``- <label>: N`` and the first ``limit`` ids with their reasons; nothing when none."""
    if not items:
        return []
    lines = [f"- {label}: {len(items)}"]
    lines += [f"  - `{k}`: {v}" for k, v in sorted(items.items())[:limit]]
    if len(items) > limit:
        lines.append(f"  - ... and {len(items) - limit} more")
    return lines


def summarize_samples(path: str) -> list[str]:
    from zstvg.files.samples import read_sample_rows

    rows = read_sample_rows(path)
    qtypes = collections.Counter(r["qtype"] for r in rows)
    failed = {r["sample_id"]: r["error"] for r in rows if r.get("error")}
    by_type = ", ".join(f"{n} {q}" for q, n in sorted(qtypes.items()))
    n_videos = len({r["video_id"] for r in rows})
    lines = [f"- samples: **{len(rows)}** ({by_type}) from {n_videos} videos: `{path}`"]
    lines += _failures("samples failed at preparation", failed)
    return lines


def summarize_frames(path: str) -> list[str]:
    from zstvg.files.frames import FrameStore

    store = FrameStore(path)
    videos = store.videos
    failed = _failed_videos(videos)
    stored = sum(v.get("n_frames_stored", 0) for v in videos.values())
    lines = [
        f"- frames: {len(videos) - len(failed)} of {len(videos)} videos decoded, "
        f"{stored} frames stored: `{Path(path).parent}`"
    ]
    lines += _failures("videos failed", failed)
    statuses = {k: store.sample_status(k) for k in store.samples}
    failed_samples = {k: st.reason for k, st in statuses.items() if not st.ok}
    lines += _failures("samples failed before the MLLM", failed_samples)
    return lines


def summarize_scores(path: str) -> list[str]:
    """The samples a per-sample CSV scores as failed or missing, with their reasons."""
    import pandas as pd

    df = pd.read_csv(path, keep_default_na=False)
    bad = df[df["status"] != "ok"]
    reasons = dict(zip(bad["sample_id"].astype(str), bad["reason"].astype(str), strict=True))
    lines = [f"- scored: {len(df)} samples, {len(bad)} scored 0 as failed or missing: `{path}`"]
    return lines + _failures("samples scored 0", reasons)


def summarize_decompositions(path: str) -> list[str]:
    from zstvg.files.io import read_jsonl

    rows = read_jsonl(path, what="decompositions file")
    sources = collections.Counter(r.get("source", "?") for r in rows)
    lines = [
        f"- decompositions: {len(rows)} "
        f"({', '.join(f'{n} {s}' for s, n in sorted(sources.items()))}): `{path}`"
    ]
    if rows:
        r = rows[0]
        lines.append(
            f"  - e.g. `{r['query']}` -> class `{r.get('target_class')}`, "
            f"attribute `{r.get('attribute')}`, action `{r.get('action')}`"
        )
    return lines


def summarize_proposals(path: str) -> list[str]:
    from zstvg.files.io import read_json
    from zstvg.files.proposals import ProposalStore

    store = ProposalStore(path)
    m: dict[str, Any] = read_json(store.manifest_path, what="proposals manifest")
    videos = store.videos
    failed = {
        k: store.video_status(k).reason for k, v in videos.items() if v.get("status") == "failed"
    }
    n_tracks = sum(int(v.get("n_tracks", 0)) for v in videos.values())
    source = m.get("tracker") or m.get("source") or Path(path).parent.name
    lines = [
        f"- proposals ({source}): {len(videos)} videos, {n_tracks} tracks: `{Path(path).parent}`"
    ]
    lines += _failures("proposal videos failed", failed)
    return lines


def summarize_attention(path: str) -> list[str]:
    from zstvg.files.io import read_json

    m: dict[str, Any] = read_json(path, what="attention manifest")
    entries = m.get("samples", {})
    ok = [e for e in entries.values() if e.get("status") == "ok"]
    tokens = collections.Counter(e.get("gti_token_text", "?") for e in ok)
    chosen = ", ".join(f"{t!r} x{n}" for t, n in tokens.most_common())
    lines = [
        f"- attention ({m.get('model')}: {m.get('backend')}): {len(ok)} of {len(entries)} "
        f"samples probed, grounding token chosen: {chosen}: `{Path(path).parent}`"
    ]
    failed = {k: e.get("error", "?") for k, e in entries.items() if e.get("status") != "ok"}
    lines += _failures("attention probes failed", failed)
    return lines


def write_summary(
    *,
    out: str,
    title: str = "zstvg run summary",
    html: str | None = None,
    samples: str | None = None,
    frames: str | None = None,
    decompositions: str | None = None,
    proposals: Sequence[str] = (),
    attention: Sequence[str] = (),
    tables: Sequence[str] = (),
    figures: Sequence[str] = (),
    per_sample: Sequence[str] = (),
    chance_note: bool = False,
) -> int:
    """The summarize step: one section per given output (``tables``: Markdown tables embedded,
    ``figures``: listed), ``CHANCE_NOTE`` on top with ``chance_note``, written to ``out`` (and,
    with ``html``, as an HTML fragment there); prints the paths and returns the exit code."""
    from zstvg.files.io import atomic_open

    lines = [f"# {title}", ""]
    if chance_note:
        lines += [CHANCE_NOTE, ""]
    lines += ["## Outputs", ""]
    if samples:
        lines += summarize_samples(samples)
    if frames:
        lines += summarize_frames(frames)
    if decompositions:
        lines += summarize_decompositions(decompositions)
    for manifest in proposals:
        lines += summarize_proposals(manifest)
    for manifest in attention:
        lines += summarize_attention(manifest)
    for csv in per_sample:
        lines += summarize_scores(csv)
    for table in tables:
        lines += ["", f"## {Path(table).stem} (`{table}`)", "", Path(table).read_text().strip()]
    if figures:
        lines += ["", "## Figures", ""] + [f"- `{f}`" for f in figures]
    text = "\n".join(lines) + "\n"
    with atomic_open(out, "w", encoding="utf-8") as fh:
        fh.write(text)
    if html:
        from zstvg.evaluation.report_html import html_fragment

        with atomic_open(html, "w", encoding="utf-8") as fh:
            fh.write(html_fragment(text))
    print(f"summary: {out}" + (f", {html}" if html else ""))
    return 0
