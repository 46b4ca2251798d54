"""The built-in synthetic STVG benchmark: pure generation (plans, pixels, masks, records).

Each video is 20 s (as in HC-STVG, so ``fps = img_num / 20``) of 2 to 4 "actors" drawn with
numpy as filled shapes (head disk, body rectangle, optional black hat or white stripe) on a plain
or gradient background. Actors differ in colour, size and clothing and follow a timeline of
actions: an idle action, one main action, the idle action again. The main actions are walking
left/right, jumping, standing still, entering and leaving the scene.

One query per video names the target's attributes and main action ("The small red person
wearing a black hat walks to the left."); its ground-truth tube is exactly the frames of that
action. Distractors make the query ambiguous unless both cues are used: an *attribute twin* looks
exactly like the target but never does the target's action, an *action twin* does the target's
action but differs in one attribute (with 2 actors, one of the two is drawn at random).

The target is drawn last, so it is never occluded and its ground-truth box is its whole drawn
extent (clipped to the frame); other actors' masks are their visible pixels. Every frame's
masks come from a label image, so masks, boxes and pixels agree exactly.

Determinism: video ``i`` depends only on ``(seed, i)`` and the size/fps/actor-count parameters
(``numpy.random.default_rng([seed, i])``), so ``n_videos`` does not change earlier videos.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from zstvg.files import rle
from zstvg.files.records import BoxXYXY, Track

DURATION_S = 20  # HC-STVG videos are cut to 20 s
CLASS_NAME = "person"
VIDEO_EXT = ".mp4"

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 165, 60),
    "blue": (40, 80, 225),
    "yellow": (235, 205, 35),
    "purple": (145, 60, 195),
    "orange": (245, 135, 25),
}
# Person height without hat, as a fraction of the frame height.
SIZES: dict[str, float] = {"small": 0.22, "large": 0.36}
CLOTHING: dict[str, str] = {
    "hat": "wearing a black hat",
    "stripe": "with a white stripe",
    "plain": "in plain clothes",
}
# action -> (verb phrase for the query, gerund phrase for the decomposed action).
ACTIONS: dict[str, tuple[str, str]] = {
    "walk_left": ("walks to the left", "walking to the left"),
    "walk_right": ("walks to the right", "walking to the right"),
    "jump": ("jumps", "jumping"),
    "stand": ("stands still", "standing still"),
    "enter": ("enters the scene", "entering the scene"),
    "leave": ("leaves the scene", "leaving the scene"),
}
ABSENT = "absent"  # timeline entry: not drawn (before entering, after leaving)

SKIN = (232, 190, 150)
HAT = (25, 25, 25)
STRIPE = (250, 250, 250)
BACKGROUNDS: tuple[tuple[tuple[int, int, int], tuple[int, int, int]], ...] = (
    ((205, 222, 236), (160, 168, 150)),  # sky to ground gradient
    ((190, 190, 190), (190, 190, 190)),  # plain grey
    ((236, 230, 214), (196, 186, 164)),  # sand gradient
)

WALK_SPEED_FRAC_PER_S = 0.10  # walking speed: 10 % of the frame width per second (32 px/s at 320)
JUMP_HEIGHT_FRAC = 0.12  # jump apex above the ground, fraction of frame height
JUMP_PERIOD_S = 0.8  # one hop
LANES_FRAC = (0.62, 0.97)  # feet rows of the actors, fraction of frame height (far to near)
TARGET_SPAN_S = (4, 8)  # target's main action: 4-8 s (HC-STVG tubes average about 5 s)
TARGET_MARGIN_S = 2  # ... starting >= 2 s after the start and ending >= 2 s before the end
DISTRACTOR_SPAN_S = (3, 8)
DISTRACTOR_MARGIN_S = 1


@dataclass(frozen=True)
class Attributes:
    colour: str
    size: str
    clothing: str

    def description(self) -> str:
        """``"small red person wearing a black hat"``."""
        return f"{self.size} {self.colour} person {CLOTHING[self.clothing]}"


@dataclass(frozen=True)
class Segment:
    """One action of an actor over native frames ``[start, end)``."""

    action: str
    start: int
    end: int


@dataclass(frozen=True)
class Actor:
    """An actor's look and its per-frame placement (centre column, feet row offset)."""

    track_id: int
    role: str  # "target", "attribute_twin", "action_twin" or "other"
    attributes: Attributes
    main: Segment
    segments: tuple[Segment, ...]  # cover [0, n_frames) in order
    height_px: int
    y_feet: int  # feet row (exclusive bottom) when on the ground
    cx: tuple[int, ...]  # centre column per frame
    dy: tuple[int, ...]  # vertical offset per frame (<= 0 while jumping)
    present: tuple[bool, ...]  # drawn on this frame (False before entering / after leaving)

    @property
    def geometry(self) -> Geometry:
        return geometry(self.height_px, self.attributes.clothing)


