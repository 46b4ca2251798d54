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
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from zstvg.config.params import DecomposeConfig
from zstvg.decompose.cache import (
    OFFICIAL_MODEL,
    OFFICIAL_PROMPT_SHA256,
    DecompositionCache,
    normalize_query,
)
from zstvg.decompose.client import Decomposer, Outcome, Usage
from zstvg.decompose.fallback import FALLBACK_MODEL, rule_based_decompose
from zstvg.decompose.prompts import PromptTemplate, sub_query
from zstvg.files.decompositions import Decomposition
from zstvg.files.io import InputError

log = logging.getLogger(__name__)


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
