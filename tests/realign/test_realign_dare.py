"""DARE's statistics and its determinism: the mask depends on (seed, tensor name) and nothing else."""

from __future__ import annotations

import numpy
import pytest
import torch
from conftest import load_state, resta_on, torch_threads
from resta_bench.realign import engine


def run_dare(family, out, *, p=0.3, seed=0, sft=None):
    # beta = 0 leaves θ_aligned + DARE_p(θ_sft − θ_aligned): dropped elements equal θ_aligned exactly.
    return load_state(resta_on({**family, "sft": sft or family["sft"]}, out, beta=0.0, dare_p=p, seed=seed))


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_kept_fraction_is_one_minus_p_and_kept_updates_are_rescaled(family, p, tmp_path):
    output = run_dare(family, tmp_path / "out", p=p)
    a, s = load_state(family["aligned"]), load_state(family["sft"])
    kept = total = 0
    for name, tensor in output.items():
        keep = tensor != a[name]
        kept += int(keep.sum())
        total += keep.numel()
        torch.testing.assert_close(
            tensor[keep] - a[name][keep], (s[name] - a[name])[keep] / (1 - p), rtol=1e-4, atol=1e-6
        )
    assert total > 50_000
    assert abs(kept / total - (1 - p)) < 0.01  # > 6 standard deviations


def test_same_seed_same_bits_other_seed_other_mask(family, tmp_path):
    first, again = run_dare(family, tmp_path / "a", seed=1), run_dare(family, tmp_path / "b", seed=1)
    other = run_dare(family, tmp_path / "c", seed=2)
    assert all(torch.equal(first[n], again[n]) for n in first)
    a = load_state(family["aligned"])
    differing = sum(int(((first[n] != a[n]) != (other[n] != a[n])).sum()) for n in first)
    total = sum(t.numel() for t in first.values())
    assert abs(differing / total - 2 * 0.3 * 0.7) < 0.01  # independent masks disagree with prob 2p(1−p)


def test_mask_does_not_depend_on_thread_count_or_block_size(family, tmp_path, monkeypatch):
    with torch_threads(3):  # three block workers
        reference = run_dare(family, tmp_path / "ref")
    with torch_threads(1):  # blocks one after the other
        single_thread = run_dare(family, tmp_path / "one_thread")
    monkeypatch.setattr(engine, "BLOCK_ELEMENTS", 1000)  # many row blocks per tensor
    small_blocks = run_dare(family, tmp_path / "blocks")
    for name in reference:
        assert torch.equal(reference[name], single_thread[name]), name
        assert torch.equal(reference[name], small_blocks[name]), name


def test_dare_drops_elements_of_the_full_lora_update_not_of_its_factors(family, lora_adapter, tmp_path):
    output = run_dare(family, tmp_path / "out", p=0.5, sft=lora_adapter)
    a = load_state(family["aligned"])
    name = "model.layers.0.self_attn.q_proj.weight"
    keep = output[name] != a[name]
    assert abs(keep.float().mean().item() - 0.5) < 0.05
    # Dropping from A or B would zero whole rows or columns of the update; here each keeps some.
    assert bool(keep.any(dim=0).all()) and bool(keep.any(dim=1).all())
    assert torch.equal(
        output["model.layers.0.self_attn.k_proj.weight"], a["model.layers.0.self_attn.k_proj.weight"]
    )


def test_the_stream_gives_the_same_words_however_the_blocks_split_it():
    from resta_bench.realign.rng import words

    whole = words(3, "layer.weight", 0, 101)
    starts = (0, 7, 8, 58, 58)
    pieces = [
        words(3, "layer.weight", start, count) for start, count in zip(starts, (7, 1, 50, 0, 43), strict=True)
    ]
    assert (numpy.concatenate(pieces) == whole).all()  # sizes that split 64-bit draws
    assert all(
        (words(3, "layer.weight", start, 20) == whole[start : start + 20]).all() for start in (1, 2, 3, 5, 8)
    )
    assert not (words(4, "layer.weight", 0, 101) == whole).all()


def test_the_largest_p_resta_accepts_keeps_one_element_in_two_to_the_sixteen():
    from resta_bench.realign.rng import DROPS_ALL_FROM, dare_factors

    largest = float(numpy.nextafter(DROPS_ALL_FROM, 0))  # p from DROPS_ALL_FROM on is refused
    kept = numpy.count_nonzero(dare_factors(0, "w", 0, 1 << 22, largest))
    assert 0 < kept < 4 * (1 << 22) / 2**16


def test_factors_split_across_threads_are_the_factors_drawn_in_one_piece(monkeypatch):
    from resta_bench.realign import rng

    one_piece = rng.dare_factors(2, "w", 3, 10_001, 0.3)  # starts mid-draw
    monkeypatch.setattr(rng, "_MIN_PART_ELEMENTS", 100)
    with torch_threads(3):
        split = rng.dare_factors(2, "w", 3, 10_001, 0.3)
    assert (split == one_piece).all()
    assert set(numpy.unique(one_piece).tolist()) == {0.0, float(rng.rescale(0.3))}


@pytest.mark.parametrize(("start", "count"), [(0, 1), (3, 5), (1, 10_001), (4097, 4099)])
def test_the_compiled_kernel_gives_the_bits_of_the_tensor_operations(start, count):
    from resta_bench.realign import dare_kernel
    from resta_bench.realign.methods.dare import dare_sum_by_tensor_operations

    generator = torch.Generator().manual_seed(count)
    sft, aligned, vector = (torch.randn(count, generator=generator) for _ in range(3))
    sft[::7] = aligned[::7]  # a zero difference
    sft[1::11] *= 1e38  # sums that overflow to ±Inf
    aligned[2::13] = torch.finfo(torch.float32).tiny / 3  # subnormals
    sft[3::17] = float("nan")
    aligned[4::19] = float("inf")
    compiled = dare_kernel.dare_sum(sft, aligned, vector, 0.7, 0.3, 5, "w", start)
    reference = dare_sum_by_tensor_operations(sft, aligned, vector, 0.7, 0.3, 5, "w", start)
    nan = reference.isnan()
    assert torch.equal(compiled.isnan(), nan)
    assert torch.equal(compiled[~nan].view(torch.int32), reference[~nan].view(torch.int32))
    if count > 1000:  # the cases above occurred
        assert bool(nan.any()) and bool(compiled.isinf().any())
