"""Safe LoRA against IBM's rule (IBM/SafeLoRA model.py) redone independently, from the adapter's factors."""

from __future__ import annotations

import json
import re

import numpy
import pytest
import torch
from conftest import load_state, write_model
from resta_bench import realign
from resta_bench.benchmark.cli import main
from resta_bench.realign import RealignError
from safetensors.torch import load_file

PEFT_PREFIX = "base_model.model."


def ibm_safe_lora(adapter, aligned, unaligned, *, cutoff_of):
    """SafeLoRA.projected_weighted on the adapter: per module P = V·Vᵀ/‖V‖ (V = θ_aligned − θ_unaligned),
    cos = numpy.round(cos(P·B·A, B·A), 5); lora_B becomes P·B where cos ≤ cutoff_of(all cosines).
    Returns the merged weights (θ_aligned + scaling·B·A), the projected modules and the raw cosines."""
    config = json.loads((adapter / "adapter_config.json").read_text())
    scaling = config["lora_alpha"] / config["r"]
    factors = {
        key.removeprefix(PEFT_PREFIX): value
        for key, value in load_file(adapter / "adapter_model.safetensors").items()
    }
    modules = sorted({key.split(".lora_")[0] for key in factors})
    raw, rounded, projected_b = {}, {}, {}
    for module in modules:
        a, b = factors[f"{module}.lora_A.weight"], factors[f"{module}.lora_B.weight"]
        v = aligned[f"{module}.weight"] - unaligned[f"{module}.weight"]
        p = torch.mm(v, v.t()) / torch.norm(v)
        projected_b[module] = torch.mm(p, b)
        similarity = torch.nn.functional.cosine_similarity(
            torch.mm(projected_b[module], a).reshape(1, -1), torch.mm(b, a).reshape(1, -1)
        )
        raw[module] = similarity.item()
        rounded[module] = numpy.round(raw[module], 5)
    cutoff = cutoff_of(list(rounded.values()))
    projected = {module for module in modules if rounded[module] <= cutoff}
    merged = {}
    for module in modules:
        b = projected_b[module] if module in projected else factors[f"{module}.lora_B.weight"]
        merged[f"{module}.weight"] = aligned[f"{module}.weight"] + scaling * (
            b @ factors[f"{module}.lora_A.weight"]
        )
    return merged, {f"{m}.weight" for m in projected}, raw


def number_cutoff(count):
    return lambda cosines: numpy.sort(cosines)[:count][-1]


@pytest.fixture(scope="module")
def states(family):
    return {role: load_state(family[role]) for role in ("aligned", "unaligned", "sft")}


def run_safe_lora(family, sft, out, **params):
    path = realign.realign(
        "safe-lora", sft=sft, aligned=family["aligned"], unaligned=family["unaligned"], out=out, **params
    )
    return load_state(path), json.loads((path / "recipe.json").read_text())


def projected_in(recipe):
    return set(recipe["report"]["notes"].get("safe-lora: update projected", []))


def check_against_ibm(output, recipe, aligned, merged, projected):
    assert projected_in(recipe) == projected
    for name, tensor in output.items():
        if name in merged:
            torch.testing.assert_close(tensor, merged[name], rtol=0, atol=2e-6)
        else:
            assert torch.equal(tensor, aligned[name]), name  # a module the adapter does not adapt


@pytest.mark.parametrize("count", [2, 10])
def test_number_mode_projects_the_lowest_cosines_like_ibm(family, states, lora_adapter, tmp_path, count):
    a, u = states["aligned"], states["unaligned"]
    merged, projected, raw = ibm_safe_lora(lora_adapter, a, u, cutoff_of=number_cutoff(count))
    assert len(projected) == min(count, len(merged))
    params = {} if count == 10 else {"num_proj_layers": count}  # 10 is IBM's default, number its mode
    output, recipe = run_safe_lora(family, lora_adapter, tmp_path / "safe", **params)
    assert (recipe["params"]["select_layers"], recipe["params"]["num_proj_layers"]) == ("number", count)
    check_against_ibm(output, recipe, a, merged, projected)
    cosines = recipe["report"]["prepass"]["cosines"]
    assert cosines.keys() == merged.keys()
    for name, value in cosines.items():
        assert value == pytest.approx(raw[name.removesuffix(".weight")], abs=1e-5)


def test_threshold_mode_compares_the_rounded_cosine_with_at_most(family, states, lora_adapter, tmp_path):
    a, u = states["aligned"], states["unaligned"]
    _, _, raw = ibm_safe_lora(lora_adapter, a, u, cutoff_of=number_cutoff(1))
    # A cosine that rounds down: projected only by "round(cos, 5) <= τ", not by "cos < τ" nor "cos <= τ".
    module = next(m for m, value in sorted(raw.items()) if value > numpy.round(value, 5))
    tau = float(numpy.round(raw[module], 5))
    merged, projected, _ = ibm_safe_lora(lora_adapter, a, u, cutoff_of=lambda cosines: tau)
    assert f"{module}.weight" in projected
    output, recipe = run_safe_lora(
        family, lora_adapter, tmp_path / "safe", select_layers="threshold", threshold=tau
    )
    check_against_ibm(output, recipe, a, merged, projected)


