"""A tiny random-weight Grounding DINO in the authors' format, for ``gdino-official``.

Run it in the groundingdino-py environment (``make env-gdino``), which has the model code::

    .venv-gdino/bin/python -m zstvg.tiny.gdino_official DIR

``DIR`` then holds what ``proposals.detector_checkpoint`` needs for ``gdino-official``: the
package's own GroundingDINO_SwinT_OGC.py with the sizes below overridden (``TINY_OVERRIDES``),
``groundingdino_tiny_random.pth`` (``{"model": state_dict}``, as the released
groundingdino_swint_ogc.pth) and ``bert/``, a one-layer BERT of width 16 with the WordPiece
vocabulary of :func:`zstvg.tiny.proposals.bert_vocab` (Grounding DINO's separator ids).

What cannot shrink (groundingdino-py 0.4.0): the Swin backbone is picked by name from fixed
sizes (``swin_T_224_1k``: 28 M of the 32 M parameters, a 128 MB .pth), ``hidden_dim`` must stay
256 (the text position embedding is hard-coded to 256 features) and so must ``max_text_len``
(the model sets 256 itself). The rest is cut to one encoder and one decoder layer, 20 queries,
one sampling point, and a 128-px input (``input_short_side_px``, read by the worker): a forward
takes 0.13 s on a CPU against 4.9 s at the authors' 800 px. Outputs are chance-level.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

OFFICIAL_CONFIG = "GroundingDINO_SwinT_OGC.py"  # in the package's groundingdino/config/
WEIGHTS_NAME = "groundingdino_tiny_random.pth"
BERT_DIR = "bert"
TINY_OVERRIDES = {
    "enc_layers": 1,
    "dec_layers": 1,
    "dim_feedforward": 64,
    "num_queries": 20,
    "enc_n_points": 1,
    "dec_n_points": 1,
    "text_encoder_type": BERT_DIR,  # relative to the checkpoint directory
}
INPUT_SIZE = {"input_short_side_px": 128, "input_max_side_px": 256}


def tiny_config_text(official: str) -> str:
    """The authors' config file with ``TINY_OVERRIDES`` in place and ``INPUT_SIZE`` appended."""
    text = official
    for key, value in TINY_OVERRIDES.items():
        text, n = re.subn(rf"^{key} = .*$", f"{key} = {value!r}", text, flags=re.MULTILINE)
        if n != 1:
            raise ValueError(f"{OFFICIAL_CONFIG}: expected one '{key} = ...' line, found {n}")
    appended = "".join(f"{key} = {value!r}\n" for key, value in INPUT_SIZE.items())
    return f"{text.rstrip()}\n# zstvg's worker: input resize (default 800 / 1333)\n{appended}"


def build_tiny_bert(out_dir: Path, seed: int = 0) -> Path:
    """A one-layer BERT (width 16) + its tokenizer, saved with ``save_pretrained``."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    from zstvg.tiny.proposals import bert_vocab

    out_dir.mkdir(parents=True, exist_ok=True)
    vocab = bert_vocab()
    vocab_file = out_dir / "vocab.txt"
    vocab_file.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    BertTokenizer(vocab_file=str(vocab_file), do_lower_case=True).save_pretrained(out_dir)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=1,
        intermediate_size=16,
        max_position_embeddings=256,  # the model's max_text_len
    )
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(out_dir)
    return out_dir


def build_tiny_gdino_official(out_dir: str | Path, seed: int = 0) -> Path:
    """Write the tiny official-format checkpoint directory (see the module docstring)."""
    import groundingdino
    import torch
    from groundingdino.models import build_model
    from groundingdino.util.slconfig import SLConfig

    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    build_tiny_bert(out / BERT_DIR, seed)
    official = Path(groundingdino.__file__).parent / "config" / OFFICIAL_CONFIG
    config = out / OFFICIAL_CONFIG
    config.write_text(tiny_config_text(official.read_text()))
    args = SLConfig.fromfile(str(config))
    args.text_encoder_type = str(out / BERT_DIR)  # the package resolves it against the cwd
    torch.manual_seed(seed)
    model = build_model(args)
    torch.save({"model": model.state_dict()}, out / WEIGHTS_NAME)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m zstvg.tiny.gdino_official",
        description="Write a tiny random-weight official-format Grounding DINO checkpoint "
        "(run in .venv-gdino).",
    )
    parser.add_argument("out", metavar="DIR")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = build_tiny_gdino_official(args.out, args.seed)
    print(f"wrote tiny gdino-official checkpoint (seed {args.seed}, random weights) -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
