"""Import the authors' released decompositions into the cache.

Their file (``annos/hcstvg/gpt4_decompose_attr_action.json`` in zaiquanyang/LLaVA_Next_STVG,
read by their ``datasets/hcstvg.py``) is a JSON object keyed by video file name
(``"<name>.mp4"``) whose values hold ``"decompose_attribute"`` and ``"decompose_action"``, each a
list of sentences (their code uses the last one) and optionally ``"decompose_subject"``. A failed
decomposition holds the text "please describe this video"; such entries are not imported (the
query then goes to the API or the fallback) and are listed. A list of records with a ``vid`` (or
``video_id``/``sample_id``) field is read the same way.

Matching to samples: an entry key (and its name without extension) is compared with each
sample's ``sample_id``, ``video_id`` and video file name (and their stems). When several samples
share a video (VidSTG), an entry that carries the query text (``sentence``/``query``/...) picks
the sample with that text; otherwise the entry is reported as ambiguous and not imported.

Entries are stored under model ``official`` and prompt hash ``official``: they are GPT-4o answers
to the authors' prompt, not to ours, and their provenance says so. Their files give no class noun,
so ``target_class`` is the head noun of the subject (or attribute) phrase, human nouns mapped to
"person" (what the authors used for HC-STVG).

:func:`import_decompositions` is the ``import-decompositions`` step: the import of one file,
its optional JSON report and the summary. After it, ``zstvg decompose`` (offline or not) serves
the matched samples from the cache with source ``official``.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from zstvg.config.params import Params
from zstvg.decompose.cache import (
    OFFICIAL_MODEL,
    OFFICIAL_PROMPT_SHA256,
    DecompositionCache,
    normalize_query,
)
from zstvg.decompose.fallback import target_class_from_phrase
from zstvg.files.decompositions import normalize_answer
from zstvg.files.io import InputError, PathLike, read_json, write_json
from zstvg.files.provenance import write_provenance
from zstvg.files.samples import read_sample_rows
from zstvg.jobs.failures import print_failures

log = logging.getLogger(__name__)

FAILURE_MARKER = "please describe this video"
_KEY_FIELDS = ("vid", "video", "video_id", "video_name", "sample_id", "id")
_QUERY_FIELDS = ("sentence", "query", "description", "English", "caption")


@dataclass
class ImportReport:
    source: str
    n_entries: int = 0
    imported: list[str] = field(default_factory=list)  # sample ids
    failed_in_source: list[str] = field(default_factory=list)  # entry keys
    malformed: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)
    samples_without_entry: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "n_entries": self.n_entries,
            "n_imported_samples": len(self.imported),
            **{
                k: getattr(self, k)
                for k in (
                    "failed_in_source",
                    "malformed",
                    "unmatched",
                    "ambiguous",
                    "samples_without_entry",
                )
            },
        }


def _stem(name: str) -> str:
    base = PurePosixPath(name.replace("\\", "/")).name
    return base.rsplit(".", 1)[0] if "." in base else base


def _entries(data: Any, path: PathLike) -> list[tuple[str, dict[str, Any]]]:
    if isinstance(data, dict):
        return [(str(k), v) for k, v in data.items()]
    if isinstance(data, list):
        out = []
        for i, rec in enumerate(data):
            key = next((rec[f] for f in _KEY_FIELDS if isinstance(rec, dict) and f in rec), None)
            if key is None:
                raise InputError(f"{path}: record {i}: no key field (one of {_KEY_FIELDS})")
            out.append((str(key), rec))
        return out
    raise InputError(f"{path}: expected a JSON object keyed by video, or a list of records")


def _last(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[-1] if value else None
    return value if isinstance(value, str) and value.strip() else None


def official_answer(entry: Any) -> dict[str, str] | Literal["failed"] | None:
    """The answer in one entry; ``"failed"`` for the authors' failure marker; None if malformed."""
    if not isinstance(entry, dict):
        return None
    attribute = _last(entry.get("decompose_attribute", entry.get("attribute")))
    action = _last(entry.get("decompose_action", entry.get("action")))
    if attribute is None or action is None:
        return None
    if FAILURE_MARKER in attribute.lower() or FAILURE_MARKER in action.lower():
        return "failed"
    subject = _last(entry.get("decompose_subject")) or attribute
    return normalize_answer(
        {
            "target_class": target_class_from_phrase(subject),
            "attribute": attribute,
            "action": action,
        }
    )


