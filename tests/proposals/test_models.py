"""Real tiny checkpoints: Grounding DINO, SAM 2 (transformers and the sam2 package) end to end."""

from __future__ import annotations

import dataclasses
import sys

import numpy as np
import pytest

from zstvg.config.params import load_params
from zstvg.files import proposal_tracks as official_format
from zstvg.files import rle
from zstvg.files.io import InputError
from zstvg.proposals.detectors import Detection, build_detector, text_prompt
from zstvg.proposals.frames import ArrayFrames
from zstvg.proposals.trackers import build_tracker


def proposals_cfg(**overrides):
    return dataclasses.replace(load_params().proposals, **overrides)


def test_text_prompt_is_the_lower_case_noun_with_a_period() -> None:
    assert text_prompt("Person") == "person."
    assert text_prompt(" red car. ") == "red car."
    with pytest.raises(ValueError, match="empty class"):
        text_prompt(" . ")


def test_tiny_gdino_tokenizer_uses_grounding_dinos_special_ids(tiny_gdino) -> None:
    from transformers import GroundingDinoProcessor

    tok = GroundingDinoProcessor.from_pretrained(tiny_gdino).tokenizer
    assert tok("person.").input_ids == [101, tok.convert_tokens_to_ids("person"), 1012, 102]
    assert tok("what?").input_ids[-2:] == [1029, 102]
    assert tok.unk_token_id not in tok("a zebra on the grass.").input_ids


def test_gdino_hf_detects_with_limits_and_thresholds(tiny_gdino, synthetic_video) -> None:
    image = synthetic_video.read(0)
    cfg = proposals_cfg(
        detector_checkpoint=str(tiny_gdino),
        box_threshold=0.0,
        text_threshold=0.0,
        max_detections_per_frame=3,
    )
    dets = build_detector(cfg).detect(image, "person")
    assert len(dets) == 3
    scores = [d.score for d in dets]
    assert scores == sorted(scores, reverse=True)
    for d in dets:
        x1, y1, x2, y2 = d.box_xyxy
        assert 0 <= x1 < x2 <= 96 and 0 <= y1 < y2 <= 64
    strict = dataclasses.replace(cfg, box_threshold=1.0)
    assert build_detector(strict).detect(image, "person") == []  # sigmoid scores are < 1
    again = build_detector(cfg).detect(image, "person")
    assert again == dets  # deterministic


def test_missing_detector_checkpoint_is_a_clear_error(tmp_path) -> None:
    cfg = proposals_cfg(detector_checkpoint=str(tmp_path / "nope"))
    with pytest.raises(InputError, match="make-tiny-checkpoint --family gdino"):
        build_detector(cfg)


def test_sam2_hf_tracks_a_synthetic_video_into_a_valid_file(
    tiny_sam2, synthetic_video, tmp_path
) -> None:
    cfg = proposals_cfg(
        tracker="sam2-hf",
        tracker_checkpoint=str(tiny_sam2),
        window_frames=8,
        min_track_frames=1,
        device="cpu",
    )
    tracker = build_tracker(cfg)
    assert tracker.dense_detections is False
    grid = synthetic_video.frame_idx  # 0, 2, ..., 38
    dets = {0: [Detection((0, 10, 20, 30), 0.9)], 20: [Detection((66, 35, 86, 55), 0.7)]}
    tracks = tracker.track(synthetic_video, dets, "person")
    assert len(tracks) == 2 and [t.track_id for t in tracks] == [0, 1]
    assert tracks[0].frame_idx == grid  # propagated over all windows
    # Detected on frame 20, in the window [14, 28]: backward propagation stops at frame 14.
    assert tracks[1].frame_idx == [f for f in grid if f >= 14]
    for t in tracks:
        for f, box in t.boxes_xyxy.items():
            assert rle.box_xyxy(t.rles[f]) == box
            assert rle.decode(t.rles[f]).shape == (64, 96)
    path = tmp_path / "v.json"
    official_format.write(path, grid, tracks, 96, 64)
    back = official_format.read(path)
    assert back.frame_idx == tuple(grid)
    assert [t.boxes_xyxy for t in back.tracks] == [t.boxes_xyxy for t in tracks]
    # Same input, same output (fixed weights, CPU).
    assert build_tracker(cfg).track(synthetic_video, dets, "person") == tracks


