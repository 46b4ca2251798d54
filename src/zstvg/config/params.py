"""Parameters: ``params.yaml``'s shape, defined once as the frozen dataclasses below.

The dataclasses are the one definition of the params: pydantic makes the JSON schema from their
types, constraints and defaults (``schema()``) and builds them from a params dict that passed it
(``parse``). ``make schema`` (``python -m zstvg.config.params --write-schema``) writes the schema to
resources/params.schema.yaml for the Snakemake workflow's ``validate()``; tests/test_config.py
fails when that file is stale.

This is the only module that reads a params file. Commands get the sections they need as
dataclasses; a wrong type, an unknown key or a missing key fails with the file, the dotted key,
the value and what was expected (jsonschema's words for the schema, as in the workflow).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    GetPydanticSchema,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    with_config,
)
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, SkipJsonSchema
from typing_extensions import TypedDict  # pydantic reads typing's TypedDict only from 3.12

from zstvg.files.io import InputError, atomic_open


class ParamsError(InputError):
    """params.yaml does not match the schema."""


def _no_schema_default(schema: dict[str, Any]) -> None:
    """Snakemake's ``validate()`` writes a schema's defaults into the config the rules hash, so a
    field whose absence means "unset" keeps its Python default out of the schema."""
    schema.pop("default", None)


_UNSET = Field(json_schema_extra=_no_schema_default)
_UNIQUE = Field(json_schema_extra={"uniqueItems": True})
NonEmptyStr = Annotated[str, Field(min_length=1)]
PosInt = Annotated[int, Field(ge=1)]
NonNegInt = Annotated[int, Field(ge=0)]
NonNeg = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]
Device = Annotated[str, Field(pattern=r"^(auto|cpu|cuda(:[0-9]+)?|mps)$")]
Heads = Annotated[tuple[NonNegInt, ...], Field(min_length=1), _UNIQUE]
Names = Annotated[tuple[NonEmptyStr, ...], Field(min_length=1), _UNIQUE]
# params key (e.g. ground.lr) -> the values it takes
Axes = Annotated[
    Mapping[str, Annotated[tuple[float | str, ...], Field(min_length=1), _UNIQUE]],
    Field(min_length=1),
]
VariantName = Literal["baseline-mean-special", "gti", "gti+spatial", "gti+temporal",
                      "gti+dsth", "full", "vanilla-tuning", "gti+entropy", "gti+yesno",
                      "fixed-token"]  # fmt: skip
BackendName = Literal["llava-ov", "qwen2-vl", "qwen2.5-vl", "qwen3-vl", "llava-next-video",
                      "internvl3", "attention-oracle", "planted-head"]  # fmt: skip


class _Section:
    """Every params dataclass: an unknown key is an error (``additionalProperties: false``)."""

    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class RunConfig(_Section):
    datasets: Names
    models: Names
    variants: Annotated[tuple[VariantName, ...], Field(min_length=1), _UNIQUE]
    protocols: Annotated[
        tuple[Literal["tubedetr", "official", "seed"], ...], Field(min_length=1), _UNIQUE
    ]
    # keys of `experiments` (sweeps, grids) also built
    experiments: Annotated[tuple[NonEmptyStr, ...], _UNIQUE] = ()


# Named experiments (zstvg.experiments): datasets x models x variants, at the defaults or at each
# point of a sweep (one key at a time) or a grid (every combination).
@dataclass(frozen=True)
class ExperimentConfig(_Section):
    datasets: Names
    models: Names
    variants: Names
    description: Annotated[str, _UNSET] = ""
    sweep: Axes = field(default_factory=dict)
    grid: Axes = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetConfig(_Section):
    format: Literal["hcstvg-v1", "hcstvg-v2", "vidstg", "vidstg-tubedetr"]
    annotations: NonEmptyStr
    videos: NonEmptyStr
    boxes: str | None
    default_class: NonEmptyStr
    decompositions: str | None
    proposals: str | None
    shards: PosInt = 1  # GPU steps run as this many jobs, each over a stable subset of videos
    # videos (id, file name or stem) whose samples fail, scored 0 and listed: known damaged
    # copies that would decode to wrong frames (zstvg.data.common.mark_damaged)
    damaged_videos: Annotated[tuple[NonEmptyStr, ...], _UNIQUE] = ()


@dataclass(frozen=True)
class SyntheticConfig(_Section):
    n_videos: PosInt
    width: Annotated[int, Field(ge=64)]
    height: Annotated[int, Field(ge=64)]
    fps: Annotated[int, Field(ge=1, le=60)]
    min_actors: Annotated[int, Field(ge=2, le=4)]
    max_actors: Annotated[int, Field(ge=2, le=4)]
    proposal_stride: PosInt


@dataclass(frozen=True)
class FramesConfig(_Section):
    n_mllm_frames: PosInt
    grid_fps: Positive
    max_grid_frames: PosInt
    jpeg_quality: Annotated[int, Field(ge=1, le=100)]


@dataclass(frozen=True)
class DecomposeConfig(_Section):
    model: NonEmptyStr
    base_url: str
    temperature: Annotated[float, Field(ge=0, le=2)]
    max_concurrency: PosInt
    timeout_s: Positive
    max_retries: NonNegInt
    backoff_initial_s: NonNeg
    backoff_max_s: NonNeg
    offline: bool
    cache_dir: NonEmptyStr
    usd_per_1m_input_tokens: NonNeg
    usd_per_1m_output_tokens: NonNeg


# Keyword arguments of each box tracker's class in Roboflow's `trackers` 2.6, by the library's
# names (tests/proposals/test_box_trackers.py checks them against its signatures); a name left
# out takes the library's default.
@with_config(ConfigDict(extra="forbid"))
class ByteTrackSettings(TypedDict, total=False):
    lost_track_buffer: NonNegInt
    track_activation_threshold: Fraction
    minimum_consecutive_frames: PosInt
    minimum_iou_threshold: Fraction
    high_conf_det_threshold: Fraction


@with_config(ConfigDict(extra="forbid"))
class BotSortSettings(TypedDict, total=False):
    lost_track_buffer: NonNegInt
    track_activation_threshold: Fraction
    minimum_consecutive_frames: PosInt
    minimum_iou_threshold_first_assoc: Fraction
    minimum_iou_threshold_second_assoc: Fraction
    minimum_iou_threshold_unconfirmed_assoc: Fraction
    high_conf_det_threshold: Fraction
    enable_cmc: bool
    cmc_method: Literal["orb", "sift", "sparseOptFlow", "ecc"]
    cmc_downscale: PosInt
    instant_first_frame_activation: bool


@with_config(ConfigDict(extra="forbid"))
class OcSortSettings(TypedDict, total=False):
    lost_track_buffer: NonNegInt
    minimum_consecutive_frames: PosInt
    minimum_iou_threshold: Fraction
    direction_consistency_weight: NonNeg
    high_conf_det_threshold: Fraction
    delta_t: PosInt


@with_config(ConfigDict(extra="forbid"))
class SortSettings(TypedDict, total=False):
    lost_track_buffer: NonNegInt
    track_activation_threshold: Fraction
    minimum_consecutive_frames: PosInt
    minimum_iou_threshold: Fraction


@with_config(ConfigDict(extra="forbid"))
class BoxTrackers(TypedDict):
    bytetrack: ByteTrackSettings
    botsort: BotSortSettings
    ocsort: OcSortSettings
    sort: SortSettings


@dataclass(frozen=True)
class ProposalsConfig(_Section):
    detector: Literal["gdino-hf", "gdino-official"]
    detector_checkpoint: NonEmptyStr
    detector_python: NonEmptyStr
    tracker: Literal["sam2-hf", "sam2-official", "bytetrack", "botsort", "ocsort", "sort"]
    tracker_checkpoint: str | None
    tracker_config: NonEmptyStr
    tracker_config_overrides: tuple[NonEmptyStr, ...]
    # box tracker name -> keyword arguments of its class: checked as BoxTrackers, typed as read
    box_trackers: Annotated[
        Mapping[str, Mapping[str, Any]], GetPydanticSchema(lambda _t, get: get(BoxTrackers))
    ]
    box_threshold: Fraction
    text_threshold: Fraction
    detect_every_n_frames: PosInt
    max_detections_per_frame: PosInt
    new_track_iou: Fraction
    min_track_frames: PosInt
    max_tracks_per_video: PosInt
    window_frames: Annotated[int, Field(ge=2)]
    offload_state_to_cpu: bool
    offload_video_to_cpu: bool
    device: Device


@with_config(ConfigDict(extra="allow"))
class ProcessorSettings(TypedDict, total=False):
    # the Qwen backends add cap_pixels_per_frame: true (qwen-vl-utils' capped frames) where it
    # is left out
    cap_pixels_per_frame: bool


@dataclass(frozen=True)
class ModelConfig(_Section):
    backend: BackendName
    checkpoint: NonEmptyStr
    # keyword arguments of every processor call (Qwen's per-frame pixel budget
    # {"size": {"shortest_edge": ..., "longest_edge": ...}}, LLaVA's resize/crop settings)
    processor: Annotated[
        Mapping[str, Any], GetPydanticSchema(lambda _t, get: get(ProcessorSettings))
    ] = field(default_factory=dict)
    # model config attributes overridden at load (LLaVA-NeXT-Video's spatial_pool_stride)
    config: Mapping[str, Any] = field(default_factory=dict)
    # frames squashed to [height, width] before the processor (the authors' 336^2 / 224^2)
    frame_size: Annotated[tuple[PosInt, PosInt] | None, _UNSET] = None
    system_prompt: Annotated[str | None, _UNSET] = None  # a system turn before the user's
    # [layer_start, layer_stop) of this model over mllm's (a tiny model has fewer layers than
    # the 7B models mllm's range is for)
    layers: Annotated[tuple[int, int | None] | None, _UNSET] = None
    # the query heads averaged in each layer of the range, over mllm's (probe-layers' overlay)
    heads: Annotated[Heads | None, _UNSET] = None
    # the direct baseline's generation cap in tokens (None: zstvg.grounding.direct's 1024)
    max_new_tokens: Annotated[PosInt | None, _UNSET] = None


@dataclass(frozen=True)
class MLLMConfig(_Section):
    dtype: Literal["auto", "float32", "bfloat16", "float16"]
    device: Device
    layer_start: int
    layer_stop: int | None
    # the query heads averaged in each layer (None: all); unset unless given, so the section's
    # record (every job hash) is unchanged where it is not
    heads: Annotated[Heads | None, _UNSET] = None


def _split_words(value: object) -> object:
    return tuple(value.split("/")) if isinstance(value, str) else value


@dataclass(frozen=True)
class GroundConfig(_Section):
    engine: Literal["reference", "fast"]
    gradient_checkpointing: bool
    n_frames: PosInt
    eps: Positive
    neutral_prompt: NonEmptyStr
    subquery_template: Annotated[str, Field(pattern=r"\{description\}")]
    query_template: Annotated[str, Field(pattern=r"\{query\}")]
    k_frames: PosInt
    temporal_mode: Literal["grow", "topk"]
    n_steps: NonNegInt
    lr: NonNeg
    beta: Fraction
    neutral_contrast: bool
    readout_after_tuning: bool
    # (yes-word, no-word), from params' "<yes-word>/<no-word>": one string survives YAML rewrites
    # (dvc exp run -S) that would leave list items Yes/No unquoted, i.e. booleans to YAML 1.1
    # readers (Snakemake, PyYAML)
    answer_words: Annotated[
        tuple[str, ...],
        BeforeValidator(_split_words),
        WithJsonSchema({"type": "string", "pattern": r"^[^/\s]+/[^/\s]+$"}),
    ]
    gti_activation: Literal["relative", "raw"]


@dataclass(frozen=True)
class EvaluateConfig(_Section):
    grid_fps: Positive
    max_grid_frames: PosInt
    viou_thresholds: Annotated[tuple[Fraction, ...], Field(min_length=1)]


@dataclass(frozen=True)
class LayersConfig(_Section):
    holdout_fraction: Annotated[float, Field(gt=0, lt=1)]
    top_heads: NonNegInt
    variants: Annotated[tuple[NonEmptyStr, ...], Field(min_length=1), _UNIQUE]


_Entries = AfterValidator(MappingProxyType)  # read-only name -> section


@dataclass(frozen=True, kw_only=True)
class Params(_Section):
    seed: NonNegInt
    preset: Annotated[
        str | None, _UNSET, Field(description="set by --preset: the overlay a result used")
    ] = None
    run: RunConfig
    experiments: Annotated[Mapping[str, ExperimentConfig], _Entries] = field(default_factory=dict)
    datasets: Annotated[Mapping[str, DatasetConfig], Field(min_length=1), _Entries]
    synthetic: SyntheticConfig
    frames: FramesConfig
    decompose: DecomposeConfig
    proposals: ProposalsConfig
    models: Annotated[Mapping[str, ModelConfig], Field(min_length=1), _Entries]
    mllm: MLLMConfig
    ground: GroundConfig
    layers: LayersConfig
    evaluate: EvaluateConfig
    # The validated plain-dict form, for hashing and provenance records.
    raw: SkipJsonSchema[Mapping[str, Any]] = field(repr=False, compare=False, default_factory=dict)
    source: SkipJsonSchema[str] = "params.yaml"

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
    "layers": LayersConfig,
    "evaluate": EvaluateConfig,
}


@functools.cache
def _adapter() -> TypeAdapter[Params]:
    return TypeAdapter(Params)


class _InOrder(GenerateJsonSchema):
    """Properties in the dataclasses' order, not sorted by name."""

    def sort(self, value: JsonSchemaValue, parent_key: str | None = None) -> JsonSchemaValue:
        return value


