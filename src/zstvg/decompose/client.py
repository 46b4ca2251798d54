"""Ask an OpenAI-compatible chat server to decompose queries: retries, fallbacks, concurrency.

Per query, one request at a time with the shared *response mode*: structured outputs
(``response_format: json_schema``, strict) first; a server that answers 400 to it is asked with
JSON mode (``json_object``), and then with no response format and tolerant parsing. A mode that
worked after a downgrade becomes the mode of every later request, so a server without structured
outputs costs one extra request per mode, not one per query.

Transient failures (429, 5xx, timeouts, connection errors, a 200 whose body is not JSON) are
retried up to ``max_retries`` times with exponential backoff and full jitter
(``uniform(0, min(backoff_max_s, backoff_initial_s * 2**attempt))``); a server's Retry-After is
a floor on the delay, capped by ``backoff_max_s``. A refusal or an answer that fails the schema
is asked again up to ``CONTENT_RETRIES`` times (at temperature 0 a third identical ask rarely
differs) and then reported with flag ``refusal`` / ``unparsable``; the caller sends those to the
rule-based fallback. 401/403/404 stop the run (a wrong key, base URL or model fails every query
alike); other 4xx fail that query only (flag ``api_error``).

The key is passed in by the caller (read from ``OPENAI_API_KEY`` only) and never logged: every
message built here passes through ``_redact``.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from zstvg.config.params import DecomposeConfig
from zstvg.decompose.prompts import PromptTemplate
from zstvg.files.decompositions import ANSWER_SCHEMA, parse_answer
from zstvg.files.io import InputError

if TYPE_CHECKING:
    from tqdm import tqdm

log = logging.getLogger(__name__)

MODES = ("json_schema", "json_object", "text")
CONTENT_RETRIES = 2
_FATAL_STATUS = {
    401: "authentication failed (check OPENAI_API_KEY)",
    403: "permission denied (check OPENAI_API_KEY and the model's access)",
    404: "not found (check decompose.base_url and decompose.model)",
}


class FatalAPIError(InputError):
    """An error every request would hit (bad key, base URL or model): stop the run."""


@dataclass
class Usage:
    """Token counts and request counts, summed over every request that got an answer."""

    requests: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, other: Usage) -> None:
        self.requests += other.requests
        self.retries += other.retries
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens

    def cost_usd(self, cfg: DecomposeConfig) -> float:
        return (
            self.prompt_tokens * cfg.usd_per_1m_input_tokens
            + self.completion_tokens * cfg.usd_per_1m_output_tokens
        ) / 1e6

    def to_json(self, cfg: DecomposeConfig) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "retries": self.retries,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "estimated_cost_usd": round(self.cost_usd(cfg), 6),
        }


@dataclass
class Outcome:
    """What one query got: a validated answer, or None with the flags saying why."""

    query: str
    answer: dict[str, str] | None
    flags: tuple[str, ...] = ()
    error: str | None = None
    mode: str | None = None
    usage: Usage = field(default_factory=Usage)


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds a server asks us to wait: ``retry-after-ms``, ``retry-after`` (s or HTTP date)."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return None
    return max(0.0, email.utils.mktime_tz(parsed) - time.time())


def retry_delay(
    attempt: int,
    *,
    initial_s: float,
    max_s: float,
    retry_after_s: float | None,
    rng: random.Random,
) -> float:
    """Delay before retry number ``attempt`` (0-based): full jitter, Retry-After as a floor."""
    delay = rng.uniform(0.0, min(max_s, initial_s * 2.0**attempt))
    if retry_after_s is not None:
        delay = max(delay, retry_after_s)
    return min(delay, max_s)


def _response_format(mode: str) -> dict[str, Any] | None:
    if mode == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {"name": "query_decomposition", "strict": True, "schema": ANSWER_SCHEMA},
        }
    if mode == "json_object":
        return {"type": "json_object"}
    return None


@dataclass
class _Attempts:
    """Where one query's requests stand: its response mode, retries used, tokens spent."""

    mode_index: int
    usage: Usage = field(default_factory=Usage)
    transient: int = 0  # retries after 408/409/429/5xx, timeouts, broken bodies
    content_tries: int = 0  # retries after a refused or unparsable answer

    @property
    def mode(self) -> str:
        return MODES[self.mode_index]

    def failed(self, query: str, flag: str, error: str) -> Outcome:
        return Outcome(query, None, (flag,), error, self.mode, self.usage)


