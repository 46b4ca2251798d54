"""Pure generation of the synthetic benchmark: geometry, rendering, plans, records."""

from __future__ import annotations

import numpy as np
import pytest

from zstvg.data import synthetic as syn
from zstvg.files import rle

SMALL = {"width": 96, "height": 72, "fps": 5, "min_actors": 2, "max_actors": 4}


def _actor(track_id, role, attributes, cx, y_feet, n_frames, action="stand"):
    return syn.Actor(
        track_id=track_id,
        role=role,
        attributes=attributes,
        main=syn.Segment(action, 2, 6),
        segments=(syn.Segment(action, 0, n_frames),),
        height_px=50,
        y_feet=y_feet,
        cx=(cx,) * n_frames,
        dy=(0,) * n_frames,
        present=(True,) * n_frames,
    )


@pytest.fixture()
def hand_plan() -> syn.VideoPlan:
    """A 1 fps, 20-frame, 320 x 240 video: a 50 px yellow target with a hat standing at
    cx=100 (feet row 200) and a red distractor at cx=250, both still."""
    n = 20
    target = _actor(0, "target", syn.Attributes("yellow", "large", "hat"), 100, 200, n)
    other = _actor(1, "other", syn.Attributes("red", "small", "stripe"), 250, 180, n)
    return syn.VideoPlan(
        video_id="hand",
        width=320,
        height=240,
        fps=1,
        n_frames=n,
        background=((190, 190, 190), (190, 190, 190)),
        actors=(target, other),
        target_track_id=0,
    )


def test_actor_parts_are_hand_checkable():
    g = syn.geometry(50, "hat")
    # head radius round(0.12 * 50) = 6, body half width round(0.2 * 50) = 10,
    # hat height round(0.5 * 6) = 3; head top = 200 - 50 = 150.
    assert (g.head_r, g.body_half_w, g.hat_h) == (6, 10, 3)
    assert dict(syn.actor_parts(g, cx=100, y_feet=200)) == {
        "body": (90, 162, 110, 200),
        "head": (94, 150, 106, 162),
        "hat": (93, 147, 107, 154),  # one pixel wider than the head, covers its top 4 rows
    }


def test_gt_box_equals_the_drawn_actor_extent(hand_plan):
    img, label = syn.render_frame(hand_plan, 3)
    # Extent by hand from the parts above: columns 90..109 (body), rows 147 (hat top)..199.
    assert syn.mask_box_xyxy(label == 0) == (90.0, 147.0, 110.0, 200.0)
    assert tuple(img[180, 100]) == syn.COLOURS["yellow"]  # body
    assert tuple(img[157, 100]) == syn.SKIN  # head centre
    assert tuple(img[148, 100]) == syn.HAT
    assert tuple(img[100, 100]) == (190, 190, 190)  # background above the hat
    # The head is a disk: the corner of its square stays background.
    assert label[161, 94] == -1 and label[156, 94] == 0

    recs = syn.records(hand_plan, syn.iter_frames(hand_plan))
    entry = recs.annotation
    # main action [2, 6): st_frame is 1-based; boxes are xywh of the drawn extent.
    assert entry["st_frame"] == 3
    assert entry["bbox"] == [[90, 147, 20, 53]] * 4
    assert entry["img_num"] == 20 and entry["img_size"] == [240, 320]
    assert entry["st_time"] == 2.5 and entry["ed_time"] == 5.5  # frame centres, 1 fps
    target = recs.tracks[0]
    assert target.boxes_xyxy[3] == (90.0, 147.0, 110.0, 200.0)
    assert rle.box_xyxy(target.rles[3]) == (90.0, 147.0, 110.0, 200.0)
    assert np.array_equal(rle.decode(target.rles[3]), label == 0)


def test_an_occluded_distractor_mask_is_its_visible_pixels(hand_plan):
    # Move the distractor behind the target: the target is drawn last.
    other = hand_plan.actors[1]
    behind = syn.Actor(**{**other.__dict__, "cx": (104,) * 20, "y_feet": 195})
    plan = syn.VideoPlan(**{**hand_plan.__dict__, "actors": (hand_plan.actors[0], behind)})
    _, label = syn.render_frame(plan, 0)
    assert syn.mask_box_xyxy(label == 0) == (90.0, 147.0, 110.0, 200.0)
    solo = syn.Actor(**{**behind.__dict__, "track_id": 0, "role": "target"})
    alone = syn.VideoPlan(**{**plan.__dict__, "actors": (solo,), "target_track_id": 0})
    _, label_alone = syn.render_frame(alone, 0)
    full = label_alone == 0
    assert np.array_equal(label == 1, full & (label != 0))
    # Its body spans columns 104 +- 10 = [94, 114); the target's covers [90, 110) below row 162.
    assert np.flatnonzero(label[170] == 1).tolist() == [110, 111, 112, 113]


