"""The grounding engine: plans the forwards a variant needs and runs them one by one.

Per sample (docs/method.md#joint-inference): the spatial map picks the track, the temporal map
picks the span inside it. A map is the relative attention R = A(text) / (A(neutral) + eps) of
the grounding token, where text is the query or a DSTH sub-query and both forwards share the
visual prompt (zero, or tuned by LRA). TAS averages the spatial map with the one of a second
prompt tuned on the time-reversed video, flipped back. With ``ground.engine: reference`` every
forward is a full forward; with ``fast`` ([8/11]) the forwards share visual prefixes and stages
on backends that cache a prefix (:class:`~zstvg.mllm.protocol.PrefixCachingModel`).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import torch

from zstvg.config.params import GroundConfig
from zstvg.config.variants import DirectVariant, Variant
from zstvg.files.decompositions import Decomposition
from zstvg.files.records import Prediction, Sample, Track
from zstvg.grounding import scoring
from zstvg.grounding.direct import DEFAULT_MAX_NEW_TOKENS, DirectAnswerCache, ground_direct
from zstvg.grounding.tuning import loss, margin, tune
from zstvg.mllm.base import ForwardResult, MLLMInputs, PrefixState, VisualFeatures
from zstvg.mllm.protocol import GroundingModel, GroundTruthModel, PrefixCachingModel

log = logging.getLogger(__name__)

# A map's identity in one sample: (text, tuned, LRA objective or None, reversed video).
MapKey = tuple[str, bool, str | None, bool]


class MapKeys(NamedTuple):
    """The maps one variant reads; ``tas`` is None without TAS."""

    spatial: MapKey
    temporal: MapKey
    tas: MapKey | None


@dataclass
class GroundInput:
    """Everything one sample's grounding reads, already loaded."""

    sample: Sample
    frames: list[np.ndarray]  # the MLLM frames, HxWx3 uint8
    mllm_frame_idx: tuple[int, ...]
    # native bin edges of the MLLM frames (len T + 1, video.index.uniform_subset): frame i
    # stands for [mllm_bins[i], mllm_bins[i + 1])
    mllm_bins: tuple[int, ...]
    fps: float
    tracks: Sequence[Track]
    spatial_text: str  # the attribute sub-query (or the query, flagged, on a failed decomposition)
    temporal_text: str
    flags: tuple[str, ...] = ()


@dataclass
class MapResult:
    """One grounding map and how it was made (for the per-sample record)."""

    relative: np.ndarray  # (n_tokens, t, h, w)
    token: int | None  # chosen token (None: mean of the tokens)
    tokens: tuple[str, ...]
    activation: list[float]
    tuning: dict[str, Any] | None = None
    margin: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # (forwards, backwards, forward-equivalents) it took; a forward-equivalent is a full
    # forward of the whole sequence through every layer, a backward counts 1
    cost: tuple[int, int, float] = (0, 0, 0.0)
    # the LRA tuning's wall-clock seconds (None: untuned): a fact of the run, not of the map,
    # so not in to_json (the record); the record's "_run" carries it to the sample's run record
    tuning_s: float | None = None

    @property
    def map_thw(self) -> np.ndarray:
        if self.token is None:
            return self.relative.mean(axis=0)
        return self.relative[self.token]

    def to_json(self) -> dict[str, Any]:
        return {
            "candidate_tokens": list(self.tokens),
            "visual_activation": self.activation,
            "token": self.token,
            "token_text": None if self.token is None else self.tokens[self.token],
            "margin_after": self.margin,
            "tuning": self.tuning,
            **self.extra,
        }


