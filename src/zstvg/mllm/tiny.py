"""Tiny random-weight checkpoints of the real MLLM architectures (DESIGN §7).

``make_tiny_checkpoint(family, out_dir, seed)`` writes a directory loadable offline with
``from_pretrained(dir)``: the real ``*ForConditionalGeneration`` class built from its real
config classes (8 LLM layers, so the default layer range [-26:-6] keeps layers 0-1; hidden
64; a 2-layer vision tower), a byte-level BPE tokenizer
trained in-process on a small corpus that contains the chat template's special tokens and the
answer words ("Yes", " Yes", "No", " No"), the model's chat template, and the model's image
processor with small sizes. Weights come from ``torch.manual_seed(seed)``, the tokenizer from a
fixed corpus, so the same seed writes the same files. Predictions are chance-level.

The HF *processor* classes are not saved: in transformers 5.24 every video processor imports
torchvision, which this environment lacks, and the processor classes refuse to build without
their video processor. The adapters (``zstvg.mllm``) read the tokenizer, chat template and
image processor separately, which a real checkpoint directory also contains.

Families register in ``FAMILIES`` as ``name -> "module:function"``; the function takes
``(out_dir: Path, seed: int)``. Adding a family (a detector, a segmenter) is one line.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from zstvg.registry import Registry

log = logging.getLogger(__name__)

FAMILIES = Registry("tiny-checkpoint family")
for _name, _fn in {
    "qwen2-vl": "build_qwen2_vl",
    "qwen2.5-vl": "build_qwen2_5_vl",
    "llava-ov": "build_llava_ov",
}.items():
    FAMILIES.register(_name, f"zstvg.mllm.tiny:{_fn}")
# The proposal models' tiny checkpoints (Grounding DINO, SAM 2) share the command.
FAMILIES.register("gdino", "zstvg.proposals.tiny:build_tiny_gdino")
FAMILIES.register("sam2", "zstvg.proposals.tiny:build_tiny_sam2")

# Sizes shared by every tiny MLLM: small enough that a forward over ~200 tokens takes
# milliseconds on one CPU core, large enough for GQA (4 query heads over 2 KV heads).
TINY_TEXT = dict(
    hidden_size=64, intermediate_size=128, num_hidden_layers=8, num_attention_heads=4,
    num_key_value_heads=2,
)

_CORPUS = [
    "Is there a man in a red shirt in this video? Answer Yes or No.",
    "Is there a woman who walks to the door and sits down in this video?",
    "Please describe this video in detail.",
    "Yes No yes no Yes, No. The person turns around and picks up the cup.",
    "You are a helpful assistant. user assistant system",
]

QWEN_SPECIALS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
    "<|image_pad|>", "<|video_pad|>",
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


def make_tiny_checkpoint(family: str, out_dir: str | Path, seed: int = 0) -> Path:
    """Write the tiny checkpoint of ``family`` into ``out_dir`` and return the directory."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    FAMILIES.get(family)(out, seed)
    log.info("wrote tiny %s checkpoint to %s (seed %d)", family, out, seed)
    return out


