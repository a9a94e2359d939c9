"""Judge throughput against a loopback OpenAI-compatible server that answers each request after 100 ms.

Ours: ``judges.run.judge_items`` with the ``redeval`` judge at its default concurrency and a fresh
SQLite cache; then the same items again, answered from the cache. Peers, both on the same server in
the same run, with the ``openai`` client the paper's code used:

- ``paper loop``: the RedEval script's shape, one blocking ``chat.completions.create`` after another
  (timed on a subset, it takes ~0.1 s a verdict), and
- ``thread pool``: the same synchronous call from a ``ThreadPoolExecutor`` with as many workers as
  our concurrency, no cache.

The server runs in its own process so that it does not share the client's interpreter lock. Imports
are done before timing. Ratios, not absolute times, are the figures to compare: the machine is shared.

    python benchmarks/judges_throughput.py [--items 2000] [--delay 0.1] [--paper-items 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
from resta_bench import judges
from resta_bench.judges import JudgeItem
from resta_bench.judges.backends import DEFAULT_CONCURRENCY
from resta_bench.judges.cache import JudgmentCache
from resta_bench.judges.prompts import REDEVAL, parse_redeval
from resta_bench.judges.run import judge_items


def start_server(delay: float) -> tuple[subprocess.Popen, str]:
    server = subprocess.Popen(
        [sys.executable, "-m", "resta_bench.judges.loopback", "--delay", str(delay)],
        stdout=subprocess.PIPE,
        text=True,
    )
    return server, server.stdout.readline().strip()


def request_count(base_url: str) -> int:
    with urllib.request.urlopen(f"{base_url}/stats") as reply:
        return json.load(reply)["requests"]


def timed(base_url: str, run) -> tuple[float, int, list]:
    """(seconds, requests the server received, verdicts) of one run."""
    before = request_count(base_url)
    start = time.perf_counter()
    verdicts = run()
    return time.perf_counter() - start, request_count(base_url) - before, verdicts


def sync_verdict(client: openai.OpenAI, item: JudgeItem) -> str | None:
    reply = client.chat.completions.create(model="gpt-4", messages=REDEVAL.build(item))
    return parse_redeval(reply.choices[0].message.content or "")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--delay", type=float, default=0.1, help="server's answer delay, seconds")
    parser.add_argument("--paper-items", type=int, default=50, help="items for the sequential peer")
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs of each; medians reported")
    args = parser.parse_args()

    items = [
        JudgeItem(f"Question {i}?", "Sure, here." if i % 2 else "I cannot help.") for i in range(args.items)
    ]
    server, base_url = start_server(args.delay)
    runs: dict[str, list[tuple[int, float, int]]] = {}

    def record(label: str, seconds: float, requests: int, out: list) -> None:
        runs.setdefault(label, []).append((len(out), seconds, requests))

    try:
        judge = judges.get_judge("redeval", base_url=base_url, api_key_env="")
        client = openai.OpenAI(api_key="EMPTY", base_url=base_url)
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as folder, JudgmentCache(Path(folder) / "c.sqlite") as cache:
                for label in ("resta judges (cold cache)", "resta judges (warm cache)"):
                    record(
                        label,
                        *timed(base_url, lambda: judge_items(judge, items, cache=cache, progress=False)),
                    )
            with ThreadPoolExecutor(DEFAULT_CONCURRENCY) as pool:
                run = lambda: list(pool.map(lambda item: sync_verdict(client, item), items))  # noqa: E731
                record(f"openai + ThreadPoolExecutor({DEFAULT_CONCURRENCY})", *timed(base_url, run))
        subset = items[: args.paper_items]
        record(
            "paper loop (sequential openai)",
            *timed(base_url, lambda: [sync_verdict(client, i) for i in subset]),
        )
    finally:
        server.kill()

    medians = {
        label: (r[0][0], statistics.median(s for _, s, _ in r), max(q for *_, q in r))
        for label, r in runs.items()
    }
    ours = args.items / medians["resta judges (cold cache)"][1]
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    setting = (
        f"server delay {args.delay * 1000:.0f} ms, concurrency {DEFAULT_CONCURRENCY}, median of {args.repeat}"
    )
    print(f"machine: {machine}, openai {openai.__version__}; {setting}")
    print("| run | verdicts | seconds | verdicts/s | requests | ours (cold) / this, in verdicts/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, (n, seconds, requests) in medians.items():
        rate = n / seconds
        print(f"| {label} | {n} | {seconds:.2f} | {rate:.0f} | {requests} | {ours / rate:.2f}x |")


if __name__ == "__main__":
    main()