class GroundingEngine:
    """Grounding on one MLLM backend with the ``ground`` parameters."""

    def __init__(
        self, mllm: GroundingModel, cfg: GroundConfig,
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    ) -> None:  # fmt: skip
        self.mllm = mllm
        self.cfg = cfg
        self.max_new_tokens = max_new_tokens  # the direct baseline's generation cap
        mllm.set_answer_words(tuple(cfg.answer_words))
        # The backend's optional capabilities (zstvg.mllm.protocol), checked once here.
        # The attention oracle answers the neutral prompt uniformly and reads each sample's GT.
        self._ground_truth = mllm if isinstance(mllm, GroundTruthModel) else None
        if self._ground_truth is not None:
            self._ground_truth.neutral_prompt = cfg.neutral_prompt
        # engine fast: shared visual prefixes where the backend takes a cached prefix
        self._prefixed: PrefixCachingModel | None = None
        if cfg.engine == "fast":
            if isinstance(mllm, PrefixCachingModel):
                self._prefixed = mllm
            else:
                log.info("%s takes no cached prefix: engine fast runs full forwards for it",
                         mllm.name)  # fmt: skip

    # --------------------------------------------------------------------------- helpers
    def _fixed_token(self, tokens: Sequence[str]) -> int:
        """The authors' fixed template token, picked by identity in our template: never by
        their index from the end, which in another tokenizer's spelling of the template is
        another token (or, with 2 candidates and their -5, no token at all)."""
        text = self.mllm.fixed_token
        if text not in tokens:
            raise VariantError(
                f"fixed-token: the authors' token {text!r} is not among this backend's "
                f"grounding-template tokens {list(tokens)}: its tokenizer spells the template "
                "otherwise"
            )
        return list(tokens).index(text)

    def _recomputing(self) -> AbstractContextManager[None]:
        """Activation checkpointing of the forwards LRA backpropagates through (a full
        forward, or a prefix: the suffix over it is short), when configured and supported."""
        return self.mllm.recomputing(self.cfg.gradient_checkpointing)

    # --------------------------------------------------------------------------- forwards
    def _attn(
        self,
        ctx: _SampleContext,
        inputs: MLLMInputs,
        features: VisualFeatures,
        delta: torch.Tensor | None,
    ) -> tuple[np.ndarray, ForwardResult]:
        """Layer-mean maps of the candidate tokens ``(n_tokens, t, h, w)`` and the forward's
        result (its answer logits)."""
        with torch.no_grad():
            out = self.mllm.forward(inputs, features, visual_delta=delta)
        ctx.n_forward += 1
        ctx.work += 1.0
        return _layer_mean(out), out

    def _after(
        self,
        tuning: dict[str, Any] | None,
        objective: str,
        out: ForwardResult,
        neutral_out: ForwardResult,
    ) -> float | None:
        """Record L and z_yes - z_no at the tuned prompt x_N (after the last step) in
        ``tuning``; returns the margin (None without a tuned prompt)."""
        if tuning is None or not tuning["steps"]:
            return None
        contrast = neutral_out if self.cfg.neutral_contrast else None
        tuning["margin_after"] = float(margin(out))
        tuning["loss_after"] = float(loss(out, objective, contrast))
        return float(tuning["margin_after"])

    def _map(
        self,
        ctx: _SampleContext,
        text: str,
        *,
        tuned: bool,
        objective: str,
        reversed_video: bool = False,
    ) -> MapResult:
        """The relative maps of ``text`` (with a visual prompt tuned on it when ``tuned``).

        Computed once per sample and setting; later calls (other variants of one job) get a
        copy, so a variant's token choice never leaks into another's.
        """
        key = (text, tuned, objective if tuned else None, reversed_video)
        if key not in ctx.maps:
            before = (ctx.n_forward, ctx.n_backward, ctx.work)
            result = self._compute_map(ctx, text, tuned=tuned, objective=objective,
                                       reversed_video=reversed_video)  # fmt: skip
            result.cost = (ctx.n_forward - before[0], ctx.n_backward - before[1],
                           ctx.work - before[2])  # fmt: skip
            ctx.maps[key] = result
        return dataclasses.replace(ctx.maps[key])

    def _compute_map(
        self,
        ctx: _SampleContext,
        text: str,
        *,
        tuned: bool,
        objective: str,
        reversed_video: bool,
    ) -> MapResult:
        features = ctx.reversed_features() if reversed_video else ctx.features
        inputs = ctx.inputs(text)
        neutral = ctx.inputs(self.cfg.neutral_prompt)
        delta = None
        tuning = None
        tuning_s = None
        if self._prefixed is not None:
            return self._compute_map_fast(
                self._prefixed, ctx, text, inputs, neutral, features,
                tuned=tuned, objective=objective, reversed_video=reversed_video,
            )  # fmt: skip
        if tuned:
            t0 = time.perf_counter()
            contrast: Callable[[torch.Tensor], ForwardResult] | None = None
            if self.cfg.neutral_contrast:

                def neutral_forward(d: torch.Tensor) -> ForwardResult:
                    return self.mllm.forward(neutral, features, visual_delta=d, capture=False)

                contrast = neutral_forward

            def forward(d: torch.Tensor) -> tuple[ForwardResult, torch.Tensor]:
                with self._recomputing():
                    return self.mllm.forward(inputs, features, visual_delta=d, capture=False), d

            delta, log = tune(
                forward,
                tuple(features.embeds.shape),
                n_steps=self.cfg.n_steps,
                lr=self.cfg.lr,
                beta=self.cfg.beta,
                objective=objective,
                neutral_forward=contrast,
                device=features.embeds.device,
            )
            tuning = log.to_json()
            tuning_s = round(time.perf_counter() - t0, 4)
            ctx.n_backward += self.cfg.n_steps
            ctx.n_forward += self.cfg.n_steps * (2 if contrast else 1)
            ctx.work += self.cfg.n_steps * (3 if contrast else 2)  # a backward counts 1
        raw, out = self._attn(ctx, inputs, features, delta)
        neutral_raw, neutral_out = self._attn(ctx, neutral, features, delta)
        after = self._after(tuning, objective, out, neutral_out)
        if after is None:
            after = float(margin(out))
        return self._map_result(text, inputs, raw, neutral_raw, tuning, after, tuning_s)

    def _map_result(
        self, text: str, inputs: MLLMInputs, raw: np.ndarray, neutral_raw: np.ndarray,
        tuning: dict[str, Any] | None, after: float | None, tuning_s: float | None,
    ) -> MapResult:  # fmt: skip
        relative = scoring.relative_map(raw, neutral_raw, self.cfg.eps)
        activation = scoring.visual_activation(
            raw if self.cfg.gti_activation == "raw" else relative
        )
        raw_activation = [float(a) for a in scoring.visual_activation(raw)]
        return MapResult(
            relative,
            None,
            inputs.candidate_tokens,
            [float(a) for a in activation],
            tuning,
            after,
            {"text": text, "raw_activation": raw_activation},
            tuning_s=tuning_s,
        )

    # ------------------------------------------------------------------- fast: prefix
    def _compute_map_fast(
        self, mllm: PrefixCachingModel, ctx: _SampleContext, text: str, inputs: MLLMInputs,
        neutral: MLLMInputs, features: VisualFeatures, *,
        tuned: bool, objective: str, reversed_video: bool,
    ) -> MapResult:  # fmt: skip
        """``_compute_map`` over shared visual prefixes: the p = 0 prefix of the video (one
        per direction, kept with its graph when the job tunes) serves the untuned maps and the
        first LRA step of every sub-query; a tuned prompt's prefix serves its sub-query and
        the neutral prompt; each text is a short suffix forward. Forwards that only give maps
        (every one but the LRA steps') stop after the last captured layer, so they have no
        answer logits: an untuned map's ``margin_after`` is None. A tuned prompt's prefix and
        its sub-query's suffix run through every layer instead, so the record holds L and
        z_yes - z_no after the last step (the neutral suffix still stops early, but for the
        contrast term). Same maps as full forwards (``engine: reference``; fp32 ~1e-7), hence
        the same predictions."""
        cfg = self.cfg
        state0, x0 = ctx.prefix0(mllm, reversed_video)
        delta = None
        tuning = None
        tuning_s = None
        if tuned:
            t0 = time.perf_counter()
            states: dict[int, PrefixState] = {id(x0): state0}

            def prefixed(inp: MLLMInputs, x: torch.Tensor) -> tuple[ForwardResult, torch.Tensor]:
                """The suffix forward of ``inp`` over the prefix of prompt ``x`` (one prefix
                per prompt, shared by the sub-query and the neutral prompt); a zero prompt
                (step 0) is the video's p = 0 prefix, kept with its graph."""
                if id(x) not in states and not bool(x.detach().any()):
                    x = x0
                if id(x) not in states:
                    with self._recomputing():
                        states[id(x)] = mllm.prefix(inputs, features, x)
                    ctx.count(mllm, inputs, states[id(x)], suffix=False)
                ctx.count(mllm, inp, states[id(x)], suffix=True, depth=mllm.num_layers)
                return mllm.suffix(inp, states[id(x)], capture=False), x

            contrast = None
            if cfg.neutral_contrast:

                def contrast(x: torch.Tensor) -> ForwardResult:
                    return prefixed(neutral, x)[0]

            delta, steps_log = tune(
                lambda x: prefixed(inputs, x), tuple(features.embeds.shape),
                n_steps=cfg.n_steps, lr=cfg.lr, beta=cfg.beta, objective=objective,
                neutral_forward=contrast, device=features.embeds.device,
            )  # fmt: skip
            tuning = steps_log.to_json()
            tuning_s = round(time.perf_counter() - t0, 4)
            ctx.n_backward += cfg.n_steps
            ctx.work += cfg.n_steps  # a backward counts 1
            ctx.tuned_done(reversed_video)
            del states, prefixed, contrast  # the step-k prefixes' graphs go with them
        rows = mllm.rows_depth
        # after a tuning step, the answer at x_N too: the sub-query through every layer
        after = tuning is not None and bool(tuning["steps"]) and cfg.readout_after_tuning
        depth = mllm.num_layers if after else rows
        neutral_depth = depth if after and cfg.neutral_contrast else rows
        with torch.no_grad():
            if delta is None:
                state = state0
            else:
                delta = delta.to(features.embeds.device)
                state = mllm.prefix(inputs, features, delta, rows_only=not after)
                ctx.count(mllm, inputs, state, suffix=False)
            out = mllm.suffix(inputs, state, rows_only=not after)
            ctx.count(mllm, inputs, state, suffix=True, depth=depth)
            neutral_out = mllm.suffix(neutral, state, rows_only=neutral_depth < mllm.num_layers)
            ctx.count(mllm, neutral, state, suffix=True, depth=neutral_depth)
        raw = _layer_mean(out)
        neutral_raw = _layer_mean(neutral_out)
        if after:
            margin_after = self._after(tuning, objective, out, neutral_out)
        else:  # no answer head on the cut stack
            margin_after = None
            if tuning is not None and tuning["steps"]:
                tuning["margin_after"] = tuning["loss_after"] = None
        return self._map_result(text, inputs, raw, neutral_raw, tuning, margin_after, tuning_s)

    # ----------------------------------------------------------------------------- ground
    def ground(
        self, gin: GroundInput, variant: Variant | DirectVariant
    ) -> tuple[Prediction, dict[str, Any]]:
        """One sample, one variant: (prediction, record). Raises on a failure."""
        return self.ground_many(gin, [variant])[variant.name]

    def ground_many(
        self, gin: GroundInput, chosen: Sequence[Variant | DirectVariant]
    ) -> dict[str, tuple[Prediction, dict[str, Any]]]:
        """One sample, several variants sharing every stage they have in common (the video's
        features, the p = 0 maps, each tuned prompt): {variant: (prediction, record)}, each
        identical to a separate run. ``self.last_calls`` holds the job's real LLM calls.
        The direct baseline's variants ask the MLLM once for both (zstvg.grounding.direct)."""
        direct = [v for v in chosen if isinstance(v, DirectVariant)]
        variants = [v for v in chosen if isinstance(v, Variant)]
        out: dict[str, tuple[Prediction, dict[str, Any]]] = {}
        self.last_calls = {"forwards": 0, "backwards": 0, "forward_equivalents": 0.0}
        if direct:
            cache = DirectAnswerCache()
            for dv in direct:
                out[dv.name] = ground_direct(self.mllm, gin, dv, self.max_new_tokens, cache)
        if not variants:
            return out
        tracks = [t for t in gin.tracks if t.boxes_xyxy]
        if not tracks:
            raise ValueError("empty proposal set")
        ctx = _SampleContext(self.mllm, gin, tunes=any(v.tunes for v in variants),
                             recomputing=self._recomputing,
                             ground_truth=self._ground_truth)  # fmt: skip
        # The tuned maps the job will compute, per direction: once the last of a direction is
        # done, its p = 0 prefix's graph is released (only its cache is read after that), so
        # `full` never holds the forward and the reversed graphs at once.
        tuned_keys = {k for v in variants for k in self._map_keys(gin, v) if k and k[1]}
        ctx.pending_tuned = collections.Counter(k[3] for k in tuned_keys)
        features_s = ctx.prepare()
        for v in variants:
            try:
                out[v.name] = self._ground_one(ctx, tracks, v, features_s)
            except VariantError as exc:  # this variant cannot run here; the others can
                reason = f"ground: {exc}"
                sid = gin.sample.sample_id
                record = {"sample_id": sid, "variant": v.to_json(), "status": "failed",
                          "step": "ground", "error": reason}  # fmt: skip
                out[v.name] = (Prediction(sid, None, error=reason), record)
        self.last_calls = {
            "forwards": ctx.n_forward,
            "backwards": ctx.n_backward,
            "forward_equivalents": round(ctx.work, 4),
        }
        return out

    def _map_keys(self, gin: GroundInput, variant: Variant) -> MapKeys:
        """The maps a variant reads, as (text, tuned, objective or None, reversed) keys."""

        def key(source: str, sub: str) -> MapKey:
            tuned = source.startswith("tuned")
            if source in ("query", "tuned-query"):
                text = query_text(self.cfg.query_template, gin.sample.query)
            else:
                text = sub
            return (text, tuned, variant.objective if tuned else None, False)

        return MapKeys(
            spatial=key(variant.spatial, gin.spatial_text),
            temporal=key(variant.temporal, gin.temporal_text),
            tas=(gin.spatial_text, True, variant.objective, True) if variant.tas else None,
        )

    def _ground_one(
        self, ctx: _SampleContext, tracks: list[Track], variant: Variant, features_s: float
    ) -> tuple[Prediction, dict[str, Any]]:
        gin = ctx.gin
        times: dict[str, float] = {"features_s": features_s}
        t0 = time.perf_counter()
        sample = gin.sample
        used: dict[MapKey, MapResult] = {}
        flags = list(gin.flags)
        if ctx.approximate_reversal and variant.tas:
            flags.append("tas_approximate_reversal")
        n_shown = len(gin.mllm_frame_idx)
        if n_shown <= self.cfg.k_frames:
            # a clip with fewer proposal frames than ground.n_frames: K of them is every one,
            # so the span is the whole clip whatever the maps say
            flags.append(f"few_mllm_frames:{n_shown}<=k_frames:{self.cfg.k_frames}")

        t1 = time.perf_counter()
        keys = self._map_keys(gin, variant)
        spatial, temporal = self._variant_maps(ctx, variant, keys, used)
        times["maps_s"] = time.perf_counter() - t1

        spatial_thw = spatial.map_thw
        rev = None
        if keys.tas is not None:
            t2 = time.perf_counter()
            rev = self._map(ctx, gin.spatial_text, tuned=True, objective=variant.objective,
                            reversed_video=True)  # fmt: skip
            # the same j* as the forward map (docs/method.md#tas-temporal-augmented-assembling)
            rev.token = spatial.token
            used[keys.tas] = rev
            spatial_thw = scoring.tas_assemble(spatial_thw, rev.map_thw)
            times["tas_s"] = time.perf_counter() - t2

        t3 = time.perf_counter()
        region = ctx.region
        up_spatial = ctx.upsample(spatial_thw, region)
        up_temporal = up_spatial if temporal is spatial and not variant.tas else ctx.upsample(
            temporal.map_thw, region
        )  # fmt: skip
        masks = {t.track_id: ctx.masks(t) for t in tracks}
        scores = {k: scoring.track_score(up_spatial, m) for k, m in masks.items()}
        chosen_id = scoring.choose_track(scores)
        chosen = next(t for t in tracks if t.track_id == chosen_id)
        s_f = scoring.frame_scores(up_temporal, masks[chosen_id])
        first, last = self._span_positions(s_f)
        span = scoring.span_to_native(first, last, gin.mllm_bins)
        dense = scoring.dense_boxes(chosen.boxes_xyxy, span, sample.clip_span)
        flags.extend(dense.flags)
        times["scoring_s"] = time.perf_counter() - t3
        times["total_s"] = time.perf_counter() - t0
        pred_flags = tuple(dict.fromkeys([f"variant:{variant.name}", *flags]))
        prediction = Prediction(
            sample.sample_id, span, dense.boxes_xyxy, track_id=chosen_id, flags=pred_flags
        )
        record = {
            "sample_id": sample.sample_id,
            "variant": variant.to_json(),
            "status": "ok",
            "mllm_frame_idx": list(gin.mllm_frame_idx),
            "mllm_bins": list(gin.mllm_bins),
            "query_text": query_text(self.cfg.query_template, sample.query),
            "region_xyxy": list(region),
            "spatial": spatial.to_json(),
            "temporal": temporal.to_json() if temporal is not spatial else "same as spatial",
            "tas": rev.to_json() if rev is not None else None,
            "track_scores": {str(k): _finite(v) for k, v in scores.items()},
            "chosen_track": chosen_id,
            "frame_scores": [float(v) for v in s_f],
            "span_mllm_positions": [first, last],
            "span": list(span),
            # the variant's own cost (as if run alone), whatever it shared in this job
            "llm_calls": _llm_calls(used.values()),
            "engine": self.cfg.engine,
            "flags": list(prediction.flags),
            # what differs between identical reruns, for the caller to keep out of the record
            # (ground: the sample's run record): the seconds per stage and per LRA tuning
            "_run": {
                "times_s": {k: round(v, 4) for k, v in times.items()},
                "tuning_s": {
                    name: m.tuning_s
                    for name, m in (
                        ("spatial", spatial),
                        ("tas", rev),
                        ("temporal", temporal if temporal is not spatial else None),
                    )
                    if m is not None and m.tuning_s is not None
                },
            },
            # arrays for the caller to store beside the record (not JSON)
            "_maps": {
                "spatial": np.asarray(spatial_thw, np.float32),
                "temporal": np.asarray(temporal.map_thw, np.float32),
            },
        }
        return prediction, record

    def _variant_maps(
        self,
        ctx: _SampleContext,
        variant: Variant,
        keys: MapKeys,
        used: dict[MapKey, MapResult],
    ) -> tuple[MapResult, MapResult]:
        """The variant's spatial and temporal maps (``used`` collects them), each with the
        grounding token its rule picks: the fixed one, or the most visually activated (GTI)."""
        s_key, t_key = keys.spatial, keys.temporal
        spatial = self._map(ctx, s_key[0], tuned=s_key[1], objective=variant.objective)
        used[s_key] = spatial
        # One text and one tuning setting give one map (deterministic): computed once.
        temporal = spatial if s_key == t_key else self._map(
            ctx, t_key[0], tuned=t_key[1], objective=variant.objective
        )  # fmt: skip
        used[t_key] = temporal
        for m in {id(spatial): spatial, id(temporal): temporal}.values():
            if variant.token == "fixed":
                m.token = self._fixed_token(m.tokens)
            elif variant.token == "gti":
                m.token = int(np.argmax(m.activation))
        return spatial, temporal

    def _span_positions(self, frame_scores: Sequence[float] | np.ndarray) -> tuple[int, int]:
        """First and last MLLM frame position of the predicted span (``temporal_mode``)."""
        if self.cfg.temporal_mode == "topk":
            return scoring.topk_span(frame_scores, self.cfg.k_frames)
        return scoring.grow_span(frame_scores, self.cfg.k_frames)


