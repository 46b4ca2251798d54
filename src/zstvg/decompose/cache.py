"""Content-addressed on-disk cache of decompositions.

Key = sha256 of ``[model, prompt_sha256, query]`` (query with whitespace collapsed, case kept).
One small JSON file per key, ``<cache_dir>/<key[:2]>/<key>.json``, written atomically: 20,000
queries make 20,000 files spread over 256 folders (~80 each), any number of runs can share the
cache, an interrupted run loses at most the answers in flight, and copying or merging caches is
a plain file copy. Only good answers are stored (api or official); failures are not, so a later
run asks again.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from zstvg.files.decompositions import normalize_answer
from zstvg.files.io import PathLike, atomic_open, sha256_json

log = logging.getLogger(__name__)

# Namespace of the authors' released decompositions (their GPT-4o answers to their prompt).
OFFICIAL_MODEL = "official"
OFFICIAL_PROMPT_SHA256 = "official"


def normalize_query(query: str) -> str:
    return " ".join(query.split())


def cache_key(model: str, prompt_sha256: str, query: str) -> str:
    return sha256_json([model, prompt_sha256, normalize_query(query)])


class DecompositionCache:
    def __init__(self, root: PathLike) -> None:
        self.root = Path(root)
        self._made: set[Path] = set()  # shard folders made: one mkdir per shard, not per entry

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, model: str, prompt_sha256: str, query: str) -> dict[str, Any] | None:
        """The stored entry, or None when absent or unreadable (then it is asked again)."""
        path = self.path(cache_key(model, prompt_sha256, query))
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, json.JSONDecodeError) as exc:
            log.warning("ignoring unreadable cache entry %s: %s", path, exc)
            return None
        if not isinstance(entry, dict):
            log.warning("ignoring cache entry %s: not a JSON object", path)
            return None
        answer = normalize_answer(entry.get("answer"))
        if answer is None:
            log.warning("ignoring cache entry %s: answer fails the schema", path)
            return None
        entry["answer"] = answer
        return entry

    def put(
        self,
        model: str,
        prompt_sha256: str,
        query: str,
        answer: dict[str, str],
        **extra: Any,
    ) -> Path:
        """Store one answer with what produced it (model, prompt hash, usage, source file)."""
        key = cache_key(model, prompt_sha256, query)
        entry = {
            "key": key,
            "model": model,
            "prompt_sha256": prompt_sha256,
            "query": normalize_query(query),
            "answer": answer,
            **extra,
        }
        path = self.path(key)
        if path.parent not in self._made:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._made.add(path.parent)
        _write_entry(path, entry)
        return path


def _write_entry(path: Path, entry: dict[str, Any]) -> None:
    """Temp file + rename with the outputs' usual mode (a shared cache stays readable to the
    other users), without the fsync of ``zstvg.files.io.write_json`` (~7 ms per file here, 3.5 s per
    500 answers): a reader never sees a half-written entry, and an entry lost or damaged by an
    OS crash reads as a miss and is asked again."""
    with atomic_open(path, "w", encoding="utf-8", fsync=False) as fh:
        json.dump(entry, fh, indent=1)
        fh.write("\n")
