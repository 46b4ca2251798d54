"""The MLLM interface the grounding step uses (docs/method.md#mllm-adapters), and the code every
backend shares.

What the engine calls on a backend is typed in :mod:`zstvg.mllm.protocol`; every :class:`MLLM`
backend is a ``PrefixCachingModel`` there.

A backend turns sampled frames + a user prompt into model inputs through the checkpoint's own
processor (``AutoProcessor.from_pretrained(checkpoint)``): its chat template with the assistant
generation prompt, its video processor (resizing, normalization, temporal patching), its
placeholder expansion and token types. The frames are the ones given (``do_sample_frames=False``)
and carry their native ``frame_idx`` and the video's ``fps`` as ``VideoMetadata``, so
time-aware processors (Qwen2.5-VL's seconds per temporal patch, Qwen3-VL's per-frame timestamp
text) see real times. :class:`VisualLayout` records where the visual tokens are and which
frames each temporal slot shows. One forward pass then returns

- ``attn_thw``: for the selected positions (grounding-token candidates + the last position),
  the attention over the visual tokens averaged over heads, per layer of the configured range,
  shaped (positions, layers, t, h, w);
- the first-answer-token logits of "Yes" and "No".

The forward always runs on the embeddings path through the model's own ``forward``: the frozen
vision tower's output (computed once per video, :meth:`MLLM.visual_features`), plus an optional
learnable ``visual_delta`` of the same shape (LRA prompt tuning), optionally reversed in time at
the token level (TAS), goes in as precomputed ``mm_encoder_outputs``; the model scatters it into
the token embeddings and builds its own positions (Qwen's 3-D M-RoPE from ``video_grid_thw`` and
``mm_token_type_ids``) exactly as for pixels. Weights are frozen (``requires_grad=False``), so
after ``loss.backward()`` only ``visual_delta`` holds a gradient.

Yes/No rule: a word counts if the tokenizer encodes it as one token, with and without a
leading space ("Yes", " Yes"); the logit is the maximum over its variants (the first answer
token after "assistant\\n" is, in practice, the no-space form; the max keeps either).
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias, cast

import numpy as np
import torch

from zstvg.jobs.gpus import resolve_device
from zstvg.mllm import capture as cap

if TYPE_CHECKING:
    from PIL import Image
    from transformers.utils.generic import ModelOutput
    from transformers.video_utils import VideoMetadata

log = logging.getLogger(__name__)

FrameInput: TypeAlias = "np.ndarray | Image.Image"  # an HxWx3 uint8 array or a PIL image

PIXEL_KEYS = ("pixel_values_videos", "pixel_values")
# The grounding suffix is looked for in the last this many tokens (chat templates end with
# 2-8 template tokens after the user text).
MAX_SUFFIX_TOKENS = 32


@dataclass(frozen=True)
class VisualLayout:
    """Where the visual tokens are and which frames they show.

    ``grid_index`` holds the sequence positions of the (t, h, w) grid tokens in row-major
    (t, h, w) order; ``extra_index`` the other visual tokens (e.g. LLaVA-OV's trailing newline
    token), which take part in the forward but not in ``attn_thw``. ``visual_index`` is the
    order in which the vision tower's output rows are scattered into the sequence.
    ``frames_of_t[t]`` are the native frame indices merged into temporal slot t (Qwen's
    temporal patch holds 2 frames; most backends hold 1).
    """

    visual_index: torch.Tensor
    grid_index: torch.Tensor
    grid_thw: tuple[int, int, int]
    frames_of_t: tuple[tuple[int, ...], ...]
    extra_index: torch.Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.long))

    def grid_rows(self) -> torch.Tensor:
        """Rows of the visual features (in ``visual_index`` order) that form the grid."""
        where = {int(p): i for i, p in enumerate(self.visual_index.tolist())}
        return torch.tensor([where[int(p)] for p in self.grid_index.tolist()], dtype=torch.long)

    def reverse_rows(self) -> torch.Tensor:
        """Permutation of visual-feature rows that reverses the time axis of the grid.

        Grid rows move from slot (t, h, w) to (T-1-t, h, w); extra tokens stay in place.
        """
        t, h, w = self.grid_thw
        grid_rows = self.grid_rows()
        perm = torch.arange(len(self.visual_index))
        perm[grid_rows] = grid_rows.view(t, h, w).flip(0).reshape(-1)
        return perm


@dataclass
class MLLMInputs:
    """The processor's output for one video + prompt, with the positions grounding reads.

    ``pixel_inputs`` are the pixel tensors (only the vision tower reads them); ``extra`` is the
    rest of the processor output the model's forward takes (grids, token types, seconds per
    temporal patch), used on both the pixel and the embeddings path.
    """

    input_ids: torch.Tensor  # (1, L)
    pixel_inputs: dict[str, torch.Tensor]
    layout: VisualLayout
    candidate_positions: tuple[int, ...]
    candidate_tokens: tuple[str, ...]
    frame_idx: tuple[int, ...]
    extra: dict[str, torch.Tensor] = field(default_factory=dict)
    position_ids: torch.Tensor | None = None  # explicit positions, where a backend needs them

    @property
    def last_position(self) -> int:
        return int(self.input_ids.shape[1]) - 1

    @property
    def seq_len(self) -> int:
        return int(self.input_ids.shape[1])


@dataclass
class VisualFeatures:
    """The frozen vision tower's output for one video: ``embeds`` (n_visual, hidden) in
    ``layout.visual_index`` order, plus per-backend extras whose second-to-last axis is the
    visual token (Qwen3-VL's deepstack features: (levels, n_visual, hidden))."""

    embeds: torch.Tensor
    extras: dict[str, torch.Tensor] = field(default_factory=dict)

    def permuted(self, rows: torch.Tensor) -> VisualFeatures:
        return VisualFeatures(
            self.embeds[rows.to(self.embeds.device)],
            {k: v[..., rows.to(v.device), :] for k, v in self.extras.items()},
        )


@dataclass
class ForwardResult:
    positions: tuple[int, ...]
    layers: tuple[int, ...]  # absolute decoder-layer indices
    attn_thw: torch.Tensor | None  # (positions, layers, t, h, w) float32, or None (no capture)
    yes_logit: torch.Tensor  # scalar, differentiable w.r.t. visual_delta
    no_logit: torch.Tensor
    last_logits: torch.Tensor  # (vocab,) logits of the first answer token
    # (positions, layers, heads, t, h, w) float32 on the CPU: every head's map (forward with
    # per_head=True, probe-layers), else None
    attn_heads_thw: torch.Tensor | None = None


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """bf16 on GPU, fp32 on CPU (bf16 matmuls on CPU are slow and inexact)."""
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]