def full_fine_tune_expected(states, targets, cutoff_of):
    """IBM's rule on whole weights ΔW = θ_sft − θ_aligned of the named module types only."""
    a, u, s = states["aligned"], states["unaligned"], states["sft"]
    chosen = [n for n in s if re.search(rf"\.({'|'.join(targets)})\.weight$", n)]
    cosines, projections = {}, {}
    for name in chosen:
        v, delta = a[name] - u[name], s[name] - a[name]
        projections[name] = (v @ v.T / torch.norm(v)) @ delta
        cosine = torch.nn.functional.cosine_similarity(projections[name].reshape(1, -1), delta.reshape(1, -1))
        cosines[name] = numpy.round(cosine.item(), 5)
    cutoff = cutoff_of(list(cosines.values()))
    projected = {n for n in chosen if cosines[n] <= cutoff}
    expected = {n: a[n] + projections[n] if n in projected else t for n, t in s.items()}
    return expected, projected


@pytest.mark.parametrize(
    "params, targets, cutoff_of",
    [
        ({"num_proj_layers": 3}, ("q_proj", "k_proj", "v_proj", "o_proj"), number_cutoff(3)),
        (
            {"select_layers": "threshold", "threshold": 0.9, "target_modules": ["gate_proj", "down_proj"]},
            ("gate_proj", "down_proj"),
            lambda cosines: 0.9,
        ),
    ],
)
def test_a_full_fine_tune_projects_only_the_target_modules(
    family, states, tmp_path, params, targets, cutoff_of
):
    expected, projected = full_fine_tune_expected(states, targets, cutoff_of)
    assert projected and len(projected) < len(states["sft"])
    output, recipe = run_safe_lora(family, family["sft"], tmp_path / "safe", **params)
    assert projected_in(recipe) == projected
    for name, tensor in expected.items():
        if name in projected:
            torch.testing.assert_close(output[name], tensor, rtol=0, atol=2e-6)
        else:
            assert torch.equal(output[name], tensor), name  # embeddings, norms, lm_head stay θ_sft


def test_command_line_flags(family, tmp_path):
    out = tmp_path / "safe"
    roles = f"--sft {family['sft']} --aligned {family['aligned']} --unaligned {family['unaligned']}"
    flags = "--select-layers threshold --threshold 0.8 --target-modules q_proj v_proj"
    assert main(f"realign safe-lora {roles} {flags} --out {out}".split()) == 0
    recipe = json.loads((out / "recipe.json").read_text())
    assert recipe["params"] == {
        "select_layers": "threshold",
        "threshold": 0.8,
        "num_proj_layers": 10,
        "target_modules": ["q_proj", "v_proj"],
    }
    assert all(re.search(r"\.(q|v)_proj\.weight$", n) for n in recipe["report"]["prepass"]["modules"])


@pytest.mark.parametrize(
    "params, message",
    [
        ({"select_layers": "top"}, "select_layers must be one of number, threshold, got 'top'"),
        ({"num_proj_layers": 0}, "num_proj_layers must be a whole number ≥ 1, got 0"),
        ({"threshold": 1.5}, "threshold must be in [-1, 1], got 1.5"),
        ({"target_modules": ["q_projj"]}, "safe-lora: target modules q_projj match no 2-D weight of the SFT"),
    ],
)
def test_bad_parameters_are_refused(family, tmp_path, params, message):
    with pytest.raises(RealignError, match=re.escape(message)):
        run_safe_lora(family, family["sft"], tmp_path / "safe", **params)
    assert not (tmp_path / "safe").exists()


def test_target_modules_are_refused_with_an_adapter(family, lora_adapter, tmp_path):
    with pytest.raises(RealignError, match="^safe-lora: target modules are for full fine-tunes; the SFT"):
        run_safe_lora(family, lora_adapter, tmp_path / "safe", target_modules=["q_proj"])


def test_number_mode_projects_every_weight_tied_at_the_cutoff(family, states, tmp_path):
    twins = ("model.layers.0.self_attn.q_proj.weight", "model.layers.1.self_attn.q_proj.weight")
    copies = {}
    for role, state in states.items():
        copies[role] = write_model(
            tmp_path / role, {**state, twins[1]: state[twins[0]].clone()}, family[role]
        )
    output, recipe = run_safe_lora(
        copies, copies["sft"], tmp_path / "safe", num_proj_layers=1, target_modules=["q_proj"]
    )
    cosines = recipe["report"]["prepass"]["cosines"]
    assert (
        cosines[twins[0]] == cosines[twins[1]] and recipe["report"]["prepass"]["cutoff"] == cosines[twins[0]]
    )
    assert projected_in(recipe) == set(twins)  # IBM: cos <= the N-th lowest, so both
    assert torch.equal(output[twins[0]], output[twins[1]])
