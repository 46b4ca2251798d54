"""What the grounding engine needs from a model, as typed protocols
(docs/method.md#the-method-as-implemented).

:class:`GroundingModel` is what every backend gives the engine: inputs from frames + prompt,
the frozen vision features once per video, their time reversal (TAS), and a forward with an
optional visual prompt (LRA) that returns the candidate tokens' attention and the Yes/No
logits. Two capabilities only some backends have are protocols of their own, which the engine
checks once, when it is built:

- :class:`PrefixCachingModel`: a backend that runs the visual prefix of a sequence once and each
  text as a short suffix over its KV cache (``ground.engine: fast``); every
  :class:`~zstvg.mllm.base.MLLM` backend does, the scripted test backends do not (the fast engine
  then runs full forwards for them).
- :class:`GroundTruthModel`: a backend whose attention comes from the sample's ground truth (the
  attention oracle): the engine gives it the neutral prompt and each sample before its forwards.
- :class:`HeadProbingModel`: a backend that returns every layer's and head's map
  (``zstvg probe-layers``); every backend here does.

Each backend module states which protocol its classes satisfy with a module-level
``_: type[Protocol] = Backend`` line, so ``mypy`` fails on a backend that lacks a member or
spells one with another signature.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable

import torch

from zstvg.files.records import Sample
from zstvg.mllm.base import (
    MLLM,
    ForwardResult,
    FrameInput,
    MLLMInputs,
    PrefixState,
    VisualFeatures,
)


@runtime_checkable
class GroundingModel(Protocol):
    """What the grounding engine calls on every backend."""

    @property
    def name(self) -> str:
        """The backend's name (as registered in ``zstvg.mllm.MLLMS``)."""
        ...

    @property
    def exact_reversal(self) -> bool:
        """Whether reversing the visual tokens in time equals a forward on reversed frames
        (False: the engine flags TAS as approximate)."""
        ...

    @property
    def fixed_token(self) -> str:
        """The authors' fixed grounding token, by its text in this backend's template."""
        ...

    def set_answer_words(self, words: Sequence[str]) -> None:
        """The words whose first-answer-token logits are z_yes and z_no."""
        ...

    def region(self, width: int, height: int) -> tuple[float, float, float, float]:
        """The region (x0, y0, x1, y1 pixels) of a ``width`` x ``height`` frame that the
        visual grid covers."""
        ...

    def encode(
        self, frames: Sequence[FrameInput], frame_idx: Sequence[int], prompt: str, fps: float
    ) -> MLLMInputs:
        """Frames of one video (native ``frame_idx``, frame rate ``fps``) + a user prompt ->
        model inputs."""
        ...

    def visual_features(self, inputs: MLLMInputs) -> VisualFeatures:
        """The frozen vision output of the video in ``inputs`` (once per video)."""
        ...

    def reverse(self, features: VisualFeatures, inputs: MLLMInputs) -> VisualFeatures:
        """``features`` reversed in time at the visual-token level (TAS)."""
        ...

    def forward(
        self,
        inputs: MLLMInputs,
        features: VisualFeatures | None = None,
        visual_delta: torch.Tensor | None = None,
        positions: Sequence[int] | None = None,
        capture: bool = True,
    ) -> ForwardResult:
        """One full forward, ``visual_delta`` (the LRA prompt) added to the visual tokens."""
        ...

    def recomputing(self, enabled: bool = True) -> AbstractContextManager[None]:
        """Activation checkpointing of the forwards inside the block, when ``enabled`` and the
        backend has layers to checkpoint (a no-op otherwise)."""
        ...


@runtime_checkable
class PrefixCachingModel(GroundingModel, Protocol):
    """A backend that caches a sequence's visual prefix and runs each text as a suffix over it
    (the fast engine's shared prefixes)."""

    @property
    def num_layers(self) -> int:
        """Decoder layers of the LLM (a full forward runs all of them)."""
        ...

    @property
    def rows_depth(self) -> int:
        """Decoder layers a forward runs when only the attention rows are read."""
        ...

    def prefix(
        self,
        inputs: MLLMInputs,
        features: VisualFeatures,
        visual_delta: torch.Tensor | None = None,
        rows_only: bool = False,
    ) -> PrefixState:
        """The KV cache of the sequence up to its last visual token."""
        ...

    def suffix(
        self,
        inputs: MLLMInputs,
        state: PrefixState,
        positions: Sequence[int] | None = None,
        capture: bool = True,
        rows_only: bool = False,
    ) -> ForwardResult:
        """The text part of ``inputs`` as a forward over the prefix's cache."""
        ...


@runtime_checkable
class HeadProbingModel(GroundingModel, Protocol):
    """A backend that also returns every layer's and every head's map (probe-layers)."""

    @property
    def num_layers(self) -> int:
        """Decoder layers of the LLM."""
        ...

    @property
    def num_heads(self) -> int:
        """Query heads per decoder layer."""
        ...

    @property
    def layers(self) -> tuple[int, ...]:
        """The decoder layers the method averages (the configured range)."""
        ...

    def forward(
        self,
        inputs: MLLMInputs,
        features: VisualFeatures | None = None,
        visual_delta: torch.Tensor | None = None,
        positions: Sequence[int] | None = None,
        capture: bool = True,
        per_head: bool = False,
    ) -> ForwardResult:
        """A forward whose result, with ``per_head``, also holds ``attn_heads_thw``
        (positions, every layer, every head, t, h, w)."""
        ...


@runtime_checkable
class GroundTruthModel(GroundingModel, Protocol):
    """A backend whose attention comes from the sample's ground truth (the attention oracle)."""

    # The prompt it answers with uniform attention (the relative map's denominator).
    neutral_prompt: str | None

    def bind_sample(self, sample: Sample) -> None:
        """The sample (with its ground truth) the next forwards are about."""
        ...


# Every MLLM backend probes its heads (its subclasses state their protocols in their modules).
_mllm: type[HeadProbingModel] = MLLM

__all__ = ["GroundTruthModel", "GroundingModel", "HeadProbingModel", "PrefixCachingModel"]
