"""The method's variants (docs/method.md#variants) as data: one row of switches each, one code path.

- ``token``: how the grounding token is picked: ``mean`` (mean of the candidates' relative
  maps, Table 2 row 1), ``gti`` (highest visual activation), ``fixed`` (the authors' fixed
  template token).
- ``spatial`` / ``temporal``: which text drives that map: ``query`` (the whole query, untuned),
  ``sub`` (the DSTH sub-query, untuned), ``tuned`` (the DSTH sub-query with an LRA-tuned visual
  prompt), ``tuned-query`` (LRA on the whole query: Fig. 6's vanilla tuning).
- ``tas``: TAS on the spatial map (a second prompt tuned on the time-reversed video).
- ``objective``: what LRA minimises: ``yesno`` (1 - (z_yes - z_no)) or ``entropy`` (the
  entropy of the first answer token's distribution; Table 3).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

TOKEN_MODES = ("mean", "gti", "fixed")
MAP_SOURCES = ("query", "sub", "tuned", "tuned-query")
OBJECTIVES = ("yesno", "entropy")


@dataclass(frozen=True)
class Variant:
    name: str
    token: str
    spatial: str
    temporal: str
    tas: bool = False
    objective: str = "yesno"
    description: str = ""

    def __post_init__(self) -> None:
        if self.token not in TOKEN_MODES:
            raise ValueError(f"variant {self.name}: token {self.token!r} not in {TOKEN_MODES}")
        for source in (self.spatial, self.temporal):
            if source not in MAP_SOURCES:
                raise ValueError(f"variant {self.name}: map source {source!r} not in {MAP_SOURCES}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"variant {self.name}: objective {self.objective!r}")

    @property
    def tunes(self) -> bool:
        return self.tas or any(s.startswith("tuned") for s in (self.spatial, self.temporal))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("baseline-mean-special", "mean", "query", "query",
                description="Table 2 row 1: mean of the special tokens' relative maps"),
        Variant("gti", "gti", "query", "query", description="+ grounding-token identification"),
        Variant("gti+spatial", "gti", "tuned", "query",
                description="+ spatial prompt tuned on the attribute sub-query"),
        Variant("gti+temporal", "gti", "query", "tuned",
                description="+ temporal prompt tuned on the action sub-query"),
        Variant("gti+dsth", "gti", "tuned", "tuned", description="+ both prompts (DSTH)"),
        Variant("full", "gti", "tuned", "tuned", tas=True, description="+ TAS (the method)"),
        Variant("vanilla-tuning", "gti", "tuned-query", "tuned-query",
                description="Fig. 6: LRA on the whole query, no decomposition"),
        Variant("gti+entropy", "gti", "tuned", "tuned", objective="entropy",
                description="Table 3: DSTH with the entropy objective"),
        Variant("gti+yesno", "gti", "tuned", "tuned", objective="yesno",
                description="Table 3: DSTH with the Yes/No logit objective"),
        Variant("fixed-token", "fixed", "query", "query",
                description="the authors' released behaviour: fixed token, no tuning"),
    )
}  # fmt: skip


# The LRA's own settings (`ground.*`): a variant that tunes nothing never reads them, so its
# records (and its job hash) stay valid when they change; only the tuned variants recompute.
LRA_KEYS = ("lr", "n_steps", "beta", "neutral_contrast", "gradient_checkpointing",
            "readout_after_tuning")  # fmt: skip


@dataclass(frozen=True)
class DirectVariant:
    """The box-decoding baseline (docs/method.md#the-direct-box-decoding-baseline): the MLLM is
    asked for the span and the boxes themselves (``direct``); with ``tracks`` the decoded boxes
    only pick the proposal track that matches them best, whose boxes are predicted over the
    decoded span (``direct+tracks``: what the proposals add). It runs on the backends whose
    ``box_family`` is set (Qwen2.5-VL, Qwen3-VL)."""

    name: str
    tracks: bool = False
    description: str = ""
    tunes: bool = False  # no LRA: the attention method's tuning settings never reach it

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "method": "direct", "tracks": self.tracks,
                "description": self.description}  # fmt: skip


DIRECT_VARIANTS: dict[str, DirectVariant] = {
    v.name: v
    for v in (
        DirectVariant("direct", description="the MLLM asked for the span and the boxes"),
        DirectVariant("direct+tracks", tracks=True,
                      description="the decoded boxes pick a proposal track"),
    )
}  # fmt: skip
# The backends whose box_family is set (zstvg.mllm), named here so the workflow plans the
# direct cells without importing them: a direct variant of another model is no cell.
DIRECT_BACKENDS = ("qwen2.5-vl", "qwen3-vl")
# Every variant a grounding job runs, by name: the method's and the baseline's.
ALL_VARIANTS: dict[str, Variant | DirectVariant] = {**VARIANTS, **DIRECT_VARIANTS}
# The settings of `ground` the direct baseline reads (and the job hash of its records holds);
# its generation cap is its model's (`models.<name>.max_new_tokens`).
DIRECT_KEYS = ("n_frames",)


def ground_settings_read(
    variant: Variant | DirectVariant, ground: Mapping[str, Any]
) -> dict[str, Any]:
    """The ``ground`` settings ``variant``'s result depends on: all of them for a variant that
    tunes, all but the LRA's (``LRA_KEYS``) otherwise, only ``DIRECT_KEYS`` for the direct
    baseline. The ground step hashes these into each record's job, and the workflow's rules
    declare them, so a changed LRA setting reruns and recomputes only the variants that tune."""
    if isinstance(variant, DirectVariant):
        return {k: ground[k] for k in DIRECT_KEYS if k in ground}
    if variant.tunes:
        return dict(ground)
    return {k: v for k, v in ground.items() if k not in LRA_KEYS}


def get_variant(name: str) -> Variant | DirectVariant:
    if name not in ALL_VARIANTS:
        raise ValueError(f"unknown variant {name!r}; known: {', '.join(ALL_VARIANTS)}")
    return ALL_VARIANTS[name]