def test_tiny_sam2_ships_its_processor(tiny_sam2) -> None:
    from transformers import AutoProcessor, Sam2VideoProcessor

    processor = AutoProcessor.from_pretrained(tiny_sam2)  # offline, from the directory alone
    assert isinstance(processor, Sam2VideoProcessor)
    assert processor.target_size == 64
    video = np.zeros((1, 30, 40, 3), np.uint8)
    pixels = processor.video_processor(videos=[video], return_tensors="pt")
    assert tuple(pixels.pixel_values_videos.shape) == (1, 1, 3, 64, 64)
    session = processor.init_video_session()
    processor.add_inputs_to_inference_session(
        session, frame_idx=0, obj_ids=[5], input_boxes=[[[0, 15, 20, 30]]], original_size=(30, 40)
    )
    prompt = session.point_inputs_per_obj[session.obj_id_to_idx(5)][0]
    # Corners scaled to the 64-px input (x * 64/40, y * 64/30), labelled 2 and 3 (a box).
    assert prompt["point_coords"].flatten().tolist() == [0.0, 32.0, 32.0, 64.0]
    assert prompt["point_labels"].flatten().tolist() == [2, 3]


def test_sam2_hf_state_stays_bounded_over_a_long_window(tiny_sam2) -> None:
    from zstvg.proposals.frames import StreamedFrames

    cfg = proposals_cfg(tracker="sam2-hf", tracker_checkpoint=str(tiny_sam2))
    tracker = build_tracker(cfg)
    frames = ArrayFrames("long", {f: np.full((32, 48, 3), f, np.uint8) for f in range(60)})
    with tracker.window(frames, frames.frame_idx) as win:
        assert isinstance(win.session.processed_frames, StreamedFrames)
        assert len(win.session.processed_frames) == 60
        peak = 0
        for _ in win.propagate(30, {7: (10.0, 5.0, 30.0, 20.0)}):
            held = win.session.output_dict_per_obj[0]["non_cond_frame_outputs"]
            peak = max(peak, len(held))
            assert win.session.processed_frames.held <= 2
    # Held while a frame is yielded: the reach behind it plus that frame (17 + 1), not 59.
    assert 0 < peak <= tracker.memory_reach + 1


def test_streamed_frames_load_on_demand() -> None:
    from zstvg.proposals.frames import StreamedFrames

    loads = []
    frames = StreamedFrames(5, lambda i: loads.append(i) or i * 10)
    assert len(frames) == 5 and 4 in frames and 5 not in frames
    assert [frames[i] for i in (0, 1, 1, 2, 0)] == [0, 10, 10, 20, 0]
    assert loads == [0, 1, 2, 0]  # keeps the last 2 only
    with pytest.raises(KeyError):
        frames[5]


def official_cfg(checkpoint, **overrides):
    from zstvg.tiny.proposals import SAM2_OFFICIAL_TINY_CONFIG, SAM2_OFFICIAL_TINY_OVERRIDES

    settings = {
        "tracker": "sam2-official",
        "tracker_checkpoint": str(checkpoint),
        "tracker_config": SAM2_OFFICIAL_TINY_CONFIG,
        "tracker_config_overrides": SAM2_OFFICIAL_TINY_OVERRIDES,
        "device": "cpu",
    }
    return proposals_cfg(**{**settings, **overrides})


def test_sam2_official_tracks_a_synthetic_video_into_a_valid_file(
    tiny_sam2_official, synthetic_video, tmp_path
) -> None:
    cfg = official_cfg(tiny_sam2_official, window_frames=8, min_track_frames=1)
    tracker = build_tracker(cfg)
    assert tracker.dense_detections is False
    assert tracker.predictor.image_size == 128  # the override reached the hydra config
    grid = synthetic_video.frame_idx  # 0, 2, ..., 38; windows [0..14], [14..28], [28..38]
    dets = {0: [Detection((0, 10, 20, 30), 0.9)], 20: [Detection((66, 35, 86, 55), 0.7)]}
    tracks = tracker.track(synthetic_video, dets, "person")
    assert [t.track_id for t in tracks] == [0, 1]
    assert tracks[0].frame_idx == grid  # carried across both window boundaries
    assert tracks[1].frame_idx == [f for f in grid if f >= 14]  # backward stops at 14
    for t in tracks:
        for f, box in t.boxes_xyxy.items():
            assert rle.box_xyxy(t.rles[f]) == box
            assert rle.decode(t.rles[f]).shape == (64, 96)
    path = tmp_path / "v.json"
    official_format.write(path, grid, tracks, 96, 64)
    assert [t.rles for t in official_format.read(path).tracks] == [t.rles for t in tracks]
    assert tracker.track(synthetic_video, dets, "person") == tracks  # deterministic on CPU


