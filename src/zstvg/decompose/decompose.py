"""Decompose every sample's query: cache, then the API (unless offline), then the fallback.

Order for one query: (1) the cache entry for exactly (model, prompt hash, query), source
``cache``; (2) an imported official entry, source ``official``; (3) offline: the rule-based
fallback (flags ``fallback``, ``offline``); online: the API (source ``api``, stored in the cache
at once, so an interrupted run resumes), and for a query whose request failed, the fallback
(flags ``fallback`` plus ``refusal`` / ``unparsable`` / ``api_error``).

Samples that already carry an ``error`` (e.g. an unreadable video) are decomposed like the
others: the query text is fine, a decomposition costs one cached request, and the sample stays
usable if the error is fixed later. Identical queries are asked once. A sample whose query is
empty gets a row with ``error`` and no request.

:func:`decompose_file` is the ``decompose`` step: it reads ``samples.jsonl`` (one
``Sample.to_json()`` per line), writes ``decompositions.jsonl`` (one row per sample, input order;
fields in ``zstvg.files.decompositions.Decomposition``) and its provenance sidecar with the
prompt hash, counts by source and flag, token usage and estimated cost. The API key comes from
``OPENAI_API_KEY`` only; offline never opens a connection.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from zstvg.config.params import DecomposeConfig, Params
from zstvg.decompose.cache import (
    OFFICIAL_MODEL,
    OFFICIAL_PROMPT_SHA256,
    DecompositionCache,
    normalize_query,
)
from zstvg.decompose.client import Decomposer, Outcome, Usage
from zstvg.decompose.fallback import FALLBACK_MODEL, rule_based_decompose
from zstvg.decompose.prompts import PromptTemplate, load_prompt, sub_query
from zstvg.files.decompositions import Decomposition
from zstvg.files.io import InputError, write_jsonl
from zstvg.files.provenance import provenance_path, write_provenance
from zstvg.files.samples import read_sample_rows
from zstvg.jobs.failures import print_failures

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"


@dataclass
class DecomposeResult:
    rows: list[Decomposition]
    usage: Usage = field(default_factory=Usage)

    @property
    def by_source(self) -> Counter[str]:
        return Counter(r.source for r in self.rows)

    @property
    def flag_counts(self) -> Counter[str]:
        return Counter(f for r in self.rows for f in r.flags)

    @property
    def failed(self) -> list[Decomposition]:
        """Rows whose LLM answer is missing for a reason other than offline mode."""
        return [
            r
            for r in self.rows
            if r.error is not None or {"refusal", "unparsable", "api_error"} & set(r.flags)
        ]


@dataclass(frozen=True)
class _Answer:
    answer: dict[str, str]
    source: str
    model: str
    prompt_sha256: str | None
    flags: tuple[str, ...] = ()
    error: str | None = None


def _row(sample_id: str, query: str, a: _Answer) -> Decomposition:
    return Decomposition(
        sample_id=sample_id,
        query=query,
        target_class=a.answer["target_class"],
        attribute=a.answer["attribute"],
        action=a.answer["action"],
        spatial_query=sub_query(a.answer["attribute"]),
        temporal_query=sub_query(a.answer["action"]),
        source=a.source,
        model=a.model,
        prompt_sha256=a.prompt_sha256,
        flags=a.flags,
        error=a.error,
    )


def _fallback(query: str, flags: tuple[str, ...], error: str | None = None) -> _Answer:
    return _Answer(
        rule_based_decompose(query), "fallback", FALLBACK_MODEL, None, ("fallback", *flags), error
    )


def decompose_samples(
    samples: Sequence[dict[str, Any]],
    cfg: DecomposeConfig,
    prompt: PromptTemplate,
    *,
    offline: bool,
    api_key: str | None,
    seed: int = 0,
    progress: bool = True,
) -> DecomposeResult:
    """One Decomposition per sample, in input order (see the module docstring for the order)."""
    cache = DecompositionCache(cfg.cache_dir)
    p_hash = prompt.sha256
    answers: dict[str, _Answer] = {}
    # an insertion-ordered set: a list's `in` made 10,303 uncached queries quadratic (1.6 s)
    misses: dict[str, None] = {}
    for s in samples:
        query = normalize_query(str(s.get("query") or ""))
        if not query or query in answers or query in misses:
            continue
        if (entry := cache.get(cfg.model, p_hash, query)) is not None:
            answers[query] = _Answer(entry["answer"], "cache", cfg.model, p_hash)
        elif (entry := cache.get(OFFICIAL_MODEL, OFFICIAL_PROMPT_SHA256, query)) is not None:
            answers[query] = _Answer(
                entry["answer"], "official", OFFICIAL_MODEL, OFFICIAL_PROMPT_SHA256
            )
        else:
            misses[query] = None
    usage = Usage()
    if misses and offline:
        log.info("offline: %d queries not in the cache use the rule-based fallback", len(misses))
        for q in misses:
            answers[q] = _fallback(q, ("offline",))
    elif misses:
        if not api_key:
            raise InputError(
                f"decompose: {len(misses)} queries are not in the cache "
                f"({cfg.cache_dir}) and OPENAI_API_KEY is not set; set it, or pass --offline "
                "to use the rule-based fallback for them"
            )
        log.info("asking %s for %d queries (%d cached)", cfg.model, len(misses), len(answers))

        def store(o: Outcome) -> None:
            if o.answer is not None:
                cache.put(
                    cfg.model,
                    p_hash,
                    o.query,
                    o.answer,
                    source="api",
                    prompt_version=prompt.version,
                    response_mode=o.mode,
                    prompt_tokens=o.usage.prompt_tokens,
                    completion_tokens=o.usage.completion_tokens,
                )

        client = Decomposer(cfg, prompt, api_key=api_key, base_url=cfg.base_url, seed=seed)
        outcomes = client.run(list(misses), on_outcome=store, progress=progress)
        for q in misses:
            o = outcomes[q]
            usage.add(o.usage)
            if o.answer is not None:
                answers[q] = _Answer(o.answer, "api", cfg.model, p_hash)
            else:
                log.warning("query %r: %s; using the rule-based fallback", q, o.error)
                answers[q] = _fallback(q, o.flags, o.error)
    rows = []
    for s in samples:
        sid = str(s.get("sample_id"))
        query = normalize_query(str(s.get("query") or ""))
        if not query:
            rows.append(
                Decomposition(
                    sample_id=sid,
                    query="",
                    target_class="",
                    attribute="",
                    action="",
                    spatial_query="",
                    temporal_query="",
                    source="fallback",
                    model=None,
                    prompt_sha256=None,
                    flags=("error",),
                    error="empty query: nothing to decompose",
                )
            )
            continue
        rows.append(_row(sid, str(s.get("query")), answers[query]))
    return DecomposeResult(rows, usage)


def server_label(base_url: str) -> str:
    """The server a run talks to, without credentials or query string (for provenance)."""
    url = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def decompose_file(
    samples_path: Path, out: Path, params: Params, *, offline: bool, progress: bool
) -> int:
    """Decompose the query of every sample of ``samples_path`` into ``out`` (and its
    provenance sidecar); ``offline`` (or ``decompose.offline``) never calls the API. Prints the
    summary and returns the exit code."""
    cfg = params.decompose
    samples = read_sample_rows(samples_path)
    offline = bool(offline or cfg.offline)
    prompt = load_prompt()
    result = decompose_samples(
        samples,
        cfg,
        prompt,
        offline=offline,
        api_key=None if offline else (os.environ.get("OPENAI_API_KEY") or None),
        seed=params.seed,
        progress=progress,
    )
    write_jsonl(out, (r.to_json() for r in result.rows))
    usage = result.usage.to_json(cfg)
    failed = result.failed
    write_provenance(
        out,
        step="decompose",
        params=params.section("decompose"),
        prompt_version=prompt.version,
        prompt_sha256=prompt.sha256,
        model=cfg.model,
        server=None if offline else server_label(cfg.base_url),
        offline=offline,
        samples=str(samples_path),
        samples_sha256=hashlib.sha256(samples_path.read_bytes()).hexdigest(),
        n_samples=len(result.rows),
        by_source=dict(sorted(result.by_source.items())),
        flags=dict(sorted(result.flag_counts.items())),
        usage=usage,
        failed_samples=[r.sample_id for r in failed],
    )
    n_err = sum(1 for s in samples if s.get("error"))
    sources = ", ".join(f"{k} {v}" for k, v in sorted(result.by_source.items())) or "none"
    print(f"decompose: {len(result.rows)} samples ({n_err} already carry an error) -> {out}")
    print(f"  by source: {sources}")
    if result.flag_counts:
        print("  flags: " + ", ".join(f"{k} {v}" for k, v in sorted(result.flag_counts.items())))
    print(
        f"  requests {usage['requests']} (retries {usage['retries']}), tokens in "
        f"{usage['prompt_tokens']} out {usage['completion_tokens']}, estimated cost "
        f"${usage['estimated_cost_usd']:.4f}"
    )
    if failed:
        print(f"  {len(failed)} without an LLM answer (fallback used):")
        print_failures(
            {r.sample_id: r.error or "" for r in failed}, provenance_path(out), "fallback for"
        )
    return 0
