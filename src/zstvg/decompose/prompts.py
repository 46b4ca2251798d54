"""The versioned few-shot decomposition prompt: loading, rendering, hashing, sub-queries.

The prompt lives in ``zstvg/resources/prompts/<version>.yaml`` (shipped with the package). Its
hash covers everything that shapes a request except the query itself (system text, in-context
examples, user template, answer schema), so editing any of them gives new cache keys.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from zstvg.files.decompositions import ANSWER_SCHEMA
from zstvg.files.io import sha256_json

DEFAULT_PROMPT = "decompose_v1"
SUB_QUERY_TEMPLATE = "Is there {description} in this video?"  # the paper's template (Sec. 3.3)

# Words that start a noun phrase; their capital is an artefact of sentence-initial position, so
# it is lowered inside the template ("Is there The man ..." reads badly to the MLLM).
_LEADING_WORDS = frozenset(
    "a an the this that these those some one two three another his her their its "
    "there who what which".split()
)


@dataclass(frozen=True)
class PromptTemplate:
    version: str
    system: str
    user_template: str
    examples: tuple[tuple[str, dict[str, str]], ...]

    def user_message(self, query: str) -> str:
        return self.user_template.format(query=query)

    def render(self, query: str) -> list[dict[str, str]]:
        """Chat messages: instructions, the in-context examples as turns, then the query."""
        messages = [{"role": "system", "content": self.system}]
        for example_query, answer in self.examples:
            messages.append({"role": "user", "content": self.user_message(example_query)})
            messages.append({"role": "assistant", "content": json.dumps(answer)})
        messages.append({"role": "user", "content": self.user_message(query)})
        return messages

    @property
    def sha256(self) -> str:
        return sha256_json({"messages": self.render("{query}"), "schema": ANSWER_SCHEMA})


@functools.cache
def load_prompt(name: str = DEFAULT_PROMPT) -> PromptTemplate:
    """Read and check a packaged prompt (``resources/prompts/<name>.yaml``)."""
    text = resources.files("zstvg").joinpath(f"resources/prompts/{name}.yaml").read_text("utf-8")
    raw: dict[str, Any] = yaml.safe_load(text)
    examples = []
    for ex in raw["examples"]:
        answer = {k: ex["answer"][k] for k in ANSWER_SCHEMA["required"]}
        examples.append((ex["query"], answer))
    return PromptTemplate(
        version=raw["version"],
        system=raw["system"],
        user_template=raw["user_template"],
        examples=tuple(examples),
    )


def normalize_description(description: str) -> str:
    """Whitespace collapsed, final punctuation dropped, a sentence-initial capital lowered."""
    text = " ".join(description.split()).strip().rstrip(".!?;,:").strip()
    first, _, rest = text.partition(" ")
    if first.lower() in _LEADING_WORDS:
        text = first.lower() + (" " + rest if rest else "")
    return text


def sub_query(description: str) -> str:
    """The yes/no sub-query the MLLM is tuned on: "Is there {description} in this video?"."""
    return SUB_QUERY_TEMPLATE.format(description=normalize_description(description))
