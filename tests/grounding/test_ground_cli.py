"""``zstvg ground`` argument errors: clear messages, exit 2, nothing written."""

from __future__ import annotations

import pytest

from zstvg.cli import main

INPUTS = ["--samples", "s.jsonl", "--frames", "f.json", "--proposals", "p.json",
          "--decompositions", "d.jsonl"]  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "give exactly one of --variant NAME and --variants A,B,C"),
        (["--variant", "gti", "--variants", "gti,full"], "give exactly one of --variant"),
        (["--variants", "gti,nope"], "--variants: unknown variant 'nope'"),
        (["--variants", "gti,full", "--predictions", "x.json"], "use --predictions-dir"),
    ],
)
def test_variant_arguments_are_checked(tmp_path, capsys, repo_root, extra, message):
    out = tmp_path / "g"
    rc = main(["ground", "--params", str(repo_root / "params.yaml"), *INPUTS, "--model",
               "attention-oracle", "--out", str(out), *extra])  # fmt: skip
    assert rc == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_unknown_model_is_named(tmp_path, capsys, repo_root):
    rc = main(["ground", "--params", str(repo_root / "params.yaml"), *INPUTS, "--model", "gpt-9",
               "--variant", "gti", "--out", str(tmp_path / "g")])  # fmt: skip
    assert rc == 2
    assert "--model 'gpt-9': not a key of `models`" in capsys.readouterr().err
