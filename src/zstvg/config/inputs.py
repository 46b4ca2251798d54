"""The ``fingerprint-inputs`` step: the content identity of the raw inputs that ``run`` selects.

DVC's first stage. It depends on the folders ``data/`` and ``checkpoints/`` as a whole (DVC's
templating cannot pick out the paths of the datasets and models that ``run`` names, and a
missing dependency fails a stage), and writes the size and SHA-256 of every raw file the
selected datasets and models read, one file per kind of reader::

    <out>/datasets/<name>.json        one per dataset: annotations, videos, VidOR boxes,
                                      released decompositions and proposals (that dataset's
                                      samples, frames, decompositions, proposals)
    <out>/proposal_checkpoints.json   the detector's and tracker's weights, when a selected
                                      dataset has no released proposals (proposals)
    <out>/mllm_checkpoints.json       the weights of each model of ``run`` (attention,
                                      predictions)

The later stages depend on these files, not on the folders: a dataset or checkpoint that ``run``
does not select, edited or added, reruns this stage only, whose files come out byte-identical,
so nothing after it reruns (DVC deletes a stage's outputs before it reruns it: a spurious rerun
of the proposals stage would redo every video on the GPU). One file per dataset, as the stages
are per dataset: an edited caption of one dataset reruns that dataset's stages only. A path
under ``results/`` is another stage's output (DVC tracks it) and a path that does not exist is
a hub id, ``none`` or not downloaded yet: both are recorded by name only. Hashes come from the
hash cache when a file's stat is unchanged (:func:`zstvg.files.io.fingerprint`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from zstvg.config.experiments import cells
from zstvg.config.params import Params
from zstvg.files.io import write_json
from zstvg.files.provenance import fingerprint_tree, write_provenance

DATASET_PATHS = ("annotations", "videos", "boxes", "decompositions", "proposals")
# Outputs of other DVC stages live here (dvc.yaml); DVC hashes them itself.
STAGE_OUTPUTS = Path("results")
# The folders the DVC stage depends on: a raw input elsewhere is fingerprinted here, but DVC
# does not see it change.
TRACKED = (Path("data"), Path("checkpoints"))


def input_identity(path: str) -> dict[str, Any]:
    """``{"path"}`` plus the content fingerprint of a raw input file or folder; a stage output
    (under results/) or a path that does not exist is named only (``"kind"`` says which)."""
    p = Path(path)
    if p.is_relative_to(STAGE_OUTPUTS):
        return {"path": path, "kind": "stage output"}
    if not p.exists():
        return {"path": path, "kind": "absent"}
    return {"path": path, **fingerprint_tree(p)}


def selected_inputs(params: Params) -> dict[str, dict[str, Any]]:
    """The raw inputs of what ``run`` selects (its experiments' datasets and models included),
    by output file path (relative to the output folder), fingerprinted."""
    matrix = cells(dict(params.raw))
    dataset_names = list(dict.fromkeys(c.dataset for c in matrix))
    model_names = list(dict.fromkeys([*params.run.models, *(c.model for c in matrix)]))
    # a tracker sweep computes proposals even where released ones exist
    sweeps_tracker = any("proposals.tracker" in dict(c.setting) for c in matrix)
    datasets = {
        name: {
            key: input_identity(getattr(params.datasets[name], key))
            for key in DATASET_PATHS
            if getattr(params.datasets[name], key) is not None
        }
        for name in dataset_names
    }
    # The detector and tracker run only for a dataset without released proposals.
    proposing = sweeps_tracker or any(params.datasets[n].proposals is None for n in dataset_names)
    # The box trackers (bytetrack, botsort) have no checkpoint: tracker_checkpoint is null.
    checkpoints = {
        "detector": params.proposals.detector_checkpoint,
        "tracker": params.proposals.tracker_checkpoint,
    }
    proposal_checkpoints = (
        {part: input_identity(path) for part, path in checkpoints.items() if path is not None}
        if proposing
        else {}
    )
    mllm_checkpoints = {
        name: input_identity(params.models[name].checkpoint) for name in model_names
    }
    return {
        **{f"datasets/{name}.json": entries for name, entries in datasets.items()},
        "proposal_checkpoints.json": proposal_checkpoints,
        "mllm_checkpoints.json": mllm_checkpoints,
    }


def untracked(inputs: dict[str, dict[str, Any]]) -> list[str]:
    """Fingerprinted paths outside data/ and checkpoints/: DVC would not rerun on their change."""
    found = []

    def walk(node: Any) -> None:
        if isinstance(node, dict) and "sha256" in node and "path" in node:
            p = Path(node["path"])
            if not any(p.is_relative_to(root) for root in TRACKED):
                found.append(node["path"])
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)

    walk(inputs)
    return sorted(set(found))


def fingerprint_inputs(params: Params, *, out: Path) -> int:
    """Write the fingerprints of what ``params.run`` selects into the folder ``out`` (one file
    per kind of reader, and the provenance); prints the summary and a warning per fingerprinted
    path DVC does not watch, and returns the exit code."""
    started = time.perf_counter()
    inputs = selected_inputs(params)
    for name, entries in inputs.items():
        write_json(out / name, entries)
    write_provenance(
        out, step="fingerprint-inputs", datasets=list(params.run.datasets),
        models=list(params.run.models),
    )  # fmt: skip
    print(
        f"fingerprint-inputs: {len(params.run.datasets)} datasets, {len(params.run.models)} "
        f"models in {time.perf_counter() - started:.1f} s -> {out}"
    )
    for path in untracked(inputs):
        print(f"  warning: {path} is outside data/ and checkpoints/: DVC does not see it change")
    return 0
