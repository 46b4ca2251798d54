"""The real workflow end to end on the 2-video synthetic benchmark."""

from __future__ import annotations

import csv
import hashlib
import html
import json
import os
import re
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from wf_helpers import REPO, copy_outputs, make_workdir, run, tiny_params

pytestmark = pytest.mark.workflow


def test_demo_writes_summary_tables_and_figures(demo_dir):
    summary = (demo_dir / "results/demo/SUMMARY.md").read_text()
    assert "samples: **2**" in summary
    assert "table1" in summary and "table2" in summary
    assert "chance-level" in summary
    assert "attention (" in summary and "grounding token chosen" in summary
    assert list((demo_dir / "results/figures/tubedetr").glob("*.png"))


def test_the_demo_tables_hold_the_direct_rows_whose_random_answers_fail_to_parse(demo_dir):
    """The tiny Qwen2.5-VL asked for the tube: every answer is random tokens up to its cap, so
    every sample fails with the parser's reason and the raw text kept, and scores 0."""
    with (demo_dir / "results/tables/tubedetr/table1.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    methods = {r["method"] for r in rows if r["backend"] == "tiny-qwen2.5-vl"}
    assert methods == {"direct", "direct+tracks"}
    folder = demo_dir / "results/grounding/synthetic/tiny-qwen2.5-vl"
    for variant in ("direct", "direct+tracks"):
        metrics = json.loads((demo_dir / "results/metrics/synthetic/tiny-qwen2.5-vl" / variant
                              / "tubedetr.json").read_text())  # fmt: skip
        assert metrics["n_samples"] == metrics["n_failed"] == 2 and metrics["m_vIoU"] == 0
        records = [p for p in (folder / variant / "records").glob("*.json")
                   if not p.name.endswith(".run.json")]  # fmt: skip
        assert len(records) == 2
        for path in records:
            record = json.loads(path.read_text())
            assert record["status"] == "failed"
            assert record["error"] == (
                f"ground: {variant}: no complete JSON answer (start_time, end_time, boxes) in "
                "the text"
            )
            assert record["answer_text"] and record["generation"]["n_new_tokens"] == 48


def test_oracle_on_exact_synthetic_proposals_scores_one(demo_dir):
    # The synthetic benchmark's released proposals contain the target's exact masks, and the
    # oracle uses the GT span: a correct evaluator must give exactly 1 on every metric.
    metrics = json.loads(
        (demo_dir / "results/metrics/synthetic/reference/oracle/tubedetr.json").read_text()
    )
    assert metrics["n_samples"] == 2 and metrics["n_failed"] == 0
    for key in ("m_vIoU", "m_tIoU", "vIoU@0.3", "vIoU@0.5", "gt_vIoU"):
        assert metrics[key] == pytest.approx(1.0), key


def test_real_detector_and_tracker_ran_on_one_video(demo_dir):
    manifest = json.loads(
        (demo_dir / "results/proposals/synthetic/tiny-demo/manifest.json").read_text()
    )
    assert len(manifest["videos"]) == 1


def test_rerun_is_a_no_op_and_params_change_reruns_only_dependents(demo_dir):
    dry = run(["snakemake", "-n", "--cores", "1", "demo"], demo_dir)
    assert "Nothing to be done" in dry.stdout + dry.stderr
    params = yaml.safe_load((demo_dir / "params.yaml").read_text())
    params["evaluate"]["viou_thresholds"] = [0.3, 0.5, 0.7]
    (demo_dir / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        dry = run(["snakemake", "-n", "--cores", "1", "demo", "--quiet", "rules"], demo_dir)
        out = dry.stdout + dry.stderr
        assert "evaluate" in out and "sample_frames" not in out and "make_synthetic" not in out
    finally:
        params["evaluate"]["viou_thresholds"] = [0.3, 0.5]
        (demo_dir / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def test_invalid_params_fail_before_any_job(tmp_path):
    params = tiny_params()
    params["frames"]["n_mllm_frames"] = "twenty"
    work = make_workdir(tmp_path / "bad", params)
    proc = run(["snakemake", "-n", "--cores", "1", "demo"], work, check=False)
    assert proc.returncode != 0
    assert "n_mllm_frames" in proc.stdout + proc.stderr
    assert not (work / "results").exists()


@pytest.fixture(scope="module")
def report_html(demo_dir) -> Path:
    run(["snakemake", "--report", "results/report.html", "demo"], demo_dir)
    return demo_dir / "results/report.html"


def test_html_report_embeds_tables_figures_sheets_and_runtimes(report_html):
    html = report_html.read_text(errors="replace")
    assert "table1.html" in html and "table1.csv" in html and "viou_hist.png" in html
    # the sheets of the first two samples, as `all` requests them for every dataset
    assert "full/synthetic_000_sheet.png" in html and "full/synthetic_001_sheet.png" in html
    # the Statistics view plots every job's runtime by rule (from Snakemake's metadata)
    spec = json.loads(re.search(r"var runtimes_spec = (.*);", html).group(1))
    rules = {v["rule"] for v in spec["data"]["values"]}
    assert {"ground", "evaluate", "visualize", "tables", "demo"} <= rules


# Chromium as Debian's package runs it in a container: no sandbox, no GPU, no network calls.
CHROMIUM = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--virtual-time-budget=10000",  # the report is a React app: let it render before the dump
]  # fmt: skip


def test_report_page_shows_the_tables_numbers_and_the_summary(report_html, demo_dir, tmp_path):
    """The landing page, as a browser renders it, holds Table 1's rows as table1.csv has them."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not installed (Debian package `chromium`; .ci/run installs it)")
    dom = run(
        [chromium, *CHROMIUM, f"--user-data-dir={tmp_path}", "--dump-dom", report_html.as_uri()],
        demo_dir,
        timeout=120,
    ).stdout
    # Only what the page rendered: the report's scripts also hold the HTML, as JSON strings.
    page = re.sub(r"<script\b.*?</script>", "", dom, flags=re.S)
    rows = [
        [html.unescape(c) for c in re.findall(r"<t[dh]\b[^>]*>(.*?)</t[dh]>", tr, flags=re.S)]
        for tr in re.findall(r"<tr\b[^>]*>(.*?)</tr>", page, flags=re.S)
    ]
    with (demo_dir / "results/tables/tubedetr/table1.csv").open(encoding="utf-8") as fh:
        table1 = list(csv.reader(fh))
    # header, 3 reference predictors, 2 models' full method, tiny Qwen2.5-VL's direct and
    # direct+tracks (demo-direct)
    assert len(table1) == 8
    for row in table1:
        assert row in rows, row
    assert "<h2>Outputs</h2>" in page and "samples: <strong>2</strong>" in page
    assert "Per-rule runtimes" in page


@pytest.fixture(scope="module")
def planned_all(demo_dir) -> str:
    """The output of one dry run of `all` with no profile named: Snakemake takes
    profiles/default by itself (both tests below read it)."""
    out = run(["snakemake", "-n", "--cores", "1", "all"], demo_dir)
    return out.stdout + out.stderr


@pytest.mark.parametrize("profile", ["default", "slurm"])
def test_profiles_parse_and_plan_the_full_run(demo_dir, profile, request):
    # A dry run validates the profile's keys against this Snakemake and its executor plugin
    # (the SLURM plugin is loaded, nothing is submitted). profiles/default is the one a dry run
    # naming no profile loads: that run's output (`--workflow-profile default` loads the same).
    if profile == "default":
        out = request.getfixturevalue("planned_all")
    else:
        proc = run(["snakemake", "-n", "--workflow-profile", profile, "all"], demo_dir)
        out = proc.stdout + proc.stderr
    assert "This was a dry-run" in out
    assert f"Using workflow specific profile profiles/{profile}" in out


# Each shell rule's declared resources, from the parsed workflow (Snakemake's API lists no
# rule's resources publicly: `_workflow` holds the parsed rules); a sharded step's rules take
# theirs from its Sharded object (common.smk), so the rule files' text does not show them.
RULE_RESOURCES = """
import json
from pathlib import Path

from snakemake.api import SnakemakeApi
from snakemake.settings.types import OutputSettings, ResourceSettings

with SnakemakeApi(OutputSettings()) as api:
    wf = api.workflow(resource_settings=ResourceSettings(), snakefile=Path("Snakefile"))
    print(json.dumps({r.name: sorted(r.resources) for r in wf._workflow.rules if r.shellcmd}))
"""


def test_default_profile_is_picked_up_and_every_job_declares_its_resources(demo_dir, planned_all):
    """`snakemake`, `make demo` and `dvc repro` run with profiles/default; the SLURM profile
    holds only cluster knobs and names no rule (the rules declare their own resources)."""
    assert "Using workflow specific profile profiles/default" in planned_all
    slurm = yaml.safe_load((demo_dir / "profiles/slurm/config.yaml").read_text())
    assert "set-resources" not in slurm and "set-threads" not in slurm
    printed = run([sys.executable, "-c", RULE_RESOURCES], demo_dir).stdout.strip().splitlines()[-1]
    declared = json.loads(printed)
    assert {"prepare_data", "sample_frames_shard", "ground", "demo"} <= set(declared)
    for rule, resources in declared.items():
        assert {"mem_mb", "runtime"} <= set(resources), rule


@pytest.mark.parametrize("variant", ["gti", "full"])
def test_attention_oracle_picks_the_oracle_track_with_spans_inside_gt(demo_dir, variant):
    """Attention planted on the GT boxes: the whole chain (maps -> track -> span -> metrics)
    must pick the track the `oracle` reference picks, and keep the span inside the GT span
    wherever that span holds at least K MLLM-frame bins."""
    root = demo_dir / "results"
    oracle = json.loads((root / "predictions/synthetic/reference/oracle.json").read_text())
    preds = json.loads(
        (root / f"predictions/synthetic/attention-oracle/{variant}.json").read_text()
    )
    samples = {
        json.loads(line)["sample_id"]: json.loads(line)
        for line in (root / "samples/synthetic.jsonl").read_text().splitlines()
    }
    k = yaml.safe_load((demo_dir / "params.yaml").read_text())["ground"]["k_frames"]
    records = root / f"grounding/synthetic/attention-oracle/{variant}/records"
    assert preds.keys() == oracle.keys()
    for sid, pred in preds.items():
        assert "error" not in pred, pred
        assert pred["track_id"] == oracle[sid]["track_id"], sid
        record = json.loads((records / f"{sid}.json").read_text())
        frames = record["mllm_frame_idx"] + [samples[sid]["clip_span"][1]]
        g0, g1 = samples[sid]["gt_span"]
        full_bins = sum(g0 <= a and b <= g1 for a, b in zip(frames, frames[1:], strict=False))
        if full_bins >= k:
            assert g0 <= pred["span"][0] and pred["span"][1] <= g1, (sid, pred["span"], (g0, g1))
    metrics = json.loads((root / f"metrics/synthetic/attention-oracle/{variant}/tubedetr.json")
                         .read_text())  # fmt: skip
    assert metrics["n_failed"] == 0 and metrics["vIoU@0.5"] == pytest.approx(1.0)


def _ground_cmd(out, model="tiny-qwen2-vl", variant="full", proposals=None, select=(), extra=()):
    """`zstvg ground` over the demo's inputs; ``select`` (e.g. --variants a,b) replaces the
    --variant argument."""
    root = "results"
    return ["zstvg", "ground", "--samples", f"{root}/samples/synthetic.jsonl", "--frames",
            f"{root}/frames/synthetic/manifest.json", "--proposals",
            str(proposals or f"{root}/proposals/synthetic/released/manifest.json"),
            "--decompositions", f"{root}/decompositions/synthetic.jsonl", "--model", model,
            *(select or ["--variant", variant]), "--out", str(out), *extra]  # fmt: skip


def _ground(demo_dir, out, **kwargs):
    return run(_ground_cmd(out, **kwargs), demo_dir)


def _first_video(demo_dir):
    manifest = demo_dir / "results/proposals/synthetic/released/manifest.json"
    return sorted(json.loads(manifest.read_text())["videos"])[0]


def _proposals_with_an_empty_set(demo_dir, props):
    """A copy of the demo's released proposals where the first video's set is empty."""
    src = demo_dir / "results/proposals/synthetic/released"
    manifest = json.loads((src / "manifest.json").read_text())
    first = _first_video(demo_dir)
    manifest["videos"][first] = {**manifest["videos"][first], "status": "empty", "n_tracks": 0}
    props.mkdir()
    for f in src.glob("*.json"):
        (props / f.name).write_bytes(f.read_bytes())
    (props / "manifest.json").write_text(json.dumps(manifest))


@pytest.fixture(scope="module")
def ground_runs(demo_dir, tmp_path_factory):
    """The first `zstvg ground` run of each test below, over the demo's inputs: independent
    processes of one thread each, so they run side by side, as many at once as there are
    cores (CI has 2), while the tests wait. name -> (command, output folder, future of the run);
    a test takes its run with _finished (which raises that run's failure) and goes on."""
    from zstvg.config.variants import VARIANTS

    root = tmp_path_factory.mktemp("ground")
    _proposals_with_an_empty_set(demo_dir, root / "props")
    commands = {  # the longest first
        "reference": _ground_cmd(root / "reference", select=["--variants", ",".join(VARIANTS)],
                                 extra=["--set", "ground.engine=reference"]),
        "full": _ground_cmd(root / "full"),
        "full-again": _ground_cmd(root / "full-again"),
        **{v: _ground_cmd(root / v, variant=v) for v in ("gti", "gti+dsth", "fixed-token")},
        "tuning": _ground_cmd(root / "tuning", model="attention-oracle",
                              select=["--variants", "gti,gti+spatial"]),
        "empty": _ground_cmd(root / "empty", model="attention-oracle", variant="gti",
                             proposals=root / "props/manifest.json"),
        # a file-size limit of 2,016 bytes: a full disk as the write syscall reports it
        "full-disk": ["prlimit", "--fsize=2016", *_ground_cmd(root / "full-disk", variant="gti")],
    }  # fmt: skip
    with ThreadPoolExecutor(max_workers=min(len(commands), os.cpu_count() or 1)) as pool:
        yield {
            name: (
                cmd,
                Path(cmd[cmd.index("--out") + 1]),
                pool.submit(run, cmd, demo_dir, check=name != "full-disk"),
            )
            for name, cmd in commands.items()
        }


def _finished(ground_runs, name):
    """(command, output folder) of one of ground_runs, once it has ended well."""
    cmd, out, future = ground_runs[name]
    future.result()
    return cmd, out


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` but the run records (what differs between identical reruns:
    seconds, git revision) and the provenance sidecars (they name the output's own path)."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.endswith((".run.json", "provenance.json"))
    }


def test_a_full_disk_ends_ground_with_one_line_naming_the_file(ground_runs):
    """The first write past the limit ends the run (a traceback once, np.save's "5120 requested
    and 2016 written"): one line naming the file and the cause, exit 1, nothing half-written, no
    sample recorded as failed for it."""
    _, out, future = ground_runs["full-disk"]
    proc = future.result()
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    (error,) = [line for line in proc.stderr.splitlines() if " ERROR " in line]
    # the first sample's record is the first file past 2,016 bytes (EFBIG from the syscall)
    assert re.search(rf"ERROR zstvg: {re.escape(str(out))}/records/\S+\.json: File too large$",
                     error)  # fmt: skip
    assert not (out / "predictions.json").exists()  # no sample scored as failed for it
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]  # no temp file left


def test_ground_is_deterministic_on_cpu_and_resumes(demo_dir, ground_runs):
    from zstvg.grounding.ground import read_run_record, record_files

    _, one = _finished(ground_runs, "full")
    _, two = _finished(ground_runs, "full-again")
    assert (one / "predictions.json").read_bytes() == (two / "predictions.json").read_bytes()
    # the records, their maps and the manifest too, byte for byte: no timing in them
    files = _files(one)
    assert files == _files(two)
    records = record_files(one / "records")
    assert len(records) == 2
    for path in records:
        record = json.loads(path.read_text())
        assert "seconds" not in record and "times_s" not in record and "_run" not in record
        assert "seconds" not in record["spatial"]["tuning"]  # full tunes its spatial map
        # the timings are in its run record, of this job, beside it
        run_record = read_run_record(path)
        assert run_record is not None and run_record == json.loads(
            path.with_name(path.name[: -len(".json")] + ".run.json").read_text()
        )
        assert run_record["job_sha256"] == record["job_sha256"]
        assert run_record["sample_id"] == record["sample_id"] and run_record["variant"] == "full"
        assert run_record["seconds"] > 0 and run_record["times_s"]["total_s"] > 0
        assert {"spatial", "tas"} <= set(run_record["tuning_s"])  # (temporal: when not spatial)
        assert all(s > 0 for s in run_record["tuning_s"].values())
        assert "git_revision" in run_record
    runs = {p: p.read_bytes() for p in (one / "records").glob("*.run.json")}
    again = _ground(demo_dir, one)
    assert "2 samples, 0 failed, 2 already done" in again.stdout
    # a reused sample keeps its record and the run record of the run that computed it (the
    # manifest's job LLM calls are this job's: 0 for reused samples)
    assert {k: v for k, v in _files(one).items() if k.startswith("records/")} == {
        k: v for k, v in files.items() if k.startswith("records/")
    }
    assert {p: p.read_bytes() for p in (one / "records").glob("*.run.json")} == runs


def test_a_tuning_setting_recomputes_only_the_variants_that_tune(demo_dir, ground_runs):
    cmd, out = _finished(ground_runs, "tuning")  # attention-oracle, --variants gti,gti+spatial
    gti = (out / "gti/predictions.json").read_bytes()
    again = run([*cmd, "--set", "ground.lr=2.0"], demo_dir)
    # 2 samples x 2 variants: gti never reads the learning rate, so its 2 records stand
    assert "2 samples, 0 failed, 2 already done" in again.stdout
    assert (out / "gti/predictions.json").read_bytes() == gti


@pytest.mark.parametrize("variant", ["gti", "gti+dsth", "full", "fixed-token"])
def test_one_multi_variant_job_equals_separate_runs(demo_dir, ground_runs, variant):
    """The workflow grounds all variants in one job (shared stages); each file must equal a
    separate run of that variant, byte for byte (full's: the determinism test's second run,
    which is not resumed)."""
    _, out = _finished(ground_runs, "full-again" if variant == "full" else variant)
    separate = (out / "predictions.json").read_bytes()
    job = demo_dir / f"results/predictions/synthetic/tiny-qwen2-vl/{variant}.json"
    assert separate == job.read_bytes()


def test_empty_proposal_set_fails_the_sample_and_scores_zero(demo_dir, ground_runs, tmp_path):
    _, out = _finished(ground_runs, "empty")  # the attention oracle's gti, first video's set empty
    first = _first_video(demo_dir)
    preds = json.loads((out / "predictions.json").read_text())
    assert preds[first]["error"] == "import-proposals: empty proposal set"
    assert sum("error" in p for p in preds.values()) == 1
    run(["zstvg", "evaluate", "--samples", "results/samples/synthetic.jsonl", "--predictions",
         str(out / "predictions.json"), "--out", str(tmp_path / "m.json"), "--per-sample",
         str(tmp_path / "per.csv")], demo_dir)  # fmt: skip
    assert json.loads((tmp_path / "m.json").read_text())["n_failed"] == 1
    assert "import-proposals: empty proposal set" in (tmp_path / "per.csv").read_text()


def test_reference_engine_gives_the_fast_predictions_of_every_variant(demo_dir, ground_runs):
    """The demo grounds with ground.engine fast (the default); the reference engine, every
    forward in full, must write the same predictions for every variant, byte for byte."""
    from zstvg.config.variants import VARIANTS
    from zstvg.grounding.ground import record_files

    _, ref = _finished(ground_runs, "reference")
    for name in VARIANTS:
        reference = (ref / name / "predictions.json").read_bytes()
        fast = demo_dir / f"results/predictions/synthetic/tiny-qwen2-vl/{name}.json"
        assert fast.read_bytes() == reference, name
        fast_records = demo_dir / "results/grounding/synthetic/tiny-qwen2-vl" / name / "records"
        fast_calls = json.loads(record_files(fast_records)[0].read_text())
        ref_calls = json.loads(record_files(ref / name / "records")[0].read_text())
        # the same planned work, less of it done: shared prefixes, short and cut forwards
        assert (
            fast_calls["llm_calls"]["forward_equivalents"]
            < 0.8 * (ref_calls["llm_calls"]["forward_equivalents"])
        ), name
        # a tuning step's effect is read from either engine's records: L and z_yes - z_no at
        # x_N (the fast engine's were null)
        tuning, ref_tuning = fast_calls["spatial"]["tuning"], ref_calls["spatial"]["tuning"]
        if ref_tuning is not None:
            for key in ("loss_after", "margin_after"):
                assert tuning[key] == pytest.approx(ref_tuning[key], rel=1e-4, abs=1e-5), name


def _config_of(work: Path, folder: str) -> dict:
    """The merged config the outputs in ``folder`` were made with: their run records name it
    (results/config/<digest>.yaml) with its SHA-256."""
    (record,) = {p.read_text() for p in (work / folder).glob("*provenance.run.json")}
    facts = json.loads(record)
    config = work / facts["params_file"]
    assert hashlib.sha256(config.read_bytes()).hexdigest() == facts["params_file_sha256"]
    return yaml.safe_load(config.read_text())


def test_configfile_and_config_overrides_reach_the_commands(tmp_path, seed_dir):
    """One source of configuration: Snakemake's merged config (params.yaml, --configfile,
    --config) is the file every command reads, so an override changes what it claims to."""
    from zstvg.files.frames import FrameStore

    work = make_workdir(tmp_path / "w", tiny_params())
    copy_outputs(seed_dir, work, ["results/synthetic", "results/samples"])
    (work / "override.yaml").write_text("frames:\n  n_mllm_frames: 3\n")
    target = "results/frames/synthetic/manifest.json"
    run(["snakemake", "--cores", "1", target, "--configfile", "override.yaml"], work)
    store = FrameStore(work / target)
    samples = [json.loads(line) for line in (work / "results/samples/synthetic.jsonl")
               .read_text().splitlines()]  # fmt: skip
    counts = {len(store.sample(s["video_id"], s["sample_id"]).frame_idx) for s in samples}
    assert counts == {3}
    merged = _config_of(work, "results/frames/synthetic")
    assert merged["frames"]["n_mllm_frames"] == 3 and merged["synthetic"]["n_videos"] == 2
    # --config on top: the jobs whose section changed rerun, with the new value
    annotations = work / "results/synthetic/annotations/test_v2.json"
    before = annotations.read_bytes()
    again = ["snakemake", "--cores", "1", target, "--configfile", "override.yaml", "--config",
             "seed=3"]  # fmt: skip
    run(again, work)
    assert _config_of(work, "results/synthetic")["seed"] == 3
    assert annotations.read_bytes() != before  # the synthetic benchmark of seed 3
    dry = run([*again, "-n"], work)
    assert "Nothing to be done" in dry.stdout + dry.stderr


def test_table_cells_are_one_metrics_file_and_a_dvc_row_each(demo_dir):
    """results/tables/<protocol>/metrics.json holds every cell (the oracle on exact proposals
    scores 1); rows/ holds a file per cell, dvc.yaml's metrics, which `dvc metrics show` prints
    as a row each (tests/evaluation/test_metric_rows.py)."""
    cells = json.loads((demo_dir / "results/tables/tubedetr/metrics.json").read_text())
    assert cells["reference/oracle"]["synthetic"]["m_vIoU"] == pytest.approx(1.0)
    assert all(isinstance(v, (int, float)) for c in cells.values() for m in c.values()
               for v in m.values())  # numbers only: what `dvc metrics` shows and diffs  # fmt: skip
    rows = demo_dir / "results/tables/tubedetr/rows"
    assert (
        "results/tables/tubedetr/rows" in yaml.safe_load((REPO / "dvc.yaml").read_text())["metrics"]
    )
    oracle = json.loads((rows / "synthetic--reference--oracle.json").read_text())
    assert oracle["m_vIoU"] == pytest.approx(1.0)
    assert len(list(rows.glob("*.json"))) == sum(len(c) for c in cells.values())


def test_a_proposals_setting_makes_the_demo_proposals_stale(demo_dir, tmp_path):
    """propose_tiny_demo declares the proposals section it reads (it went stale before)."""
    target = "results/proposals/synthetic/tiny-demo/manifest.json"
    override = tmp_path / "override.yaml"
    override.write_text("proposals:\n  min_track_frames: 4\n")
    dry = run(["snakemake", "-n", "--cores", "1", target, "--configfile", str(override)],
              demo_dir)  # fmt: skip
    out = dry.stdout + dry.stderr
    assert "propose_tiny_demo" in out and "Params have changed" in out


def test_every_demo_prediction_feeds_both_released_evaluators(demo_dir):
    """Dense predictions: each predictions file of the demo (every backend and variant, the
    references included) exports to HC-STVG's challenge format and to TubeDETR's without a
    GT-tube frame lacking a box (TubeDETR raises 'No prediction for frame' on one); only
    samples that failed are left out."""
    from zstvg.evaluation.export import export_hcstvg_challenge, export_tubedetr
    from zstvg.evaluation.io import load_inputs
    from zstvg.files.provenance import is_sidecar

    files = sorted(
        p
        for p in (demo_dir / "results/predictions/synthetic").glob("*/*.json")
        if not is_sidecar(p)
    )
    assert len(files) > 10
    for path in files:
        samples, _, preds, boxes = load_inputs(demo_dir / "results/samples/synthetic.jsonl", path)
        failed = {sid for sid, p in preds.items() if p.error}
        for export in (
            export_hcstvg_challenge(samples, preds, boxes),
            export_tubedetr(samples, preds, boxes, allow_missing=True),
        ):
            assert export.missing_frames == {}, (path, export.format)
            assert set(export.left_out) == failed, (path, export.format)
            assert export.n_written == len(samples) - len(failed)
        for sid, p in preds.items():  # a box on every native frame of the span (not a grid)
            if p.span is not None:
                have = set(boxes[sid].frames.tolist())
                assert set(range(*p.span)) <= have, (path, sid)
