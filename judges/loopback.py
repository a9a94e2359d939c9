"""An OpenAI-compatible judge server on 127.0.0.1, for tests, benchmarks and offline demos.

It speaks ``POST /v1/chat/completions`` and ``POST /v1/completions`` (the standard library's
threading HTTP server, HTTP/1.1 keep-alive) and answers like a judge: "harmful" when the judged text
contains ``Sure`` (the convention of the tiny test fixtures), else "safe", in the reply format the
request asks for (RedEval tags, a guard's ``safe``/``unsafe``, HarmBench's ``Yes``/``No``).
``GET /v1/stats`` counts the requests received so far.

Faults are injected by markers in the request text, per distinct request body:
``FAULT:429`` (first attempt: 429 with ``Retry-After: 1``), ``FAULT:500`` (first two attempts: 500),
``FAULT:TIMEOUT`` (first attempt: no answer for ``stall_s`` seconds), ``FAULT:NOVERDICT`` (every
attempt: a reply without a verdict), ``FAULT:ECHOKEY`` (the reply or error message quotes the request's
``Authorization`` header, as a careless proxy might). Every request is recorded. ``flip=True`` gives
every verdict the other way round: a second server that disagrees with the first.

Run it alone: ``python -m resta_bench.judges.loopback --delay 0.1`` prints its base URL and serves until
killed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

STALL = 0  # the status recorded for a request the server never answers


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    body: dict[str, Any]
    status: int
    time: float

    @property
    def text(self) -> str:
        """All the text the request carries (messages or prompt), joined."""
        if "messages" in self.body:
            return "\n".join(str(m.get("content", "")) for m in self.body["messages"])
        return str(self.body.get("prompt", ""))


def judge_reply(body: dict[str, Any], judged_text: str, *, flip: bool = False) -> str:
    harmful = ("Sure" in judged_text) != flip
    messages = body.get("messages")
    if messages is None:  # a raw completion prompt: the HarmBench classifier
        return "Yes" if harmful else "No"
    if messages[-1].get("role") == "assistant":  # a guard model judges the last assistant turn
        return "unsafe\nS2" if harmful else "safe"
    return "The response is evaluated. " + ("[[B]]" if harmful else "[[A]]")


class LoopbackJudgeServer:
    """``with LoopbackJudgeServer(delay_s=0.1, api_key="k") as server: server.base_url``"""

    def __init__(
        self,
        *,
        delay_s: float = 0.0,
        api_key: str | None = None,
        stall_s: float = 3.0,
        port: int = 0,
        flip: bool = False,
    ):
        self.delay_s = delay_s
        self.api_key = api_key
        self.stall_s = stall_s
        self.flip = flip
        self.requests: list[RecordedRequest] = []
        self._attempts: Counter[str] = Counter()
        self.in_flight = 0
        self.peak_in_flight = 0  # the most requests it was answering at once
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", port), self._handler_class())
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def start(self) -> LoopbackJudgeServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> LoopbackJudgeServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def answered(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.status == 200]

    def _decide(self, raw_body: bytes, body: dict[str, Any], authorization: str | None) -> tuple[int, str]:
        """(status, reply text or error message) for one request; status STALL means never answer."""
        text = RecordedRequest("", body, 0, 0.0).text
        status, said = self._answer(raw_body, body, text, authorization)
        if "FAULT:ECHOKEY" in text:
            said = f"You sent Authorization: {authorization}. {said}"
        return status, said

    def _answer(
        self, raw_body: bytes, body: dict[str, Any], text: str, authorization: str | None
    ) -> tuple[int, str]:
        digest = hashlib.sha256(raw_body).hexdigest()
        with self._lock:
            self._attempts[digest] += 1
            attempt = self._attempts[digest]
        if self.api_key is not None and authorization != f"Bearer {self.api_key}":
            return 401, "invalid api key"
        if "FAULT:429" in text and attempt == 1:
            return 429, "rate limited"
        if "FAULT:500" in text and attempt <= 2:
            return 500, "internal error"
        if "FAULT:TIMEOUT" in text and attempt == 1:
            return STALL, ""
        if "FAULT:NOVERDICT" in text:
            return 200, "I am not sure what to say."
        return 200, judge_reply(body, text, flip=self.flip)

    @contextmanager
    def _in_flight(self) -> Iterator[None]:
        with self._lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            yield
        finally:
            with self._lock:
                self.in_flight -= 1

    def _record(self, path: str, body: dict[str, Any], status: int) -> None:
        with self._lock:
            self.requests.append(RecordedRequest(path, body, status, time.monotonic()))

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (quiet)
                pass

            def do_GET(self) -> None:  # noqa: N802  (http.server's naming)
                if self.path != "/v1/stats":
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                with server._lock:
                    self._send(200, {"requests": len(server.requests)})

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    body = json.loads(raw)
                except ValueError:
                    self._send(400, {"error": {"message": "body is not JSON"}})
                    return
                if self.path not in ("/v1/chat/completions", "/v1/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                status, text = server._decide(raw, body, self.headers.get("Authorization"))
                server._record(self.path, body, status)
                with server._in_flight():
                    if status == STALL:
                        time.sleep(server.stall_s)
                        self.close_connection = True
                        return
                    time.sleep(server.delay_s)
                if status != 200:
                    self._send(status, {"error": {"message": text}}, retry_after=status == 429)
                    return
                self._send(200, _completion(self.path, body, text))

            def _send(self, status: int, payload: dict[str, Any], retry_after: bool = False) -> None:
                data = json.dumps(payload).encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    if retry_after:
                        self.send_header("Retry-After", "1")
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

        return Handler


class _Server(ThreadingHTTPServer):
    request_queue_size = 1024  # many clients connect at once; never drop a SYN
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that stops (a run ended by an error, or killed) resets its connections: not news.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _completion(path: str, body: dict[str, Any], text: str) -> dict[str, Any]:
    common = {"id": "cmpl-loopback", "created": int(time.time()), "model": body.get("model", "loopback")}
    usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    if path.endswith("/chat/completions"):
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        return {**common, "object": "chat.completion", "choices": [choice], "usage": usage}
    choice = {"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}
    return {**common, "object": "text_completion", "choices": [choice], "usage": usage}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--api-key", default=None, help="require this bearer token")
    parser.add_argument("--flip", action="store_true", help="give every verdict the other way round")
    args = parser.parse_args()
    server = LoopbackJudgeServer(delay_s=args.delay, api_key=args.api_key, port=args.port, flip=args.flip)
    print(server.base_url, flush=True)
    try:
        server._httpd.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
