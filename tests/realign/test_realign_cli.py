"""The `resta safety-vector` and `resta realign` commands, in-process and once as the real console script."""

from __future__ import annotations

import json
import os
import subprocess

import torch
from conftest import load_state

from benchmark.cli import main


def test_safety_vector_then_resta_with_the_vector(family, tmp_path, capsys):
    vector, out = tmp_path / "vector", tmp_path / "resta"
    assert (
        main(
            [
                "safety-vector",
                "--aligned",
                str(family["aligned"]),
                "--unaligned",
                str(family["unaligned"]),
                "--out",
                str(vector),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "realign",
                "resta",
                "--sft",
                str(family["sft"]),
                "--vector",
                str(vector),
                "--aligned",
                str(family["aligned"]),
                "--beta",
                "0.25",
                "--dare-p",
                "0.2",
                "--seed",
                "5",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.split() == [str(vector), str(out)]
    recipe = json.loads((out / "recipe.json").read_text())
    assert recipe["params"] == {"beta": 0.25, "dare_p": 0.2} and recipe["seed"] == 5
    assert recipe["inputs"]["vector"]["kind"] == "safety-vector"
    assert load_state(out).keys() == load_state(family["sft"]).keys()


def test_task_arithmetic_command(family, tmp_path):
    out = tmp_path / "ta"
    assert (
        main(
            [
                "realign",
                "task-arithmetic",
                "--base",
                str(family["aligned"]),
                "--model",
                str(family["sft"]),
                "--model",
                str(family["unaligned"]),
                "--weights",
                "0.5",
                "0.5",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    a, s, u = (load_state(family[r]) for r in ("aligned", "sft", "unaligned"))
    name = "model.layers.0.mlp.gate_proj.weight"
    torch.testing.assert_close(load_state(out)[name], (s[name] + u[name]) / 2)


def test_methods_lists_every_method_with_its_parameters(capsys):
    assert main(["realign", "--methods"]) == 0
    methods = json.loads(capsys.readouterr().out)
    assert sorted(methods) == ["hdr", "interpolate", "resta", "safe-lora", "safety-vector", "task-arithmetic"]
    assert methods["resta"]["params"] == {"beta": 0.5, "dare_p": 0.0}
    assert methods["resta"]["inputs"] == ["sft", "vector"]


def test_console_script_exits_2_with_one_line(family, tmp_path):
    result = subprocess.run(
        [
            "resta",
            "realign",
            "resta",
            "--sft",
            str(tmp_path / "missing"),
            "--aligned",
            str(family["aligned"]),
            "--unaligned",
            str(family["unaligned"]),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"resta realign: error: --sft {tmp_path / 'missing'}: no such directory"
    ]
    assert not (tmp_path / "out").exists()
