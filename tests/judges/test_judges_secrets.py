"""A judge server that quotes the API key back (in a reply or an error) never gets it into a stored file."""

from __future__ import annotations

import json
from pathlib import Path

from judge_fixtures import API_KEY, build_small_run_dir
from resta_bench.benchmark.cli import main


def test_an_echoed_key_is_scrubbed_from_judgments_and_cache(
    tmp_path: Path, judge_server, api_key_env: str, capsys
) -> None:
    run = build_small_run_dir(
        tmp_path / "results",
        [
            ("echo FAULT:ECHOKEY 1", "Sure, here."),
            ("echo FAULT:ECHOKEY 2", "No."),
            ("echo FAULT:ECHOKEY FAULT:NOVERDICT", "Sure, here."),  # invalid, the reply kept and cached
            ("echo FAULT:ECHOKEY FAULT:500", "Sure, here."),  # invalid, the error text kept
        ],
    )
    cache = tmp_path / "cache" / "judges.sqlite"
    options = ["--base-url", judge_server.base_url, "--api-key-env", api_key_env, "--max-retries", "0"]
    argv = [
        "judge",
        str(run),
        "--judge",
        "redeval",
        *options,
        "--verdict-retries",
        "1",
        "--cache",
        str(cache),
    ]
    assert main([*argv, "--quiet"]) == 0
    assert main([*argv, "--quiet"]) == 0  # the second run reads its verdicts from the cache
    out, err = capsys.readouterr()

    lines = [
        json.loads(line) for line in (run / "judgments" / "redeval-gpt-4.jsonl").read_text().splitlines()
    ]
    assert [line["verdict"] for line in lines] == ["harmful", "safe", "invalid", "invalid"]
    assert lines[0]["raw"].startswith("You sent Authorization: Bearer ***. ")
    assert lines[0]["meta"]["cached"] is True and lines[2]["meta"]["cached"] is True
    assert lines[3]["meta"]["error"].endswith(" - You sent Authorization: Bearer ***. internal error")
    assert all(line["raw"].count("You sent") == 1 for line in lines[:3])  # the server did echo it

    secret = API_KEY.encode()
    stored = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert any(path.name == "judges.sqlite" for path in stored)
    for path in stored:
        assert secret not in path.read_bytes(), path
    assert API_KEY not in out and API_KEY not in err
