"""Fixtures for the decomposition tests: samples files, a run helper, a distinctive fake key."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from zstvg import cli

FAKE_KEY = "sk-zstvg-test-Q7xVb3kP9wLm2Rt5"

QUERIES = [
    "The man in the red shirt walks to the door and sits down.",
    "The woman with long hair turns around and leaves the room.",
    "A brown dog chases a ball on the grass.",
]


def write_samples(path: Path, queries: Sequence[str], **extra: Any) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for i, q in enumerate(queries):
            row = {
                "sample_id": f"s{i}",
                "video_id": f"v{i}",
                "video_path": f"videos/v{i}.mp4",
                "query": q,
                "qtype": "declarative",
                "fps": 10.0,
                "n_frames": 200,
                "width": 64,
                "height": 48,
                "gt_span": [0, 10],
                "clip_span": [0, 200],
                **extra,
            }
            fh.write(json.dumps(row) + "\n")
    return path


@pytest.fixture()
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    return FAKE_KEY


@pytest.fixture()
def samples_file(tmp_path: Path) -> Path:
    return write_samples(tmp_path / "samples.jsonl", QUERIES)


@pytest.fixture()
def run_cli(tmp_path: Path, repo_root: Path) -> Callable[..., tuple[int, list[dict]]]:
    """Run ``zstvg <command>`` with fast test params; return (exit code, output rows)."""

    def run(
        *argv: str,
        base_url: str = "",
        sets: Sequence[str] = (),
        command: str = "decompose",
        out: Path | None = None,
    ) -> tuple[int, list[dict]]:
        out = out or tmp_path / "decompositions.jsonl"
        fast = [
            f"decompose.cache_dir={tmp_path / 'cache'}",
            f"decompose.base_url='{base_url}'",
            "decompose.timeout_s=0.3",
            "decompose.max_retries=3",
            "decompose.backoff_initial_s=0.01",
            "decompose.backoff_max_s=0.5",
            "decompose.max_concurrency=4",
            "decompose.offline=false",
        ]
        args = [
            command,
            "--params",
            str(repo_root / "params.yaml"),
            "--log-file",
            str(tmp_path / "run.log"),
            "-vv",
        ]
        for s in (*fast, *sets):
            args += ["--set", s]
        if command == "decompose":
            args += ["--out", str(out), "--no-progress"]
        rc = cli.main([*args, *argv])
        rows = (
            [json.loads(line) for line in out.read_text().splitlines()]
            if command == "decompose" and out.exists()
            else []
        )
        return rc, rows

    return run