@dataclass(frozen=True)
class _Transient:
    """A failure worth retrying after a delay (``retry_after_s``: the server's floor)."""

    reason: str
    retry_after_s: float | None


class Decomposer:
    """Decompose many queries concurrently against one OpenAI-compatible server."""

    def __init__(
        self,
        cfg: DecomposeConfig,
        prompt: PromptTemplate,
        *,
        api_key: str,
        base_url: str | None = None,
        seed: int = 0,
    ) -> None:
        self.cfg = cfg
        self.prompt = prompt
        self._api_key = api_key
        self.base_url = base_url or None
        self.endpoint = base_url or "the client's default base URL"
        self._mode_index = 0
        self._rng = random.Random(seed)

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    def run(
        self,
        queries: Sequence[str],
        on_outcome: Callable[[Outcome], None] | None = None,
        progress: bool = True,
    ) -> dict[str, Outcome]:
        """Blocking entry point: decompose ``queries`` (unique) and return outcomes by query."""
        return asyncio.run(self.run_async(queries, on_outcome, progress))

    async def run_async(
        self,
        queries: Sequence[str],
        on_outcome: Callable[[Outcome], None] | None = None,
        progress: bool = True,
    ) -> dict[str, Outcome]:
        import openai

        from zstvg.jobs.progress import progress as progress_bar

        client = openai.AsyncOpenAI(
            api_key=self._api_key,
            base_url=self.base_url,
            timeout=self.cfg.timeout_s,
            max_retries=0,  # retries are ours: jitter, Retry-After cap, counting
        )
        # What the client really talks to: decompose.base_url, else OPENAI_BASE_URL, else
        # api.openai.com (messages name it, so a wrong endpoint is visible at once).
        self.endpoint = str(client.base_url)
        todo: asyncio.Queue[str] = asyncio.Queue()
        for q in queries:
            todo.put_nowait(q)
        outcomes: dict[str, Outcome] = {}
        bar: tqdm[Any] = progress_bar(
            desc="decompose", unit="query", total=len(queries), enabled=progress
        )

        async def worker() -> None:
            while True:
                try:
                    query = todo.get_nowait()
                except asyncio.QueueEmpty:
                    return
                outcome = await self._one(client, query)
                outcomes[query] = outcome
                if on_outcome is not None:  # a cache write: file I/O off the event loop
                    await asyncio.to_thread(on_outcome, outcome)
                bar.update(1)

        n_workers = max(1, min(self.cfg.max_concurrency, len(queries)))
        tasks = [asyncio.create_task(worker()) for _ in range(n_workers)]
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            bar.close()
            await client.close()
        return outcomes

    async def _one(self, client: Any, query: str) -> Outcome:
        """Ask until ``query`` gets a valid answer or runs out of modes and retries."""
        attempts = _Attempts(mode_index=self._mode_index)
        messages = self.prompt.render(query)
        while True:
            result = await self._request(client, query, messages, attempts)
            if isinstance(result, Outcome):
                return result
            if isinstance(result, _Transient):
                outcome = await self._back_off(query, attempts, result)
                if outcome is not None:
                    return outcome
            # else: ask again (a downgraded mode, or a refused or unparsable answer)

    async def _request(
        self, client: Any, query: str, messages: Any, attempts: _Attempts
    ) -> Outcome | _Transient | None:
        """One request in the current mode: the query's outcome, a transient failure to back off
        from, or None to ask again at once."""
        import openai
        from openai.types.chat import ChatCompletion

        mode = attempts.mode
        body: dict[str, Any] = {
            "model": self.cfg.model,
            "messages": messages,
            "temperature": self.cfg.temperature,
        }
        if (fmt := _response_format(mode)) is not None:
            body["response_format"] = fmt
        attempts.usage.requests += 1
        try:
            # The client's generic POST (its documented way to reach any endpoint) sends
            # the same request as chat.completions.create without the typed-params
            # transform, which walks the 13-message few-shot prompt on every call: 6-20 ms
            # of CPU per request measured here, more than the rest of the client together.
            resp = await client.post("/chat/completions", body=body, cast_to=ChatCompletion)
        except openai.BadRequestError as exc:
            if attempts.mode_index + 1 < len(MODES):
                log.debug(
                    "query %r: %s refused (%s); trying %s",
                    query,
                    mode,
                    self._redact(str(exc)),
                    MODES[attempts.mode_index + 1],
                )
                attempts.mode_index += 1
                return None
            return attempts.failed(query, "api_error", self._redact(str(exc)))
        except openai.APIStatusError as exc:
            return self._status_error(query, exc, attempts)
        except (
            openai.APIConnectionError,
            openai.APIResponseValidationError,
            json.JSONDecodeError,
        ) as exc:  # timeouts are APIConnectionErrors
            return _Transient(type(exc).__name__, None)
        return self._read_answer(query, resp, attempts)

    def _status_error(self, query: str, exc: Any, attempts: _Attempts) -> Outcome | _Transient:
        """An HTTP error: fatal for the run (401/403/404), transient (408, 409, 429, 5xx), or
        this query's failure (any other 4xx)."""
        status = exc.status_code
        if status in _FATAL_STATUS:
            raise FatalAPIError(
                f"decompose: {self.cfg.model} at {self.endpoint}"
                f": HTTP {status} {_FATAL_STATUS[status]}: {self._redact(str(exc))}"
            ) from None
        if status not in (408, 409, 429) and status < 500:
            return attempts.failed(query, "api_error", self._redact(str(exc)))
        return _Transient(f"HTTP {status}", parse_retry_after(exc.response.headers))

    def _read_answer(self, query: str, resp: Any, attempts: _Attempts) -> Outcome | None:
        """The outcome of a 200: a valid answer (its mode becomes every later request's), a
        refused or unparsable one past its retries, or None to ask again."""
        usage = attempts.usage
        if resp.usage is not None:
            usage.prompt_tokens += resp.usage.prompt_tokens or 0
            usage.completion_tokens += resp.usage.completion_tokens or 0
        message = resp.choices[0].message if resp.choices else None
        if message is not None and getattr(message, "refusal", None):
            content_flag = "refusal"
        else:
            answer = parse_answer(message.content if message is not None else None)
            if answer is not None:
                if attempts.mode_index > self._mode_index:
                    log.warning(
                        "the server does not support %s; using %s from now on",
                        MODES[self._mode_index],
                        attempts.mode,
                    )
                    self._mode_index = attempts.mode_index
                return Outcome(query, answer, (), None, attempts.mode, usage)
            content_flag = "unparsable"
        if attempts.content_tries >= min(CONTENT_RETRIES, self.cfg.max_retries):
            error = f"{content_flag} answer after {attempts.content_tries + 1} requests"
            return attempts.failed(query, content_flag, error)
        attempts.content_tries += 1
        usage.retries += 1
        log.debug("query %r: %s answer, asking again", query, content_flag)
        return None

    async def _back_off(
        self, query: str, attempts: _Attempts, failure: _Transient
    ) -> Outcome | None:
        """Wait before the next try of a transient failure; its outcome once retries are out."""
        if attempts.transient >= self.cfg.max_retries:
            error = f"{failure.reason} after {attempts.transient + 1} requests"
            return attempts.failed(query, "api_error", error)
        delay = retry_delay(
            attempts.transient,
            initial_s=self.cfg.backoff_initial_s,
            max_s=self.cfg.backoff_max_s,
            retry_after_s=failure.retry_after_s,
            rng=self._rng,
        )
        attempts.transient += 1
        attempts.usage.retries += 1
        log.debug(
            "query %r: %s, retry %d in %.2f s", query, failure.reason, attempts.transient, delay
        )
        await asyncio.sleep(delay)
        return None
