"""The MLLM interface the grounding step uses (DESIGN §3), and the code every backend shares.

A backend turns sampled frames + a user prompt into model inputs through the checkpoint's own
tokenizer, chat template (with the assistant generation prompt) and image processor, and
records where the visual tokens are (:class:`VisualLayout`). One forward pass then returns

- ``attn_thw``: for the selected positions (grounding-token candidates + the last position),
  the attention over the visual tokens averaged over heads, per layer of the configured range,
  shaped (positions, layers, t, h, w);
- the first-answer-token logits of "Yes" and "No".

The forward always runs on the embeddings path: the frozen vision tower's output (computed
once per video, :meth:`MLLM.visual_features`) is scattered into the token embeddings, plus an
optional learnable ``visual_delta`` of the same shape (LRA prompt tuning), optionally reversed
in time at the token level (TAS). Weights are frozen (``requires_grad=False``), so after
``loss.backward()`` only ``visual_delta`` holds a gradient.

Yes/No rule: a word counts if the tokenizer encodes it as one token, with and without a
leading space ("Yes", " Yes"); the logit is the maximum over its variants (the first answer
token after "assistant\\n" is, in practice, the no-space form; the max keeps either).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zstvg.mllm import capture as cap

log = logging.getLogger(__name__)

FrameInput = Any  # an HxWx3 uint8 numpy array or a PIL image


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
    """Tokenized prompt + preprocessed frames, with the positions grounding reads."""

    input_ids: torch.Tensor  # (1, L)
    pixel_inputs: dict[str, torch.Tensor]
    layout: VisualLayout
    candidate_positions: tuple[int, ...]
    candidate_tokens: tuple[str, ...]
    frame_idx: tuple[int, ...]
    extra: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def last_position(self) -> int:
        return int(self.input_ids.shape[1]) - 1

    @property
    def seq_len(self) -> int:
        return int(self.input_ids.shape[1])


@dataclass
class VisualFeatures:
    """The frozen vision tower's output for one video: ``embeds`` (n_visual, hidden) in
    ``layout.visual_index`` order, plus per-backend extras with the same first axis."""

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


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """bf16 on GPU, fp32 on CPU (bf16 matmuls on CPU are slow and inexact)."""
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]


def resolve_layers(n_layers: int, start: int, stop: int | None) -> tuple[int, ...]:
    """Python-slice semantics over the decoder layers; an empty range is an error."""
    layers = tuple(range(n_layers)[start:stop])
    if not layers:
        raise ValueError(
            f"mllm.layer_start={start}, mllm.layer_stop={stop} select no layer of a "
            f"{n_layers}-layer LLM"
        )
    return layers


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


class MLLM:
    """Shared machinery; a backend subclass implements the ``_``-prefixed hooks."""

    name = "base"
    model_class = "AutoModelForImageTextToText"
    # Chat-template text after the user content, up to the end of the generation prompt. Its
    # tokens are the grounding-token candidates (DESIGN §3, GTI).
    grounding_suffix = "<|im_end|>\n<|im_start|>assistant\n"
    answer_words = ("Yes", "No")

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        image_processor: Any,
        chat_template: str,
        layer_start: int = -26,
        layer_stop: int | None = -6,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.image_processor = image_processor
        self.chat_template = chat_template
        for p in model.parameters():
            p.requires_grad_(False)
        model.eval()
        self.layers = resolve_layers(self.num_layers, layer_start, layer_stop)
        self.yes_ids = self._word_ids(self.answer_words[0])
        self.no_ids = self._word_ids(self.answer_words[1])
        self.suffix_ids = self.tokenizer(self.grounding_suffix, add_special_tokens=False)[
            "input_ids"
        ]

    # ----------------------------------------------------------------------------- loading
    @classmethod
    def load(
        cls,
        checkpoint: str | Path,
        dtype: str = "auto",
        device: str = "auto",
        layer_start: int = -26,
        layer_stop: int | None = -6,
        attn_implementation: str | dict | None = None,
    ) -> MLLM:
        """Load a local checkpoint directory (or hub id) with the capture attention.

        ``attn_implementation`` overrides the default (capture for the LLM, SDPA elsewhere);
        the tests pass ``"eager"`` to build the reference.
        """
        import transformers
        from transformers import AutoImageProcessor, AutoTokenizer

        dev = resolve_device(device)
        torch_dtype = resolve_dtype(dtype, dev)
        impl = attn_implementation or {"": "sdpa", "text_config": cap.CAPTURE_IMPL}
        model_cls = getattr(transformers, cls.model_class)
        model = model_cls.from_pretrained(
            str(checkpoint), dtype=torch_dtype, attn_implementation=impl
        ).to(dev)
        tokenizer = AutoTokenizer.from_pretrained(str(checkpoint))
        image_processor = AutoImageProcessor.from_pretrained(str(checkpoint))
        template = tokenizer.chat_template or _template_file(Path(checkpoint))
        if not template:
            raise ValueError(f"{checkpoint}: no chat template (tokenizer or chat_template.*)")
        return cls(model, tokenizer, image_processor, template, layer_start, layer_stop)

    # ------------------------------------------------------------------------- properties
    @property
    def text_config(self) -> Any:
        return self.model.config.get_text_config()

    @property
    def num_layers(self) -> int:
        return int(self.text_config.num_hidden_layers)

    @property
    def device(self) -> torch.device:
        return self.model.get_input_embeddings().weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.model.get_input_embeddings().weight.dtype

    def decoder_layers(self) -> Sequence[torch.nn.Module]:
        return self.model.model.language_model.layers

    # ------------------------------------------------------------------------------ inputs
    def encode(
        self,
        frames: Sequence[FrameInput],
        frame_idx: Sequence[int],
        prompt: str,
        fps: float | None = None,
    ) -> MLLMInputs:
        """Frames (one video, native ``frame_idx`` each) + user prompt -> model inputs.

        ``fps`` is the video's native frame rate; backends with time-aware positions (Qwen2.5-VL)
        use it, the others ignore it.
        """
        if len(frames) != len(frame_idx):
            raise ValueError(f"{len(frames)} frames but {len(frame_idx)} frame indices")
        arrays = as_rgb_arrays(frames)
        messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text",
                                                                     "text": prompt}]}]
        text = self.tokenizer.apply_chat_template(
            messages, chat_template=self.chat_template, add_generation_prompt=True,
            tokenize=False,
        )
        pixel_inputs, n_tokens, grid_thw, frames_of_t = self._preprocess_frames(
            arrays, [int(i) for i in frame_idx], fps
        )
        text = self._expand_placeholder(text, n_tokens)
        input_ids = self.tokenizer(text, return_tensors="pt")["input_ids"]
        positions, labels = self._candidates(input_ids[0])
        layout = self._layout(input_ids[0], grid_thw, frames_of_t)
        return MLLMInputs(
            input_ids=input_ids.to(self.device),
            pixel_inputs={k: v.to(self.device) for k, v in pixel_inputs.items()},
            layout=layout,
            candidate_positions=positions,
            candidate_tokens=labels,
            frame_idx=tuple(int(i) for i in frame_idx),
            extra=self._extra_inputs(input_ids, pixel_inputs),
        )

    def _candidates(self, ids: torch.Tensor) -> tuple[tuple[int, ...], tuple[str, ...]]:
        n = len(self.suffix_ids)
        tail = ids[-n:].tolist()
        if tail != self.suffix_ids:
            raise ValueError(
                f"{self.name}: the prompt does not end with the grounding suffix "
                f"{self.grounding_suffix!r} (tokens {tail} != {self.suffix_ids}); the chat "
                "template differs from the one this backend declares"
            )
        start = len(ids) - n
        labels = tuple(self.tokenizer.convert_ids_to_tokens(tail))
        return tuple(range(start, len(ids))), labels

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
        return self._visual_features(inputs)

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
    ) -> ForwardResult:
        """One forward pass on the embeddings path.

        ``positions`` defaults to the grounding candidates (the last one is the last position).
        ``visual_delta`` (n_visual, hidden) is added to the visual embeddings.
        """
        feats = features if features is not None else self.visual_features(inputs)
        embeds = self.model.get_input_embeddings()(inputs.input_ids)
        visual = feats.embeds.to(embeds.dtype)
        if visual_delta is not None:
            if visual_delta.shape != visual.shape:
                raise ValueError(
                    f"visual_delta has shape {tuple(visual_delta.shape)}, the visual tokens "
                    f"{tuple(visual.shape)}"
                )
            visual = visual + visual_delta.to(visual.dtype)
        embeds = embeds.clone()
        embeds[0, inputs.layout.visual_index] = visual
        kwargs = self._lm_kwargs(inputs, feats)
        pos = tuple(positions) if positions is not None else inputs.candidate_positions
        attn = torch.ones_like(inputs.input_ids)
        if capture:
            modules = {self.decoder_layers()[i].self_attn: i for i in self.layers}
            recorder = cap.AttentionCapture(modules, pos)
            with cap.capturing(recorder):
                out = self.model(inputs_embeds=embeds, attention_mask=attn, use_cache=False,
                                 logits_to_keep=1, **kwargs)
            attn_thw = self._rows_to_thw(recorder, inputs.layout)
        else:
            out = self.model(inputs_embeds=embeds, attention_mask=attn, use_cache=False,
                             logits_to_keep=1, **kwargs)
            attn_thw = None
        logits = out.logits[0, -1].float()
        return ForwardResult(
            positions=pos,
            layers=self.layers,
            attn_thw=attn_thw,
            yes_logit=logits[list(self.yes_ids)].max(),
            no_logit=logits[list(self.no_ids)].max(),
            last_logits=logits,
        )

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

    def plain_forward(self, inputs: MLLMInputs) -> Any:
        """The model's own forward from token ids + pixels (the reference for tests)."""
        return self.model(input_ids=inputs.input_ids, **inputs.pixel_inputs, **inputs.extra,
                          attention_mask=torch.ones_like(inputs.input_ids), use_cache=False)

    # ------------------------------------------------------------------------------ hooks
    def _preprocess_frames(
        self, frames: list[np.ndarray], frame_idx: list[int], fps: float | None
    ) -> tuple[dict[str, torch.Tensor], int, tuple[int, int, int], tuple[tuple[int, ...], ...]]:
        """-> (pixel inputs for the model, number of visual tokens, grid, frames per slot)."""
        raise NotImplementedError

    def _expand_placeholder(self, text: str, n_tokens: int) -> str:
        raise NotImplementedError

    def _layout(
        self, ids: torch.Tensor, grid_thw: tuple[int, int, int],
        frames_of_t: tuple[tuple[int, ...], ...],
    ) -> VisualLayout:
        raise NotImplementedError

    def _visual_features(self, inputs: MLLMInputs) -> VisualFeatures:
        raise NotImplementedError

    def _extra_inputs(
        self, input_ids: torch.Tensor, pixel_inputs: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """Token-level inputs the model's own forward needs besides ids and pixels."""
        return {}

    def _lm_kwargs(self, inputs: MLLMInputs, features: VisualFeatures) -> dict[str, Any]:
        """Extra forward kwargs on the embeddings path (e.g. 3-D positions)."""
        return {}


def _template_file(checkpoint: Path) -> str | None:
    import json

    jinja = checkpoint / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    js = checkpoint / "chat_template.json"
    if js.is_file():
        return json.loads(js.read_text(encoding="utf-8")).get("chat_template")
    return None