def _tidy(node: Any, defs: Mapping[str, Any]) -> Any:
    """pydantic's schema as one would write it: references inlined, no titles, no no-op
    ``additionalProperties: true``, no type beside an enum, and an ``anyOf`` of plain types
    (``str | None``) as a type list (jsonschema then says "is not of type 'string', 'null'")."""
    if isinstance(node, list):
        return [_tidy(x, defs) for x in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return {**_tidy(defs[node["$ref"].rsplit("/", 1)[-1]], defs), **_tidy(rest, defs)}
    out: dict[str, Any] = {
        k: ({p: _tidy(s, defs) for p, s in v.items()} if k == "properties" else _tidy(v, defs))
        for k, v in node.items()
        if k not in ("title", "$defs") and (k, v) != ("additionalProperties", True)
    }
    if "enum" in out:  # the values say the type (and a wrong type is one error, not two)
        out.pop("type", None)
    options = out.get("anyOf", [])
    types = [o.get("type") for o in options]
    detailed = [o for o in options if set(o) - {"type"}]
    if (
        options
        and all(isinstance(t, str) for t in types)
        and len(set(types)) == len(types)
        and len(detailed) <= 1
        and not any({"enum", "const"} & set(o) for o in options)
    ):
        out = {**(detailed[0] if detailed else {}), "type": types, **out}
        del out["anyOf"]
    return out


@functools.cache
def _schema() -> dict[str, Any]:
    generated = _adapter().json_schema(schema_generator=_InOrder)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "zstvg params.yaml",
        "description": "Every experiment parameter, grouped by pipeline step. See params.yaml "
        "for meanings.",
        **_tidy(generated, generated.get("$defs", {})),
    }


