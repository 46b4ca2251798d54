"""Parameters: ``params.yaml`` validated by JSON schema, parsed into frozen dataclasses.

This is the only module that reads a params file. Commands get the sections they need as
dataclasses; a wrong type, an unknown key or a missing key fails with the file, the dotted key,
the value and what was expected.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from zstvg.files.io import InputError


class ParamsError(InputError):
    """params.yaml does not match the schema."""


@dataclass(frozen=True)
class RunConfig:
    datasets: tuple[str, ...]
    models: tuple[str, ...]
    variants: tuple[str, ...]
    protocols: tuple[str, ...]
    experiments: tuple[str, ...] = ()  # keys of `experiments` (sweeps, grids) also built


@dataclass(frozen=True)
class DatasetConfig:
    format: str
    annotations: str
    videos: str
    boxes: str | None
    default_class: str
    decompositions: str | None
    proposals: str | None
    shards: int = 1  # GPU steps run as this many jobs, each over a stable subset of videos
    # videos whose samples fail in prepare-data (known damaged copies; zstvg.data.common)
    damaged_videos: tuple[str, ...] = ()


@dataclass(frozen=True)
class SyntheticConfig:
    n_videos: int
    width: int
    height: int
    fps: int
    min_actors: int
    max_actors: int
    proposal_stride: int


@dataclass(frozen=True)
class FramesConfig:
    n_mllm_frames: int
    grid_fps: float
    max_grid_frames: int
    jpeg_quality: int


@dataclass(frozen=True)
class DecomposeConfig:
    model: str
    base_url: str
    temperature: float
    max_concurrency: int
    timeout_s: float
    max_retries: int
    backoff_initial_s: float
    backoff_max_s: float
    offline: bool
    cache_dir: str
    usd_per_1m_input_tokens: float
    usd_per_1m_output_tokens: float


@dataclass(frozen=True)
class ProposalsConfig:
    detector: str
    detector_checkpoint: str
    detector_python: str
    tracker: str
    tracker_checkpoint: str | None
    tracker_config: str
    tracker_config_overrides: tuple[str, ...]
    # box tracker name -> keyword arguments of its Roboflow ``trackers`` class (by their names)
    box_trackers: Mapping[str, Mapping[str, Any]]
    box_threshold: float
    text_threshold: float
    detect_every_n_frames: int
    max_detections_per_frame: int
    new_track_iou: float
    min_track_frames: int
    max_tracks_per_video: int
    window_frames: int
    offload_state_to_cpu: bool
    offload_video_to_cpu: bool
    device: str


@dataclass(frozen=True)
class ModelConfig:
    backend: str
    checkpoint: str
    # keyword arguments of every processor call (Qwen's per-frame pixel budget
    # {"size": {"shortest_edge": ..., "longest_edge": ...}}, LLaVA's resize/crop settings)
    processor: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    # model config attributes overridden at load (LLaVA-NeXT-Video's spatial_pool_stride)
    config: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    # frames squashed to [height, width] before the processor (the authors' 336^2 / 224^2)
    frame_size: tuple[int, int] | None = None
    system_prompt: str | None = None  # a system turn before the user's (None: no system turn)


@dataclass(frozen=True)
class MLLMConfig:
    dtype: str
    device: str
    layer_start: int
    layer_stop: int | None


@dataclass(frozen=True)
class GroundConfig:
    engine: str
    gradient_checkpointing: bool
    n_frames: int
    eps: float
    neutral_prompt: str
    subquery_template: str
    query_template: str
    k_frames: int
    temporal_mode: str
    n_steps: int
    lr: float
    beta: float
    neutral_contrast: bool
    readout_after_tuning: bool
    answer_words: tuple[str, ...]  # (yes-word, no-word), from params' "Yes/No"
    gti_activation: str


@dataclass(frozen=True)
class EvaluateConfig:
    grid_fps: float
    max_grid_frames: int
    viou_thresholds: tuple[float, ...]


@dataclass(frozen=True)
class Params:
    seed: int
    preset: str | None
    run: RunConfig
    datasets: Mapping[str, DatasetConfig]
    synthetic: SyntheticConfig
    frames: FramesConfig
    decompose: DecomposeConfig
    proposals: ProposalsConfig
    models: Mapping[str, ModelConfig]
    mllm: MLLMConfig
    ground: GroundConfig
    evaluate: EvaluateConfig
    # The validated plain-dict form, for hashing and provenance records.
    raw: Mapping[str, Any] = dataclasses.field(repr=False, compare=False, default_factory=dict)
    source: str = "params.yaml"

    def section(self, name: str) -> dict[str, Any]:
        """Plain-dict copy of one section (what a provenance record stores)."""
        return copy.deepcopy(dict(self.raw)[name])


_SECTIONS: dict[str, type] = {
    "run": RunConfig,
    "synthetic": SyntheticConfig,
    "frames": FramesConfig,
    "decompose": DecomposeConfig,
    "proposals": ProposalsConfig,
    "mllm": MLLMConfig,
    "ground": GroundConfig,
    "evaluate": EvaluateConfig,
}


def schema() -> dict[str, Any]:
    """The params JSON schema (also used by the Snakefile through workflow/schemas/)."""
    text = resources.files("zstvg").joinpath("resources/params.schema.yaml").read_text()
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def _dotted(path: Sequence[Any]) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def _is_finite_number(checker: Any, instance: Any) -> bool:
    """JSON Schema's "number", less NaN and +-inf (YAML's ``.nan``/``.inf`` parse as floats)."""
    if isinstance(instance, bool) or not isinstance(instance, int | float):
        return False
    return math.isfinite(instance)


def _finite_validator() -> Any:
    """Draft 2020-12 whose "number" excludes non-finite floats: ``frames.grid_fps: .nan`` would
    otherwise pass and fail every sample downstream with exit 0."""
    import jsonschema

    base = jsonschema.Draft202012Validator
    checker = base.TYPE_CHECKER.redefine("number", _is_finite_number)
    return jsonschema.validators.extend(base, type_checker=checker)


def validate(raw: Any, source: str = "params.yaml") -> None:
    """Raise ParamsError listing every schema violation as ``file: key: problem``."""

    validator = _finite_validator()(schema())
    problems = []
    for err in sorted(validator.iter_errors(raw), key=lambda e: list(map(str, e.absolute_path))):
        key = _dotted(err.absolute_path)
        if err.validator == "required":
            missing = err.message.split("'")[1]
            key = _dotted([*err.absolute_path, missing])
            problems.append(f"{source}: {key}: missing key (required)")
        elif err.validator == "additionalProperties":
            problems.append(f"{source}: {key}: {err.message}")
        else:
            schema_bits = {k: v for k, v in err.schema.items() if k not in ("description",)}
            problems.append(
                f"{source}: {key}: got {err.instance!r}; {err.message} (expected {schema_bits})"
            )
    if isinstance(raw, dict) and not problems:
        run = raw["run"]
        for kind in ("datasets", "models"):
            for name in run[kind]:
                if name not in raw[kind]:
                    problems.append(
                        f"{source}: run.{kind}: got {name!r}; expected one of {sorted(raw[kind])}"
                    )
        from zstvg.config.experiments import cells

        try:  # the experiment matrix names known datasets, models, variants and keys
            cells(raw)
        except ValueError as exc:
            problems.append(f"{source}: {exc}")
        syn = raw["synthetic"]
        if syn["min_actors"] > syn["max_actors"]:
            problems.append(
                f"{source}: synthetic.min_actors: got {syn['min_actors']}; expected <= "
                f"synthetic.max_actors ({syn['max_actors']})"
            )
    if problems:
        raise ParamsError("invalid parameters:\n  " + "\n  ".join(problems))


def apply_overrides(raw: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` overrides (values parsed as YAML) to a params dict."""
    raw = copy.deepcopy(raw)
    for item in overrides:
        if "=" not in item:
            raise ParamsError(f"--set {item!r}: expected KEY=VALUE, e.g. frames.n_mllm_frames=8")
        key, value = item.split("=", 1)
        node = raw
        parts = key.split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                raise ParamsError(f"--set {item!r}: {part!r} is not a section of the params")
            node = node[part]
        node[parts[-1]] = yaml.safe_load(value)
    return raw


