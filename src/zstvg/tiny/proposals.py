"""Tiny random-weight Grounding DINO and SAM 2 video checkpoints in the real HF format.

They let tests and the demo run the exact loading (``from_pretrained(dir)``) and inference code
offline, in well under a second per frame on a CPU. Their outputs are chance-level.

Sizes were chosen as the smallest configurations the transformers 5.24 modules accept (measured
on 2 CPU cores):
- Grounding DINO: Swin with 4 one-block stages of width 8..64, one-layer BERT of width 16,
  ``d_model`` 32 (GroupNorm uses 32 groups), 2 decoder layers (fewer fails the tied-weights
  check), 2 encoder heads (the text enhancer uses half of them), 20 queries, 64-px input:
  0.17 M parameters, ~10 ms per forward (a "small" Swin + BERT config took ~10 s).
- SAM 2 video: Hiera with 4 one-block stages of width 8..64, 64-px input, hidden 32,
  one memory-attention layer, 3 memory frames (hidden 128, see build_tiny_sam2).
The BERT tokenizer is built from a WordPiece vocabulary written here (no hub): BERT's special
tokens at their usual ids ([PAD] 0, [UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103), '.' at 1012
and '?' at 1029 (Grounding DINO treats ids 101, 102, 1012 and 1029 as phrase separators), then
letters, word pieces and common class nouns, so any lower-case word tokenizes without [UNK].
"""

from __future__ import annotations

import string
from pathlib import Path

IMAGE_SIZE = 64
CLASS_NOUNS = (
    "person",
    "man",
    "woman",
    "boy",
    "girl",
    "child",
    "baby",
    "people",
    "adult",
    "dog",
    "cat",
    "horse",
    "bird",
    "car",
    "bus",
    "truck",
    "bicycle",
    "motorcycle",
    "train",
    "ball",
    "toy",
    "chair",
    "table",
    "cup",
    "bottle",
    "bag",
    "phone",
    "sofa",
    "screen",
    "red",
    "blue",
    "green",
    "square",
    "circle",
    "rectangle",
    "object",
    "animal",
    "vehicle",
    "actor",
)


def bert_vocab() -> list[str]:
    """A WordPiece vocabulary with BERT's special ids and Grounding DINO's separator ids."""
    vocab = [f"[unused{i}]" for i in range(1100)]
    fixed = {
        0: "[PAD]",
        100: "[UNK]",
        101: "[CLS]",
        102: "[SEP]",
        103: "[MASK]",
        1012: ".",
        1029: "?",
    }
    for idx, token in fixed.items():
        vocab[idx] = token
    pieces = list(string.ascii_lowercase) + [f"##{c}" for c in string.ascii_lowercase]
    pieces += list(string.digits) + [",", "!", "'", "-"]
    vocab[104 : 104 + len(pieces)] = pieces
    vocab.extend(noun for noun in CLASS_NOUNS if noun not in vocab)
    return vocab


def build_tiny_gdino(out_dir: str | Path, seed: int = 0) -> Path:
    """Write a tiny ``GroundingDinoForObjectDetection`` + processor to ``out_dir``."""
    import torch
    from transformers import (
        BertConfig,
        BertTokenizer,
        GroundingDinoConfig,
        GroundingDinoForObjectDetection,
        GroundingDinoProcessor,
        SwinConfig,
    )
    from transformers.models.grounding_dino.image_processing_pil_grounding_dino import (
        GroundingDinoImageProcessorPil,
    )

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    vocab = bert_vocab()
    vocab_file = out / "vocab.txt"
    vocab_file.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    backbone = SwinConfig(
        image_size=IMAGE_SIZE,
        patch_size=2,
        embed_dim=8,
        depths=[1, 1, 1, 1],
        num_heads=[1, 1, 1, 1],
        window_size=2,
        # Taken by SwinConfig.__post_init__(**kwargs), which its typed signature does not show.
        out_features=["stage2", "stage3", "stage4"],  # type: ignore[call-arg]
    )
    text = BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=1,
        intermediate_size=16,
        max_position_embeddings=64,
    )
    config = GroundingDinoConfig(
        backbone_config=backbone,
        text_config=text,
        num_queries=20,
        encoder_layers=1,
        decoder_layers=2,
        d_model=32,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        encoder_attention_heads=2,
        decoder_attention_heads=1,
        encoder_n_points=1,
        decoder_n_points=1,
        max_text_len=32,
    )
    torch.manual_seed(seed)
    model = GroundingDinoForObjectDetection(config).eval()
    tokenizer = BertTokenizer(vocab={tok: i for i, tok in enumerate(vocab)}, do_lower_case=True)
    image_processor = GroundingDinoImageProcessorPil(
        size={"shortest_edge": IMAGE_SIZE, "longest_edge": IMAGE_SIZE}
    )
    processor = GroundingDinoProcessor(image_processor=image_processor, tokenizer=tokenizer)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out


