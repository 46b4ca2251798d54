from __future__ import annotations

import pytest

from zstvg.decompose.fallback import rule_based_decompose, target_class_from_phrase


@pytest.mark.parametrize(
    "query,expected",
    [
        (
            "The man in the red shirt walks to the door and sits down.",
            ("person", "the man in the red shirt", "the man who walks to the door and sits down"),
        ),
        (
            "The bald man is walking to the car",
            ("person", "the bald man", "the man who is walking to the car"),
        ),
        (
            "The woman who is wearing a hat turns around.",
            ("person", "the woman who is wearing a hat", "the woman who turns around"),
        ),
        (
            "A brown dog chases a ball on the grass.",
            ("dog", "a brown dog", "a dog that chases a ball on the grass"),
        ),
        (
            "The woman stopped and looked back",
            ("person", "the woman", "the woman who stopped and looked back"),
        ),
        (
            "Who pushes the baby carriage on the street?",
            ("person", "a person", "a person who pushes the baby carriage on the street"),
        ),
        ("Which dog jumps over the fence?", ("dog", "a dog", "a dog that jumps over the fence")),
        (
            "What is above the red car?",
            ("object", "an object", "an object that is above the red car"),
        ),
        ("The man in white.", ("person", "the man in white", "the man in white")),
    ],
)
def test_rule_based_split(query, expected):
    got = rule_based_decompose(query)
    assert (got["target_class"], got["attribute"], got["action"]) == expected


def test_empty_query_is_an_error():
    with pytest.raises(ValueError, match="empty"):
        rule_based_decompose(" . ")


@pytest.mark.parametrize(
    "phrase,cls",
    [
        ("the man in the red shirt", "person"),
        ("a girl with long hair", "person"),
        ("the brown horses", "horse"),
        ("a red bus next to the tree", "bus"),
        ("two small puppies", "puppy"),
        ("the glasses on the table", "glass"),
    ],
)
def test_class_from_phrase(phrase, cls):
    assert target_class_from_phrase(phrase) == cls
