from __future__ import annotations

import json

from zstvg.cli import main


def test_summary_lists_counts_failures_and_embeds_tables(tmp_path):
    samples = tmp_path / "samples.jsonl"
    samples.write_text(
        json.dumps({"sample_id": "a", "video_id": "v1", "qtype": "declarative"})
        + "\n"
        + json.dumps(
            {
                "sample_id": "b",
                "video_id": "v2",
                "qtype": "interrogative",
                "error": "video file not found: v2.mp4",
            }
        )
        + "\n"
    )
    frames = tmp_path / "frames.json"
    frames.write_text(
        json.dumps(
            {
                "videos": {
                    "v1": {"status": "ok", "n_frames_stored": 20},
                    "v2": {"status": "failed", "error": "video file not found: v2.mp4"},
                }
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
        ]
    )
    assert rc == 0
    text = out.read_text()
    assert "samples: **2** (1 declarative, 1 interrogative) from 2 videos" in text
    assert "samples failed at preparation: 1" in text and "`b`: video file not found" in text
    assert "frames: 1 of 2 videos decoded, 20 frames stored" in text
    assert "| oracle | 100.0 |" in text and "chance-level" in text
