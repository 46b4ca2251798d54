"""The issue's performance targets as a table (benchmarks/run_all.py renders it): each row is
where a stage's JSON holds its figure, the goal it is compared with, and why it is not
measured where it is not (the stage did not run, ran at other sizes, or lacks the figure)."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]
Target = dict[str, Any]
NO_GPU = "not measured: no GPU lent"


def target_row(name: str, goal: str, measured: Any, ok: bool | None, why: str = "") -> Target:
    """A row of the report's targets table: met, its gap, or not measured and why."""
    if ok is None:
        status = why or "not measured"
    elif ok:
        status = "met"
    else:
        status = f"gap: {measured} vs {goal}"
    return {"target": name, "goal": goal, "measured": measured, "status": status}


def _dig(d: Any, path: str) -> Any:
    """``d["a"]["b"]`` for the path "a.b"; None where a key is missing."""
    for key in path.split("."):
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


@dataclass(frozen=True)
class GoalSizes:
    """When a stage's run is at the sizes its goals are about, and why a row is not measured
    otherwise. ``shown``: whether a run at other sizes still shows its figures."""

    at: Callable[[Json], bool]
    why_small: str
    shown: bool = True
    why_not_run: str = "not run"
    why_missing: str = "not measured"


def _config(**values: Any) -> Callable[[Json], bool]:
    """At the goal's sizes where the run's config has these values."""
    return lambda d: all(d["config"][k] == v for k, v in values.items())


def _attention_runs(d: Json) -> dict[tuple[str, int], Json]:
    return {(r["mode"], r["tokens"]): r for r in d.get("runs", [])}


GOAL_SIZES: dict[str, GoalSizes] = {
    "frames": GoalSizes(_config(width=1280, seconds=20), "not measured at 20 s 720p (quick sizes)"),
    "attention": GoalSizes(
        lambda d: d["config"]["hidden_size"] == 3584 and ("capture", 8000) in _attention_runs(d),
        "not measured at 8,000 tokens, 7B widths",
        shown=False,
    ),
    "probe_layers": GoalSizes(
        _config(shape="cpu-7b"), "not measured at 7B widths, 4,000 tokens (quick sizes)"
    ),
    "decompose": GoalSizes(_config(cached_n=10000), "not measured at 10,000 (quick sizes)"),
    "evaluate": GoalSizes(_config(n=10303), "not measured at 10,303 (quick sizes)"),
    "workflow": GoalSizes(_config(scale=1.0), "not measured at paper scale (quick sizes)"),
    "longjob": GoalSizes(_config(videos=200), "not measured over 200 videos (quick sizes)"),
    # bench_gpu.py's --dry-run (tiny widths on the CPU) measures none of them
    "gpu": GoalSizes(lambda d: not d.get("dry_run"), NO_GPU, False, NO_GPU, NO_GPU),
}
COMPARE = {"<=": operator.le, ">=": operator.ge, "<": operator.lt}


@dataclass(frozen=True)
class Check:
    """One row: the figure ``figure`` of the stage's JSON (a key path, or a function of the
    JSON) against ``goal`` ("<= 1.3x": compared with 1.3); or, with ``flag``, met where that
    key of the JSON is true (``goal`` is then only shown). ``needs``: the part of the JSON the
    row is about (not run without it); ``missing``: why a run at the goal's sizes lacks the
    figure."""

    stage: str
    target: str
    figure: str | Callable[[Json], Any]
    goal: str
    flag: str = ""
    needs: str = ""
    missing: str = ""

    def met(self, d: Json, value: Any) -> Any:
        if self.flag:
            return _dig(d, self.flag)
        m = re.match(r"(<=|>=|<) ([\d.]+)", self.goal)
        if not m:
            raise ValueError(f"goal {self.goal!r}: neither '<op> <number>' nor a flag's")
        return bool(COMPARE[m[1]](value, float(m[2])))

    def rows(self, data: Json) -> list[Target]:
        d, sizes = data.get(self.stage), GOAL_SIZES[self.stage]
        if not d or (self.needs and _dig(d, self.needs) is None):
            return [target_row(self.target, self.goal, None, None, sizes.why_not_run)]
        at_size = sizes.at(d)
        value = None
        if at_size or sizes.shown:
            value = self.figure(d) if callable(self.figure) else _dig(d, self.figure)
        if not at_size:
            return [target_row(self.target, self.goal, value, None, sizes.why_small)]
        if value is None:
            why = self.missing or sizes.why_missing
            return [target_row(self.target, self.goal, None, None, why)]
        return [target_row(self.target, self.goal, value, self.met(d, value))]