def _llm_calls(maps: Iterable[MapResult]) -> dict[str, float]:
    """The LLM calls that computed ``maps``: forwards, backwards, forward equivalents."""
    costs = [m.cost for m in maps]
    return {
        "forwards": sum(c[0] for c in costs),
        "backwards": sum(c[1] for c in costs),
        "forward_equivalents": round(sum(c[2] for c in costs), 4),
    }


def _finite(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


def _layer_mean(out: ForwardResult) -> np.ndarray:
    """The layer-mean maps ``(n_tokens, t, h, w)`` of a forward that captured attention."""
    if out.attn_thw is None:
        raise RuntimeError("a forward for a map captured no attention")
    return scoring.layer_mean(out.attn_thw.detach().float().cpu().numpy())


class _SampleContext:
    """One sample's shared state: encoded inputs per text, the video's features (computed
    once, reused by every forward), masks and upsampling at frame resolution."""

    def __init__(
        self, mllm: GroundingModel, gin: GroundInput, tunes: bool = True,
        recomputing: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext,
        ground_truth: GroundTruthModel | None = None,
    ) -> None:  # fmt: skip
        self.mllm = mllm
        self.gin = gin
        self.recomputing = recomputing
        self.ground_truth = ground_truth  # the backend, where it reads the sample's GT
        self.pending_tuned: collections.Counter[bool] = collections.Counter()
        self.tunes = tunes  # whether any LRA step will backpropagate through the p = 0 prefix
        self._inputs: dict[str, MLLMInputs] = {}
        self.maps: dict[MapKey, MapResult] = {}
        self._features: VisualFeatures | None = None
        self._reversed: VisualFeatures | None = None
        self.n_forward = 0
        self.n_backward = 0
        self.work = 0.0  # forward-equivalents
        self._prefix0: dict[bool, tuple[PrefixState, torch.Tensor]] = {}
        self._masks: dict[int, list[np.ndarray | None]] = {}
        self.height, self.width = gin.frames[0].shape[:2]
        self.region = tuple(float(v) for v in mllm.region(self.width, self.height))
        self.approximate_reversal = not mllm.exact_reversal
        self._slots: list[int] | None = None

    def prepare(self) -> float:
        t0 = time.perf_counter()
        if self.ground_truth is not None:
            self.ground_truth.bind_sample(self.gin.sample)
        first = self.inputs(self.gin.sample.query)
        self._features = self.mllm.visual_features(first)
        self._slots = scoring.slot_of_frame(first.layout.frames_of_t, self.gin.mllm_frame_idx)
        return time.perf_counter() - t0

    @property
    def features(self) -> VisualFeatures:
        """The video's visual features (computed once, by :meth:`prepare`)."""
        if self._features is None:
            raise RuntimeError("the sample's features are read before prepare()")
        return self._features

    def inputs(self, text: str) -> MLLMInputs:
        if text not in self._inputs:
            inp = self.mllm.encode(self.gin.frames, self.gin.mllm_frame_idx, text, self.gin.fps)
            if self._features is not None:
                _check_match(inp, self._features, self._inputs[self.gin.sample.query])
            self._inputs[text] = inp
        return self._inputs[text]

    def prefix0(
        self, mllm: PrefixCachingModel, reversed_video: bool
    ) -> tuple[PrefixState, torch.Tensor]:
        """The p = 0 prefix of the video (forward or reversed), computed once. When the job
        tunes, through every layer with a zero leaf prompt ``x0`` that requires grad, so every
        sub-query's first LRA step can backpropagate through it (the graph is kept for the
        sample); otherwise only its maps are read: no graph, cut after the last captured
        layer."""
        if reversed_video not in self._prefix0:
            features = self.reversed_features() if reversed_video else self.features
            first = self._inputs[self.gin.sample.query]
            x0 = torch.zeros_like(features.embeds, dtype=torch.float32, requires_grad=self.tunes)
            with torch.set_grad_enabled(self.tunes), self.recomputing():
                state = mllm.prefix(first, features, x0, rows_only=not self.tunes)
            self.count(mllm, first, state, suffix=False)
            self._prefix0[reversed_video] = (state, x0)
        return self._prefix0[reversed_video]

    def tuned_done(self, reversed_video: bool) -> None:
        """One planned tuned map of this direction is done; after the last one the p = 0
        prefix keeps its cache (for the untuned maps) but drops its autograd graph."""
        self.pending_tuned[reversed_video] -= 1
        if self.pending_tuned[reversed_video] <= 0 and reversed_video in self._prefix0:
            state, _ = self._prefix0[reversed_video]
            state.release_graph()

    def count(
        self,
        mllm: PrefixCachingModel,
        inputs: MLLMInputs,
        state: PrefixState,
        suffix: bool,
        depth: int | None = None,
    ) -> None:
        """Add one prefix or suffix forward to the counters: its share of the full sequence's
        tokens times its share of the decoder layers (a prefix runs ``state.depth`` of them,
        a suffix ``depth``)."""
        self.n_forward += 1
        n, length = state.length, inputs.seq_len
        tokens = (length - n) / length if suffix else n / length
        layers = (depth if suffix and depth is not None else state.depth) / mllm.num_layers
        self.work += tokens * layers

    def reversed_features(self) -> VisualFeatures:
        if self._reversed is None:
            self._reversed = self.mllm.reverse(self.features, self._inputs[self.gin.sample.query])
        return self._reversed

    def upsample(self, map_thw: np.ndarray, region: tuple[float, ...]) -> list[np.ndarray]:
        """The map of each MLLM frame's slot, upsampled onto the frame."""
        assert self._slots is not None
        cache: dict[int, np.ndarray] = {}
        out = []
        for slot in self._slots:
            if slot not in cache:
                cache[slot] = scoring.upsample(map_thw[slot], self.height, self.width, region)  # type: ignore[arg-type]
            out.append(cache[slot])
        return out

    def masks(self, track: Track) -> list[np.ndarray | None]:
        """The track's mask on each MLLM frame (None: absent), decoded once per sample."""
        if track.track_id not in self._masks:
            self._masks[track.track_id] = track_masks(
                track, self.gin.mllm_frame_idx, self.height, self.width
            )
        return self._masks[track.track_id]


def track_masks(
    track: Track, frame_idx: Sequence[int], height: int, width: int
) -> list[np.ndarray | None]:
    """The track's mask on each of ``frame_idx`` (None where it has no box): its RLE, or its
    box's pixels where the RLE is missing, empty or of another frame size."""
    from zstvg.files import rle as rle_mod

    out: list[np.ndarray | None] = []
    for f in frame_idx:
        if f not in track.boxes_xyxy:
            out.append(None)
            continue
        rle = track.rles.get(f)
        mask = rle_mod.decode(rle) if rle is not None else None
        if mask is None or mask.shape != (height, width) or not mask.any():
            mask = rle_mod.box_pixels(track.boxes_xyxy[f], height, width)
        out.append(mask)
    return out


def _check_match(inputs: MLLMInputs, features: VisualFeatures, first: MLLMInputs) -> None:
    """The features of one video serve every prompt of it: same visual tokens, same grid."""
    if (
        len(inputs.layout.visual_index) != features.embeds.shape[0]
        or inputs.layout.grid_thw != first.layout.grid_thw
        or inputs.frame_idx != first.frame_idx
    ):
        raise RuntimeError(
            f"visual features of {first.layout.grid_thw} x {features.embeds.shape[0]} tokens "
            f"do not belong to inputs with {inputs.layout.grid_thw} x "
            f"{len(inputs.layout.visual_index)} tokens"
        )


def texts_for(
    sample: Sample, decomposition: Decomposition | None, template: str
) -> tuple[str, str, tuple[str, ...]]:
    """The DSTH sub-queries (spatial from the attribute, temporal from the action); a missing
    or failed decomposition, or one with an empty attribute or action ("Is there  in this
    video?" would ask about nothing), falls back to the full query for both, flagged."""

    if decomposition is None or decomposition.error:
        whole = subquery(template, sample.query)
        return whole, whole, ("decomposition_fallback_to_query",)
    flags = tuple(f"decomposition:{f}" for f in decomposition.flags)
    empty = [k for k in ("attribute", "action") if not getattr(decomposition, k).strip()]
    if empty:
        whole = subquery(template, sample.query)
        empty_flags = tuple(f"decomposition_empty_{k}" for k in empty)
        return whole, whole, (*flags, *empty_flags, "decomposition_fallback_to_query")
    return (
        subquery(template, decomposition.attribute),
        subquery(template, decomposition.action),
        flags,
    )


class VariantError(ValueError):
    """One variant cannot run on this sample (the others of the job can): it fails alone."""


def query_text(template: str, query: str) -> str:
    """What the untuned rows ask of the whole query: ``template`` around it, its trailing
    period dropped; the template ``"{query}"`` asks the raw sentence unchanged."""
    if template.strip() == "{query}":
        return query
    return template.format(query=query.strip().rstrip("."))


def subquery(template: str, description: str) -> str:
    """The DSTH question about a description, its trailing period dropped."""
    return template.format(description=description.strip().rstrip("."))