def test_sam2_official_streams_frames_and_bounds_its_state(tiny_sam2_official) -> None:
    from zstvg.proposals.frames import StreamedFrames

    tracker = build_tracker(official_cfg(tiny_sam2_official))
    frames = ArrayFrames("long", {f: np.full((32, 48, 3), f, np.uint8) for f in range(48)})
    with tracker.window(frames, frames.frame_idx) as win:
        images = win.state["images"]
        assert isinstance(images, StreamedFrames) and len(images) == 48
        assert (win.state["video_height"], win.state["video_width"]) == (32, 48)
        seen, peak = set(), 0
        for frame_idx, obj_id, mask in win.propagate(24, {7: (10.0, 5.0, 30.0, 20.0)}):
            assert obj_id == 7 and mask.shape == (32, 48)
            seen.add(frame_idx)
            held = win.state["output_dict_per_obj"][0]["non_cond_frame_outputs"]
            peak = max(peak, len(held))
            assert images.held <= 2
    assert seen == set(range(48))  # both directions, the prompt frame once
    # Held while a frame is yielded: the reach behind it plus that frame (17 + 1), not 24.
    assert tracker.memory_reach == 17 and 0 < peak <= tracker.memory_reach + 1


def test_sam2_official_names_the_missing_package(monkeypatch, tmp_path) -> None:
    # None in sys.modules makes `import sam2...` raise ImportError, as if not installed.
    monkeypatch.setitem(sys.modules, "sam2", None)
    monkeypatch.setitem(sys.modules, "sam2.build_sam", None)
    ckpt = tmp_path / "sam2.1_hiera_tiny.pt"
    ckpt.write_bytes(b"")
    with pytest.raises(InputError, match=r"needs the 'sam2' package.*pip install.*sam2-hf"):
        build_tracker(proposals_cfg(tracker="sam2-official", tracker_checkpoint=str(ckpt)))


def test_sam2_official_bad_checkpoint_or_config_is_a_clear_error(
    tiny_sam2_official, tiny_sam2, tmp_path
) -> None:
    import torch

    with pytest.raises(InputError, match="is null"):
        build_tracker(proposals_cfg(tracker="sam2-official", tracker_checkpoint=None))
    with pytest.raises(InputError, match="not a file.*transformers directory is for sam2-hf"):
        build_tracker(official_cfg(tiny_sam2))  # the HF directory
    wrong = tmp_path / "wrong.pt"
    torch.save({"model": {"not_a_sam2_weight": torch.zeros(1)}}, wrong)
    with pytest.raises(InputError, match=r"cannot load proposals.tracker_checkpoint .*wrong\.pt"):
        build_tracker(official_cfg(wrong))
    with pytest.raises(InputError, match="cannot build proposals.tracker_config 'nope.yaml'"):
        build_tracker(official_cfg(tiny_sam2_official, tracker_config="nope.yaml"))


def test_gdino_official_without_its_environment_or_files_is_a_clear_error(tmp_path) -> None:
    cfg = proposals_cfg(detector="gdino-official", detector_python=str(tmp_path / "nope"))
    with pytest.raises(InputError, match="detector_python=.*does not exist: run `make env-gdino`"):
        build_detector(cfg)
    (tmp_path / "GroundingDINO_SwinT_OGC.py").write_text("")
    cfg = proposals_cfg(
        detector="gdino-official",
        detector_python=sys.executable,
        detector_checkpoint=str(tmp_path),
    )
    with pytest.raises(InputError, match=r"needs exactly one \.pth file .*found none"):
        build_detector(cfg)


def gdino_official_cfg(checkpoint, python, **overrides):
    return proposals_cfg(
        detector="gdino-official",
        detector_checkpoint=str(checkpoint),
        detector_python=str(python),
        box_threshold=0.0,
        text_threshold=0.0,
        max_detections_per_frame=3,
        **overrides,
    )


def test_gdino_official_boxes_come_out_in_our_format(
    tiny_gdino_official, gdino_python, synthetic_video
) -> None:
    """The authors' model (groundingdino-py, in .venv-gdino) on a 96x64 synthetic frame."""
    detector = build_detector(gdino_official_cfg(tiny_gdino_official, gdino_python))
    image = synthetic_video.read(0)
    dets = detector.detect(image, "Person")
    assert 1 <= len(dets) <= 3  # random weights: every query scores above threshold 0
    for d in dets:
        x1, y1, x2, y2 = d.box_xyxy
        assert 0 <= x1 < x2 <= 96 and 0 <= y1 < y2 <= 64
        assert 0.0 <= d.score <= 1.0
        assert d.label == "person"  # the prompt's words, without [CLS]/[SEP]
    assert [d.score for d in dets] == sorted((d.score for d in dets), reverse=True)
    assert detector.detect(image, "person") == dets  # the worker is deterministic


def test_gdino_official_without_a_local_bert_says_so(
    tiny_gdino_official, gdino_python, tmp_path
) -> None:
    import shutil

    ckpt = tmp_path / "gdino"
    shutil.copytree(tiny_gdino_official, ckpt, ignore=shutil.ignore_patterns("bert"))
    with pytest.raises(InputError, match="text_encoder_type = 'bert' is not a directory"):
        build_detector(gdino_official_cfg(ckpt, gdino_python))