# Where a layer range comes from, for its errors.
LAYER_KEYS = "mllm.layer_start/layer_stop, or the model's models.<name>.layers"


def resolve_layers(n_layers: int, start: int, stop: int | None) -> tuple[int, ...]:
    """The decoder layers [start, stop) as Python slice indices (negative: from the end; stop
    None: through the last layer). A bound outside the model, or an empty range, is an error:
    a slice would clamp it without a word (the default [-26, -6), meant for 28-layer 7B
    models, quietly means layers 0-1 of an 8-layer one)."""
    if not -n_layers <= start < n_layers:
        raise ValueError(
            f"layer_start={start} ({LAYER_KEYS}) is outside the model's {n_layers} decoder "
            f"layers: expected {-n_layers}..{n_layers - 1}"
        )
    if stop is not None and not -n_layers <= stop <= n_layers:
        raise ValueError(
            f"layer_stop={stop} ({LAYER_KEYS}) is outside the model's {n_layers} decoder "
            f"layers: expected {-n_layers}..{n_layers} or null"
        )
    layers = tuple(range(n_layers)[start:stop])
    if not layers:
        raise ValueError(
            f"layer_start={start}, layer_stop={stop} ({LAYER_KEYS}) select no layer of the "
            f"model's {n_layers} decoder layers"
        )
    return layers


# Where a head subset comes from, for its errors.
HEAD_KEYS = "mllm.heads, or the model's models.<name>.heads"


def resolve_heads(n_heads: int, heads: Sequence[int] | None) -> tuple[int, ...] | None:
    """The query heads whose attention is averaged (None: all), sorted, each checked against
    the model's ``n_heads`` (a head outside would fail only inside the first forward)."""
    if heads is None:
        return None
    chosen = tuple(sorted({int(h) for h in heads}))
    if not chosen or chosen[0] < 0 or chosen[-1] >= n_heads:
        raise ValueError(
            f"heads={list(heads)} ({HEAD_KEYS}) must name one or more of the model's "
            f"{n_heads} attention heads: 0..{n_heads - 1}"
        )
    return chosen


def as_rgb_arrays(frames: Sequence[FrameInput]) -> list[np.ndarray]:
    """HxWx3 uint8 arrays, all of one size (frames of one video)."""
    if len(frames) == 0:
        raise ValueError("no frames given")
    arrays = [np.asarray(f.convert("RGB") if hasattr(f, "convert") else f) for f in frames]
    for i, a in enumerate(arrays):
        if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
            raise ValueError(f"frame {i}: expected HxWx3 uint8, got {a.shape} {a.dtype}")
        if a.shape != arrays[0].shape:
            raise ValueError(f"frame {i} is {a.shape[:2]}, frame 0 is {arrays[0].shape[:2]}")
    return arrays


def video_metadata(frame_idx: Sequence[int], fps: float) -> VideoMetadata:
    """``VideoMetadata`` of pre-sampled frames.

    ``total_num_frames`` is the span the frames cover in native frames (count x mean step), so
    that transformers' ``sampled_fps`` (count / total * fps) is the real sampling rate: 20
    frames every 25 native frames at 25 fps -> 1 fps (Qwen2.5-VL: 2 s per temporal patch).
    """
    from transformers.video_utils import VideoMetadata

    n = len(frame_idx)
    step = abs(frame_idx[-1] - frame_idx[0]) / (n - 1) if n > 1 else 1.0
    return VideoMetadata(
        # A float on purpose (see above): transformers annotates int but only divides by it.
        total_num_frames=n * (step or 1.0),  # type: ignore[arg-type]
        fps=float(fps),
        frames_indices=[int(i) for i in frame_idx],
    )


