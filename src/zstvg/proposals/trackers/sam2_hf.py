"""SAM 2 video tracker through transformers (``Sam2VideoModel`` + ``Sam2VideoProcessor``).

Track management (which detections start tracks, windows, caps) is ``zstvg.proposals.propagation``;
this module only prompts and propagates, with the processor's inference-session API: a session
per window from ``init_video_session``, box prompts through ``add_inputs_to_inference_session``
(the processor scales them to the model input and turns them into corner points), frames through
the processor's video processor, masks through ``post_process_masks`` (upsampled to the frame
size, thresholded at 0). Both model and processor load with ``from_pretrained(checkpoint)``.

Memory, so a 3-minute video costs what a 20 s one does:
- frames are streamed: ``init_video_session`` is given no video, and the session's frame store
  is a ``StreamedFrames`` that preprocesses a window frame when the model asks for it and keeps
  the last 2, instead of holding the whole window as 1024x1024 tensors (12 MB each in float32);
- per-frame outputs older than the model's memory reach (``num_maskmem`` frames for the memory
  bank, ``max_object_pointers_in_encoder`` for object pointers) are dropped during propagation;
  SAM 2 keeps a 1024x1024 mask per frame and object otherwise (4 MB each);
- with ``offload_state_to_cpu`` the memory bank and the frames live on the CPU and move to the
  GPU per frame;
- masks leave as COCO RLE right away (the propagation loop encodes them).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from zstvg.config.params import ProposalsConfig
from zstvg.files.records import BoxXYXY
from zstvg.jobs.gpus import resolve_device
from zstvg.proposals.detectors.gdino_hf import load_failure_hint
from zstvg.proposals.frames import FrameSource, StreamedFrames
from zstvg.proposals.propagation import PropagatingTracker

log = logging.getLogger(__name__)


class _HFWindow:
    """One inference session over a window of frames."""

    def __init__(self, tracker: Sam2HFTracker, frames: FrameSource, window: Sequence[int]) -> None:
        import torch

        self.tracker = tracker
        self.frames = frames
        self.window = list(window)
        self.position = {f: i for i, f in enumerate(self.window)}
        device = tracker.device
        state_device = "cpu" if tracker.cfg.offload_state_to_cpu else device
        self.session = tracker.processor.init_video_session(
            inference_device=device,
            inference_state_device=state_device,
            video_storage_device=state_device,
            dtype=torch.float32,
        )
        self.session.processed_frames = StreamedFrames(len(self.window), self._load)

    def _load(self, i: int) -> Any:
        # A one-frame video (1, H, W, 3); a copy, as PIL-decoded arrays are read-only.
        frame = np.array(self.frames.read(self.window[i]), dtype=np.uint8)[None]
        pixels = self.tracker.processor.video_processor(videos=[frame], return_tensors="pt")
        return pixels.pixel_values_videos[0, 0].to(self.session.video_storage_device)

    def _masks(self, output: Any) -> Iterator[tuple[int, int, np.ndarray]]:
        size = [[self.frames.height, self.frames.width]]
        masks = self.tracker.processor.post_process_masks([output.pred_masks.float()], size)[0]
        frame_idx = self.window[output.frame_idx]
        for obj_id, mask in zip(output.object_ids, masks[:, 0].cpu().numpy(), strict=True):
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
        t.processor.add_inputs_to_inference_session(
            session,
            frame_idx=local,
            obj_ids=list(boxes),
            input_boxes=[[list(box) for box in boxes.values()]],
            original_size=(self.frames.height, self.frames.width),
        )
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


class Sam2HFTracker(PropagatingTracker):
    """SAM 2 (transformers) tracker with the paper's detection-seeded track management."""

    def __init__(self, cfg: ProposalsConfig, device: str = "cpu") -> None:
        from transformers import Sam2VideoModel, Sam2VideoProcessor

        if not cfg.tracker_checkpoint:
            raise load_failure_hint(
                "SAM 2 tracker",
                "(none)",
                "sam2",
                ValueError("proposals.tracker_checkpoint is null"),
            )
        try:
            self.model = Sam2VideoModel.from_pretrained(cfg.tracker_checkpoint)
            self.processor = Sam2VideoProcessor.from_pretrained(cfg.tracker_checkpoint)
        except (OSError, ValueError) as exc:
            raise load_failure_hint("SAM 2 tracker", cfg.tracker_checkpoint, "sam2", exc) from None
        self.cfg = cfg
        self.device = resolve_device(device)
        # PreTrainedModel.to is functools.wraps(Module.to), typed as the unbound function: the
        # device reads as its self argument.
        self.model.to(self.device).eval()  # type: ignore[arg-type]
        config = self.model.config
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
