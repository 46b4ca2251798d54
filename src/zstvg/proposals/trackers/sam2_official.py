"""``sam2-official``: SAM 2 through Meta's ``sam2`` package (``SAM2VideoPredictor``).

The predictor is built with ``build_sam2_video_predictor(proposals.tracker_config,
ckpt_path=proposals.tracker_checkpoint, device, hydra_overrides_extra=
proposals.tracker_config_overrides)``: ``tracker_config`` names one of the package's hydra configs
(``configs/sam2.1/sam2.1_hiera_t.yaml`` for ``sam2.1_hiera_tiny.pt``) and the checkpoint is the
package's ``.pt`` file (a dict with a ``model`` state dict), not a transformers directory.
Track management (which detections start tracks, windows, caps) is
``zstvg.proposals.propagation``, shared with ``sam2-hf``; this module only prompts and propagates.

Memory. ``init_state`` loads a whole JPEG folder as 1024x1024 float32 tensors (12 MB a frame:
2.4 GB for a 200-frame grid). Here each window gets its own state, built by ``init_state`` on a
temporary folder holding only the window's first frame (it learns the frame size from it), after
which the state's ``images`` (the predictor only indexes it and asks its length, as it does with
the package's own lazy ``AsyncVideoFrameLoader``) is a ``StreamedFrames`` that preprocesses a
window frame when the model asks for it and keeps the last 2. Per-frame outputs the model can
no longer reach (``num_maskmem`` memory frames, ``max_obj_ptrs_in_encoder`` object pointers)
are dropped during propagation, so the state stays bounded too. ``offload_video_to_cpu`` and
``offload_state_to_cpu`` are the predictor's own switches (frames / memory bank on the CPU).
Preprocessing is the package's (``_load_img_as_tensor``): PIL resize to image_size x
image_size, scale to [0, 1], ImageNet normalisation.

Without the package's compiled extension (``sam2._C``; our install has none) the predictor's
hole filling would warn and skip on every frame, so it is switched off (``fill_hole_area = 0``
on the built predictor) instead.

If the package is missing, building this tracker raises ``Sam2Unavailable`` naming the package
and how to install it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zstvg.config.params import ProposalsConfig
from zstvg.files.io import InputError
from zstvg.files.records import BoxXYXY
from zstvg.jobs.gpus import resolve_device
from zstvg.proposals.frames import FrameSource, StreamedFrames
from zstvg.proposals.propagation import PropagatingTracker

log = logging.getLogger(__name__)

INSTALL_HINT = "SAM2_BUILD_CUDA=0 pip install 'sam2>=1.1' (or: pip install 'zstvg[sam2]')"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Sam2Unavailable(InputError):
    """The official SAM 2 package cannot be used here."""


def _import_builder() -> Any:
    try:
        from sam2.build_sam import build_sam2_video_predictor
    except ImportError as exc:
        raise Sam2Unavailable(
            "proposals.tracker=sam2-official needs the 'sam2' package (Meta's SAM 2, "
            f"build_sam2_video_predictor), which cannot be imported ({exc}): {INSTALL_HINT}. "
            "Or use proposals.tracker=sam2-hf (the same SAM 2.1 weights through transformers)."
        ) from None
    return build_sam2_video_predictor


def _has_compiled_extension() -> bool:
    return importlib.util.find_spec("sam2._C") is not None


def build_predictor(cfg: ProposalsConfig, device: str) -> Any:
    """``build_sam2_video_predictor`` from params, with load failures as ``InputError``."""
    build = _import_builder()
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    ckpt = cfg.tracker_checkpoint
    if not ckpt:
        raise InputError(
            "proposals.tracker_checkpoint is null: sam2-official needs the sam2 "
            "package's .pt checkpoint (e.g. sam2.1_hiera_tiny.pt)"
        )
    if not Path(ckpt).is_file():
        raise InputError(
            f"proposals.tracker_checkpoint {ckpt!r} is not a file: sam2-official loads the sam2 "
            "package's .pt checkpoint (e.g. sam2.1_hiera_tiny.pt with tracker_config "
            "configs/sam2.1/sam2.1_hiera_t.yaml); a transformers directory is for sam2-hf"
        )
    overrides = list(cfg.tracker_config_overrides)
    try:
        predictor = build(
            cfg.tracker_config, ckpt_path=ckpt, device=device, hydra_overrides_extra=overrides
        )
    except (HydraException, OmegaConfBaseException) as exc:
        raise InputError(
            f"sam2-official: cannot build proposals.tracker_config {cfg.tracker_config!r} with "
            f"overrides {overrides}: {type(exc).__name__}: {exc}"
        ) from None
    except (RuntimeError, KeyError, OSError) as exc:
        # _load_checkpoint raises a bare RuntimeError (after logging the mismatched keys) when
        # the checkpoint does not fit the config, KeyError without a "model" entry.
        raise InputError(
            f"sam2-official: cannot load proposals.tracker_checkpoint {ckpt!r} into "
            f"{cfg.tracker_config!r} (overrides {list(cfg.tracker_config_overrides)}): "
            f"{type(exc).__name__}: {str(exc) or 'state dict keys do not match the config'}"
        ) from None
    if not _has_compiled_extension():
        # The builder appends its own fill_hole_area=8 after our overrides; set it afterwards.
        predictor.fill_hole_area = 0
    return predictor


class _OfficialWindow:
    """One predictor inference state over a window of frames."""

    def __init__(
        self,
        tracker: Sam2OfficialTracker,
        frames: FrameSource,
        window: Sequence[int],
        scratch: Path,
    ) -> None:
        from PIL import Image

        self.tracker = tracker
        self.frames = frames
        self.window = list(window)
        self.position = {f: i for i, f in enumerate(self.window)}
        Image.fromarray(frames.read(self.window[0])).save(scratch / "0.jpg", quality=95)
        cfg = tracker.cfg
        predictor = tracker.predictor
        self.state = predictor.init_state(
            str(scratch),
            offload_video_to_cpu=cfg.offload_video_to_cpu,
            offload_state_to_cpu=cfg.offload_state_to_cpu,
        )
        self.state["images"] = StreamedFrames(len(self.window), self._load)
        self.state["num_frames"] = len(self.window)
        # init_state cached frame 0's features from the JPEG copy; recompute from the frame.
        self.state["cached_features"] = {}

    def _load(self, i: int) -> Any:
        import torch
        from PIL import Image

        t = self.tracker
        size = t.predictor.image_size
        image = Image.fromarray(self.frames.read(self.window[i])).convert("RGB")
        x = torch.from_numpy(np.asarray(image.resize((size, size)), dtype=np.float32) / 255.0)
        x = (x.permute(2, 0, 1) - t.mean) / t.std
        return x if self.tracker.cfg.offload_video_to_cpu else x.to(t.device)

    def _masks(
        self, frame: int, obj_ids: Sequence[int], logits: Any
    ) -> Iterator[tuple[int, int, np.ndarray]]:
        masks = (logits[:, 0] > 0.0).cpu().numpy()
        for obj_id, mask in zip(obj_ids, masks, strict=True):
            yield self.window[frame], int(obj_id), mask

    def _outputs(self) -> list[dict[int, Any]]:
        return [
            per_obj["non_cond_frame_outputs"]
            for per_obj in self.state["output_dict_per_obj"].values()
        ]

    def propagate(
        self, prompt_frame: int, boxes: Mapping[int, BoxXYXY]
    ) -> Iterator[tuple[int, int, np.ndarray]]:
        import torch

        predictor = self.tracker.predictor
        reach = self.tracker.memory_reach
        predictor.reset_state(self.state)
        local = self.position[prompt_frame]
        with torch.inference_mode():
            for obj_id, box in boxes.items():
                predictor.add_new_points_or_box(
                    self.state,
                    frame_idx=local,
                    obj_id=obj_id,
                    box=np.asarray(box, dtype=np.float32),
                )
            for reverse in (False, True):
                # Each direction conditions only on the prompt and its own earlier frames.
                for outputs in self._outputs():
                    outputs.clear()
                for frame, obj_ids, logits in predictor.propagate_in_video(
                    self.state, start_frame_idx=local, reverse=reverse
                ):
                    if not (reverse and frame == local):  # the forward pass gave it
                        yield from self._masks(frame, obj_ids, logits)
                    stale = frame + reach if reverse else frame - reach
                    for outputs in self._outputs():
                        outputs.pop(stale, None)
        predictor.reset_state(self.state)


class Sam2OfficialTracker(PropagatingTracker):
    """SAM 2 (``sam2`` package) tracker with the paper's detection-seeded track management."""

    def __init__(self, cfg: ProposalsConfig, device: str = "cpu") -> None:
        import torch

        self.cfg = cfg
        self.device = resolve_device(device)
        self.predictor = build_predictor(cfg, self.device)
        self.mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
        p = self.predictor
        # Farthest earlier frame the model reads: memory bank (num_maskmem frames at the eval
        # stride) or object pointers (max_obj_ptrs_in_encoder frames); +1 for safety.
        self.memory_reach = (
            max(p.num_maskmem * p.memory_temporal_stride_for_eval, p.max_obj_ptrs_in_encoder) + 1
        )

    @contextlib.contextmanager
    def window(self, frames: FrameSource, window: Sequence[int]) -> Iterator[_OfficialWindow]:
        with tempfile.TemporaryDirectory(prefix="zstvg-sam2-") as scratch:
            win = _OfficialWindow(self, frames, window, Path(scratch))
            try:
                yield win
            finally:
                self.predictor.reset_state(win.state)
