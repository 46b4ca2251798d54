"""A tiny OpenAI-compatible ``POST /v1/chat/completions`` server on 127.0.0.1 (stdlib only).

Tests and ``benchmarks/bench_decompose.py`` point the real ``openai`` client at it, so the whole
request path (HTTP, JSON, retries, timeouts) runs without a network or a key. Each request gets a
*mode*; a per-query script picks the next mode for that query, else ``default_mode``:

- ``ok``: a well-formed completion whose content is the answer (plain JSON when the request asked
  for ``response_format``; JSON inside prose and a code fence when it did not, as chat models do);
- ``429``: rate limited, with a ``Retry-After`` header of ``retry_after_s`` seconds;
- ``500`` (or any other status code): that status with an error body;
- ``hang``: sleep ``hang_s`` before answering (past the client's timeout);
- ``malformed``: HTTP 200 whose body is not JSON;
- ``refusal``: ``message.refusal`` set and no content;
- ``garbage``: HTTP 200 whose content is not JSON at all.

``structured=False`` answers 400 to ``response_format: json_schema`` (servers without structured
outputs); ``json_mode=False`` also to ``json_object``. The server counts requests per mode and
records which requests carried the expected bearer token, never the token itself.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = dict[str, str]


def default_answer(query: str) -> Answer:
    """A deterministic answer the tests can predict: the query split at its first ' and '."""
    attribute, _, action = query.partition(" and ")
    return {
        "target_class": "person",
        "attribute": attribute.strip() or query,
        "action": (action or query).strip(),
    }


def query_of(messages: Sequence[Mapping[str, Any]]) -> str:
    """The query inside the last user message (``Query: "..."`` in the packaged prompt)."""
    text = str(messages[-1].get("content", ""))
    if '"' in text:
        return text[text.index('"') + 1 : text.rindex('"')]
    return text.removeprefix("Query:").strip()


class FakeChatServer:
    """Start with ``with FakeChatServer(...) as server:``; ``server.base_url`` ends in ``/v1``."""

    def __init__(
        self,
        *,
        default_mode: str = "ok",
        script: Mapping[str, Sequence[str]] | None = None,
        answer: Callable[[str], Answer] = default_answer,
        latency_s: float = 0.0,
        retry_after_s: float = 0.2,
        hang_s: float = 2.0,
        structured: bool = True,
        json_mode: bool = True,
        expected_key: str | None = None,
    ) -> None:
        self.default_mode = default_mode
        self._script = {q: list(modes) for q, modes in (script or {}).items()}
        self.answer = answer
        self.latency_s = latency_s
        self.retry_after_s = retry_after_s
        self.hang_s = hang_s
        self.structured = structured
        self.json_mode = json_mode
        self.expected_key = expected_key
        self.lock = threading.Lock()
        self.modes: Counter[str] = Counter()
        self.response_formats: Counter[str] = Counter()
        self.per_query: Counter[str] = Counter()
        self.times: dict[str, list[float]] = {}
        self.auth_ok = 0
        self.auth_bad = 0
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def n_requests(self) -> int:
        with self.lock:
            return sum(self.modes.values())

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def next_mode(self, query: str, response_format: str) -> str:
        with self.lock:
            self.per_query[query] += 1
            self.times.setdefault(query, []).append(time.monotonic())
            self.response_formats[response_format] += 1
            if response_format == "json_schema" and not self.structured:
                mode = "unsupported"
            elif response_format == "json_object" and not self.json_mode:
                mode = "unsupported"
            else:
                queue = self._script.get(query)
                mode = queue.pop(0) if queue else self.default_mode
            self.modes[mode] += 1
            return mode

    def __enter__(self) -> FakeChatServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: the client reuses its connections

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                return

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                if server.expected_key is not None:
                    ok = self.headers.get("Authorization") == f"Bearer {server.expected_key}"
                    with server.lock:
                        server.auth_ok += ok
                        server.auth_bad += not ok
                if not self.path.endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                query = query_of(body["messages"])
                fmt = (body.get("response_format") or {}).get("type", "none")
                mode = server.next_mode(query, fmt)
                time.sleep(server.latency_s)
                try:
                    self._answer(mode, body, query, fmt)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client gave up (timeout); nothing to answer

            def _answer(self, mode: str, body: dict[str, Any], query: str, fmt: str) -> None:
                if mode == "429":
                    self._send(
                        429,
                        {"error": {"message": "rate limited", "type": "rate_limit"}},
                        {"Retry-After": f"{server.retry_after_s:g}"},
                    )
                elif mode.isdigit():  # "500", "401", ...: that status with an error body
                    self._send(
                        int(mode), {"error": {"message": f"status {mode}", "type": "server_error"}}
                    )
                elif mode == "unsupported":
                    self._send(
                        400,
                        {
                            "error": {
                                "message": f"response_format {fmt} is not supported by this server",
                                "type": "invalid_request_error",
                                "param": "response_format",
                            }
                        },
                    )
                elif mode == "malformed":
                    self._send_raw(200, b'{"id": "chatcmpl-x", "choices": [{"message": ')
                else:
                    if mode == "hang":
                        time.sleep(server.hang_s)
                    refusal = None
                    if mode == "refusal":
                        content, refusal = None, "I can't help with that."
                    elif mode == "garbage":
                        content = "The target is a man; I am not sure about the rest."
                    elif fmt == "none":
                        content = (
                            "Sure! Here is the decomposition:\n```json\n"
                            + json.dumps(server.answer(query), indent=1)
                            + "\n```"
                        )
                    else:
                        content = json.dumps(server.answer(query))
                    prompt_chars = sum(len(str(m.get("content", ""))) for m in body["messages"])
                    completion_tokens = len(content or refusal or "") // 4
                    self._send(
                        200,
                        {
                            "id": "chatcmpl-fake",
                            "object": "chat.completion",
                            "created": 0,
                            "model": body.get("model", "fake"),
                            "choices": [
                                {
                                    "index": 0,
                                    "finish_reason": "stop",
                                    "message": {
                                        "role": "assistant",
                                        "content": content,
                                        "refusal": refusal,
                                    },
                                }
                            ],
                            "usage": {
                                "prompt_tokens": prompt_chars // 4,
                                "completion_tokens": completion_tokens,
                                "total_tokens": prompt_chars // 4 + completion_tokens,
                            },
                        },
                    )

            def _send(self, status: int, obj: Any, headers: Mapping[str, str] = {}) -> None:
                self._send_raw(status, json.dumps(obj).encode(), headers)

            def _send_raw(self, status: int, data: bytes, headers: Mapping[str, str] = {}) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        httpd.block_on_close = False
        self._httpd = httpd
        threading.Thread(target=httpd.serve_forever, name="fake-openai", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
