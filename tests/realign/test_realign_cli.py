"""The `resta safety-vector` and `resta realign` commands, in-process and once as the real console script."""

from __future__ import annotations

import json
import os
import subprocess

import torch
from conftest import load_state
from resta_bench.benchmark.cli import main


def test_safety_vector_then_resta_with_the_vector(family, tmp_path, capsys):
    vector, out = tmp_path / "vector", tmp_path / "resta"
    a, u, s = family["aligned"], family["unaligned"], family["sft"]
    assert main(f"safety-vector --aligned {a} --unaligned {u} --out {vector}".split()) == 0
    argv = f"realign resta --sft {s} --vector {vector} --aligned {a} --beta 0.25 --dare-p 0.2 --seed 5"
    assert main([*argv.split(), "--out", str(out)]) == 0
    assert capsys.readouterr().out.split() == [str(vector), str(out)]
    recipe = json.loads((out / "recipe.json").read_text())
    assert recipe["params"] == {"beta": 0.25, "dare_p": 0.2} and recipe["seed"] == 5
    assert recipe["inputs"]["vector"]["kind"] == "safety-vector"
    assert load_state(out).keys() == load_state(s).keys()


def test_task_arithmetic_command(family, tmp_path):
    a, s, u = family["aligned"], family["sft"], family["unaligned"]
    out = tmp_path / "ta"
    argv = f"realign task-arithmetic --base {a} --model {s} --model {u} --weights 0.5 0.5 --out {out}"
    assert main(argv.split()) == 0
    name = "model.layers.0.mlp.gate_proj.weight"
    torch.testing.assert_close(load_state(out)[name], (load_state(s)[name] + load_state(u)[name]) / 2)


def test_methods_json_lists_every_method_with_its_parameters(capsys):
    assert main(["realign", "--methods", "--json"]) == 0
    methods = json.loads(capsys.readouterr().out)
    assert sorted(methods) == ["hdr", "interpolate", "resta", "safe-lora", "safety-vector", "task-arithmetic"]
    assert methods["resta"]["params"] == {"beta": 0.5, "dare_p": 0.0}
    assert methods["resta"]["inputs"] == ["sft", "vector"]
    assert methods["hdr"]["title"] == "HDR" and methods["hdr"]["params"]["lambda"] == 3.0


def test_methods_table_has_a_row_per_flag_with_its_default(capsys):
    assert main(["realign", "--methods"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert rows[0] == ["method", "inputs", "flag", "default", "reference"]
    assert rows[1] == ["hdr", "--sft", "--vector", "--lambda", "3", rows[1][-1]]
    assert rows[1][-1].startswith("https://github.com/declare-lab/safety-arithmetic/")
    assert ["--top-k", "0.1"] in rows
    assert ["task-arithmetic", "--base", "--model", "--weights", "1", "each"] in [row[:-1] for row in rows]
    resta = next(row for row in rows if row and row[0] == "resta")
    assert resta[:6] == ["resta", "--sft", "--vector", "[--aligned]", "--beta", "0.5"]


def test_console_script_exits_2_with_one_line(family, tmp_path):
    missing, out = tmp_path / "missing", tmp_path / "out"
    argv = (
        f"resta realign resta --sft {missing} --aligned {family['aligned']} --unaligned {family['unaligned']}"
    )
    result = subprocess.run(
        [*argv.split(), "--out", str(out)], capture_output=True, text=True, timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"resta realign: error: --sft {missing}: no such directory"]
    assert not out.exists()