@dataclass(frozen=True)
class VideoPlan:
    video_id: str
    width: int
    height: int
    fps: int
    n_frames: int
    background: tuple[tuple[int, int, int], tuple[int, int, int]]
    actors: tuple[Actor, ...]  # in track-id order
    target_track_id: int

    @property
    def file_name(self) -> str:
        return self.video_id + VIDEO_EXT

    @property
    def target(self) -> Actor:
        return self.actors[self.target_track_id]

    @property
    def gt_span(self) -> tuple[int, int]:
        return (self.target.main.start, self.target.main.end)

    @property
    def query(self) -> str:
        t = self.target
        return f"The {t.attributes.description()} {ACTIONS[t.main.action][0]}."

    @property
    def decomposition(self) -> dict[str, list[str]]:
        """Attribute and action descriptions as in the authors' decomposition file: lists of
        sentences (their ``prepare_instructions`` iterates them and asks "Is there {sentence}
        in this video?" with the last one)."""
        t = self.target
        return {
            "decompose_attribute": [f"a {t.attributes.description()}"],
            "decompose_action": [f"a person {ACTIONS[t.main.action][1]}"],
        }

    @property
    def draw_order(self) -> list[int]:
        """Far lanes first; the target last, so it is never occluded."""
        others = sorted((a for a in self.actors if a.role != "target"), key=lambda a: a.y_feet)
        return [a.track_id for a in others] + [self.target_track_id]


@dataclass(frozen=True)
class Geometry:
    """Pixel sizes of one actor's parts (all integers)."""

    height: int  # feet to top of head
    head_r: int
    body_half_w: int
    hat_h: int  # 0 without a hat
    stripe: bool

    @property
    def half_width(self) -> int:
        return max(self.body_half_w, self.head_r + (1 if self.hat_h else 0))


def geometry(height_px: int, clothing: str) -> Geometry:
    head_r = max(2, round(0.12 * height_px))
    return Geometry(
        height=height_px,
        head_r=head_r,
        body_half_w=max(2, round(0.2 * height_px)),
        hat_h=max(2, round(0.5 * head_r)) if clothing == "hat" else 0,
        stripe=clothing == "stripe",
    )