@dataclass(frozen=True)
class StageTargets:
    """The rows a stage's JSON reports itself (its "targets": target, goal, measured, met)."""

    stage: str
    placeholder: str

    def rows(self, data: Json) -> list[Target]:
        d = data.get(self.stage)
        if not d:
            name = f"{self.stage}: {self.placeholder}"
            return [target_row(name, f"see {self.stage}", None, None, "not run")]
        rows = []
        for t in d.get("targets", []):
            ok = t["met"] if isinstance(t["met"], bool) else None
            why = NO_GPU if "GPU" in t["target"] and ok is None else "not measured at these sizes"
            name = f"{self.stage}: {t['target']}"
            rows.append(target_row(name, t["goal"], t["measured"], ok, why))
        return rows


def _attention_ratio(
    over: str, under: str, key: str, digits: int, floor: float | None = None
) -> Callable[[Json], Any]:
    """``over``'s ``key`` / ``under``'s (at least ``floor``) at 8,000 tokens; None where either
    mode failed."""

    def ratio(d: Json) -> Any:
        runs = _attention_runs(d)
        if (over, 8000) not in runs or (under, 8000) not in runs:
            return None
        den = runs[under, 8000][key]
        return round(runs[over, 8000][key] / (den if floor is None else max(den, floor)), digits)

    return ratio


def _rss_growth(d: Json) -> str:
    return f"{d['rss']['growth_mib']} MiB (noise {d['rss']['noise_mib']})"


def _sam2_seconds(d: Json) -> float | None:
    runs = {r["tracker"]: r for r in (d.get("proposals") or {}).get("runs", [])}
    return round(runs["sam2-hf"]["seconds"], 2) if "sam2-hf" in runs else None


GPU = "one H100-class GPU"
# The rows, in the report's order.
TARGETS: list[Check | StageTargets] = [
    *(
        row
        for gop in ("250", "15")
        for row in (
            Check("frames", f"frames, GOP {gop}: full step / full step decoding every frame",
                  f"gops.{gop}.ratios.full_step_vs_decoding_every_frame", "<= 1.3x",
                  needs=f"gops.{gop}"),
            Check("frames", f"frames, GOP {gop}: ffmpeg every frame / full step",
                  f"gops.{gop}.ratios.ffmpeg_vs_full_step", ">= 3x", needs=f"gops.{gop}",
                  missing="not measured: ffmpeg missing"),
        )
    ),
    Check("attention", "attention at 8,000 tokens: eager / capture peak memory",
          _attention_ratio("eager", "capture", "peak_extra_bytes", 1, floor=1), ">= 10x",
          missing="eager failed"),
    Check("attention", "attention at 8,000 tokens: capture / SDPA time",
          _attention_ratio("capture", "sdpa", "seconds", 2), "<= 1.2x", missing="sdpa failed"),
    StageTargets("grounding", "the [8/11] targets"),
    Check("probe_layers", "probe-layers / probe-attention peak memory per sample",
          "ratios.extra", "<= 1.2x"),
    Check("decompose", "decomposition: 10,000 cached queries", "cached.seconds", "< 5 s"),
    *(
        Check("evaluate", f"evaluation: 10,303 samples, {p}", f"protocols.{p}.seconds", "< 5 s",
              needs=f"protocols.{p}")
        for p in ("tubedetr", "official", "seed")
    ),
    Check("workflow", "DAG build at paper scale", "dag.seconds", "< 30 s"),
    Check("longjob", "memory over 200 videos: RSS flat", _rss_growth, "growth within noise",
          flag="rss.flat"),
    *(
        Check("gpu", f"{variant} per video, {model}, {GPU} (bench_gpu projection)",
              f"mllm.{model}.{variant}_s", f"<= {limit} s")
        for model in ("qwen2-vl-7b", "llava-ov-7b")
        for variant, limit in (("gti", 0.2), ("full", 1.2))
    ),
    Check("gpu", f"proposals per 20 s video, {GPU} (sam2-hf)", _sam2_seconds, "<= 3 s"),
]  # fmt: skip


def targets(data: Json) -> list[Target]:
    """The issue's targets from the stages' JSON files (by stage name), each met, with its
    measured gap, or not measured and why."""
    return [row for check in TARGETS for row in check.rows(data)]
