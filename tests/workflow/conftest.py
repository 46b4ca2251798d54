"""Fixtures: the real workflow run once per session on tiny parameters.

The session's seed and demo workdirs take a minute or more of a 2-core machine, and the tests
collected before them run one at a time, mostly in this process, leaving a core idle. So once
collection ends with a test that needs them, a worker thread starts building them (the seed
first) at low CPU priority (nice), and the fixtures wait for its results: the build runs beside
the tests before them instead of after them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from wf_helpers import BIN, SEED_TARGETS, copy_outputs, make_workdir, tiny_params

# Below the tests' own processes: the build takes what they leave idle.
NICE = 10


class _Builds:
    """The seed and demo workdirs, built in one worker thread from the end of collection on."""

    def __init__(self, tmp: pytest.TempPathFactory) -> None:
        self._tmp = tmp
        tmp.getbasetemp()  # made here, in the main thread, before the worker's mktemp
        # The environment as the tests start: a test's monkeypatched variable must not reach
        # a build that happens to start meanwhile.
        self._env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="workflow-builds")
        self._lock = threading.Lock()  # over _running and _closed
        self._running: subprocess.Popen | None = None
        self._closed = False
        self.seed: Future[Path] = self._pool.submit(self._build_seed)
        self.demo: Future[Path] | None = None

    def want_demo(self) -> Future[Path]:
        if self.demo is None:
            self.demo = self._pool.submit(self._build_demo)
        return self.demo

    def _snakemake(self, args: list[str], cwd: Path) -> None:
        """wf_helpers.run's `snakemake`, niced, in a process group of its own (close() stops
        it); fails the test that waits for it."""
        cmd = ["nice", "-n", str(NICE), "snakemake", *args]
        with self._lock:
            if self._closed:
                raise RuntimeError("the session ended before this build started")
            proc = subprocess.Popen(
                cmd, cwd=cwd, env=self._env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, start_new_session=True,
            )  # fmt: skip
            self._running = proc
        try:
            out, err = proc.communicate(timeout=900)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
        finally:
            with self._lock:
                self._running = None
        if proc.returncode != 0:
            pytest.fail(f"{' '.join(cmd)} exited {proc.returncode}\n{out[-4000:]}\n{err[-4000:]}")

    def _build_seed(self) -> Path:
        work = make_workdir(self._tmp.mktemp("seed") / "w", tiny_params())
        self._snakemake(["--cores", "2", *SEED_TARGETS], work)
        return work

    def _build_demo(self) -> Path:
        seed = self.seed.result()
        work = make_workdir(self._tmp.mktemp("demo") / "demo", tiny_params())
        copy_outputs(seed, work, ["results/synthetic", "results/samples", "results/checkpoints"])
        self._snakemake(["--cores", "2", "demo"], work)
        return work

    def close(self) -> None:
        """Stop a build still running (a session ended early: -x, Ctrl-C) and the thread."""
        with self._lock:
            self._closed = True
            if self._running is not None and self._running.poll() is None:
                os.killpg(self._running.pid, signal.SIGTERM)  # Snakemake stops its jobs
        self._pool.shutdown(wait=True, cancel_futures=True)


def _builds(config: pytest.Config) -> _Builds:
    builds = getattr(config, "_zstvg_workflow_builds", None)
    if builds is None:
        builds = _Builds(config._tmp_path_factory)  # type: ignore[attr-defined]  # pytest's own
        config._zstvg_workflow_builds = builds  # type: ignore[attr-defined]
        config.add_cleanup(builds.close)
    return builds


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return
    needed = {name for item in session.items for name in getattr(item, "fixturenames", ())}
    if "seed_dir" in needed or "demo_dir" in needed:
        builds = _builds(session.config)
        if "demo_dir" in needed:
            builds.want_demo()


@pytest.fixture(scope="session")
def seed_dir(pytestconfig: pytest.Config) -> Path:
    """SEED_TARGETS built once for the session on tiny params (the synthetic benchmark, its
    samples, the three tiny checkpoints): the workdirs copy what they share of it
    (copy_outputs) instead of each building it again."""
    return _builds(pytestconfig).seed.result()


@pytest.fixture(scope="session")
def demo_dir(pytestconfig: pytest.Config) -> Path:
    """The `demo` target run once for the session on tiny params (the seed copied in)."""
    return _builds(pytestconfig).want_demo().result()
