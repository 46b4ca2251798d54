"""Workflow overhead: DAG build time of the paper matrix at real sizes, Snakemake's cost per job.

- DAG: the full paper matrix as tests/workflow/test_paper_scale.py plans it (Table 1: every
  dataset x every real MLLM; Tables 2, 3, 7 and the Fig. 6 sweeps; every protocol), with sample
  lists of the real sizes (HC-STVG v1 1,160 queries, v2 2,000, VidSTG 10,303; ``--scale``
  shrinks them for a smoke test) and stand-in checkpoint folders; ``snakemake -n`` (a dry run:
  the DAG is built, nothing runs). Target (issue 15): under 30 s.
- per job: a generated Snakefile of ``--jobs`` independent no-op jobs (``touch {output}``) run
  with ``--cores 1``, minus the same run with one job (start-up, parsing) and minus the shell
  command's own time: what Snakemake adds per job (scheduling, spawning the job's shell,
  bookkeeping in .snakemake/).

    .venv/bin/python benchmarks/bench_workflow.py [--scale 1.0] [--jobs 200] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "workflow"))
from wf_helpers import paper_matrix_workdir  # noqa: E402

BIN = Path(sys.executable).parent


def _env() -> dict[str, str]:
    return dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")


def dag_build(root: Path, scale: float) -> dict:
    work, _, sizes = paper_matrix_workdir(root, scale)
    t0 = time.perf_counter()
    proc = subprocess.run(["snakemake", "-n", "--cores", "all", "all"], cwd=work, env=_env(),
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    seconds = time.perf_counter() - t0
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise SystemExit(f"snakemake -n exited {proc.returncode}:\n{out[-3000:]}")
    total = int(re.search(r"^total\s+(\d+)", out, flags=re.M).group(1))
    return {"seconds": round(seconds, 2), "jobs": total, "samples": sizes,
            "ms_per_job": round(1000 * seconds / total, 2)}  # fmt: skip


NOOP = """rule all:
    input: expand("out/{{i}}.txt", i=range({n}))

rule noop:
    output: "out/{{i}}.txt"
    shell: "touch {{output}}"
"""


def _snakemake_run(root: Path, n: int) -> float:
    work = root / f"noop{n}"
    work.mkdir()
    (work / "Snakefile").write_text(NOOP.format(n=n))
    t0 = time.perf_counter()
    subprocess.run(["snakemake", "--cores", "1", "--quiet", "all"], cwd=work, env=_env(),
                   check=True, capture_output=True, timeout=1200)  # fmt: skip
    return time.perf_counter() - t0


def per_job(root: Path, n: int) -> dict:
    one, many = _snakemake_run(root, 1), _snakemake_run(root, n)
    t0 = time.perf_counter()
    for i in range(n):  # the jobs' own work, without Snakemake
        subprocess.run(["bash", "-c", f"touch {root / f'direct{i}.txt'}"], check=True)
    shell = (time.perf_counter() - t0) / n
    overhead = (many - one) / (n - 1) - shell
    return {"jobs": n, "run_1_job_s": round(one, 2), "run_n_jobs_s": round(many, 2),
            "shell_s_per_job": round(shell, 4),
            "overhead_s_per_job": round(overhead, 4)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of the real sample counts")
    ap.add_argument("--jobs", type=int, default=200, help="no-op jobs of the per-job run")
    ap.add_argument("--json", default=None, help="write the figures to this JSON file")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dag = dag_build(Path(tmp) / "paper", args.scale)
        print(f"paper matrix ({dag['samples']} samples): {dag['jobs']} jobs, DAG built in "
              f"{dag['seconds']:.1f} s ({dag['ms_per_job']:.1f} ms per job; "
              "target < 30 s)")  # fmt: skip
        job = per_job(Path(tmp), args.jobs)
        print(f"snakemake per job: {job['overhead_s_per_job'] * 1000:.0f} ms over the job's own "
              f"{job['shell_s_per_job'] * 1000:.0f} ms ({job['jobs']} no-op jobs in "
              f"{job['run_n_jobs_s']:.1f} s, 1 job in {job['run_1_job_s']:.1f} s)")  # fmt: skip
    if args.json:
        report = {"config": {"scale": args.scale, "jobs": args.jobs}, "dag": dag, "per_job": job}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
