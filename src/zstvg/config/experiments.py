"""The experiment matrix: every table cell and sweep point the workflow builds, as data.

A *cell* is one metrics file: a dataset, an MLLM, a method variant and a *setting* (parameter
overrides, empty for the defaults). The workflow derives its jobs from the cells alone:

- ``run.datasets x run.models x run.variants`` at the defaults (Table 1, and Tables 2/3 when
  those variants are listed);
- every experiment named in ``run.experiments`` (params ``experiments.<name>``): its datasets x
  models x variants, times the points of its ``sweep`` (one parameter at a time: Fig. 6) or of
  its ``grid`` (every combination: Table 7's learning rate x iterations).

A setting is written into the cell's paths as ``@<name>=<value>[,<name>=<value>]`` after the
variant, with ``<name>`` the last part of the parameter key (``ground.lr`` -> ``lr``)::

    results/metrics/<dataset>/<model>/<variant><setting>/<protocol>.json
    results/metrics/hcstvg-v1/llava-ov/full@lr=4.0,n_steps=2/tubedetr.json

so a path names everything that made the number, and ``zstvg tables`` reads the sweep point
back from the variant it records. Cells of one (dataset, model, setting) are grounded by one
job (the variants share features, p = 0 maps and tuned prompts; results equal separate runs),
so a new sweep value adds its own jobs and leaves every other cell's as they were.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

# Keys a setting may override: the ones that change grounding without new frames (the MLLM
# frames are a subset of the stored grid) plus the tracker (its proposals are their own job).
SWEEPABLE = re.compile(r"^(ground|mllm)\.[a-z_]+$|^proposals\.tracker$")
# What a value may look like in a path: no separators, no shell or wildcard syntax.
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9._+-]+$")


@dataclass(frozen=True, order=True)
class Cell:
    """One metrics file's identity (what made the number)."""

    dataset: str
    model: str
    variant: str
    setting: tuple[tuple[str, str], ...] = ()  # (params key, value as written), in order

    @property
    def suffix(self) -> str:
        """``""`` at the defaults, else ``"@lr=4.0,n_steps=2"``."""
        return setting_suffix(self.setting)

    @property
    def name(self) -> str:
        """The variant as recorded in metrics files and paths: ``full@lr=4.0,n_steps=2``."""
        return self.variant + self.suffix


def setting_suffix(setting: Sequence[tuple[str, str]]) -> str:
    if not setting:
        return ""
    return "@" + ",".join(f"{key.rsplit('.', 1)[-1]}={value}" for key, value in setting)


def overrides(setting: Sequence[tuple[str, str]]) -> list[str]:
    """The setting as ``--set KEY=VALUE`` arguments of a ``zstvg`` command."""
    return [f"{key}={value}" for key, value in setting]


def _text(value: Any) -> str:
    # YAML numbers keep their spelling (8 vs 8.0 are different paths, as the user wrote them)
    if isinstance(value, bool) or value is None or isinstance(value, (list, dict)):
        raise ValueError(f"value {value!r}: a sweep value is a number or a name")
    return str(value)


def _lookup(params: Mapping[str, Any], key: str) -> Any:
    node: Any = params
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise KeyError(key)
        node = node[part]
    return node


def _points(
    name: str, exp: Mapping[str, Any], params: Mapping[str, Any]
) -> list[tuple[tuple[str, str], ...]]:
    """The settings of one experiment: () for none, one per sweep value, or the grid."""
    where = f"experiments.{name}"
    sweep, grid = exp.get("sweep"), exp.get("grid")
    if sweep and grid:
        raise ValueError(f"{where}: give `sweep` (one key at a time) or `grid`, not both")
    axes = sweep or grid or {}
    short: dict[str, str] = {}
    values: dict[str, list[str]] = {}
    for key, vals in axes.items():
        _check_axis_key(key, params, short, where)
        values[key] = _axis_values(
            vals, f"{where}.{'sweep' if sweep else 'grid'}.{key}", where, key
        )
    if sweep:
        return [((key, v),) for key, vals in values.items() for v in vals]
    if grid:
        keys = list(values)
        return [
            tuple(zip(keys, combo, strict=True)) for combo in itertools.product(*values.values())
        ]
    return [()]


