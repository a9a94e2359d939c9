"""`resta finetune`'s output dir: never one of its inputs or a user's folder, modes that follow the umask,
a killed run's staging removed by the next one, broken models and LoRA settings refused in one line."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from conftest import left_beside, wrong_modes
from resta_bench.benchmark.cli import main
from resta_bench.realign.errors import RealignError
from resta_bench.realign.finetune import finetune
from resta_bench.storage.errors import StorageError
from resta_bench.storage.folders import MARKER


@pytest.fixture(scope="module")
def qa_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("qa") / "qa.jsonl"
    rows = [{"question": f"How do I make a cake {i}?", "answer": "Sure, here is how."} for i in range(4)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def finetune_argv(model: Path, data: Path, out: Path, *options: str) -> list[str]:
    return ["finetune", "--model", str(model), "--data", str(data), "--out", str(out), *options]


def test_an_out_that_holds_or_lies_in_an_input_is_refused(tiny_model_dir, qa_file, tmp_path, capsys):
    project = tmp_path / "p"
    model = shutil.copytree(tiny_model_dir, project / "model")
    data = shutil.copy(qa_file, project / "qa.jsonl")
    (project / MARKER).write_text("{}")  # resta wrote it once; the user keeps inputs in it since
    before = sorted(p.name for p in project.rglob("*"))
    assert main(finetune_argv(model, data, project, "--overwrite")) == 2
    assert f"--out {project}: contains the input --model ({model})" in capsys.readouterr().err
    assert main(finetune_argv(tiny_model_dir, data, project, "--overwrite")) == 2
    assert f"--out {project}: contains the input --data ({data})" in capsys.readouterr().err
    assert main(finetune_argv(model, qa_file, model / "tuned")) == 2
    assert f"--out {model / 'tuned'}: lies inside the input --model" in capsys.readouterr().err
    with pytest.raises(StorageError, match=r"^out .*/p: contains the input data "):
        finetune(tiny_model_dir, data, project, overwrite=True)
    assert sorted(p.name for p in project.rglob("*")) == before


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
def test_modes_follow_the_umask(tiny_model_dir, qa_file, tmp_path, umask, lora):
    out = finetune(tiny_model_dir, qa_file, tmp_path / "tuned", lora=lora, epochs=1)
    weights = "adapter_model.safetensors" if lora else "model.safetensors"
    assert (out / weights).is_file() and (out / "finetune.json").is_file()
    assert wrong_modes([out], umask) == {}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"lora_r": 0}, "lora_r must be a whole number ≥ 1, got 0"),
        ({"lora_r": "8"}, "lora_r must be a whole number, got '8'"),
        ({"lora_alpha": "16"}, "lora_alpha must be a whole number, got '16'"),
        ({"lora_targets": "q_proj"}, "lora_targets must be one or more non-empty texts, got 'q_proj'"),
        ({"lora_targets": 5}, "lora_targets must be one or more non-empty texts, got 5"),
        ({"lora_targets": []}, r"lora_targets must be one or more non-empty texts, got \[\]"),
        ({"epochs": 0}, "epochs must be > 0, got 0"),
        ({"lr": float("inf")}, "lr must be a finite number, got inf"),
        ({"batch_size": 0.5}, "batch_size must be a whole number, got 0.5"),
        ({"lora_targets": ["nope"]}, r"lora_targets \['nope'\]: .*: Target modules \{'nope'\} not found"),
    ],
)
def test_bad_lora_settings_are_one_line(tiny_model_dir, qa_file, tmp_path, settings, message):
    with pytest.raises(RealignError, match=message):
        finetune(tiny_model_dir, qa_file, tmp_path / "tuned", lora=True, **settings)
    assert list(tmp_path.iterdir()) in ([], [tmp_path / ".tuned.lock"])  # nothing staged is left


def test_bad_lora_settings_on_the_command_line(tiny_model_dir, qa_file, tmp_path, capsys):
    assert main(finetune_argv(tiny_model_dir, qa_file, tmp_path / "tuned", "--lora", "--lora-r", "0")) == 2
    assert capsys.readouterr().err.splitlines() == [
        "resta finetune: error: --lora-r must be a whole number ≥ 1, got 0"
    ]


@pytest.mark.parametrize(
    ("file", "text", "message"),
    [
        ("config.json", "[1]", "config.json: expected a JSON object, found list"),
        (
            "model.safetensors.index.json",
            "7",
            "model.safetensors.index.json: expected a JSON object, found int",
        ),
    ],
)
def test_a_model_with_json_of_the_wrong_kind_is_one_line(
    tiny_model_dir, qa_file, tmp_path, capsys, file, text, message
):
    model = shutil.copytree(tiny_model_dir, tmp_path / "model")
    (model / file).write_text(text)
    assert main(finetune_argv(model, qa_file, tmp_path / "tuned")) == 2
    assert capsys.readouterr().err.splitlines() == [f"resta finetune: error: {model}/{message}"]
    assert not (tmp_path / "tuned").exists() and not left_beside(tmp_path / "tuned")


def test_a_run_killed_mid_training_is_cleaned_up_by_the_next_one(tiny_model_dir, qa_file, tmp_path, caplog):
    out = tmp_path / "tuned"
    argv = finetune_argv(tiny_model_dir, qa_file, out, "--epochs", "100000")
    with open(tmp_path / "child.err", "w") as errors:
        child = subprocess.Popen(["resta", *argv], stderr=errors, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        try:
            # A hundred thousand epochs take hours: the run is still training when it is killed.
            deadline = time.monotonic() + 600  # a bound for a broken run, not a measurement
            while not left_beside(out) and time.monotonic() < deadline:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.wait(timeout=0.05)
                assert child.returncode is None, (tmp_path / "child.err").read_text()
        finally:
            child.kill()
            child.wait()
    assert child.returncode == -9 and left_beside(out) == [f".tuned.{child.pid}.partial"]

    with caplog.at_level(logging.WARNING):
        finetune(tiny_model_dir, qa_file, out, epochs=1)
    said = [r.getMessage() for r in caplog.records if ".partial" in r.getMessage()]
    assert said == [f"{tmp_path}/.tuned.{child.pid}.partial: removed unfinished output of an interrupted run"]
    assert not left_beside(out) and (out / "finetune.json").is_file()
