"""HDR against Safety Arithmetic's rule computed directly: one kthvalue over the concatenated harm vector."""

from __future__ import annotations

import json
import re

import pytest
import torch
from conftest import load_state, torch_threads, write_model
from resta_bench import realign
from resta_bench.benchmark.cli import main
from resta_bench.realign import RealignError, engine


def reference_hdr(aligned, unaligned, sft, lam: float, top_k: float):
    """Ties_Merge.topk_values_mask on the flattened τ_H = θ_unaligned − θ_aligned (k = int(d·K) from the
    top, every |τ| ≥ the kthvalue kept), then θ_sft − λ·τ_kept; also the threshold and the kept count."""
    names = list(sft)
    harm = torch.cat([(unaligned[n] - aligned[n]).reshape(-1) for n in names])
    d = harm.numel()
    # At K = 1 the reference's kthvalue(0) fails; kthvalue(1) keeps every entry, as resta does.
    threshold = harm.abs().kthvalue(max(d - int(d * top_k), 1)).values
    kept = harm * (harm.abs() >= threshold)
    pieces = kept.split([sft[n].numel() for n in names])
    output = {n: sft[n] - lam * piece.view_as(sft[n]) for n, piece in zip(names, pieces, strict=True)}
    return output, threshold.item(), int((harm.abs() >= threshold).sum())


def run_hdr(family, out, **params):
    roles = {role: family[role] for role in ("sft", "aligned", "unaligned")}
    path = realign.realign("hdr", out=out, **roles, **params)
    return load_state(path), json.loads((path / "recipe.json").read_text())


def assert_same(output, expected):
    assert output.keys() == expected.keys()
    for name, tensor in expected.items():
        assert torch.equal(output[name], tensor), name


def test_defaults_are_the_notebooks_and_the_top_k_is_global(family, tmp_path):
    states = {role: load_state(family[role]) for role in ("aligned", "unaligned", "sft")}
    output, recipe = run_hdr(family, tmp_path / "hdr")
    assert recipe["params"] == {"lambda": 3.0, "top_k": 0.1, "top_k_scope": "global"}
    expected, threshold, kept = reference_hdr(states["aligned"], states["unaligned"], states["sft"], 3.0, 0.1)
    assert_same(output, expected)
    total = sum(t.numel() for t in states["sft"].values())
    assert recipe["report"]["prepass"] == {"global": {"threshold": threshold, "kept": kept, "total": total}}
    assert kept == int(total * 0.1) + 1  # random weights: no tie at the threshold


def grid_state(seed: int) -> dict[str, torch.Tensor]:
    """Magnitudes on a coarse grid (multiples of 1/8): many entries tie at any threshold."""
    generator = torch.Generator().manual_seed(seed)
    shapes = {"a.weight": (300, 40), "b.weight": (77,), "c.weight": (5, 3, 7)}
    return {n: torch.randint(-8, 9, s, generator=generator).float() / 8 for n, s in shapes.items()}


@pytest.fixture(scope="module")
def grid(family, tmp_path_factory):
    root = tmp_path_factory.mktemp("ties")
    states = {"aligned": grid_state(0), "sft": grid_state(1)}
    states["unaligned"] = {n: t + grid_state(2)[n] for n, t in states["aligned"].items()}
    paths = {role: write_model(root / role, state, family["aligned"]) for role, state in states.items()}
    return paths, states


@pytest.mark.parametrize("top_k", [0.1, 0.37, 1.0])
def test_ties_at_the_threshold_are_all_kept_across_blocks_and_workers(grid, tmp_path, monkeypatch, top_k):
    paths, states = grid
    monkeypatch.setattr(engine, "BLOCK_ELEMENTS", 500)  # the histogram and the output span many blocks
    with torch_threads(2):
        output, recipe = run_hdr(paths, tmp_path / "hdr", **{"lambda": 1.5, "top_k": top_k})
    expected, threshold, kept = reference_hdr(
        states["aligned"], states["unaligned"], states["sft"], 1.5, top_k
    )
    assert_same(output, expected)
    found = recipe["report"]["prepass"]["global"]
    assert (found["threshold"], found["kept"]) == (threshold, kept)
    total = found["total"]
    assert kept == total if top_k == 1.0 else kept > int(total * top_k) + 1  # the ties came along


def test_per_tensor_scope_applies_the_rule_to_each_tensor(grid, tmp_path):
    paths, states = grid
    output, recipe = run_hdr(paths, tmp_path / "hdr", top_k=0.25, top_k_scope="per-tensor")
    a, u, s = states["aligned"], states["unaligned"], states["sft"]
    for name in s:
        expected, threshold, kept = reference_hdr(
            {name: a[name]}, {name: u[name]}, {name: s[name]}, 3.0, 0.25
        )
        assert torch.equal(output[name], expected[name]), name
        found = recipe["report"]["prepass"]["per_tensor"][name]
        assert (found["threshold"], found["kept"], found["total"]) == (threshold, kept, s[name].numel())


def test_command_line_flags(family, tmp_path):
    out = tmp_path / "hdr"
    roles = f"--sft {family['sft']} --aligned {family['aligned']} --unaligned {family['unaligned']}"
    argv = f"realign hdr {roles} --lambda 2 --top-k 0.2 --top-k-scope per-tensor --out {out}"
    assert main(argv.split()) == 0
    recipe = json.loads((out / "recipe.json").read_text())
    assert recipe["params"] == {"lambda": 2.0, "top_k": 0.2, "top_k_scope": "per-tensor"}
    assert recipe["reference"].startswith("https://github.com/declare-lab/safety-arithmetic/")


@pytest.mark.parametrize(
    "params, message",
    [
        ({"top_k": 0.0}, "top_k must be in (0, 1], got 0"),
        ({"top_k": 1.5}, "top_k must be in (0, 1], got 1.5"),
        ({"top_k_scope": "layer"}, "top_k_scope must be one of global, per-tensor, got 'layer'"),
        ({"lam": 2.0}, "method hdr takes no parameter lam (its parameters: lambda, top_k, top_k_scope)"),
    ],
)
def test_bad_parameters_are_refused_before_any_work_in_pythons_words(family, tmp_path, params, message):
    with pytest.raises(RealignError, match=f"^{re.escape(message)}$"):
        run_hdr(family, tmp_path / "hdr", **params)
    assert not (tmp_path / "hdr").exists()


def test_the_command_line_names_the_flag(family, tmp_path, capsys):
    roles = f"--sft {family['sft']} --aligned {family['aligned']} --unaligned {family['unaligned']}"
    assert main(f"realign hdr {roles} --top-k 1.5 --out {tmp_path / 'hdr'}".split()) == 2
    assert capsys.readouterr().err.strip() == "resta realign: error: --top-k must be in (0, 1], got 1.5"
    assert not (tmp_path / "hdr").exists()


def test_a_nan_in_the_vector_is_refused_by_the_pre_pass(grid, family, tmp_path):
    paths, states = grid
    poisoned = {**states["unaligned"], "b.weight": states["unaligned"]["b.weight"].clone()}
    poisoned["b.weight"][3] = float("nan")
    unaligned = write_model(tmp_path / "poisoned", poisoned, family["aligned"])
    with pytest.raises(RealignError, match="poisoned/model.safetensors: tensor b.weight holds NaN"):
        run_hdr({**paths, "unaligned": unaligned}, tmp_path / "hdr")
    assert not (tmp_path / "hdr").exists()