def build_tokenizer(
    specials: list[str], chat_template: str, eos: str, pad: str, extra: dict[str, str] | None = None
) -> Any:
    """A byte-level BPE tokenizer trained in-process; the specials are atomic tokens.

    With ~25 copies of each corpus line, BPE merges whole frequent words, so "assistant",
    "Yes", " Yes", "No", " No" end up as single tokens as in the real vocabularies.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600, special_tokens=specials, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    lines = [*_CORPUS, chat_template.replace("{", " ").replace("}", " ")]
    tok.train_from_iterator(lines * 25, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token=eos, pad_token=pad, extra_special_tokens=extra or {},
    )
    fast.add_special_tokens({"additional_special_tokens": specials})
    fast.chat_template = chat_template
    return fast


def _seeded(seed: int) -> None:
    import torch

    torch.manual_seed(seed)


def _save(model: Any, tokenizer: Any, image_processor: Any, out: Path) -> None:
    model.eval()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    image_processor.save_pretrained(out)


def _qwen_tokenizer() -> Any:
    return build_tokenizer(QWEN_SPECIALS, QWEN2_VL_TEMPLATE, eos="<|im_end|>", pad="<|endoftext|>")


def _text_token_ids(tokenizer: Any) -> dict[str, int]:
    return dict(bos_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id)


def _qwen_vision_ids(tokenizer: Any) -> dict[str, int]:
    ids = tokenizer.convert_tokens_to_ids
    return dict(
        image_token_id=ids("<|image_pad|>"), video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"), vision_end_token_id=ids("<|vision_end|>"),
    )


def _qwen_image_processor(cls_name: str, patch: int) -> Any:
    """Frames are resized to at most 4 x 4 merged tokens (pixels = (2 * patch)^2 * 16)."""
    import transformers

    unit = (2 * patch) ** 2
    cls = getattr(transformers, cls_name)
    return cls(size={"shortest_edge": unit * 4, "longest_edge": unit * 16}, patch_size=patch,
               merge_size=2, temporal_patch_size=2)


def build_qwen2_vl(out: Path, seed: int) -> None:
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

    tokenizer = _qwen_tokenizer()
    config = Qwen2VLConfig(
        text_config=dict(
            vocab_size=len(tokenizer), **TINY_TEXT, **_text_token_ids(tokenizer),
            rope_parameters={"rope_type": "default", "mrope_section": [2, 3, 3],
                             "rope_theta": 10000.0},
        ),
        vision_config=dict(depth=2, embed_dim=32, hidden_size=64, num_heads=2, mlp_ratio=2,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2),
        **_qwen_vision_ids(tokenizer),
    )
    _seeded(seed)
    model = Qwen2VLForConditionalGeneration(config)
    _save(model, tokenizer, _qwen_image_processor("Qwen2VLImageProcessorPil", 14), out)


LLAVA_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>", "<video>"]

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


def _siglip(image_size: int) -> dict[str, Any]:
    return dict(model_type="siglip_vision_model", hidden_size=32, intermediate_size=64,
                num_hidden_layers=2, num_attention_heads=2, image_size=image_size,
                patch_size=14)


def build_llava_ov(out: Path, seed: int) -> None:
    """SigLIP 84 px / patch 14 -> 6 x 6 patches -> 3 x 3 tokens per frame after pooling."""
    from transformers import (
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        LlavaOnevisionImageProcessorPil,
    )

    tokenizer = build_tokenizer(LLAVA_SPECIALS, LLAVA_OV_TEMPLATE, eos="<|im_end|>",
                                pad="<|endoftext|>")
    ids = tokenizer.convert_tokens_to_ids
    config = LlavaOnevisionConfig(
        text_config=dict(model_type="qwen2", vocab_size=len(tokenizer), **TINY_TEXT,
                         **_text_token_ids(tokenizer)),
        vision_config=_siglip(84),
        image_token_index=ids("<image>"), video_token_index=ids("<video>"),
        image_grid_pinpoints=[[84, 84], [84, 168], [168, 84], [168, 168]],
    )
    _seeded(seed)
    model = LlavaOnevisionForConditionalGeneration(config)
    processor = LlavaOnevisionImageProcessorPil(
        size={"height": 84, "width": 84}, image_grid_pinpoints=config.image_grid_pinpoints,
        image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5],
    )
    _save(model, tokenizer, processor, out)


def build_qwen2_5_vl(out: Path, seed: int) -> None:
    """Vision: 2 blocks, windowed attention (56 px windows) in block 0, full in block 1."""
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    tokenizer = _qwen_tokenizer()
    config = Qwen2_5_VLConfig(
        text_config=dict(
            vocab_size=len(tokenizer), **TINY_TEXT, **_text_token_ids(tokenizer),
            rope_parameters={"rope_type": "default", "mrope_section": [2, 3, 3],
                             "rope_theta": 10000.0},
        ),
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2,
                           out_hidden_size=64, patch_size=14, spatial_merge_size=2,
                           temporal_patch_size=2, window_size=56, fullatt_block_indexes=[1]),
        **_qwen_vision_ids(tokenizer),
    )
    _seeded(seed)
    model = Qwen2_5_VLForConditionalGeneration(config)
    _save(model, tokenizer, _qwen_image_processor("Qwen2VLImageProcessorPil", 14), out)
