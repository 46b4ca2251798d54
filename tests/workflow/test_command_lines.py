"""The command lines the documentation shows work as shown: every `snakemake` line of the README,
docs/workflow.md and the Snakefile's header plans (`-n`), `--config` takes nested values, and
the SLURM profile keeps the jobs' logs."""

from __future__ import annotations

import re
import shlex
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml
from wf_helpers import REPO, make_workdir, paper_matrix_workdir, run, tiny_params

pytestmark = pytest.mark.workflow


def documented_snakemake_lines() -> list[list[str]]:
    """The arguments of each distinct `snakemake` command line the README, docs/workflow.md and
    the Snakefile's header comment show (the `.venv/bin/` prefix dropped). Left out: lines with
    a <placeholder>, and `--report` (it reports a finished run; test_snakemake.py tests it)."""
    lines = []
    for name in ("README.md", "docs/workflow.md"):
        for line in (REPO / name).read_text(encoding="utf-8").splitlines():
            if line.startswith(".venv/bin/snakemake "):
                lines.append(line.removeprefix(".venv/bin/"))
    for line in (REPO / "Snakefile").read_text(encoding="utf-8").splitlines():
        found = re.match(r"#\s+(snakemake .*)", line)
        if found:  # the header's description follows the command after two or more spaces
            lines.append(re.split(r"\s{2,}", found.group(1))[0])
    found = []
    for line in lines:
        args = shlex.split(line, comments=True)[1:]
        if "<" not in line and "--report" not in args and args not in found:
            found.append(args)
    return found


DOCUMENTED = documented_snakemake_lines()


def test_the_documentation_shows_snakemake_lines():
    # the README's run of everything, its table cell; workflow.md's demo and SLURM lines
    assert ["all", "--cores", "all", "--resources", "gpu=4"] in DOCUMENTED
    assert ["demo", "--cores", "all"] in DOCUMENTED
    assert ["--workflow-profile", "slurm"] in DOCUMENTED
    assert len(DOCUMENTED) >= 5


@pytest.fixture(scope="module")
def paper_workdir(tmp_path_factory):
    """The paper's matrix at two samples per dataset: every target the lines name exists."""
    work, _, _ = paper_matrix_workdir(tmp_path_factory.mktemp("lines") / "w", scale=0)
    return work


@pytest.fixture(scope="module")
def planned_lines(paper_workdir):
    """Each documented line's dry run, two at a time (each is one Snakemake process parsing the
    paper's matrix, ~4 s of one core): line -> future of its completed process."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield {
            " ".join(args): pool.submit(
                run, ["snakemake", "-n", *args], paper_workdir, timeout=300, check=False
            )
            for args in DOCUMENTED
        }


@pytest.mark.parametrize("args", DOCUMENTED, ids=" ".join)
def test_each_documented_snakemake_line_plans(planned_lines, args):
    """`-n` right after `snakemake`, the rest as shown: an argument order Snakemake misreads
    (`--resources gpu=2 demo` takes `demo` for a resource and fails) fails here."""
    out = planned_lines[" ".join(args)].result()
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    assert "This was a dry-run" in out.stdout + out.stderr


def test_resources_before_a_target_is_the_failure_the_docs_avoid(paper_workdir):
    bad = run(["snakemake", "-n", "--resources", "gpu=2", "demo"], paper_workdir, check=False)
    assert bad.returncode != 0
    good = run(["snakemake", "-n", "--resources", "gpu=2", "--", "demo"], paper_workdir)
    assert "This was a dry-run" in good.stdout + good.stderr


def merged_configs(work) -> list[dict]:
    """Every merged config the runs in ``work`` wrote (results/config/)."""
    return [yaml.safe_load(p.read_text()) for p in sorted((work / "results/config").glob("*.yaml"))]


def test_config_takes_nested_values_as_yaml(tmp_path):
    """Snakemake reads a nested `--config` value's leaves as strings ('0.3'), which the schema
    rejected; the workflow reads them as YAML, merged key by key into params.yaml's section."""
    work = make_workdir(tmp_path / "w", tiny_params())
    target = "results/samples/synthetic.jsonl"
    run(["snakemake", "-n", "--cores", "1", target, "--config",
         "evaluate={viou_thresholds: [0.3, 0.4]}", "frames={n_mllm_frames: 3}", "seed=4"],
        work)  # fmt: skip
    (merged,) = merged_configs(work)
    assert merged["evaluate"]["viou_thresholds"] == [0.3, 0.4]
    assert merged["evaluate"]["max_grid_frames"] == tiny_params()["evaluate"]["max_grid_frames"]
    assert merged["frames"]["n_mllm_frames"] == 3 and merged["seed"] == 4
    # a wrong nested value still fails validation, naming the key
    bad = run(["snakemake", "-n", "--cores", "1", target, "--config",
               "evaluate={viou_thresholds: [0.3, 1.5]}"], work, check=False)  # fmt: skip
    assert bad.returncode != 0
    assert "viou_thresholds" in bad.stdout + bad.stderr and "1.5" in bad.stdout + bad.stderr


def test_slurm_profile_keeps_every_job_log():
    """snakemake-executor-plugin-slurm deletes a successful job's log and any log older than
    10 days unless told otherwise (test_snakemake.py's dry run checks the plugin takes the
    keys)."""
    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    assert profile["slurm-keep-successful-logs"] is True
    assert profile["slurm-delete-logfiles-older-than"] == 0