def actor_parts(g: Geometry, cx: int, y_feet: int) -> list[tuple[str, tuple[int, int, int, int]]]:
    """The parts of an actor as ``(kind, (x0, y0, x1, y1))`` half-open pixel rectangles.

    Kinds: ``body``, ``head`` (the disk inscribed in the square), ``hat``, ``stripe`` (drawn in
    this order). For a person of height 50 standing at ``cx=100, y_feet=200``: head radius 6
    -> head square [94, 150, 106, 162); body half width 10 -> body [90, 162, 110, 200).
    """
    top = y_feet - g.height
    r = g.head_r
    parts = [
        ("body", (cx - g.body_half_w, top + 2 * r, cx + g.body_half_w, y_feet)),
        ("head", (cx - r, top, cx + r, top + 2 * r)),
    ]
    if g.hat_h:
        # A black cap: covers the top third of the head and sticks out one pixel each side.
        parts.append(("hat", (cx - r - 1, top - g.hat_h, cx + r + 1, top + (2 * r) // 3)))
    if g.stripe:
        body_top = top + 2 * r
        y0 = body_top + (y_feet - body_top) // 3
        parts.append(
            (
                "stripe",
                (cx - g.body_half_w, y0, cx + g.body_half_w, y0 + max(2, (y_feet - body_top) // 6)),
            )
        )
    return parts


def _disk(r: int) -> np.ndarray:
    """Pixels of a 2r x 2r square whose centres lie within r of the square's centre."""
    c = np.arange(2 * r) + 0.5 - r
    return c[:, None] ** 2 + c[None, :] ** 2 <= r * r


def _clip(
    rect: tuple[int, int, int, int], width: int, height: int
) -> tuple[tuple[slice, slice], tuple[slice, slice]] | None:
    """(frame slices, slices into the part's own box) of a rectangle clipped to the frame."""
    x0, y0, x1, y1 = rect
    cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(width, x1), min(height, y1)
    if cx0 >= cx1 or cy0 >= cy1:
        return None
    dst = (slice(cy0, cy1), slice(cx0, cx1))
    return dst, (slice(cy0 - y0, cy1 - y0), slice(cx0 - x0, cx1 - x0))


def background(plan: VideoPlan) -> np.ndarray:
    top, bottom = (np.array(c, dtype=np.float64) for c in plan.background)
    t = np.linspace(0.0, 1.0, plan.height)[:, None]
    column = np.rint(top * (1 - t) + bottom * t).astype(np.uint8)  # (height, 3)
    return np.repeat(column[:, None, :], plan.width, axis=1)


def render_frame(
    plan: VideoPlan, frame_idx: int, bg: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """One frame as (RGB uint8 (H, W, 3), label int16 (H, W)): label = track id or -1."""
    img = (background(plan) if bg is None else bg).copy()
    label = np.full((plan.height, plan.width), -1, dtype=np.int16)
    for tid in plan.draw_order:
        actor = plan.actors[tid]
        if not actor.present[frame_idx]:
            continue
        g = actor.geometry
        colour = COLOURS[actor.attributes.colour]
        parts = actor_parts(g, actor.cx[frame_idx], actor.y_feet + actor.dy[frame_idx])
        for kind, rect in parts:
            clipped = _clip(rect, plan.width, plan.height)
            if clipped is None:
                continue
            dst, src = clipped
            if kind == "head":
                disk = _disk(g.head_r)[src]
                img[dst][disk] = SKIN
                label[dst][disk] = tid
            else:
                img[dst] = {"body": colour, "hat": HAT, "stripe": STRIPE}[kind]
                label[dst] = tid
    return img, label


def iter_frames(plan: VideoPlan) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    bg = background(plan)
    for f in range(plan.n_frames):
        yield render_frame(plan, f, bg)


def mask_box_xyxy(mask: np.ndarray) -> BoxXYXY | None:
    """Tight continuous box of a boolean mask (same convention as :func:`rle.box_xyxy`)."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return (float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1))


@dataclass
class VideoRecords:
    """Everything written for one video except the pixels."""

    annotation: dict[str, Any]  # HC-STVG v2 entry
    tracks: list[Track]  # one per actor, on every frame where it is visible


def records(plan: VideoPlan, frames: Iterator[tuple[np.ndarray, np.ndarray]]) -> VideoRecords:
    """Masks, boxes and the HC-STVG v2 entry from the rendered label images.

    ``frames`` yields ``(img, label)`` for every frame in order (the images are not kept).
    """
    boxes: list[dict[int, BoxXYXY]] = [{} for _ in plan.actors]
    rles: list[dict[int, dict[str, Any]]] = [{} for _ in plan.actors]
    for f, (_, label) in enumerate(frames):
        for tid in range(len(plan.actors)):
            mask = label == tid
            box = mask_box_xyxy(mask)
            if box is None:
                continue
            boxes[tid][f] = box
            rles[tid][f] = rle.encode(mask)
    start, end = plan.gt_span
    target_boxes = boxes[plan.target_track_id]
    missing = [f for f in range(start, end) if f not in target_boxes]
    if missing:  # placement keeps the target inside the frame during its action
        raise RuntimeError(f"{plan.video_id}: target invisible on GT frames {missing[:5]}")
    bbox = [
        [int(x1), int(y1), int(x2 - x1), int(y2 - y1)]
        for x1, y1, x2, y2 in (target_boxes[f] for f in range(start, end))
    ]
    annotation = {
        "English": plan.query,
        # Frame centres, so floor(t * fps) is the frame whatever the float rounding.
        "st_time": round((start + 0.5) / plan.fps, 6),
        "ed_time": round((end - 0.5) / plan.fps, 6),
        "st_frame": start + 1,  # 1-based, as in HC-STVG
        "img_num": plan.n_frames,
        "img_size": [plan.height, plan.width],
        "bbox": bbox,
    }
    tracks = [
        Track(
            track_id=a.track_id,
            class_name=CLASS_NAME,
            boxes_xyxy=boxes[a.track_id],
            rles=rles[a.track_id],
        )
        for a in plan.actors
    ]
    return VideoRecords(annotation=annotation, tracks=tracks)


def manifest_entry(plan: VideoPlan) -> dict[str, Any]:
    """Ground truth for tests and figures: who is the target, what every actor looks like/does."""
    return {
        "video_file": plan.file_name,
        "query": plan.query,
        "target_track_id": plan.target_track_id,
        "gt_span": list(plan.gt_span),
        "fps": plan.fps,
        "n_frames": plan.n_frames,
        "width": plan.width,
        "height": plan.height,
        "actors": [
            {
                "track_id": a.track_id,
                "role": a.role,
                "attributes": asdict(a.attributes),
                "description": a.attributes.description(),
                "main_action": a.main.action,
                "segments": [asdict(s) for s in a.segments],
                "height_px": a.height_px,
                "y_feet": a.y_feet,
            }
            for a in plan.actors
        ],
    }


# --------------------------------------------------------------------------------- planning


def video_id(index: int) -> str:
    return f"synthetic_{index:03d}"


def plan_video(
    seed: int, index: int, *, width: int, height: int, fps: int, min_actors: int, max_actors: int
) -> VideoPlan:
    """Draw one video's actors, attributes, timelines and placements from ``(seed, index)``."""
    if not 2 <= min_actors <= max_actors:
        raise ValueError(f"need 2 <= min_actors <= max_actors, got {min_actors}, {max_actors}")
    rng = np.random.default_rng([seed, index])
    n_frames = DURATION_S * fps
    n_actors = int(rng.integers(min_actors, max_actors + 1))

    target_attr = _random_attributes(rng)
    target_action = _choice(rng, list(ACTIONS))
    idle = "jump" if target_action == "stand" else "stand"
    if n_actors == 2:
        roles = [_choice(rng, ["attribute_twin", "action_twin"])]
    else:
        roles = ["attribute_twin", "action_twin"] + ["other"] * (n_actors - 3)

    specs: list[tuple[str, Attributes, str]] = [("target", target_attr, target_action)]
    for role in roles:
        if role == "attribute_twin":
            attr = target_attr
            action = _choice(rng, [a for a in ACTIONS if a != target_action])
        elif role == "action_twin":
            attr = _one_attribute_changed(rng, target_attr)
            action = target_action
        else:
            attr = _random_attributes(rng, exclude=target_attr)
            action = _choice(rng, list(ACTIONS))
        specs.append((role, attr, action))

    lanes = np.rint(np.linspace(LANES_FRAC[0] * height, LANES_FRAC[1] * height, n_actors))
    lane_order = rng.permutation(n_actors)
    slot_order = rng.permutation(n_actors)
    track_ids = rng.permutation(n_actors)  # so the target's track id carries no information
    # A walking target and an attribute twin that enters/leaves must not move the same way.
    target_dir = {"walk_left": -1, "walk_right": 1}.get(target_action)

    actors: list[Actor] = []
    for k, (role, attr, action) in enumerate(specs):
        is_target = role == "target"
        span_s = TARGET_SPAN_S if is_target else DISTRACTOR_SPAN_S
        margin_s = TARGET_MARGIN_S if is_target else DISTRACTOR_MARGIN_S
        avoid_dir = target_dir if role == "attribute_twin" else None
        actors.append(
            _place(
                rng,
                track_id=int(track_ids[k]),
                role=role,
                attributes=attr,
                action=action,
                idle=idle,
                y_feet=int(lanes[lane_order[k]]),
                width=width,
                height=height,
                fps=fps,
                n_frames=n_frames,
                span_s=span_s,
                margin_s=margin_s,
                avoid_dir=avoid_dir,
                slot=int(slot_order[k]),
                n_slots=n_actors,
            )
        )
    actors.sort(key=lambda a: a.track_id)
    bg = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
    return VideoPlan(
        video_id=video_id(index),
        width=width,
        height=height,
        fps=fps,
        n_frames=n_frames,
        background=bg,
        actors=tuple(actors),
        target_track_id=int(track_ids[0]),
    )


def _choice(rng: np.random.Generator, items: list[str]) -> str:
    return items[int(rng.integers(len(items)))]


def _random_attributes(rng: np.random.Generator, exclude: Attributes | None = None) -> Attributes:
    while True:
        attr = Attributes(
            _choice(rng, list(COLOURS)), _choice(rng, list(SIZES)), _choice(rng, list(CLOTHING))
        )
        if attr != exclude:
            return attr


def _one_attribute_changed(rng: np.random.Generator, attr: Attributes) -> Attributes:
    field = _choice(rng, ["colour", "size", "clothing"])
    options = {"colour": list(COLOURS), "size": list(SIZES), "clothing": list(CLOTHING)}[field]
    new = _choice(rng, [v for v in options if v != getattr(attr, field)])
    return Attributes(**{**asdict(attr), field: new})


def _direction(rng: np.random.Generator, action: str, avoid_dir: int | None) -> int | None:
    """-1 (leftwards) or +1 of a walking, entering or leaving actor; None for the others. An
    entry or exit side is drawn, never ``avoid_dir``'s."""
    if action in ("enter", "leave"):
        choices = [d for d in (-1, 1) if d != avoid_dir] if avoid_dir else [-1, 1]
        return choices[int(rng.integers(len(choices)))]
    return {"walk_left": -1, "walk_right": 1}.get(action)


def _main_frames(
    rng: np.random.Generator,
    action: str,
    *,
    speed: float,
    room: int,
    fps: int,
    n_frames: int,
    span_s: tuple[int, int],
    margin_s: int,
) -> tuple[int, int]:
    """First and end (exclusive) frame of the main action: a length drawn in ``span_s``, cut to
    the longest walk that stays inside the frame, at least ``margin_s`` from either end."""
    max_len = n_frames - 2 * margin_s * fps
    if action in ("walk_left", "walk_right", "enter", "leave"):
        max_len = min(max_len, int((room - 1) / speed) + 1)
    lo, hi = min(span_s[0] * fps, max_len), min(span_s[1] * fps, max_len)
    length = int(rng.integers(lo, hi + 1))
    start = int(rng.integers(margin_s * fps, n_frames - margin_s * fps - length + 1))
    return start, start + length


def _main_columns(
    rng: np.random.Generator,
    action: str,
    direction: int | None,
    steps: np.ndarray,
    *,
    hw: int,
    width: int,
    slot: int,
    n_slots: int,
) -> np.ndarray:
    """Centre column on each frame of the main action (``steps``: pixels walked after k
    frames)."""
    if action in ("walk_left", "walk_right"):
        assert direction is not None
        travel = int(steps[-1])
        lo_c, hi_c = (hw, width - hw - travel) if direction > 0 else (hw + travel, width - hw)
        c0 = int(rng.integers(lo_c, hi_c + 1))
        return c0 + direction * steps
    if action == "enter":
        assert direction is not None  # _direction draws one for entries and exits
        # First frame: one column visible at the entry edge.
        return (-hw + 1 + steps) if direction > 0 else (width + hw - 1 - steps)
    if action == "leave":
        assert direction is not None
        # Last frame: one column visible at the exit edge; gone on the frame after.
        back = steps[::-1]
        return (width + hw - 1 - back) if direction > 0 else (-hw + 1 + back)
    # Standing or jumping actors keep to their own slot of the width, so that they rarely
    # hide one another: slot centre +- a quarter slot.
    slot_w = width / n_slots
    centre = (slot + 0.5) * slot_w + rng.uniform(-0.25, 0.25) * slot_w
    return np.full(len(steps), int(np.clip(round(centre), hw, width - hw)))


def _timeline(action: str, idle: str, start: int, end: int, n_frames: int) -> list[Segment]:
    """Idle (absent before an entry), main action, idle (absent after an exit); empty segments
    dropped and equal neighbours merged."""
    pre = ABSENT if action == "enter" else idle
    post = ABSENT if action == "leave" else idle
    segments: list[Segment] = []
    for seg in (Segment(pre, 0, start), Segment(action, start, end), Segment(post, end, n_frames)):
        if seg.end == seg.start:
            continue
        if segments and segments[-1].action == seg.action:  # e.g. stand, stand, stand
            seg = Segment(seg.action, segments.pop().start, seg.end)
        segments.append(seg)
    return segments


def _presence_and_hops(
    segments: Sequence[Segment], *, fps: int, height: int, n_frames: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: whether the actor is in the scene, and its vertical offset (negative = up)
    while it jumps."""
    present = np.ones(n_frames, dtype=bool)
    dy = np.zeros(n_frames, dtype=int)
    hop = max(2.0, JUMP_PERIOD_S * fps)
    apex = JUMP_HEIGHT_FRAC * height
    for seg in segments:
        if seg.action == ABSENT:
            present[seg.start : seg.end] = False
        elif seg.action == "jump":
            k = np.arange(seg.end - seg.start)
            dy[seg.start : seg.end] = -np.rint(apex * np.abs(np.sin(math.pi * k / hop))).astype(int)
    return present, dy


def _place(
    rng: np.random.Generator,
    *,
    track_id: int,
    role: str,
    attributes: Attributes,
    action: str,
    idle: str,
    y_feet: int,
    width: int,
    height: int,
    fps: int,
    n_frames: int,
    span_s: tuple[int, int],
    margin_s: int,
    avoid_dir: int | None,
    slot: int,
    n_slots: int,
) -> Actor:
    """Timeline and per-frame placement of one actor; it stays in the frame except while it
    enters or leaves, and is visible on every frame of its main action."""
    height_px = max(8, round(SIZES[attributes.size] * height))
    hw = geometry(height_px, attributes.clothing).half_width
    speed = WALK_SPEED_FRAC_PER_S * width / fps  # pixels per frame
    room = width - 2 * hw  # range of the centre column while fully inside
    direction = _direction(rng, action, avoid_dir)
    start, end = _main_frames(
        rng, action, speed=speed, room=room, fps=fps, n_frames=n_frames, span_s=span_s,
        margin_s=margin_s,
    )  # fmt: skip
    steps = np.rint(speed * np.arange(end - start)).astype(int)  # pixels walked after k frames
    main_cx = _main_columns(
        rng, action, direction, steps, hw=hw, width=width, slot=slot, n_slots=n_slots
    )
    cx = np.empty(n_frames, dtype=int)
    cx[:start], cx[start:end], cx[end:] = main_cx[0], main_cx, main_cx[-1]
    segments = _timeline(action, idle, start, end, n_frames)
    present, dy = _presence_and_hops(segments, fps=fps, height=height, n_frames=n_frames)
    return Actor(
        track_id=track_id,
        role=role,
        attributes=attributes,
        main=Segment(action, start, end),
        segments=tuple(segments),
        height_px=height_px,
        y_feet=y_feet,
        cx=tuple(int(v) for v in cx),
        dy=tuple(int(v) for v in dy),
        present=tuple(bool(v) for v in present),
    )