def _freeze(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def parse(raw: dict[str, Any], source: str = "params.yaml") -> Params:
    """Validate a params dict and build the frozen dataclasses."""
    validate(raw, source)
    kwargs: dict[str, Any] = {
        name: cls(**{k: _freeze(v) for k, v in raw[name].items()})
        for name, cls in _SECTIONS.items()
    }
    kwargs["ground"] = replace(
        kwargs["ground"], answer_words=tuple(raw["ground"]["answer_words"].split("/"))
    )
    kwargs["datasets"] = MappingProxyType(
        {
            k: DatasetConfig(**{f: _freeze(x) for f, x in v.items()})
            for k, v in raw["datasets"].items()
        }
    )
    kwargs["models"] = MappingProxyType(
        {k: ModelConfig(**{f: _freeze(x) for f, x in v.items()}) for k, v in raw["models"].items()}
    )
    return Params(
        seed=raw["seed"],
        preset=raw.get("preset"),
        raw=MappingProxyType(raw),
        source=source,
        **kwargs,
    )


def default_params_path() -> Path:
    """The repository's params.yaml as shipped inside the package (the method's defaults)."""
    return Path(str(resources.files("zstvg").joinpath("resources/params.yaml")))


def preset_names() -> list[str]:
    """The packaged presets (``resources/presets/<name>.yaml``)."""
    folder = resources.files("zstvg").joinpath("resources/presets")
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def apply_preset(raw: dict[str, Any], name: str) -> dict[str, Any]:
    """``raw`` with the preset's overlay merged in (nested mappings merged key by key, other
    values replaced) and ``preset: <name>`` set, so every result records which one it used."""
    if name not in preset_names():
        raise ParamsError(f"--preset {name!r}: unknown preset; known: {', '.join(preset_names())}")
    text = resources.files("zstvg").joinpath(f"resources/presets/{name}.yaml").read_text("utf-8")
    overlay = yaml.safe_load(text) or {}

    def merge(base: Any, top: Any) -> Any:
        if isinstance(base, dict) and isinstance(top, dict):
            return {**base, **{k: merge(base.get(k), v) for k, v in top.items()}}
        return copy.deepcopy(top)

    out: dict[str, Any] = merge(raw, overlay)
    out["preset"] = name
    return out


def load_params(
    path: str | Path | None = None, overrides: Sequence[str] = (), preset: str | None = None
) -> Params:
    """Read, override, validate and parse a params file.

    ``path=None`` means ``./params.yaml`` when it exists, else the packaged defaults, so a
    command also works by hand outside a checkout.
    """
    if path is None:
        path = Path("params.yaml") if Path("params.yaml").is_file() else default_params_path()
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"params file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: malformed YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping of sections at the top level")
    if preset is not None:
        raw = apply_preset(raw, preset)
    return parse(apply_overrides(raw, overrides), str(path))
