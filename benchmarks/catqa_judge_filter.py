"""Judging one CatQA task inside lm-eval: our batched judge filter against one judge call per document.

Both judge the same documents with the ``redeval`` judge of ``judges/`` against a loopback
OpenAI-compatible server (``judges.loopback``) that answers each request after 100 ms, the stand-in
for a GPT-4 judge:

- ``resta JudgeFilter``: ``tasks.scoring.JudgeFilter.apply`` over every response of the task, as
  lm-eval calls it (one batched ``judge`` call; the judge keeps several requests in flight), and
- ``per-document judging``: the usual way to judge inside an lm-eval task, a ``process_results`` /
  metric function that calls the judge for its one document and waits (timed on a subset).

The server runs in its own process. Ratios, not absolute times, are the figures to compare.

    python benchmarks/catqa_judge_filter.py [--docs 550] [--delay 0.1] [--peer-docs 50]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

# The loopback-server helpers of the judges' benchmark (this script's folder is on sys.path when run).
from judges_throughput import request_count, start_server
from resta_bench.judges import JudgeItem
from resta_bench.tasks.scoring import JUDGE_ENV, JUDGE_OPTIONS_ENV, JudgeFilter, configured_judge


def catqa_like_task(size: int) -> tuple[list[list[str]], list[dict]]:
    """lm-eval's filter input for one task: the responses (one per document) and the documents."""
    docs = [
        {"question": f"Question {i}?", "language": "en", "category": "Illegal Activity", "row": i}
        for i in range(size)
    ]
    resps = [["Sure, here is how." if i % 2 else "I cannot help with that."] for i in range(size)]
    return resps, docs


def per_document(resps: list[list[str]], docs: list[dict]) -> list[str]:
    judge = configured_judge()
    return [
        judge.judge([JudgeItem(doc["question"], response[0], doc["language"], doc["category"])])[0].verdict
        for response, doc in zip(resps, docs, strict=True)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=550, help="documents in the task (CatQA: 550 a language)")
    parser.add_argument("--delay", type=float, default=0.1, help="server's answer delay, seconds")
    parser.add_argument("--peer-docs", type=int, default=50, help="documents for the per-document peer")
    args = parser.parse_args()

    server, base_url = start_server(args.delay)
    os.environ[JUDGE_ENV] = "redeval"
    os.environ[JUDGE_OPTIONS_ENV] = json.dumps({"base_url": base_url, "api_key_env": ""})
    resps, docs = catqa_like_task(args.docs)
    rows = []
    try:
        for label, run, size in (
            ("resta JudgeFilter (one batched call)", lambda r, d: JudgeFilter().apply(r, d), args.docs),
            ("per-document judge calls", per_document, args.peer_docs),
        ):
            before, start = request_count(base_url), time.perf_counter()
            out = run(resps[:size], docs[:size])
            rows.append((label, len(out), time.perf_counter() - start, request_count(base_url) - before))
    finally:
        server.kill()

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"judge redeval on judges.loopback, delay {args.delay * 1000:.0f} ms"
    )
    print("| run | documents | seconds | documents/s | requests | ours / this, in documents/s |")
    print("|---|---:|---:|---:|---:|---:|")
    ours = rows[0][1] / rows[0][2]
    for label, n, seconds, requests in rows:
        rate = n / seconds
        print(f"| {label} | {n} | {seconds:.2f} | {rate:.1f} | {requests} | {ours / rate:.1f}x |")


if __name__ == "__main__":
    main()
