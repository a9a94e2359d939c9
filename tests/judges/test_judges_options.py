"""Judge options are checked before any work: in Python a JudgeError naming the option, on the command
line one line naming the flag (exit 2), and in both cases no request, no cache, no judgments."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from resta_bench import judges
from resta_bench.benchmark.cli import main

# (option, bad value, its flag): every number a judge takes, out of range or not finite.
BAD_NUMBERS = [
    ("verdict_retries", -1, "--verdict-retries"),
    ("max_retries", -1, "--max-retries"),
    ("concurrency", 0, "--concurrency"),
    ("max_tokens", 0, "--max-tokens"),
    ("batch_size", 0, "--batch-size"),
    ("timeout_s", 0.0, "--timeout"),
    ("timeout_s", math.inf, "--timeout"),
    ("timeout_s", math.nan, "--timeout"),
    ("temperature", math.nan, "--temperature"),
    ("temperature", math.inf, "--temperature"),
    ("temperature", -math.inf, "--temperature"),
    ("temperature", -0.5, "--temperature"),
]


@pytest.mark.parametrize(("name", "value", "flag"), BAD_NUMBERS)
def test_the_library_refuses_a_bad_number(
    judge_server, api_key_env: str, name: str, value, flag: str
) -> None:
    with pytest.raises(judges.JudgeError, match=rf"^{name} \({flag}\): must be") as caught:
        judges.get_judge("redeval", base_url=judge_server.base_url, api_key_env=api_key_env, **{name: value})
    assert len(str(caught.value).splitlines()) == 1
    assert judge_server.requests == []


@pytest.mark.parametrize(("name", "value", "flag"), BAD_NUMBERS)
def test_the_command_line_refuses_a_bad_number_before_any_work(
    run_dir: Path, tmp_path: Path, judge_server, api_key_env: str, capsys, name: str, value, flag: str
) -> None:
    cache = tmp_path / "cache.sqlite"
    options = ["--base-url", judge_server.base_url, "--api-key-env", api_key_env, "--cache", str(cache)]
    code = main(["judge", str(run_dir), "--judge", "redeval", *options, f"{flag}={value}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("resta judge: error: ") and flag in err[0], err
    assert judge_server.requests == []
    assert not cache.exists() and not (run_dir / "judgments").exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"verdict_retries": 1.5}, r"verdict_retries \(--verdict-retries\): must be a whole number"),
        ({"concurrency": "8"}, r"concurrency \(--concurrency\): must be a whole number"),
        ({"concurrency": None}, r"concurrency \(--concurrency\): must be a whole number"),
        ({"temperature": True}, r"temperature \(--temperature\): must be a number"),
        ({"model": 3}, r"model \(--model\): must be a string"),
        ({"model": ""}, r"model \(--model\): must not be empty"),
        ({"languages": "en"}, r"languages \(--languages\): must be a list of strings"),
        ({"engine": "gpu"}, r"engine \(--engine\): must be one of auto, api, vllm, transformers"),
        ({"base_url": "localhost:8000/v1"}, r"base_url \(--base-url\): must start with http:// or https://"),
        ({"judge_id": "../elsewhere"}, r"judge_id \(--judge-id\): '../elsewhere' cannot name a file"),
        ({"model": "org/.."}, r"judge id: 'redeval-..' cannot name a file"),
    ],
)
def test_options_from_python_or_an_experiment_file_are_checked(
    judge_server, api_key_env: str, options: dict, message: str
) -> None:
    with pytest.raises(judges.JudgeError, match=message):
        judges.get_judge(
            "redeval", **{"base_url": judge_server.base_url, "api_key_env": api_key_env, **options}
        )


def test_defaults_pass_their_own_checks_and_live_in_one_place() -> None:
    from resta_bench.judges.options import DEFAULTS, ModelOptions

    assert ModelOptions.parse("redeval", {}) == DEFAULTS
    judge = judges.get_judge("redeval", api_key_env="")
    assert (
        judge.backend.concurrency == DEFAULTS.concurrency
        and judge.verdict_retries == DEFAULTS.verdict_retries
    )


def test_help_shows_the_defaults(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["judge", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--verdict-retries VERDICT_RETRIES" in text and "(default 4)" in text
    assert "--timeout TIMEOUT" in text and "(default 60.0)" in text