def _name_index(samples: list[dict[str, Any]]) -> dict[str, list[int]]:
    """Sample positions by every name an entry key may use: sample id, video id, video file
    name, and the stems of these."""
    index: dict[str, list[int]] = {}
    for i, s in enumerate(samples):
        names = {
            str(s.get("sample_id", "")),
            str(s.get("video_id", "")),
            PurePosixPath(str(s.get("video_path", "")).replace("\\", "/")).name,
        }
        for name in {n for n in names if n} | {_stem(n) for n in names if n}:
            index.setdefault(name, []).append(i)
    return index


def _match(
    key: str, entry: dict[str, Any], index: dict[str, list[int]], samples: list[dict[str, Any]]
) -> tuple[list[int], str | None]:
    """The samples an entry answers, or the report list it belongs to instead ("unmatched":
    no sample has its name or its query text; "ambiguous": samples of its video ask different
    queries and the entry carries no text to choose)."""
    candidates = sorted(set(index.get(key, []) + index.get(_stem(key), [])))
    if not candidates:
        return [], "unmatched"
    text = next((entry[f] for f in _QUERY_FIELDS if isinstance(entry.get(f), str)), None)
    if text is not None:
        wanted = normalize_query(text).lower()
        candidates = [
            i
            for i in candidates
            if normalize_query(str(samples[i].get("query", ""))).lower() == wanted
        ]
    queries = {normalize_query(str(samples[i].get("query", ""))) for i in candidates}
    if not candidates:
        return [], "unmatched"
    if len(queries) > 1:
        return [], "ambiguous"
    return candidates, None


def _warn_skipped(report: ImportReport) -> None:
    """One warning per kind of entry not imported, naming the first few."""
    for what in ("failed_in_source", "malformed", "unmatched", "ambiguous"):
        keys = getattr(report, what)
        if keys:
            log.warning(
                "%s: %d entries %s (first: %s)",
                report.source,
                len(keys),
                what.replace("_", " "),
                ", ".join(keys[:5]),
            )


def import_official(
    path: PathLike,
    samples: list[dict[str, Any]],
    cache: DecompositionCache,
) -> ImportReport:
    """Write every entry of the authors' file that matches a sample into ``cache``."""
    text_path = str(path)
    data = read_json(path, what="official decomposition file")
    source_sha = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    report = ImportReport(source=text_path)
    index = _name_index(samples)
    matched: set[int] = set()
    entries = _entries(data, path)
    report.n_entries = len(entries)
    for key, entry in entries:
        answer = official_answer(entry)
        if answer == "failed":
            report.failed_in_source.append(key)
            continue
        if answer is None:
            report.malformed.append(key)
            continue
        candidates, skipped_as = _match(key, entry, index, samples)
        if skipped_as is not None:
            getattr(report, skipped_as).append(key)
            continue
        for i in candidates:
            cache.put(
                OFFICIAL_MODEL,
                OFFICIAL_PROMPT_SHA256,
                str(samples[i]["query"]),
                answer,
                source="official",
                source_file=PurePosixPath(text_path).name,
                source_sha256=source_sha,
                source_key=key,
            )
            matched.add(i)
            report.imported.append(str(samples[i].get("sample_id")))
    report.samples_without_entry = [
        str(s.get("sample_id")) for i, s in enumerate(samples) if i not in matched
    ]
    _warn_skipped(report)
    return report


def import_decompositions(
    source: Path, samples_path: Path, params: Params, *, report_path: Path | None
) -> int:
    """Import the authors' file ``source`` for the samples of ``samples_path`` into the cache of
    ``params.decompose``, writing the import report to ``report_path`` (None: none); prints the
    summary and returns the exit code."""
    samples = read_sample_rows(samples_path)
    cache = DecompositionCache(params.decompose.cache_dir)
    report = import_official(source, samples, cache)
    if report_path is not None:
        write_json(report_path, report.to_json())
        write_provenance(
            report_path,
            step="import-decompositions",
            params=params.section("decompose"),
            source_file=str(source),
            samples=str(samples_path),
        )
    print(
        f"import-decompositions: {report.n_entries} entries in {source}; "
        f"{len(report.imported)} of {len(samples)} samples imported into "
        f"{params.decompose.cache_dir}"
    )
    skipped = {
        what.replace("_", " "): getattr(report, what)
        for what in (
            "failed_in_source",
            "malformed",
            "unmatched",
            "ambiguous",
            "samples_without_entry",
        )
    }
    counts = ", ".join(f"{what} {len(keys)}" for what, keys in skipped.items() if keys)
    if counts:
        print(f"  not imported: {counts}")
    print_failures(
        {key: what for what, keys in skipped.items() for key in keys},
        report_path,
        "not imported",
    )
    return 0
