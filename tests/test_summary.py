from __future__ import annotations

import json

from zstvg.cli import main
from zstvg.files.records import Sample
from zstvg.files.samples import write_samples


def test_summary_lists_counts_failures_and_embeds_tables(tmp_path):
    samples = tmp_path / "samples.jsonl"
    write_samples(
        samples,
        [
            Sample("a", "v1", "v1.mp4", "q", "declarative", 10.0, 20, 64, 48, (0, 5), (0, 20)),
            Sample(
                "b",
                "v2",
                "v2.mp4",
                "q",
                "interrogative",
                10.0,
                20,
                64,
                48,
                (0, 5),
                (0, 20),
                error="video file not found: v2.mp4",
            ),  # fmt: skip
        ],
    )
    frames = tmp_path / "frames.json"
    frames.write_text(
        json.dumps(
            {
                "videos": {
                    "v1": {"status": "ok", "n_frames_stored": 20},
                    "v2": {"status": "failed", "error": "video file not found: v2.mp4"},
                },
                "samples": {
                    "a": {
                        "status": "failed",
                        "step": "sample-frames",
                        "error": "v1.mp4: video decodes to 30 frames",
                    },
                    "b": {
                        "status": "failed",
                        "step": "prepare-data",
                        "error": "video file not found: v2.mp4",
                    },
                },
            }
        )
    )
    table = tmp_path / "table1.md"
    table.write_text("| method | m_vIoU |\n|---|---|\n| oracle | 100.0 |\n")
    out = tmp_path / "SUMMARY.md"
    rc = main(
        [
            "summarize",
            "--out",
            str(out),
            "--samples",
            str(samples),
            "--frames",
            str(frames),
            "--tables",
            str(table),
            "--chance-note",
            "--html",
            str(tmp_path / "SUMMARY.html"),
        ]
    )
    assert rc == 0
    text = out.read_text()
    assert "samples: **2** (1 declarative, 1 interrogative) from 2 videos" in text
    assert "samples failed at preparation: 1" in text and "`b`: video file not found" in text
    assert "frames: 1 of 2 videos decoded, 20 frames stored" in text
    assert "| oracle | 100.0 |" in text and "chance-level" in text
    assert "samples failed before the MLLM: 2" in text
    assert "`a`: sample-frames: v1.mp4: video decodes to 30 frames" in text
    assert "`b`: prepare-data: video file not found: v2.mp4" in text
    # The report's copy: the same page as HTML, the table a real table.
    html = (tmp_path / "SUMMARY.html").read_text()
    assert "<td>oracle</td>\n<td>100.0</td>" in html and "<code>b</code>: video file" in html