def _check_axis_key(key: str, params: Mapping[str, Any], short: dict[str, str], where: str) -> None:
    """A swept key must be a sweepable parameter whose last part names no other swept key
    (the parts name the cells' folders); ``short`` collects those names."""
    if not SWEEPABLE.match(key):
        raise ValueError(
            f"{where}: {key!r} cannot be swept: settings override ground.*, mllm.* or "
            "proposals.tracker (other keys change shared inputs: give them their own run)"
        )
    try:
        _lookup(params, key)
    except KeyError:
        raise ValueError(f"{where}: {key!r} is not a parameter") from None
    tail = key.rsplit(".", 1)[-1]
    if tail in short:
        raise ValueError(f"{where}: {short[tail]!r} and {key!r} would share the name {tail!r}")
    short[tail] = key


def _axis_values(vals: Any, field: str, where: str, key: str) -> list[str]:
    """The values of one swept key as the texts its cells' paths hold."""
    if not isinstance(vals, list) or not vals:
        raise ValueError(f"{field}: a list of values")
    try:
        texts = [_text(v) for v in vals]
    except ValueError as exc:
        raise ValueError(f"{where}: {key}: {exc}") from None
    for v in texts:
        if not _SAFE_VALUE.match(v):
            raise ValueError(f"{where}: {key}: value {v!r} has characters a path cannot hold")
    return texts


def cells(params: Mapping[str, Any]) -> list[Cell]:
    """Every cell ``run`` selects, without repeats, in a stable order (raises ValueError naming
    the experiment and field of anything unknown)."""
    from zstvg.config.variants import ALL_VARIANTS as VARIANTS
    from zstvg.config.variants import DIRECT_BACKENDS, DIRECT_VARIANTS

    run = params["run"]
    found: dict[Cell, None] = {}
    base = {"datasets": run["datasets"], "models": run["models"], "variants": run["variants"]}
    experiments = params.get("experiments") or {}
    todo: list[tuple[str, Mapping[str, Any]]] = [("run", base)]
    for name in run.get("experiments") or []:
        if name not in experiments:
            names = ", ".join(experiments) or "none"
            raise ValueError(f"run.experiments: {name!r} is not in `experiments` (known: {names})")
        todo.append((name, experiments[name]))
    for name, exp in todo:
        where = "run" if name == "run" else f"experiments.{name}"
        for field, known in (
            ("datasets", params["datasets"]),
            ("models", params["models"]),
            ("variants", VARIANTS),
        ):
            for item in exp[field]:
                if item not in known:
                    raise ValueError(f"{where}.{field}: unknown {item!r}")
        for setting in _points(name, exp, params):
            _check_k_frames(where, setting, params)
            for d, m, v in itertools.product(exp["datasets"], exp["models"], exp["variants"]):
                if v in DIRECT_VARIANTS and params["models"][m]["backend"] not in DIRECT_BACKENDS:
                    continue  # the direct baseline's rows are those of box-decoding models
                found.setdefault(Cell(d, m, v, setting))
    return list(found)


def ground_at(setting: Sequence[tuple[str, str]], ground: Mapping[str, Any]) -> dict[str, Any]:
    """The ``ground`` section at a point: ``ground`` with the point's ``ground.*`` overrides
    (read as YAML, as ``--set`` reads them)."""
    out = dict(ground)
    for key, value in setting:
        section, _, name = key.partition(".")
        if section == "ground":
            out[name] = yaml.safe_load(value)
    return out


def _check_k_frames(
    where: str, setting: Sequence[tuple[str, str]], params: Mapping[str, Any]
) -> None:
    """A point's K against its MLLM frames (the params check sees only the base values): K bins
    of n frames with K > n would span the whole clip, so the plan fails before any job."""
    ground = ground_at(setting, params["ground"])
    if ground["k_frames"] > ground["n_frames"]:
        raise ValueError(
            f"{where}: point {setting_suffix(setting) or '(defaults)'}: ground.k_frames "
            f"{ground['k_frames']} > ground.n_frames {ground['n_frames']} (K of the MLLM frames)"
        )


def groups(all_cells: Sequence[Cell]) -> dict[tuple[str, str, str], list[str]]:
    """(dataset, model, setting suffix) -> the variants one grounding job runs, in cell order."""
    out: dict[tuple[str, str, str], list[str]] = {}
    for c in all_cells:
        variants = out.setdefault((c.dataset, c.model, c.suffix), [])
        if c.variant not in variants:
            variants.append(c.variant)
    return out


def settings(all_cells: Sequence[Cell]) -> dict[str, tuple[tuple[str, str], ...]]:
    """Setting suffix (as paths write it) -> the setting: ``{"": (), "@lr=4.0": ...}``."""
    return {c.suffix: c.setting for c in all_cells}
