from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from zstvg.files.decompositions import Decomposition, parse_answer, read_decompositions
from zstvg.files.io import InputError
from zstvg.grounding.engine import texts_for

GOOD = {"target_class": "person", "attribute": "the man in red", "action": "the man sitting"}


@pytest.mark.parametrize(
    "text",
    [
        '{"target_class": "person", "attribute": "the man in red", "action": "the man sitting"}',
        'Sure!\n```json\n{"target_class": "Person", "attribute": "the man in red.",'
        ' "action": "the man  sitting"}\n```\nAnything else?',
        'The answer is {"class": "person", "attribute_description": "the man in red", '
        '"action_description": "the man sitting"} as requested.',
        '{"target_class": "person", "attribute": ["the man in red"], '
        '"action": ["the man sitting"]}',
    ],
)
def test_tolerant_parsing_accepts_common_shapes(text):
    assert parse_answer(text) == GOOD


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "no json here",
        '{"target_class": "person", "attribute": "x"}',
        '{"target_class": "", "attribute": "x", "action": "y"}',
        "[1, 2, 3]",
        '{"target_class": "person", "attribute": "' + "x" * 500 + '", "action": "y"}',
        '{"target_class": 3, "attribute": "x", "action": "y"}',
    ],
)
def test_invalid_answers_are_rejected(text):
    assert parse_answer(text) is None


def test_rows_round_trip_and_bad_rows_name_the_file(tmp_path):
    row = Decomposition(
        "s0",
        "q",
        "person",
        "a",
        "b",
        "Is there a in this video?",
        "Is there b in this video?",
        "api",
        "gpt-4o",
        "abc",
        (),
    )
    path = tmp_path / "d.jsonl"
    path.write_text(f"{__import__('json').dumps(row.to_json())}\n")
    assert read_decompositions(path) == {"s0": row}
    assert "error" not in row.to_json()
    path.write_text('{"sample_id": "s0"}\n')
    with pytest.raises(InputError, match=r"d\.jsonl: row 1"):
        read_decompositions(path)


def _row(**fields):
    row = Decomposition("s0", "The man in red jumps.", "person", "the man in red",
                        "a person jumping", "", "", "api", None, None).to_json()  # fmt: skip
    return json.dumps({**row, **fields})


@pytest.mark.parametrize("action", ["", "  ", None])
def test_an_empty_or_null_action_falls_back_to_the_query_flagged(tmp_path, action):
    path = tmp_path / "d.jsonl"
    path.write_text(_row(action=action) + "\n")
    dec = read_decompositions(path)["s0"]
    spatial, temporal, flags = texts_for(
        SimpleNamespace(query="The man in red jumps."), dec, "Is there {description} in this video?"
    )
    # not "Is there  in this video?"
    assert spatial == temporal == "Is there The man in red jumps in this video?"
    assert flags == ("decomposition_empty_action", "decomposition_fallback_to_query")


def test_a_mistyped_field_is_named(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(_row(attribute=3) + "\n")
    with pytest.raises(InputError, match=r"d\.jsonl: row 1: attribute: got 3; expected a string"):
        read_decompositions(path)
    path.write_text(_row(sample_id=None) + "\n")
    with pytest.raises(InputError, match="row 1: sample_id: got None; expected a non-empty string"):
        read_decompositions(path)