def schema() -> dict[str, Any]:
    """The params JSON schema, made from the dataclasses (written for the Snakefile by
    ``make schema`` to resources/params.schema.yaml, which workflow/schemas/ links to)."""
    return copy.deepcopy(_schema())


_SCHEMA_HEADER = (
    "# Generated from src/zstvg/config/params.py by `make schema` (python -m zstvg.config.params "
    "--write-schema):\n# do not edit. The Snakefile validates params.yaml with it.\n"
)


def schema_yaml() -> str:
    """The text of resources/params.schema.yaml."""
    body = yaml.safe_dump(
        schema(), sort_keys=False, default_flow_style=None, width=100, allow_unicode=True
    )
    return _SCHEMA_HEADER + body


def schema_path() -> Path:
    """The packaged schema file (in a checkout: src/zstvg/resources/params.schema.yaml)."""
    return Path(str(resources.files("zstvg").joinpath("resources/params.schema.yaml")))


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

    validator = _finite_validator()(_schema())
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
        ground = raw["ground"]
        if ground["k_frames"] > ground["n_frames"]:  # K MLLM-frame bins of n: more is the clip
            problems.append(
                f"{source}: ground.k_frames: got {ground['k_frames']}; expected <= "
                f"ground.n_frames ({ground['n_frames']}, the MLLM frames a span is made of)"
            )
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


