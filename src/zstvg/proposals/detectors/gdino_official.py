"""Grounding DINO through the authors' package (``groundingdino-py``), in its own environment.

groundingdino-py 0.4.0 (its last release) cannot run next to transformers 5: its
``BertModelWarper`` calls ``get_extended_attention_mask``, ``invert_attention_mask`` and
``get_head_mask``, which transformers 5 removed (AttributeError at model construction). So the
model runs in a second virtual environment with transformers 4.57.6, the newest 4.x
(``make env-gdino`` builds ``.venv-gdino`` from requirements-gdino.lock), in one worker process
per run::

    <proposals.detector_python> -m zstvg.proposals.detectors.gdino_official --checkpoint DIR ...

:class:`GroundingDinoOfficial` (the ``gdino-official`` detector, in the main environment) starts
the worker and sends it frames; the tracking stays in the main environment. The pipe protocol,
one request at a time: the request is one JSON line ``{"class_name", "shape": [h, w, 3]}``
followed by the h*w*3 bytes of the RGB uint8 frame; the reply is one JSON line
``{"detections": [{"box_xyxy", "score", "label"}, ...]}`` or ``{"error": message}``. The
worker's first line is ``{"ready": true}`` (or its load error).

The checkpoint (``proposals.detector_checkpoint``) is a directory holding the authors' two files,
the config ``.py`` (e.g. GroundingDINO_SwinT_OGC.py) and the ``.pth`` (``{"model": state_dict}``),
and the BERT directory the config's ``text_encoder_type`` names, relative to the checkpoint
directory (``bert-base-uncased/`` for the released config, saved with ``save_pretrained``) or
absolute: the package would otherwise fetch bert-base-uncased from the model hub, which the
worker never reaches (it runs with ``HF_HUB_OFFLINE=1``). Two optional config keys set the input
size: ``input_short_side_px`` and ``input_max_side_px`` (default 800 and 1333, the authors'
inference resize); the tiny test checkpoint uses 128 (0.13 s per frame on a CPU, 4.9 s at 800).
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import subprocess
import sys
import threading
import weakref
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from zstvg.files.io import InputError
from zstvg.proposals.detectors import Detection, ranked_detections, text_prompt

if TYPE_CHECKING:  # not at run time: this module is also the worker, run in .venv-gdino
    from zstvg.config.params import ProposalsConfig

log = logging.getLogger(__name__)

# the authors' inference resize (groundingdino.util.inference.load_image)
DEFAULT_SHORT_SIDE_PX = 800
DEFAULT_MAX_SIDE_PX = 1333
STDERR_LINES_KEPT = 20  # the worker's last stderr lines, quoted when it fails


class GroundingDinoUnavailable(InputError):
    """The official Grounding DINO cannot be started here."""


def checkpoint_files(checkpoint: str | Path) -> tuple[Path, Path]:
    """The config ``.py`` and weights ``.pth`` of an official-format checkpoint directory."""
    directory = Path(checkpoint)
    if not directory.is_dir():
        raise GroundingDinoUnavailable(
            f"proposals.detector_checkpoint={str(checkpoint)!r}: not a directory; gdino-official "
            "needs a directory with the authors' config .py, the .pth and the BERT directory "
            "(build a tiny one with `python -m zstvg.tiny.gdino_official DIR` in "
            ".venv-gdino)"
        )
    found = {ext: sorted(directory.glob(f"*{ext}")) for ext in (".py", ".pth")}
    for ext, files in found.items():
        if len(files) != 1:
            names = ", ".join(f.name for f in files) or "none"
            raise GroundingDinoUnavailable(
                f"proposals.detector_checkpoint={str(checkpoint)!r}: needs exactly one {ext} "
                f"file (the authors' {'config' if ext == '.py' else 'weights'}), found {names}"
            )
    return found[".py"][0], found[".pth"][0]


class GroundingDinoOfficial:
    """``gdino-official``: the authors' model in a worker process of ``cfg.detector_python``."""

    def __init__(self, cfg: ProposalsConfig, device: str = "cpu") -> None:
        python = Path(cfg.detector_python)
        if not python.is_file():
            raise GroundingDinoUnavailable(
                f"proposals.detector=gdino-official runs in its own environment, and "
                f"proposals.detector_python={cfg.detector_python!r} does not exist: run "
                "`make env-gdino` (builds .venv-gdino with groundingdino-py and the transformers "
                "4.x it needs) or set proposals.detector_python to that environment's python, "
                "or use proposals.detector=gdino-hf (the same model through transformers 5)"
            )
        checkpoint_files(cfg.detector_checkpoint)  # a bad directory fails here, not in the worker
        command = [
            str(python),
            "-m",
            __name__,
            "--checkpoint",
            str(Path(cfg.detector_checkpoint).resolve()),
            "--box-threshold",
            str(cfg.box_threshold),
            "--text-threshold",
            str(cfg.text_threshold),
            "--max-detections",
            str(cfg.max_detections_per_frame),
            "--device",
            device,
        ]
        self._python = str(python)
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        self._process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
        self._stderr: collections.deque[str] = collections.deque(maxlen=STDERR_LINES_KEPT)
        threading.Thread(target=self._log_stderr, daemon=True).start()
        # closing the worker's stdin ends its loop: it exits when the detector is dropped
        weakref.finalize(self, _stop, self._process)
        reply = self._reply()
        if "error" in reply:
            raise GroundingDinoUnavailable(
                f"gdino-official cannot load proposals.detector_checkpoint="
                f"{cfg.detector_checkpoint!r}: {reply['error']}"
            )

    def _log_stderr(self) -> None:
        assert self._process.stderr is not None
        for raw in self._process.stderr:
            line = raw.decode(errors="replace").rstrip()
            self._stderr.append(line)
            log.debug("gdino-official worker: %s", line)

    def _reply(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            code = self._process.wait()
            tail = "\n".join(self._stderr)
            raise GroundingDinoUnavailable(
                f"the gdino-official worker ({self._python}) exited with code {code}; "
                f"its last output:\n{tail}"
            )
        return json.loads(line)

    def detect(self, image: np.ndarray, class_name: str) -> list[Detection]:
        assert self._process.stdin is not None
        frame = np.ascontiguousarray(image, dtype=np.uint8)
        header = {"class_name": class_name, "shape": list(frame.shape)}
        self._process.stdin.write(json.dumps(header).encode() + b"\n" + frame.tobytes())
        self._process.stdin.flush()
        reply = self._reply()
        if "error" in reply:
            raise RuntimeError(f"gdino-official worker: {reply['error']}")
        detections = []
        for d in reply["detections"]:
            x1, y1, x2, y2 = d["box_xyxy"]
            detections.append(Detection((x1, y1, x2, y2), d["score"], d["label"]))
        return detections


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.stdin is not None:
        process.stdin.close()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


# -- the worker: runs in .venv-gdino ------------------------------------------------------
class _Worker:
    """The authors' loader, preprocessing and ``predict`` on one model."""

    def __init__(self, checkpoint: Path, device: str) -> None:
        import groundingdino.datasets.transforms as T
        from groundingdino.util.inference import load_model
        from groundingdino.util.slconfig import SLConfig

        config, weights = checkpoint_files(checkpoint)
        args = SLConfig.fromfile(str(config))
        text_encoder = Path(args.text_encoder_type)
        if not (checkpoint / text_encoder).is_dir():
            raise GroundingDinoUnavailable(
                f"{config}: text_encoder_type = {args.text_encoder_type!r} is not a directory "
                f"(relative to {checkpoint}, or absolute): save the BERT model and tokenizer "
                "there (save_pretrained); there is no model hub to fetch it from"
            )
        # The package resolves text_encoder_type against the working directory.
        os.chdir(checkpoint)
        self.model = load_model(str(config), str(weights), device=device)
        self.device = device
        self.special_tokens = set(self.model.tokenizer.all_special_tokens)
        self.transform = T.Compose(
            [
                T.RandomResize(
                    [args.get("input_short_side_px", DEFAULT_SHORT_SIDE_PX)],
                    max_size=args.get("input_max_side_px", DEFAULT_MAX_SIDE_PX),
                ),
                T.ToTensor(),
                T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
            ]
        )

    def detect(
        self,
        image: np.ndarray,
        class_name: str,
        box_threshold: float,
        text_threshold: float,
        max_detections: int,
    ) -> list[Detection]:
        from groundingdino.util.inference import Model, predict
        from PIL import Image

        height, width = image.shape[:2]
        tensor, _ = self.transform(Image.fromarray(image), None)
        boxes, scores, phrases = predict(
            self.model, tensor, text_prompt(class_name), box_threshold, text_threshold, self.device
        )
        # normalised cxcywh -> absolute xyxy, as the authors' Model.predict_with_caption does
        found = Model.post_process_result(height, width, boxes, scores)
        # 0.4.0's phrases keep [CLS]/[SEP] when their scores pass text_threshold (the authors'
        # repository later masks them out of the phrase): the label is the words alone
        labels = [" ".join(w for w in p.split() if w not in self.special_tokens) for p in phrases]
        return ranked_detections(
            found.xyxy, found.confidence, labels, width, height, max_detections
        )


def _send(out: IO[bytes], message: dict[str, Any]) -> None:
    out.write(json.dumps(message).encode() + b"\n")
    out.flush()


def serve(args: argparse.Namespace, requests: IO[bytes], replies: IO[bytes]) -> int:
    """Load the model, then answer detection requests until ``requests`` ends."""
    try:
        worker = _Worker(Path(args.checkpoint), args.device)
    except Exception as exc:  # reported to the client, which raises it as an InputError
        _send(replies, {"error": f"{type(exc).__name__}: {exc}"})
        return 2
    _send(replies, {"ready": True})
    for line in requests:
        header = json.loads(line)
        shape = tuple(header["shape"])
        data = requests.read(int(np.prod(shape)))
        try:
            image = np.frombuffer(data, dtype=np.uint8).reshape(shape)
            found = worker.detect(
                image,
                header["class_name"],
                args.box_threshold,
                args.text_threshold,
                args.max_detections,
            )
        except Exception as exc:  # one frame's failure; the client decides
            _send(replies, {"error": f"{type(exc).__name__}: {exc}"})
            continue
        detections = [{"box_xyxy": d.box_xyxy, "score": d.score, "label": d.label} for d in found]
        _send(replies, {"detections": detections})
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m zstvg.proposals.detectors.gdino_official",
        description="The gdino-official worker: frames on stdin, detections on stdout (see the "
        "module docstring); started by `zstvg propose` with proposals.detector=gdino-official.",
    )
    parser.add_argument("--checkpoint", required=True, metavar="DIR")
    parser.add_argument("--box-threshold", type=float, required=True)
    parser.add_argument("--text-threshold", type=float, required=True)
    parser.add_argument("--max-detections", type=int, required=True)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    # The package prints to stdout (e.g. "final text_encoder_type: ..."): keep the protocol on
    # a copy of the real stdout and send everything else written there to stderr.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return serve(args, sys.stdin.buffer, replies)


if __name__ == "__main__":
    sys.exit(main())