def build_tiny_sam2(out_dir: str | Path, seed: int = 0) -> Path:
    """Write a tiny ``Sam2VideoModel`` and its ``Sam2VideoProcessor`` to ``out_dir``."""
    import torch
    from transformers import (
        Sam2ImageProcessor,
        Sam2VideoConfig,
        Sam2VideoModel,
        Sam2VideoProcessor,
        Sam2VideoVideoProcessor,
    )
    from transformers.models.sam2.configuration_sam2 import Sam2HieraDetConfig, Sam2VisionConfig

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # hidden 128: memory features are fixed at 64 channels (the memory cross-attention's key
    # width is hard-coded), and with hidden == 64 transformers 5.24 skips the reshape that makes
    # a conditioning frame's object pointer 3-D (the tracking frame then fails to concatenate).
    size, hidden = IMAGE_SIZE, 128
    backbone = Sam2HieraDetConfig(
        hidden_size=8,
        image_size=[size, size],
        blocks_per_stage=[1, 1, 1, 1],
        embed_dim_per_stage=[8, 16, 32, 64],
        num_attention_heads_per_stage=[1, 1, 1, 1],
        window_size_per_stage=[2, 2, 2, 2],
        global_attention_blocks=[0],
        window_positional_embedding_background_size=[2, 2],
    )
    # Hiera's patch stride 4 then 2x pooling per stage: features at 1/4, 1/8, 1/16 of the input.
    vision = Sam2VisionConfig(
        backbone_config=backbone,
        backbone_channel_list=[64, 32, 16, 8],
        backbone_feature_sizes=[[size // 4] * 2, [size // 8] * 2, [size // 16] * 2],
        fpn_hidden_size=hidden,
    )
    config = Sam2VideoConfig(
        vision_config=vision,
        prompt_encoder_config={
            "hidden_size": hidden,
            "image_size": size,
            "patch_size": 16,
            "mask_input_channels": 4,
        },
        mask_decoder_config={
            "hidden_size": hidden,
            "mlp_dim": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 1,
            "iou_head_hidden_dim": 16,
        },
        image_size=size,
        num_maskmem=3,
        memory_attention_hidden_size=hidden,
        memory_attention_num_layers=1,
        memory_attention_feed_forward_hidden_size=32,
        memory_attention_rope_feat_sizes=[size // 16, size // 16],
        # 64 output channels: the memory cross-attention's key width is fixed at 64.
        memory_encoder_hidden_size=hidden,
        memory_encoder_output_channels=64,
        mask_downsampler_embed_dim=hidden,
        memory_fuser_num_layers=1,
        memory_fuser_embed_dim=hidden,
        memory_fuser_intermediate_dim=32,
    )
    torch.manual_seed(seed)
    model = Sam2VideoModel(config).eval()
    # With random weights the object-score head says "no object" on about half the frames and
    # SAM 2 then blanks the mask; a constant +10 logit makes every prompted object present, so
    # tests and the demo get non-empty (if meaningless) tracks.
    head = model.mask_decoder.pred_obj_score_head.proj_out
    with torch.no_grad():
        head.weight.zero_()
        head.bias.fill_(10.0)
    model.save_pretrained(out)
    # The processor a real facebook/sam2.1-* directory ships (image + video processors, ImageNet
    # normalisation), at the tiny input size; masks are image_size / 4 (the decoder's output).
    Sam2VideoProcessor(
        image_processor=Sam2ImageProcessor(
            size={"height": size, "width": size},
            mask_size={"height": size // 4, "width": size // 4},
        ),
        video_processor=Sam2VideoVideoProcessor(size={"height": size, "width": size}),
    ).save_pretrained(out)
    return out


# The tiny sam2-official model: the real SAM 2.1 hiera-T architecture (39 M parameters) at a
# 128-px input instead of 1024 (image features 8x8; memory attention's RoPE tables are rebuilt
# for that size on first use). Measured on one CPU thread: image encoder 4.4 s per frame at
# 1024 px, 0.2 s at 256, 0.06 s at 128. The config is the package's; only this override differs,
# so params must carry it: tracker_config_overrides = SAM2_OFFICIAL_TINY_OVERRIDES.
SAM2_OFFICIAL_TINY_CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"
SAM2_OFFICIAL_TINY_OVERRIDES = ("++model.image_size=128",)


def build_tiny_sam2_official(out_dir: str | Path, seed: int = 0) -> Path:
    """Write a random-weight SAM 2.1 hiera-T ``.pt`` checkpoint (the ``sam2`` package's format,
    ``{"model": state_dict}``) to ``out_dir/sam2.1_hiera_tiny_random.pt``; returns its path.
    Load it with tracker_config SAM2_OFFICIAL_TINY_CONFIG and SAM2_OFFICIAL_TINY_OVERRIDES."""
    import torch
    from sam2.build_sam import build_sam2_video_predictor

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = build_sam2_video_predictor(
        SAM2_OFFICIAL_TINY_CONFIG,
        ckpt_path=None,
        device="cpu",
        hydra_overrides_extra=list(SAM2_OFFICIAL_TINY_OVERRIDES),
    )
    # As in build_tiny_sam2: a constant +10 object-score logit keeps every prompted object
    # present (random weights otherwise blank the mask on about half the frames).
    head = model.sam_mask_decoder.pred_obj_score_head.layers[-1]
    with torch.no_grad():
        head.weight.zero_()
        head.bias.fill_(10.0)
    path = out / "sam2.1_hiera_tiny_random.pt"
    torch.save({"model": model.state_dict()}, path)
    return path