def _merge(base: Any, top: Any) -> Any:
    """``top`` over ``base``: mappings merged key by key, any other value replaced."""
    if isinstance(base, dict) and isinstance(top, dict):
        return {**base, **{k: _merge(base.get(k), v) for k, v in top.items()}}
    return copy.deepcopy(top)


def apply_config_args(raw: dict[str, Any], entries: Sequence[str]) -> dict[str, Any]:
    """``raw`` (Snakemake's merged config) with its ``--config KEY=VALUE`` entries read again,
    each mapping or list VALUE as YAML (``evaluate={viou_thresholds: [0.3, 0.4]}``).

    Snakemake reads such a value with YAML's base loader, so every leaf is a string and
    ``0.3`` fails the schema's "number"; it merges it into the config key by key, and so does
    this. A scalar VALUE stays as Snakemake typed it (int, float, True/False, else a string).
    """
    out = copy.deepcopy(raw)
    for entry in entries:
        key, sep, text = entry.partition("=")
        if not sep:
            raise ParamsError(f"--config {entry!r}: expected KEY=VALUE")
        try:  # Snakemake strips the quotes around VALUE too (snakemake.common.parse_key_value_arg)
            value = yaml.safe_load(text.strip("'\""))
        except yaml.YAMLError as exc:
            raise ParamsError(f"--config {entry!r}: malformed YAML: {exc}") from None
        if isinstance(value, (dict, list)):
            out[key] = _merge(out.get(key), value)
    return out


