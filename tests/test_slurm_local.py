"""tools/slurm-local.sh `down` ends only the daemons its `up` started (their recorded pids) and
removes only the paths `up` recorded as created, its state folder last. Stand-in daemons: copies
of `sleep` named slurmd and slurmctld, so nothing of a real SLURM or munge is touched."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="slurm-local.sh runs as root only")


def _daemon(bin_dir: Path, name: str) -> subprocess.Popen:
    exe = bin_dir / name
    if not exe.exists():
        shutil.copy(shutil.which("sleep"), exe)  # its /proc/<pid>/comm reads `name`
    return subprocess.Popen([str(exe), "60"])


def test_down_stops_what_up_started_and_removes_what_it_created(tmp_path):
    bin_dir, conf, run_dir, state = (tmp_path / d for d in ("bin", "conf", "run", "state"))
    for d in (bin_dir, conf, run_dir, state / "pids"):
        d.mkdir(parents=True)
    ours, other, ctld = (_daemon(bin_dir, n) for n in ("slurmd", "slurmd", "slurmctld"))
    try:
        (state / "pids/slurmd").write_text(f"{ours.pid}\n")
        (state / "pids/slurmctld").write_text(f"{ctld.pid}\n")
        (state / "pids/munged").write_text("4194303\n")  # above any pid in use: ended long ago
        (state / "fakegpu0").write_text("")
        (conf / "slurm.conf").write_text("ours\n")
        (conf / "other.conf").write_text("not ours\n")
        (state / "created").write_text(f"dir {state}\ndir {run_dir}\nfile {conf / 'slurm.conf'}\n")
        env = dict(os.environ, ZSTVG_SLURM_STATE=str(state))
        down = [str(REPO / "tools/slurm-local.sh"), "down"]
        proc = subprocess.run(down, env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert ours.wait(timeout=10) is not None and ctld.wait(timeout=10) is not None
        assert other.poll() is None  # a slurmd `up` did not start runs on
        assert not state.exists() and not run_dir.exists()
        assert not (conf / "slurm.conf").exists() and (conf / "other.conf").is_file()
        again = subprocess.run(down, env=env, capture_output=True, text=True, timeout=60)
        assert again.returncode == 0 and "nothing to do" in again.stdout
    finally:
        for p in (ours, other, ctld):
            p.kill()
            p.wait()
