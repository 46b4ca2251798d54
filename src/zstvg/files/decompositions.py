"""The decomposition answer (what the LLM returns) and the output row (what the step writes).

The answer is validated with JSON schema whatever produced it (structured outputs, JSON mode,
tolerant parsing of free text, the rule-based fallback, an imported official file), so every
consumer downstream sees the same three non-empty strings.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from zstvg.files.io import InputError, PathLike, read_jsonl

# Strict-mode compatible (OpenAI structured outputs need every key required and
# additionalProperties false); maxLength keeps a runaway answer out of the cache.
ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["target_class", "attribute", "action"],
    "properties": {
        "target_class": {
            "type": "string",
            "minLength": 1,
            "maxLength": 40,
            "description": "one lowercase noun for the object detector, e.g. person, dog",
        },
        "attribute": {
            "type": "string",
            "minLength": 1,
            "maxLength": 400,
            "description": "noun phrase: the target's appearance and static position, no action",
        },
        "action": {
            "type": "string",
            "minLength": 1,
            "maxLength": 400,
            "description": "noun phrase: the target followed by what it does",
        },
    },
}

# Keys other servers and the authors' files use for the same three fields.
_ALIASES = {
    "target_class": ("target_class", "class", "target", "category", "object"),
    "attribute": ("attribute", "attribute_description", "attributes", "decompose_attribute"),
    "action": ("action", "action_description", "actions", "decompose_action"),
}
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S | re.I)


def _first_json_object(text: str) -> Any:
    """The first decodable JSON object in ``text`` (fenced or embedded in prose), else None."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for cand in candidates:
        for start in (i for i, ch in enumerate(cand) if ch == "{"):
            try:
                obj, _ = decoder.raw_decode(cand, start)
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                return obj
    return None


def _clean(value: Any) -> str | None:
    if isinstance(value, list):  # the authors' files hold one-element lists
        value = value[-1] if value else None
    if not isinstance(value, str):
        return None
    return " ".join(value.split()).strip().rstrip(".").strip() or None


@functools.cache
def _validator() -> Any:
    """One compiled validator: ``jsonschema.validate`` re-checks the schema on every call
    (~10 ms each, measured), which alone would cost 5 s per 500 answers."""
    import jsonschema

    return jsonschema.Draft202012Validator(ANSWER_SCHEMA)


def normalize_answer(obj: Any) -> dict[str, str] | None:
    """Map aliases to the three keys, clean whitespace, lowercase the class; None if invalid."""
    if not isinstance(obj, dict):
        return None
    out: dict[str, str] = {}
    for key, aliases in _ALIASES.items():
        value = next((_clean(obj[a]) for a in aliases if a in obj and _clean(obj[a])), None)
        if value is None:
            return None
        out[key] = value
    out["target_class"] = out["target_class"].lower()
    return out if _validator().is_valid(out) else None


def parse_answer(text: str | None) -> dict[str, str] | None:
    """Tolerant parsing of a model's reply: strict JSON, then JSON in a fence or in prose."""
    if not text:
        return None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        obj = _first_json_object(text)
    return normalize_answer(obj)


@dataclass(frozen=True)
class Decomposition:
    """One line of ``decompositions.jsonl``."""

    sample_id: str
    query: str
    target_class: str
    attribute: str
    action: str
    spatial_query: str
    temporal_query: str
    source: str
    model: str | None
    prompt_sha256: str | None
    flags: tuple[str, ...] = field(default=())
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["flags"] = list(self.flags)
        if self.error is None:
            del d["error"]
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Decomposition:
        d = dict(d)
        d["flags"] = tuple(d.get("flags") or ())
        return cls(**d)


# The descriptions a sub-query or a detector prompt is made of: null reads as "" (the ground
# step falls back to the whole query for an empty attribute or action, flagged; texts_for).
TEXT_FIELDS = ("target_class", "attribute", "action", "spatial_query", "temporal_query")


def read_decompositions(path: PathLike) -> dict[str, Decomposition]:
    """``decompositions.jsonl`` as ``{sample_id: Decomposition}`` (what the ground step reads).

    A field of the wrong type (a number for ``action``, a null ``sample_id``) is an InputError
    naming the row, the field and the value; a null description reads as ""."""
    out: dict[str, Decomposition] = {}
    for lineno, row in enumerate(read_jsonl(path, what="decompositions file"), 1):
        where = f"{path}: row {lineno}"
        if not isinstance(row, dict):
            raise InputError(f"{where}: got {row!r}; expected an object")
        for key in ("sample_id", "query"):
            if not isinstance(row.get(key), str) or not row[key]:
                raise InputError(
                    f"{where}: {key}: got {row.get(key)!r}; expected a non-empty string"
                )
        row = {**row, **{k: "" for k in TEXT_FIELDS if k in row and row[k] is None}}
        for key in TEXT_FIELDS:
            if key in row and not isinstance(row[key], str):
                raise InputError(f"{where}: {key}: got {row[key]!r}; expected a string or null")
        try:
            dec = Decomposition.from_json(row)
        except TypeError as exc:
            raise InputError(f"{where}: {exc}") from None
        out[dec.sample_id] = dec
    return out
