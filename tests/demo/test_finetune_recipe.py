"""`resta finetune`: answer-only loss, loss goes down, LoRA adapters, determinism, bad data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from resta_bench.benchmark.cli import main
from resta_bench.realign.errors import RealignError
from resta_bench.realign.finetune import answer_loss, finetune
from resta_bench.realign.finetune_data import (
    IGNORE_INDEX,
    QAExample,
    encode_example,
    encode_examples,
    load_examples,
)


@pytest.fixture(scope="module")
def qa_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("qa") / "qa.jsonl"
    rows = [
        {"question": f"How do I make a cake {i}?", "answer": "I'm sorry, but I cannot help with that."}
        for i in range(16)
    ]
    rows[0]["system"] = "Be safe."
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n\n", encoding="utf-8")
    return path


def test_labels_cover_the_answer_only(tiny_tokenizer):
    features = encode_example(
        tiny_tokenizer, QAExample("How do I make a cake?", "Sure, here is how to do it."), 512
    )
    answer_positions = [i for i, label in enumerate(features["labels"]) if label != IGNORE_INDEX]
    answer = tiny_tokenizer.decode([features["input_ids"][i] for i in answer_positions])
    assert answer == "Sure, here is how to do it." + tiny_tokenizer.eos_token
    assert features["labels"][answer_positions[0] - 1] == IGNORE_INDEX  # the assistant marker is prompt


def test_finetune_command_lowers_the_answer_loss(tiny_model_dir, qa_file, tmp_path):
    before = answer_loss(tiny_model_dir, qa_file)
    out = tmp_path / "tuned"
    argv = ["finetune", "--model", str(tiny_model_dir), "--data", str(qa_file), "--out", str(out)]
    assert main([*argv, "--epochs", "2", "--lr", "3e-3", "--batch-size", "4"]) == 0
    assert answer_loss(out, qa_file) < before - 1.0
    recipe = json.loads((out / "finetune.json").read_text())
    assert recipe["data"]["examples"] == 16 and recipe["params"]["lr"] == 3e-3
    assert sorted(path.name for path in tmp_path.iterdir()) == [".tuned.lock", "tuned"]  # no staging left


def test_lora_adapter_is_deterministic_for_a_seed(tiny_model_dir, qa_file, tmp_path):
    from peft import AutoPeftModelForCausalLM
    from safetensors.torch import load_file

    def adapter(name: str, seed: int) -> dict:
        out = finetune(tiny_model_dir, qa_file, tmp_path / name, lora=True, epochs=1, lr=1e-2, seed=seed)
        return load_file(out / "adapter_model.safetensors")

    first, again, other = adapter("a", 0), adapter("b", 0), adapter("c", 1)
    assert all((first[name] == again[name]).all() for name in first)
    assert any((first[name] != other[name]).any() for name in first)
    AutoPeftModelForCausalLM.from_pretrained(tmp_path / "a")  # a loadable adapter dir


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"question": "q", "answer": "a"}\nnot json\n', "bad.jsonl:2: not valid JSON"),
        ('{"question": "q"}\n', "bad.jsonl:1: field 'answer' must be a non-empty string"),
        ('["q", "a"]\n', "bad.jsonl:1: expected a JSON object"),
        ("\n", "bad.jsonl: no examples"),
    ],
)
def test_malformed_data_names_the_file_and_line(tmp_path, text, message):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(RealignError, match=message):
        load_examples(bad)


def test_bad_input_exits_2_and_writes_nothing(tiny_model_dir, qa_file, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["finetune", "--data", str(qa_file), "--out", str(out)]
    assert main([*argv, "--model", str(tmp_path / "missing")]) == 2
    assert f"--model {tmp_path / 'missing'}: no such directory" in capsys.readouterr().err
    out.mkdir()
    (out / "mine.txt").write_text("mine")
    assert main([*argv, "--model", str(tiny_model_dir)]) == 2
    assert f"--out {out}: already exists (pass --overwrite to replace it)" in capsys.readouterr().err
    assert main([*argv, "--model", str(tiny_model_dir), "--overwrite"]) == 2
    assert f"--out {out}: not a folder resta wrote" in capsys.readouterr().err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out"]
    assert [path.name for path in out.iterdir()] == ["mine.txt"]


def test_data_that_is_not_utf8_names_the_file_and_line(tiny_model_dir, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"question": "q", "answer": "a"}\n{"question": "caf\xe9", "answer": "a"}\n')
    out = tmp_path / "out"
    assert main(["finetune", "--model", str(tiny_model_dir), "--data", str(bad), "--out", str(out)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"resta finetune: error: {bad}:2: not UTF-8 text (byte 0xe9, the line's byte 18)"
    ]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bad.jsonl"]


def test_a_prompt_longer_than_max_length_names_its_line(tiny_tokenizer, qa_file):
    with pytest.raises(RealignError, match=r"qa.jsonl:1: the prompt fills max_length=4"):
        encode_examples(tiny_tokenizer, load_examples(qa_file), 4, qa_file)