def parse(raw: dict[str, Any], source: str = "params.yaml") -> Params:
    """Validate a params dict and build the frozen dataclasses."""
    validate(raw, source)
    try:  # what passed the schema builds (lists become tuples, "Yes/No" the answer words)
        params = _adapter().validate_python(raw)
    except ValidationError as exc:  # the schema and the dataclasses disagree: still exit 2
        problems = [
            f"{source}: {_dotted(e['loc'])}: got {e['input']!r}; {e['msg']}" for e in exc.errors()
        ]
        raise ParamsError("invalid parameters:\n  " + "\n  ".join(problems)) from None
    return dataclasses.replace(params, raw=MappingProxyType(raw), source=source)


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
    out: dict[str, Any] = _merge(raw, overlay)
    out["preset"] = name
    return out


def load_params(
    path: str | Path | None = None,
    overrides: Sequence[str] = (),
    preset: str | None = None,
    overlays: Sequence[str | Path] = (),
) -> Params:
    """Read, override, validate and parse a params file: the file, then the preset, then each
    overlay file (``--configfile``), then the ``--set`` overrides.

    ``path=None`` means ``./params.yaml`` when it exists, else the packaged defaults, so a
    command also works by hand outside a checkout.
    """
    if path is None:
        path = Path("params.yaml") if Path("params.yaml").is_file() else default_params_path()
    path = Path(path)
    raw = _read_sections(path, "params file")
    if preset is not None:
        raw = apply_preset(raw, preset)
    for overlay in overlays:
        raw = _merge(raw, _read_sections(Path(overlay), "--configfile"))
    # an invalid value is reported against the file and the overlays it may come from; the
    # params' source stays the file (the run record notes it, ground-video reloads it)
    label = " + ".join([str(path), *map(str, overlays)])
    params = parse(apply_overrides(raw, overrides), label)
    return dataclasses.replace(params, source=str(path))


def _read_sections(path: Path, what: str) -> dict[str, Any]:
    """A YAML mapping of params sections (the params file, or a ``--configfile`` overlay);
    ``what`` names it in the errors."""
    if not path.is_file():
        raise ParamsError(f"{what} {path}: not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ParamsError(f"{what} {path}: malformed YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ParamsError(f"{what} {path}: expected a mapping of params sections")
    return raw


# Merged configs are named by the first 16 hex digits (64 bits) of their text's SHA-256: the
# run record of every output keeps the whole digest (zstvg.files.provenance).
CONFIG_NAME_HEX = 16


def write_merged_config(raw: Mapping[str, Any], folder: str | Path) -> Path:
    """Write a merged config (the workflow's: params.yaml, then --configfile, then --config) as
    ``<folder>/<digest of its text>.yaml``, once, and return the path.

    The name follows the content, so the file is never rewritten: a job reading it reads the
    config its own invocation planned with, whatever other invocations (a dry run with other
    overrides, a lint, a report) write beside it; an existing file is left untouched.
    """
    text = yaml.safe_dump(dict(raw), sort_keys=False, allow_unicode=True, width=100)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    path = Path(folder) / f"{digest[:CONFIG_NAME_HEX]}.yaml"
    if not path.is_file():
        with atomic_open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m zstvg.config.params --write-schema`` (``make schema``): write the schema file."""
    if list(sys.argv[1:] if argv is None else argv) != ["--write-schema"]:
        print("usage: python -m zstvg.config.params --write-schema", file=sys.stderr)
        return 2
    schema_path().write_text(schema_yaml(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
