"""SAM 2 video tracker through transformers (``Sam2VideoModel`` + an inference session).

Track management (which detections start tracks, windows, caps) is ``zstvg.proposals.manager``;
this module only prompts and propagates. Memory, so a 3-minute video costs what a 20 s one does:
- frames are streamed: the session's frame store reads and preprocesses a frame when the model
  asks for it and keeps the last 2, instead of holding the whole window as 1024x1024 tensors
  (12 MB each in float32);
- per-frame outputs older than the model's memory reach (``num_maskmem`` frames for the memory
  bank, ``max_object_pointers_in_encoder`` for object pointers) are dropped during propagation;
  SAM 2 keeps a 1024x1024 mask per frame and object otherwise (4 MB each);
- with ``offload_state_to_cpu`` the memory bank lives on the CPU and moves to the GPU per frame;
- masks leave as COCO RLE right away (the manager encodes them).

Preprocessing follows ``Sam2VideoProcessor`` (which needs torchvision, not in our lock): resize
to ``image_size`` x ``image_size`` (bilinear, antialiased), scale to [0, 1], normalise with the
checkpoint's ``image_mean``/``image_std`` (ImageNet's when the checkpoint has no preprocessor
config); a box prompt is its two corners with point labels 2 and 3 in model-input pixels; masks
are upsampled bilinearly to ``image_size``, then to the frame size, and thresholded at 0.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zstvg.config import ProposalsConfig
from zstvg.proposals.detectors import Detection
from zstvg.proposals.detectors.gdino_hf import load_failure_hint
from zstvg.proposals.frames import FrameSource, StreamedFrames
from zstvg.proposals.manager import resolve_device, track_with_propagation
from zstvg.structures import BoxXYXY, Track

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def read_preprocessing(checkpoint: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """``image_mean``/``image_std`` from the checkpoint's preprocessor config, else ImageNet's."""
    path = Path(checkpoint) / "preprocessor_config.json"
    if path.is_file():
        cfg = json.loads(path.read_text(encoding="utf-8"))
        mean, std = cfg.get("image_mean", IMAGENET_MEAN), cfg.get("image_std", IMAGENET_STD)
        return tuple(mean), tuple(std)
    return IMAGENET_MEAN, IMAGENET_STD


class _HFWindow:
    """One inference session over a window of frames."""

    def __init__(self, tracker: Sam2HFTracker, frames: FrameSource, window: Sequence[int]) -> None:
        import torch
        from transformers.models.sam2_video.modeling_sam2_video import Sam2VideoInferenceSession

        self.tracker = tracker
        self.frames = frames
        self.window = list(window)
        self.position = {f: i for i, f in enumerate(self.window)}
        device = tracker.device
        state_device = "cpu" if tracker.cfg.offload_state_to_cpu else device
        self.session = Sam2VideoInferenceSession(
            video_height=frames.height, video_width=frames.width, inference_device=device,
            inference_state_device=state_device, video_storage_device=state_device,
            dtype=torch.float32,
        )
        self.session.processed_frames = StreamedFrames(len(self.window), self._load)

    def _load(self, i: int) -> Any:
        import torch
        import torch.nn.functional as F

        t = self.tracker
        # A copy: PIL-decoded arrays are read-only, which torch.from_numpy warns about.
        image = torch.from_numpy(np.array(self.frames.read(self.window[i]), dtype=np.uint8))
        x = image.permute(2, 0, 1)[None].float()
        x = F.interpolate(x, size=(t.image_size, t.image_size), mode="bilinear",
                          align_corners=False, antialias=True)
        x = (x / 255.0 - t.mean) / t.std
        return x[0]

    def _masks(self, output: Any) -> Iterator[tuple[int, int, np.ndarray]]:
        import torch.nn.functional as F

        t = self.tracker
        logits = output.pred_masks.float()  # (n_objects, 1, h, w), low resolution
        logits = F.interpolate(logits, size=(t.image_size, t.image_size), mode="bilinear",
                               align_corners=False)
        logits = F.interpolate(logits, size=(self.frames.height, self.frames.width),
                               mode="bilinear", align_corners=False)
        masks = (logits[:, 0] > 0).cpu().numpy()
        frame_idx = self.window[output.frame_idx]
        for obj_id, mask in zip(output.object_ids, masks, strict=True):
            yield frame_idx, int(obj_id), mask

    def _prune(self, current: int, reverse: bool) -> None:
        """Drop non-conditioning outputs the model can no longer reach from ``current``."""
        reach = self.tracker.memory_reach
        stale = current + reach if reverse else current - reach
        for per_obj in self.session.output_dict_per_obj.values():
            per_obj["non_cond_frame_outputs"].pop(stale, None)

    def _clear_history(self) -> None:
        for per_obj in self.session.output_dict_per_obj.values():
            per_obj["non_cond_frame_outputs"].clear()

    def propagate(
        self, prompt_frame: int, boxes: Mapping[int, BoxXYXY]
    ) -> Iterator[tuple[int, int, np.ndarray]]:
        import torch

        t = self.tracker
        session = self.session
        session.reset_tracking_data()
        local = self.position[prompt_frame]
        sx, sy = t.image_size / self.frames.width, t.image_size / self.frames.height
        for obj_id, (x1, y1, x2, y2) in boxes.items():
            obj_idx = session.obj_id_to_idx(obj_id)
            coords = torch.tensor([[[[x1 * sx, y1 * sy], [x2 * sx, y2 * sy]]]], dtype=torch.float32)
            labels = torch.tensor([[[2, 3]]], dtype=torch.int32)
            prompt = {"point_coords": coords, "point_labels": labels}
            session.add_point_inputs(obj_idx, local, prompt)
        session.obj_with_new_inputs = list(boxes)
        with torch.inference_mode():
            yield from self._masks(t.model(inference_session=session, frame_idx=local))
            for reverse in (False, True):
                # Each direction conditions only on the prompt and its own earlier frames.
                self._clear_history()
                for out in t.model.propagate_in_video_iterator(
                    session, start_frame_idx=local, reverse=reverse
                ):
                    if out.frame_idx != local:
                        yield from self._masks(out)
                    self._prune(out.frame_idx, reverse)
        session.reset_tracking_data()


class Sam2HFTracker:
    """SAM 2 (transformers) tracker with the paper's detection-seeded track management."""

    dense_detections = False

    def __init__(self, cfg: ProposalsConfig, device: str = "cpu") -> None:
        import torch
        from transformers import Sam2VideoModel

        if not cfg.tracker_checkpoint:
            raise load_failure_hint("SAM 2 tracker", "(none)", "sam2",
                                    ValueError("proposals.tracker_checkpoint is null"))
        try:
            self.model = Sam2VideoModel.from_pretrained(cfg.tracker_checkpoint)
        except (OSError, ValueError) as exc:
            raise load_failure_hint("SAM 2 tracker", cfg.tracker_checkpoint, "sam2", exc) from None
        self.cfg = cfg
        self.device = resolve_device(device)
        self.model.to(self.device).eval()
        config = self.model.config
        self.image_size = int(config.image_size)
        mean, std = read_preprocessing(cfg.tracker_checkpoint)
        self.mean = torch.tensor(mean).view(1, 3, 1, 1)
        self.std = torch.tensor(std).view(1, 3, 1, 1)
        # Farthest earlier frame the model reads: memory bank (num_maskmem - 1 frames back) or
        # object pointers (max_object_pointers_in_encoder frames back); +1 for safety.
        self.memory_reach = max(config.num_maskmem, config.max_object_pointers_in_encoder) + 1

    @contextlib.contextmanager
    def window(self, frames: FrameSource, window: Sequence[int]) -> Iterator[_HFWindow]:
        win = _HFWindow(self, frames, window)
        try:
            yield win
        finally:
            win.session.reset_inference_session()

    def track(
        self,
        frames: FrameSource,
        detections: Mapping[int, Sequence[Detection]],
        class_name: str,
    ) -> list[Track]:
        return track_with_propagation(self, frames, detections, class_name, self.cfg)