def _plans(n: int, **kw) -> list[syn.VideoPlan]:
    return [syn.plan_video(seed, i, **{**SMALL, **kw}) for seed in (0, 1) for i in range(n)]


def test_plans_make_the_query_need_both_attribute_and_action():
    for plan in _plans(30, width=320, height=240, fps=10):
        target = plan.target
        fps, n = plan.fps, plan.n_frames
        assert 2 <= len(plan.actors) <= 4
        assert sorted(a.track_id for a in plan.actors) == list(range(len(plan.actors)))
        start, end = plan.gt_span
        assert 4 * fps <= end - start <= 8 * fps
        assert start >= 2 * fps and end <= n - 2 * fps
        roles = [a.role for a in plan.actors]
        assert roles.count("target") == 1
        for actor in plan.actors:
            # Segments tile the whole video.
            assert actor.segments[0].start == 0 and actor.segments[-1].end == n
            for a, b in zip(actor.segments, actor.segments[1:], strict=False):
                assert a.end == b.start and a.action != b.action
            if actor.role == "target":
                continue
            actions = {s.action for s in actor.segments}
            if actor.attributes == target.attributes:
                # Looks the same: must never do the queried action.
                assert target.main.action not in actions, plan.video_id
            if actor.role == "attribute_twin":
                assert actor.attributes == target.attributes
            if actor.role == "action_twin":
                assert actor.main.action == target.main.action
                changed = [
                    k
                    for k in ("colour", "size", "clothing")
                    if getattr(actor.attributes, k) != getattr(target.attributes, k)
                ]
                assert len(changed) == 1
        if len(plan.actors) >= 3:
            assert {"attribute_twin", "action_twin"} <= set(roles)
        else:
            assert roles.count("attribute_twin") + roles.count("action_twin") == 1
        assert plan.query.startswith(f"The {target.attributes.description()} ")


def test_every_action_and_actor_count_occurs():
    plans = _plans(40)
    assert {p.target.main.action for p in plans} == set(syn.ACTIONS)
    assert {len(p.actors) for p in plans} == {2, 3, 4}
    assert len({p.target_track_id for p in plans}) > 1  # the target's id is not a giveaway


def test_plan_depends_only_on_seed_and_index():
    assert syn.plan_video(3, 5, **SMALL) == syn.plan_video(3, 5, **SMALL)
    assert syn.plan_video(3, 5, **SMALL) != syn.plan_video(3, 6, **SMALL)
    assert syn.plan_video(3, 5, **SMALL) != syn.plan_video(4, 5, **SMALL)


@pytest.mark.parametrize("index", range(6))
def test_records_match_the_rendered_labels(index):
    plan = syn.plan_video(7, index, **SMALL)
    frames = list(syn.iter_frames(plan))
    recs = syn.records(plan, iter(frames))
    start, end = plan.gt_span
    entry = recs.annotation
    assert entry["st_frame"] == start + 1 and len(entry["bbox"]) == end - start
    # HC-STVG's convention holds: st_frame == floor(st_time * fps) + 1, fps = img_num / 20.
    fps = entry["img_num"] / 20
    assert int(entry["st_time"] * fps) + 1 == entry["st_frame"]
    assert int(entry["ed_time"] * fps) == end - 1
    target = recs.tracks[plan.target_track_id]
    for f, (x, y, w, h) in zip(range(start, end), entry["bbox"], strict=True):
        assert target.boxes_xyxy[f] == (x, y, x + w, y + h)
    for tid, track in enumerate(recs.tracks):
        assert track.track_id == tid
        for f in (0, start, end - 1, plan.n_frames - 1):
            visible = frames[f][1] == tid
            if visible.any():
                assert np.array_equal(rle.decode(track.rles[f]), visible)
            else:
                assert f not in track.boxes_xyxy


def test_plan_rejects_bad_actor_counts():
    with pytest.raises(ValueError, match="min_actors"):
        syn.plan_video(0, 0, width=96, height=72, fps=5, min_actors=3, max_actors=2)
