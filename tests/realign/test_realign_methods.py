"""Each method's output against the same algebra done directly on in-memory state dicts."""

from __future__ import annotations

import json

import numpy
import pytest
import torch
from conftest import load_state, resta_on, torch_threads
from resta_bench import realign
from resta_bench.realign import engine


@pytest.fixture(scope="module")
def states(family):
    return {role: load_state(path) for role, path in family.items()}


def assert_each(output_dir, expected):
    output = load_state(output_dir)
    assert output.keys() == expected.keys()
    for name, tensor in expected.items():
        assert torch.equal(output[name], tensor), name


def test_safety_vector_is_the_difference(family, states, tmp_path):
    out = realign.make_safety_vector(family["aligned"], family["unaligned"], tmp_path / "v")
    assert_each(out, {n: states["aligned"][n] - states["unaligned"][n] for n in states["aligned"]})
    assert json.loads((out / "recipe.json").read_text())["method"] == "safety-vector"


def test_resta_from_models_and_from_a_saved_vector(family, states, tmp_path):
    a, u, s = states["aligned"], states["unaligned"], states["sft"]
    expected = {n: s[n] + (a[n] - u[n]) * 0.7 for n in s}
    direct = resta_on(
        family,
        beta=0.7,
        out=tmp_path / "direct",
    )
    assert_each(direct, expected)
    vector = realign.make_safety_vector(family["aligned"], family["unaligned"], tmp_path / "v")
    via_vector = realign.realign("resta", sft=family["sft"], vector=vector, beta=0.7, out=tmp_path / "via")
    assert_each(via_vector, expected)


def test_resta_with_dare_reproduces_the_per_tensor_mask(family, states, tmp_path):
    from resta_bench.realign.rng import dare_factors

    a, u, s = states["aligned"], states["unaligned"], states["sft"]
    p, beta, seed = 0.3, 0.5, 7
    expected = {}
    for name in s:
        factors = torch.from_numpy(dare_factors(seed, name, 0, s[name].numel(), p))
        factors = factors.reshape(s[name].shape)
        assert set(factors.unique().tolist()) == {0.0, float(numpy.float32(1 / (1 - p)))}
        dropped = (s[name] - a[name]) * factors
        expected[name] = a[name] + dropped + (a[name] - u[name]) * beta
    out = resta_on(
        family,
        beta=beta,
        dare_p=p,
        seed=seed,
        out=tmp_path / "dare",
    )
    assert_each(out, expected)


def test_block_workers_write_the_files_one_thread_writes(family, tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "BLOCK_ELEMENTS", 1000)  # many blocks in flight, across tensor boundaries
    with torch_threads(3):
        workers = resta_on(family, tmp_path / "workers", beta=0.5, max_shard_size="200KB")
    with torch_threads(1):
        one = resta_on(family, tmp_path / "one", beta=0.5, max_shard_size="200KB")
    shards = sorted(path.name for path in one.glob("*.safetensors"))
    assert len(shards) > 1 and shards == sorted(path.name for path in workers.glob("*.safetensors"))
    assert all((one / name).read_bytes() == (workers / name).read_bytes() for name in shards)


def test_interpolate(family, states, tmp_path):
    a, s = states["aligned"], states["sft"]
    out = realign.realign(
        "interpolate", sft=family["sft"], aligned=family["aligned"], alpha=0.25, out=tmp_path / "i"
    )
    assert_each(out, {n: a[n] + (s[n] - a[n]) * 0.25 for n in s})


def test_task_arithmetic_with_mergekit_weights_computes_resta(family, states, tmp_path):
    a, u, s = states["aligned"], states["unaligned"], states["sft"]
    out = realign.realign(
        "task-arithmetic",
        base=family["unaligned"],
        models=[family["sft"], family["aligned"]],
        weights=[1.0, 0.5],
        out=tmp_path / "ta",
    )
    expected = {n: u[n] + ((s[n] - u[n]) * 1.0 + (a[n] - u[n]) * 0.5) for n in u}
    assert_each(out, expected)
    output = load_state(out)
    for name in s:  # the same RESTA up to float32 rounding
        torch.testing.assert_close(output[name], s[name] + (a[name] - u[name]) * 0.5)


def test_lora_adapter_is_materialised_like_peft_merges_it(
    family, states, lora_adapter, lora_merged, tmp_path
):
    merged = load_state(lora_merged)
    out = realign.realign(
        "interpolate", sft=lora_adapter, aligned=family["aligned"], alpha=1.0, out=tmp_path / "lora"
    )
    output = load_state(out)
    assert output.keys() == merged.keys()
    changed = [n for n in merged if not torch.equal(merged[n], states["aligned"][n])]
    assert len(changed) == 3 * 2  # q, v and down projections of both layers
    for name in merged:
        torch.testing.assert_close(output[name], merged[name], rtol=0, atol=1e-6)
    assert (out / "config.json").is_file() and (out / "tokenizer.json").is_file()
    recipe = json.loads((out / "recipe.json").read_text())
    assert recipe["inputs"]["sft"]["kind"] == "lora-adapter"


def test_bf16_inputs_are_computed_in_float32_and_stored_in_bf16(bf16_family, tmp_path):
    a, u, s = (load_state(bf16_family[r]) for r in ("aligned", "unaligned", "sft"))
    out = resta_on(
        bf16_family,
        beta=0.5,
        out=tmp_path / "r",
    )
    expected = {n: (s[n].float() + (a[n].float() - u[n].float()) * 0.5).to(torch.bfloat16) for n in s}
    assert_each(out, expected)


def test_cpu_and_cuda_give_the_same_bits(family, tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine")
    runs = {
        device: load_state(
            resta_on(
                family,
                dare_p=0.4,
                seed=3,
                device=device,
                out=tmp_path / device,
            )
        )
        for device in ("cpu", "cuda")
    }
    for name, tensor in runs["cpu"].items():
        assert torch.equal(tensor, runs["cuda"][name]), name
