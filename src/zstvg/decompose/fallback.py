"""Rule-based decomposition for when no LLM answer exists (offline, refusal, API failure).

A small hand-written heuristic, no NLP model: the subject noun phrase is everything before the
first *action* verb (a word whose base form is in ``_ACTION_VERBS``, or an ``-ing`` word after
"is"/"are"); the attribute is that noun phrase, the action is its head noun followed by the
verb phrase as a relative clause ("the man who walks to the door"). Results are always flagged
``fallback``.

Known limits (so read fallback rows with care):
- verbs outside the list (~150 common action verbs of HC-STVG/VidSTG queries) are not seen; a
  query with none yields action = attribute = the whole query;
- a leading clause ("After the man sits, the woman stands up") makes the wrong person the
  target; coordinated subjects ("the man and the woman walk") keep both nouns;
- passive voice and noun/verb homographs ("the man's turn") may split in the wrong place;
- the class comes from the head noun: human nouns map to "person", anything else is the noun
  itself made singular by regular English rules (irregular plurals such as "mice" stay).
"""

from __future__ import annotations

import re

from zstvg.decompose.prompts import normalize_description

FALLBACK_MODEL = "rules-v1"

_ACTION_VERBS = frozenset(
    """
    walk run go come turn stand sit get take put pick hold hand give throw catch push pull open
    close leave enter exit talk speak say tell shout look watch stare glance point raise lower
    lift drop move step jump climb fall lie lean bend kneel squat nod shake wave hug kiss touch
    grab carry bring follow chase lead approach reach pass cross ride drive fly swim dance play
    eat drink cook cut write read hit kick punch slap fight beat pat rub wipe clean wash pour
    fill show dress undress remove place set lay rise answer call ask reply laugh smile cry
    sing clap help hide escape return stop start begin continue keep stay wait sleep wake
    shoot aim load knock ring bow salute hold lean tilt spin roll slide crawl bite lick sniff
    feed pet stroke scratch sweep mop type search check adjust fix tie untie button zip hang
    point pace hurry rush stroll wander exit board park swing toss bounce kick grasp release
    embrace comfort greet meet join separate leave sit
""".split()
)
_IRREGULAR = {
    "went": "go",
    "goes": "go",
    "gone": "go",
    "came": "come",
    "ran": "run",
    "sat": "sit",
    "stood": "stand",
    "took": "take",
    "taken": "take",
    "gave": "give",
    "given": "give",
    "threw": "throw",
    "thrown": "throw",
    "caught": "catch",
    "left": "leave",
    "said": "say",
    "told": "tell",
    "fell": "fall",
    "lay": "lie",
    "lies": "lie",
    "lying": "lie",
    "held": "hold",
    "brought": "bring",
    "led": "lead",
    "rode": "ride",
    "drove": "drive",
    "flew": "fly",
    "flies": "fly",
    "swam": "swim",
    "ate": "eat",
    "drank": "drink",
    "wrote": "write",
    "beat": "beat",
    "rose": "rise",
    "hid": "hide",
    "slept": "sleep",
    "woke": "wake",
    "shot": "shoot",
    "rang": "ring",
    "bit": "bite",
    "fed": "feed",
    "swept": "sweep",
    "hung": "hang",
    "met": "meet",
    "swung": "swing",
    "knelt": "kneel",
    "got": "get",
    "put": "put",
    "set": "set",
    "cut": "cut",
    "hit": "hit",
    "read": "read",
    "let": "let",
    "dies": "die",
}
# Linking words that end the subject noun phrase without being an action themselves.
_AUXILIARIES = frozenset("is are was were be been being has have had does do did then".split())
_CLAUSE_WORDS = frozenset("who that which and".split())
_PREPOSITIONS = frozenset(
    "in on at with of near next beside behind by from under over to wearing holding".split()
)
_DETERMINERS = frozenset("a an the this that another one".split())
_QUESTION_WORDS = frozenset("who whom whose what which".split())
_PERSON_NOUNS = frozenset(
    """
    man men woman women boy boys girl girls child children kid kids baby babies adult adults
    person people guy guys lady ladies gentleman player players he she someone somebody
    teenager toddler elder officer policeman soldier doctor nurse waiter driver worker
""".split()
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*|[^\sA-Za-z]+")


def _base(word: str) -> str | None:
    """The base form of ``word`` if it is an inflected action verb, else None."""
    w = word.lower()
    if w in _IRREGULAR:
        return _IRREGULAR[w]
    candidates = [w]
    for suffix, repl in (
        ("ies", "y"),
        ("es", ""),
        ("s", ""),
        ("ied", "y"),
        ("ed", "e"),
        ("ed", ""),
        ("ing", "e"),
        ("ing", ""),
    ):
        if w.endswith(suffix) and len(w) > len(suffix) + 1:
            stem = w[: -len(suffix)] + repl
            candidates.append(stem)
            if len(stem) > 2 and stem[-1] == stem[-2]:  # stopped -> stopp -> stop
                candidates.append(stem[:-1])
    return next((c for c in candidates if c in _ACTION_VERBS), None)


def _first_action(tokens: list[str]) -> int | None:
    """Index of the first action verb not used as a noun (not right after a determiner)."""
    for i, tok in enumerate(tokens):
        if i == 0 and tok.lower() not in _QUESTION_WORDS:
            continue  # the first word of a declarative query is the subject's start
        prev = tokens[i - 1].lower() if i else ""
        if _base(tok) and prev not in _DETERMINERS and not prev.endswith("'s"):
            return i
    return None


def _head(np_tokens: list[str]) -> tuple[str, str]:
    """(determiner, head noun) of a noun phrase: the last word before its first preposition."""
    core = []
    for tok in np_tokens:
        if tok.lower() in _PREPOSITIONS or tok.lower() in _CLAUSE_WORDS:
            break
        core.append(tok)
    words = [t for t in core if t[0].isalpha()]
    if not words:
        return "the", "person"
    det = words[0].lower() if words[0].lower() in _DETERMINERS else "the"
    return det, words[-1].lower()


def target_class_of(noun: str) -> str:
    """Detector prompt for a head noun: any human noun is "person"."""
    noun = noun.lower()
    if noun in _PERSON_NOUNS:
        return "person"
    return _singular(noun)


def _singular(noun: str) -> str:
    """English plural -> singular for regular nouns (horses, boxes, watches, puppies)."""
    if noun in ("buses", "gases"):
        return noun[:-2]
    if noun.endswith("ies") and len(noun) > 4:
        return noun[:-3] + "y"
    if noun.endswith(("sses", "xes", "ches", "shes", "zzes")):
        return noun[:-2]
    if noun.endswith("s") and not noun.endswith(("ss", "us", "is", "ous")):
        return noun[:-1]
    return noun


def target_class_from_phrase(phrase: str) -> str:
    """Detector prompt for a noun phrase (used for the authors' files, which give no class)."""
    tokens = _WORD.findall(phrase)
    return target_class_of(_head(tokens)[1])


def rule_based_decompose(query: str) -> dict[str, str]:
    """Split ``query`` into target class, attribute and action with the heuristics above."""
    text = normalize_description(query)
    tokens = _WORD.findall(text)
    if not tokens:
        raise ValueError("empty query")
    first = tokens[0].lower()
    if first in _QUESTION_WORDS:
        return _question(tokens)
    verb_at = _first_action(tokens)
    if verb_at is None:
        det, head = _head(tokens)
        return {"target_class": target_class_of(head), "attribute": text, "action": text}
    subject, verb_phrase = tokens[:verb_at], tokens[verb_at:]
    while subject and subject[-1].lower() in (_AUXILIARIES | _CLAUSE_WORDS):
        word = subject.pop()
        if word.lower() in _AUXILIARIES:  # "is walking": the auxiliary belongs to the action
            verb_phrase.insert(0, word.lower())
    det, head = _head(subject)
    attribute = _join(subject) or f"{det} {head}"
    rel = "who" if target_class_of(head) == "person" else "that"
    action = f"{det} {head} {rel} {_join(verb_phrase)}"
    return {"target_class": target_class_of(head), "attribute": attribute, "action": action}


def _question(tokens: list[str]) -> dict[str, str]:
    """``who ...`` -> a person; ``what/which <noun> ...`` -> that noun; rest is the action."""
    first = tokens[0].lower()
    if first in ("who", "whom", "whose"):
        noun, rest = "person", tokens[1:]
    elif len(tokens) > 2 and not _base(tokens[1]) and tokens[1].lower() not in _AUXILIARIES:
        noun, rest = tokens[1].lower(), tokens[2:]
    else:
        noun, rest = "object", tokens[1:]
    cls = target_class_of(noun)
    noun = "person" if cls == "person" else noun
    phrase = f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"
    rel = "who" if cls == "person" else "that"
    action = f"{phrase} {rel} {_join(rest)}".strip() if rest else phrase
    return {"target_class": cls, "attribute": phrase, "action": action}


def _join(tokens: list[str]) -> str:
    out = ""
    for tok in tokens:
        out += tok if (not out or not tok[0].isalnum() and tok[0] not in '("') else " " + tok
    return out.strip()