def slots_of_frames(frame_idx: Sequence[int], temporal_patch: int) -> tuple[tuple[int, ...], ...]:
    """Native frames per temporal slot; a short last slot repeats the last frame (as the video
    processors pad), which the mapping lists once."""
    slots = math.ceil(len(frame_idx) / temporal_patch)
    padded = list(frame_idx) + [frame_idx[-1]] * (slots * temporal_patch - len(frame_idx))
    return tuple(
        tuple(dict.fromkeys(padded[s * temporal_patch : (s + 1) * temporal_patch]))
        for s in range(slots)
    )


# Per-token inputs besides the ids (sliced with them for a prefix or a suffix forward).
TOKEN_KEYS = ("mm_token_type_ids", "token_type_ids")


def _tokens(extra: Mapping[str, Any], start: int, stop: int, length: int) -> dict[str, Any]:
    """``extra`` with its per-token tensors (shape (1, length)) cut to [start, stop)."""
    return {
        k: v[:, start:stop] if torch.is_tensor(v) and v.dim() == 2 and v.shape[1] == length else v
        for k, v in extra.items()
    }


@dataclass
class PrefixState:
    """The KV cache of a sequence's visual prefix (its first ``length`` tokens) through its
    first ``depth`` decoder layers (all of them, or up to the last captured one)."""

    length: int
    # A transformers DynamicCache: its layers hold keys and values (transformers' Cache type
    # also admits linear-attention layers, which have none).
    cache: Any
    input_ids: torch.Tensor
    depth: int
    saved: list[tuple[torch.Tensor | None, torch.Tensor | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # The prefix's own key/value tensors. A suffix forward appends to them (torch.cat);
        # putting these back afterwards, rather than slicing the appended ones, keeps the
        # prefix's autograd graph even when the suffix ran under no_grad.
        self.saved = [(layer.keys, layer.values) for layer in self.cache.layers]

    def restore(self) -> None:
        for layer, (keys, values) in zip(self.cache.layers, self.saved, strict=True):
            layer.keys, layer.values = keys, values

    def release_graph(self) -> None:
        """Keep the prefix's keys and values but drop their autograd graph: no backward
        reaches the prefix after this, and the graph's memory goes."""
        self.saved = [(_detached(k), _detached(v)) for k, v in self.saved]
        self.restore()


def _detached(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t.detach()


class MLLM:
    """Shared machinery; a backend subclass sets the class attributes and the ``_`` hooks."""

    name = "base"
    model_class = "AutoModelForImageTextToText"
    # Chat-template text after the user content, up to the end of the generation prompt. Its
    # tokens are the grounding-token candidates (docs/method.md#grounding-token-identification-gti).
    grounding_suffix = "<|im_end|>\n<|im_start|>assistant\n"
    answer_words = ("Yes", "No")
    # mm_encoder_outputs key of the visual tokens ("image" where frames go in as images).
    modality = "video"
    # Processor-call settings of the model's own video pipeline that the library would
    # otherwise leave to a default it announces will change (Qwen: the per-frame pixel cap).
    # Params' ``models.<name>.processor`` entries override them key by key
    # (:meth:`processor_settings`); the run records the result.
    pipeline_video_kwargs: ClassVar[Mapping[str, Any]] = MappingProxyType({})
    temporal_patch = 1  # frames per temporal slot
    # Whether reversing the visual tokens in time equals a forward on reversed frames (TAS);
    # False where a temporal slot mixes frames (Qwen): the reversal is then approximate.
    exact_reversal = True
    # The authors' fixed grounding token (their index -3 from the end of the Qwen/OV/InternVL
    # template), by its text: `fixed-token` picks it by identity in our template.
    fixed_token = "<|im_start|>"
    # The box-decoding answer format of the `direct` baseline
    # (zstvg.grounding.direct_answers.FAMILIES); None: the family is not asked for boxes.
    box_family: str | None = None

    def __init__(
        self,
        model: Any,
        processor: Any,
        layer_start: int = -26,
        layer_stop: int | None = -6,
        video_kwargs: Mapping[str, Any] | None = None,
        frame_size: Sequence[int] | None = None,
        system_prompt: str | None = None,
        heads: Sequence[int] | None = None,
    ) -> None:
        self.model = model
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.video_kwargs = self.processor_settings(video_kwargs)
        self.frame_size = (int(frame_size[0]), int(frame_size[1])) if frame_size else None
        self.system_prompt = system_prompt
        for p in model.parameters():
            p.requires_grad_(False)
        model.eval()
        self.layers = resolve_layers(self.num_layers, layer_start, layer_stop)
        self.heads = resolve_heads(self.num_heads, heads)
        self.yes_ids = self._word_ids(self.answer_words[0])
        self.no_ids = self._word_ids(self.answer_words[1])

    # ----------------------------------------------------------------------------- loading
    @classmethod
    def load(
        cls,
        checkpoint: str | Path,
        dtype: str = "auto",
        device: str = "auto",
        layer_start: int = -26,
        layer_stop: int | None = -6,
        attn_implementation: str | dict[str, str] | None = None,
        video_kwargs: Mapping[str, Any] | None = None,
        config_overrides: Mapping[str, Any] | None = None,
        frame_size: Sequence[int] | None = None,
        system_prompt: str | None = None,
        heads: Sequence[int] | None = None,
    ) -> MLLM:
        """Load a local checkpoint directory (or hub id) with the capture attention.

        ``attn_implementation`` overrides the default (capture for the LLM, SDPA elsewhere);
        the tests pass ``"eager"`` to build the reference. ``video_kwargs`` go to every
        processor call over the backend's :attr:`pipeline_video_kwargs` (e.g.
        ``{"size": {"shortest_edge": ..., "longest_edge": ...}}`` to change Qwen's per-frame
        pixel budget).
        """
        import transformers
        from transformers import AutoProcessor

        dev = torch.device(resolve_device(device))
        torch_dtype = resolve_dtype(dtype, dev)
        impl = attn_implementation or {"": "sdpa", "text_config": cap.CAPTURE_IMPL}
        model_cls = getattr(transformers, cls.model_class)
        model = model_cls.from_pretrained(
            str(checkpoint),
            dtype=torch_dtype,
            attn_implementation=impl,
            **dict(config_overrides or {}),  # config attributes (spatial_pool_stride, ...)
        ).to(dev)
        processor = AutoProcessor.from_pretrained(str(checkpoint))
        if getattr(processor, "video_processor", None) is None or not processor.chat_template:
            raise ValueError(
                f"{checkpoint}: the processor has no video processor or no chat template"
            )
        return cls(
            model,
            processor,
            layer_start,
            layer_stop,
            video_kwargs,
            frame_size,
            system_prompt,
            heads,
        )

    @classmethod
    def processor_settings(cls, video_kwargs: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The keyword arguments of every processor call: the backend's pipeline settings
        with ``video_kwargs`` (params ``models.<name>.processor``) over them, key by key."""
        return {**cls.pipeline_video_kwargs, **dict(video_kwargs or {})}

    # ------------------------------------------------------------------------- properties
    @property
    def text_config(self) -> Any:
        return self.model.config.get_text_config()

    @property
    def num_layers(self) -> int:
        return int(self.text_config.num_hidden_layers)

    @property
    def num_heads(self) -> int:
        """Query heads per decoder layer (the per-head maps' and ``heads``' index range)."""
        return int(self.text_config.num_attention_heads)

    @property
    def device(self) -> torch.device:
        return self.model.get_input_embeddings().weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.model.get_input_embeddings().weight.dtype

    @property
    def visual_token_id(self) -> int:
        """Id of the placeholder token whose positions receive the visual features."""
        return int(self.processor.video_token_id)

    def _attention_modules(self, which: Sequence[int] | None = None) -> dict[torch.nn.Module, int]:
        """The self-attention module of each captured layer (``which``, default the
        configured range) -> its layer index."""
        layers = self.decoder_layers()
        # Module.__getattr__ is typed Tensor | Module; a decoder layer's self_attn is a Module.
        chosen = self.layers if which is None else which
        return {cast(torch.nn.Module, layers[i].self_attn): i for i in chosen}

    def decoder_layers(self) -> Sequence[torch.nn.Module]:
        return self.model.model.language_model.layers

    # ------------------------------------------------------------------------------ inputs
    def encode(
        self,
        frames: Sequence[FrameInput],
        frame_idx: Sequence[int],
        prompt: str,
        fps: float,
    ) -> MLLMInputs:
        """Frames (one video, native ``frame_idx`` each, video frame rate ``fps``) + user prompt
        -> model inputs, through the checkpoint's processor."""
        if len(frames) != len(frame_idx):
            raise ValueError(f"{len(frames)} frames but {len(frame_idx)} frame indices")
        if not fps or fps <= 0:
            raise ValueError(f"fps must be positive, got {fps!r}")
        arrays = as_rgb_arrays(frames)
        if self.frame_size is not None:  # squashed, as the authors feed 336^2 / 224^2 frames
            from PIL import Image

            h, w = self.frame_size
            arrays = [
                np.asarray(Image.fromarray(a).resize((w, h), Image.Resampling.BICUBIC))
                for a in arrays
            ]
        video = np.stack(arrays)
        messages = [
            {"role": "user", "content": [{"type": "video"}, {"type": "text", "text": prompt}]}
        ]
        if self.system_prompt is not None:
            system = [{"type": "text", "text": self.system_prompt}]
            messages.insert(0, {"role": "system", "content": system})
        text = self.processor.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=False
        )
        batch = self.processor(
            text=[text],
            videos=[video],
            video_metadata=[video_metadata(frame_idx, fps)],
            do_sample_frames=False,
            return_tensors="pt",
            **self.video_kwargs,
        )
        input_ids = batch["input_ids"]
        pixel_inputs = {k: batch[k] for k in PIXEL_KEYS if k in batch}
        extra = {
            k: v
            for k, v in batch.items()
            if k not in PIXEL_KEYS and k not in ("input_ids", "attention_mask")
        }
        positions, labels = self._candidates(input_ids[0])
        layout = self._layout(
            input_ids[0],
            self._grid(pixel_inputs, extra, len(frames)),
            slots_of_frames(list(frame_idx), self.temporal_patch),
        )
        return MLLMInputs(
            input_ids=input_ids.to(self.device),
            pixel_inputs={k: v.to(self.device) for k, v in pixel_inputs.items()},
            layout=layout,
            candidate_positions=positions,
            candidate_tokens=labels,
            frame_idx=tuple(int(i) for i in frame_idx),
            extra={k: v.to(self.device) if torch.is_tensor(v) else v for k, v in extra.items()},
        )

    def _candidates(self, ids: torch.Tensor) -> tuple[tuple[int, ...], tuple[str, ...]]:
        """The shortest tail of tokens that decodes to text containing the grounding suffix.

        Matching decoded text (not token ids of the suffix encoded alone) keeps tokenizers
        that merge a leading space into the next word (" ASSISTANT") working.
        """
        want = self.grounding_suffix.strip()
        ids_list = ids.tolist()
        for k in range(1, min(MAX_SUFFIX_TOKENS, len(ids_list)) + 1):
            if want in self.tokenizer.decode(ids_list[-k:]):
                start = len(ids_list) - k
                labels = tuple(self.tokenizer.convert_ids_to_tokens(ids_list[start:]))
                return tuple(range(start, len(ids_list))), labels
        raise ValueError(
            f"{self.name}: the prompt does not end with the grounding suffix "
            f"{self.grounding_suffix!r} (last tokens decode to "
            f"{self.tokenizer.decode(ids_list[-8:])!r}); the chat template differs from the "
            "one this backend declares"
        )

    def _layout(
        self,
        ids: torch.Tensor,
        grid_thw: tuple[int, int, int],
        frames_of_t: tuple[tuple[int, ...], ...],
    ) -> VisualLayout:
        """Visual tokens in sequence order: the (t, h, w) grid first, then any extra tokens."""
        index = torch.nonzero(ids == self.visual_token_id).flatten().cpu()
        n_grid = math.prod(grid_thw)
        if len(index) < n_grid or len(frames_of_t) != grid_thw[0]:
            raise ValueError(
                f"{self.name}: {len(index)} visual tokens and "
                f"{len(frames_of_t)} slots for a {grid_thw} grid"
            )
        return VisualLayout(
            visual_index=index,
            grid_index=index[:n_grid],
            grid_thw=grid_thw,
            frames_of_t=frames_of_t,
            extra_index=index[n_grid:],
        )

    def set_answer_words(self, words: Sequence[str]) -> None:
        """The words whose first-answer-token logits are z_yes and z_no (params
        ``ground.answer_words``; the authors use lowercase "yes"/"no")."""
        self.yes_ids = self._word_ids(words[0])
        self.no_ids = self._word_ids(words[1])

    def grid_region(self, width: int, height: int) -> tuple[float, float, float, float]:
        """The region (x0, y0, x1, y1 pixels) of a ``width`` x ``height`` processor input the
        visual grid covers: all of it for processors that resize or squash; backends that
        crop override this."""
        return (0.0, 0.0, float(width), float(height))

    def region(self, width: int, height: int) -> tuple[float, float, float, float]:
        """The region of an original frame the grid covers, through the optional squash to
        ``frame_size`` (a squashed square frame is fully seen even by a centre crop)."""
        if self.frame_size is None:
            return self.grid_region(width, height)
        fh, fw = self.frame_size
        x0, y0, x1, y1 = self.grid_region(fw, fh)
        sx, sy = width / fw, height / fh
        return (x0 * sx, y0 * sy, x1 * sx, y1 * sy)

    def _word_ids(self, word: str) -> tuple[int, ...]:
        ids = []
        for variant in (word, " " + word):
            enc = self.tokenizer(variant, add_special_tokens=False)["input_ids"]
            if len(enc) == 1 and enc[0] not in ids:
                ids.append(enc[0])
        if not ids:
            raise ValueError(f"{self.name}: the tokenizer has no single token for {word!r}")
        return tuple(ids)

    # ------------------------------------------------------------------------- features
    @torch.no_grad()
    def visual_features(self, inputs: MLLMInputs) -> VisualFeatures:
        """The frozen vision tower + projector output, in ``layout.visual_index`` order."""
        out = self._encoder(inputs)
        pooled = out.pooler_output
        flat = (
            torch.cat([p.reshape(-1, p.shape[-1]) for p in pooled], dim=0)
            if isinstance(pooled, (tuple, list))
            else pooled.reshape(-1, pooled.shape[-1])
        )
        if flat.shape[0] != len(inputs.layout.visual_index):
            raise RuntimeError(
                f"{self.name}: {flat.shape[0]} visual features for "
                f"{len(inputs.layout.visual_index)} visual tokens"
            )
        return VisualFeatures(flat, self._feature_extras(out))

    def reverse(self, features: VisualFeatures, inputs: MLLMInputs) -> VisualFeatures:
        """Reverse the frame order at the visual-token level (TAS).

        Token positions (and Qwen's M-RoPE positions) stay; the content of slot t moves to
        slot T-1-t. ``attn_thw`` of a reversed forward is indexed by slot: flip its t axis to
        map it back to the original frames.
        """
        return features.permuted(inputs.layout.reverse_rows())

    # -------------------------------------------------------------------------- forward
    def forward(
        self,
        inputs: MLLMInputs,
        features: VisualFeatures | None = None,
        visual_delta: torch.Tensor | None = None,
        positions: Sequence[int] | None = None,
        capture: bool = True,
        per_head: bool = False,
    ) -> ForwardResult:
        """One forward pass on the embeddings path.

        ``positions`` defaults to the grounding candidates (the last one is the last position).
        ``visual_delta`` (n_visual, hidden) is added to the visual embeddings. ``per_head``
        also returns every head's map (``attn_heads_thw``, streamed to the CPU per layer).
        """
        feats = features if features is not None else self.visual_features(inputs)
        encoder_outputs = self._mm_outputs(feats, visual_delta)
        pos = tuple(positions) if positions is not None else inputs.candidate_positions
        keys = inputs.layout.grid_index if per_head else None
        recorder = self._recorder(capture or per_head, pos, keys)
        with cap.capturing(recorder):
            out = self._run(inputs, mm_encoder_outputs=encoder_outputs, logits_to_keep=1)
        return self._result(pos, recorder, inputs.layout, out.logits[0, -1].float())

    def _recorder(
        self, capture: bool, rows: Sequence[int], per_head_keys: torch.Tensor | None = None
    ) -> cap.AttentionCapture | None:
        """The capture of the attention rows at ``rows`` (indices into the forward's input) in
        the layers of ``self.layers`` (every layer, with ``per_head_keys``: probe-layers reads
        them all), averaged over ``self.heads``, or None when nothing is captured."""
        if not capture:
            return None
        if per_head_keys is None:
            return cap.AttentionCapture(self._attention_modules(), rows, self.heads)
        every = range(self.num_layers)
        return cap.AttentionCapture(self._attention_modules(every), rows, self.heads, per_head_keys)

    def _result(
        self,
        positions: tuple[int, ...],
        recorder: cap.AttentionCapture | None,
        layout: VisualLayout,
        logits: torch.Tensor,
    ) -> ForwardResult:
        """A forward's result from its capture and the logits at its last position."""
        return ForwardResult(
            positions=positions,
            layers=self.layers,
            attn_thw=self._rows_to_thw(recorder, layout) if recorder else None,
            yes_logit=logits[list(self.yes_ids)].max(),
            no_logit=logits[list(self.no_ids)].max(),
            last_logits=logits,
            attn_heads_thw=self._heads_to_thw(recorder, layout) if recorder else None,
        )

    def _mm_outputs(
        self, features: VisualFeatures, visual_delta: torch.Tensor | None
    ) -> dict[str, ModelOutput]:
        """The ``mm_encoder_outputs`` of a forward: the features plus the visual prompt."""
        visual = features.embeds.to(self.dtype)
        if visual_delta is not None:
            if visual_delta.shape != visual.shape:
                raise ValueError(
                    f"visual_delta has shape {tuple(visual_delta.shape)}, the visual tokens "
                    f"{tuple(visual.shape)}"
                )
            visual = visual + visual_delta.to(visual.dtype)
        return {self.modality: self._encoder_output(visual, features)}

    def _rows_to_thw(self, recorder: cap.AttentionCapture, layout: VisualLayout) -> torch.Tensor:
        missing = [i for i in self.layers if i not in recorder.rows]
        if missing:
            raise RuntimeError(
                f"{self.name}: no attention captured for layers {missing}; the LLM does not "
                f"run through the {cap.CAPTURE_IMPL!r} attention implementation"
            )
        t, h, w = layout.grid_thw
        grid = layout.grid_index.to(self.device)
        per_layer = [recorder.rows[i][0][:, grid].reshape(-1, t, h, w) for i in self.layers]
        return torch.stack(per_layer, dim=1)

    def _heads_to_thw(
        self, recorder: cap.AttentionCapture, layout: VisualLayout
    ) -> torch.Tensor | None:
        """Every layer's per-head rows (kept at the grid's keys, on the CPU) as
        (positions, layers, heads, t, h, w); None where the capture kept none."""
        if recorder.per_head_keys is None:
            return None
        t, h, w = layout.grid_thw
        per_layer = [
            recorder.per_head[i][0].transpose(0, 1).reshape(len(recorder.positions), -1, t, h, w)
            for i in range(self.num_layers)
        ]
        return torch.stack(per_layer, dim=1)

    # ------------------------------------------------------------- shared visual prefix
    def prefix(
        self,
        inputs: MLLMInputs,
        features: VisualFeatures,
        visual_delta: torch.Tensor | None = None,
        rows_only: bool = False,
    ) -> PrefixState:
        """Run the sequence up to its last visual token once and keep the KV cache.

        Every prompt of one video is [system?, visual tokens, text, template]: the prefix's
        keys and values depend on the visual input only (features + prompt), not on the text
        after it (causal attention), so one prefix serves every text suffix. With a
        ``visual_delta`` that requires grad the cache keeps the graph: a suffix's loss
        backpropagates into the delta through it. ``rows_only`` stops after the last captured
        layer (:meth:`rows_depth`): its suffixes give attention rows but no logits.
        """
        n = int(inputs.layout.visual_index.max()) + 1
        encoder_outputs = self._mm_outputs(features, visual_delta)
        positions = self._position_ids(inputs)
        if hasattr(self.model.model, "rope_deltas"):
            self.model.model.rope_deltas = None
        depth = self.rows_depth if rows_only else self.num_layers
        with self.truncated(depth):
            out = self.model(
                input_ids=inputs.input_ids[:, :n],
                attention_mask=torch.ones_like(inputs.input_ids[:, :n]),
                use_cache=True,
                mm_encoder_outputs=encoder_outputs,
                logits_to_keep=1,
                **_tokens(inputs.extra, 0, n, inputs.seq_len),
                **({"position_ids": positions[..., :n]} if positions is not None else {}),
            )
        # ``cache``: the output's current name (transformers 5.x logs ``past_key_values`` as
        # deprecated).
        return PrefixState(n, out.cache, inputs.input_ids[:, :n].clone(), depth)

    def suffix(
        self,
        inputs: MLLMInputs,
        state: PrefixState,
        positions: Sequence[int] | None = None,
        capture: bool = True,
        rows_only: bool = False,
    ) -> ForwardResult:
        """The text part of ``inputs`` as a short forward over the prefix's cache.

        Attention rows of the suffix positions over all keys (prefix included) and the first
        answer token's logits equal those of the full forward (fp32: to ~1e-7). The cache is
        cropped back to the prefix afterwards, so the next suffix sees the same prefix.
        ``rows_only`` (required over a ``rows_only`` prefix) stops after the last captured
        layer: the rows are exact, the logits NaN.
        """
        n = state.length
        if not torch.equal(inputs.input_ids[:, :n], state.input_ids):
            raise ValueError("these inputs do not start with the prefix's tokens (another video)")
        depth = self.rows_depth if rows_only else self.num_layers
        if depth > state.depth:
            raise ValueError(
                f"a suffix through {depth} layers over a prefix cached for {state.depth}"
            )
        pos = tuple(positions) if positions is not None else inputs.candidate_positions
        recorder = self._recorder(capture, [p - n for p in pos])
        full_positions = self._position_ids(inputs)
        length = inputs.seq_len
        try:
            with cap.capturing(recorder), self.truncated(depth):
                out = self.model(
                    input_ids=inputs.input_ids[:, n:],
                    attention_mask=torch.ones_like(inputs.input_ids),
                    cache=state.cache,
                    use_cache=True,
                    cache_position=torch.arange(n, length, device=self.device),
                    logits_to_keep=1,
                    **{k: v for k, v in _tokens(inputs.extra, n, length, length).items()
                       if k in TOKEN_KEYS},
                    **({"position_ids": full_positions[..., n:]}
                       if full_positions is not None else {}),
                )  # fmt: skip
        finally:
            state.restore()
        logits = out.logits[0, -1].float()
        if depth < self.num_layers:  # the head saw a truncated stack: no answer logits
            logits = torch.full_like(logits, float("nan"))
        return self._result(pos, recorder, inputs.layout, logits)

    @property
    def rows_depth(self) -> int:
        """Decoder layers a forward runs when only attention rows are needed: up to the last
        captured one (layers [-26:-6] of 28: 22, so 0.79 of a forward)."""
        return max(self.layers) + 1

    @contextlib.contextmanager
    def truncated(self, depth: int) -> Iterator[None]:
        """Run only the first ``depth`` decoder layers inside the block (the layers before
        the cut are the same computation, so their keys, values and rows are exact)."""
        if depth >= self.num_layers:
            yield
            return
        owner = self.model.model.language_model
        full = owner.layers
        owner.layers = torch.nn.ModuleList(list(full)[:depth])
        try:
            yield
        finally:
            owner.layers = full

    @contextlib.contextmanager
    def recomputing(self, enabled: bool = True) -> Iterator[None]:
        """Gradient checkpointing of the decoder layers inside the block (params
        ``ground.gradient_checkpointing``): a forward with grad keeps each layer's input and
        recomputes the layer in the backward, so an LRA step holds one layer's activations
        instead of all of them (a 7B layer at 4k tokens: ~0.6 GB each in bf16; see
        benchmarks/bench_grounding.py --memory). Same gradient to ~1e-7 in fp32.

        For forwards that start from an empty cache (full forwards, visual prefixes): the
        recompute runs the layer without the cache, which then sees the same keys. A layer
        whose cache already holds keys (a suffix) runs as is.
        """
        layers = list(self.decoder_layers())
        if not enabled:
            yield
            return
        originals = [layer.forward for layer in layers]
        for layer, forward in zip(layers, originals, strict=True):
            layer.forward = _checkpointed(forward, getattr(layer.self_attn, "layer_idx", None))
        try:
            yield
        finally:
            for layer in layers:
                del layer.forward  # back to the class's forward

    def _position_ids(self, inputs: MLLMInputs) -> torch.Tensor | None:
        """Explicit position ids of the whole sequence where the model computes its own from
        the full input (Qwen's 3-D M-RoPE); None where positions are 0..L-1. Computed once
        per inputs (a prefix and every suffix of one text share them)."""
        if inputs.position_ids is None:
            inputs.position_ids = self._compute_position_ids(inputs)
        return inputs.position_ids

    def _compute_position_ids(self, inputs: MLLMInputs) -> torch.Tensor | None:
        return None

    def plain_forward(self, inputs: MLLMInputs, **kwargs: Any) -> Any:
        """The model's own forward from token ids + pixels (the reference for tests)."""
        return self._run(inputs, **inputs.pixel_inputs, **kwargs)

    def input_wh(self, inputs: MLLMInputs) -> tuple[int, int]:
        """(width, height) in pixels of the frames the vision tower saw (after the processor's
        resize): the plane of a box-decoding family's absolute coordinates."""
        raise NotImplementedError(f"{self.name}: no box decoding (box_family is None)")

    @torch.no_grad()
    def generate_text(self, inputs: MLLMInputs, max_new_tokens: int) -> tuple[str, int]:
        """Greedy decoding after the generation prompt, at most ``max_new_tokens`` tokens:
        (the answer without special tokens, the number of tokens generated). Sampling settings
        a checkpoint's generation_config.json may hold are overridden: the answer is a function
        of the inputs and the weights."""
        if hasattr(self.model.model, "rope_deltas"):
            self.model.model.rope_deltas = None
        out = self.model.generate(
            input_ids=inputs.input_ids,
            attention_mask=torch.ones_like(inputs.input_ids),
            **inputs.pixel_inputs,
            **inputs.extra,
            max_new_tokens=int(max_new_tokens),
            do_sample=False,
            num_beams=1,
            temperature=None,
            top_p=None,
            top_k=None,
            pad_token_id=self.tokenizer.pad_token_id,
        )
        new = out[0, inputs.seq_len :]
        return self.tokenizer.decode(new, skip_special_tokens=True), int(new.numel())

    def _run(self, inputs: MLLMInputs, **kwargs: Any) -> Any:
        # Qwen models cache M-RoPE deltas on the module; a stale value from another sequence
        # must never reach this call.
        if hasattr(self.model.model, "rope_deltas"):
            self.model.model.rope_deltas = None
        return self.model(
            input_ids=inputs.input_ids,
            attention_mask=torch.ones_like(inputs.input_ids),
            use_cache=False,
            **inputs.extra,
            **kwargs,
        )

    # ------------------------------------------------------------------------------ hooks
    def _grid(
        self, pixel_inputs: dict[str, torch.Tensor], extra: dict[str, Any], n_frames: int
    ) -> tuple[int, int, int]:
        """(t, h, w) of the visual-token grid the processor produced."""
        raise NotImplementedError

    def _encoder(self, inputs: MLLMInputs) -> Any:
        """The model's own vision encoder output (``pooler_output`` = LLM-ready features)."""
        px = inputs.pixel_inputs
        return self.model.model.get_video_features(px["pixel_values_videos"], return_dict=True)

    def _feature_extras(self, encoder_output: Any) -> dict[str, torch.Tensor]:
        return {}

    def _encoder_output(self, visual: torch.Tensor, features: VisualFeatures) -> ModelOutput:
        """``visual`` (n_visual, hidden) packed as the model's ``mm_encoder_outputs`` entry.

        The models scatter the flattened ``pooler_output`` into the placeholder positions in
        sequence order; (1, n_visual, hidden) flattens right for every backend but Qwen's,
        which concatenates a per-video tuple.
        """
        from transformers.modeling_outputs import BaseModelOutputWithPooling

        return BaseModelOutputWithPooling(pooler_output=visual[None])


def _checkpointed(forward: Any, layer_idx: int | None) -> Any:
    """``forward`` of one decoder layer under non-reentrant activation checkpointing."""
    from torch.utils.checkpoint import checkpoint

    def run(hidden_states: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        cache = kwargs.get("cache")
        holds = cache is not None and layer_idx is not None and cache.get_seq_length(layer_idx)
        if not torch.is_grad_enabled() or holds:
            return forward(hidden_states, *args, **kwargs)
        calls: list[int] = []

        def layer(h: torch.Tensor) -> Any:
            # The first call writes the prefix's keys into the cache; the backward's recompute
            # must not append them a second time.
            again = bool(calls)
            calls.append(1)
            return forward(h, *args, **({**kwargs, "cache": None} if again else kwargs))

        return checkpoint(layer, hidden_states, use_reentrant=False)

    return run
