"""Write envs/zstvg.yaml, the workflow's conda environment, from requirements.lock.

Run after `make lock` (tests/test_conda_env.py fails while the two differ):

    .venv/bin/python tools/write_conda_env.py
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

HEADER = """\
# The workflow's conda environment, for `snakemake --software-deployment-method conda` (every
# rule names it; without that option a job runs the `zstvg` on PATH, the checkout's .venv).
# Written by tools/write_conda_env.py from requirements.lock, the pins `make env` installs:
# they are inline because Snakemake copies this file alone into its conda prefix
# (.snakemake/conda/<hash>.yaml) and conda resolves a relative `-r` or `-e` path from there.
# zstvg.post-deploy.sh then installs the package itself from the checkout. nodejs brings npm,
# which fetches the real Qwen tokenizer of the tiny checkpoints once (zstvg.tiny.qwen_vocab).
channels: [conda-forge]
dependencies:
  - python=3.11
  - nodejs
  - pip
  - pip:
"""


def lock_pins(text: str) -> list[str]:
    """The `name==version` lines of a requirements.lock text, in order."""
    return [s for line in text.splitlines() if (s := line.strip()) and not s.startswith("#")]


def render(lock_text: str) -> str:
    return HEADER + "".join(f"      - {pin}\n" for pin in lock_pins(lock_text))


def main() -> int:
    env = REPO / "envs/zstvg.yaml"
    env.write_text(render((REPO / "requirements.lock").read_text(encoding="utf-8")), "utf-8")
    print(f"wrote {env.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
