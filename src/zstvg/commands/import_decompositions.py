"""``zstvg import-decompositions``: load the authors' released decomposition JSON into the cache.

After the import, ``zstvg decompose`` (offline or not) serves the matched samples from the cache
with source ``official``; see ``zstvg.decompose.official_import`` for the format and matching.
"""

from __future__ import annotations

import argparse

from zstvg.config.params import Params
from zstvg.files.io import write_json, write_provenance
from zstvg.jobs.failures import print_failures


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--file",
        required=True,
        metavar="PATH",
        help="the authors' decomposition JSON (e.g. "
        "gpt4_decompose_attr_action.json), keyed by video file name",
    )
    parser.add_argument(
        "--samples",
        required=True,
        metavar="PATH",
        help="samples.jsonl whose samples the entries are matched to",
    )
    parser.add_argument(
        "--report",
        metavar="PATH",
        help="also write the import report (counts, unmatched keys) as JSON",
    )


def run(args: argparse.Namespace, params: Params) -> int:
    from zstvg.decompose.cache import DecompositionCache
    from zstvg.decompose.official_import import import_official
    from zstvg.files.samples import read_sample_rows

    samples = read_sample_rows(args.samples)
    cache = DecompositionCache(params.decompose.cache_dir)
    report = import_official(args.file, samples, cache)
    if args.report:
        write_json(args.report, report.to_json())
        write_provenance(
            args.report,
            step="import-decompositions",
            params=params.section("decompose"),
            source_file=str(args.file),
            samples=str(args.samples),
        )
    print(
        f"import-decompositions: {report.n_entries} entries in {args.file}; "
        f"{len(report.imported)} of {len(samples)} samples imported into "
        f"{params.decompose.cache_dir}"
    )
    skipped = {
        what.replace("_", " "): getattr(report, what)
        for what in (
            "failed_in_source",
            "malformed",
            "unmatched",
            "ambiguous",
            "samples_without_entry",
        )
    }
    counts = ", ".join(f"{what} {len(keys)}" for what, keys in skipped.items() if keys)
    if counts:
        print(f"  not imported: {counts}")
    print_failures(
        {key: what for what, keys in skipped.items() for key in keys},
        args.report,
        "not imported",
    )
    return 0
