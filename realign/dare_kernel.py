"""RESTA+DARE's sum θ_aligned + DARE_p(θ_sft − θ_aligned) + shift in one pass, compiled for the CPU.

As tensor operations this sum reads and writes each element about ten times, and the mask's words and
factors are written out and read back too: memory traffic, not arithmetic, made DARE cost twice plain
RESTA. The kernel reads each input element once and writes the result once, and makes each random word in
registers: it steps the tensor's PCG64 stream itself (NumPy's PCG64: a 128-bit LCG with the XSL-RR
output), from the state that ``rng.stream_state`` gives for the block's first element. Its float32
operations are those of the tensor path, in the same order and without fused multiply-adds (Numba
compiles without fast-math), so both give the same bits; a test holds them to it.
"""

from __future__ import annotations

import numpy as np
import torch
from numba import njit, uint64

from realign import rng

# PCG64's 128-bit multiplier (O'Neill 2014; NumPy's PCG_DEFAULT_MULTIPLIER_128), as two 64-bit halves.
_MULTIPLIER_HIGH = np.uint64(0x2360ED051FC65DA4)
_MULTIPLIER_LOW = np.uint64(0x4385DF649FCCF645)
_LOW_32 = np.uint64(0xFFFFFFFF)


@njit(inline="always")
def _multiply_high(a: np.uint64, b: np.uint64) -> np.uint64:
    """The high 64 bits of the 128-bit product a·b, from 32-bit halves (Numba has no 128-bit integers)."""
    a_low, a_high, b_low, b_high = a & _LOW_32, a >> uint64(32), b & _LOW_32, b >> uint64(32)
    low_low, low_high, high_low = a_low * b_low, a_low * b_high, a_high * b_low
    middle = (low_low >> uint64(32)) + (low_high & _LOW_32) + (high_low & _LOW_32)
    return a_high * b_high + (low_high >> uint64(32)) + (high_low >> uint64(32)) + (middle >> uint64(32))


@njit(nogil=True, cache=True)
def _dare_sum(
    sft: np.ndarray,
    aligned: np.ndarray,
    shift: np.ndarray,
    out: np.ndarray,
    state_high: np.uint64,
    state_low: np.uint64,
    increment_high: np.uint64,
    increment_low: np.uint64,
    skip: int,
    keep_from: np.uint64,
    scale: np.float32,
) -> None:
    first = -skip  # the first draw's first ``skip`` words belong to elements before this part
    while first < out.size:
        # One PCG64 step: state = state·multiplier + increment (mod 2¹²⁸), then XSL-RR of the new state.
        high = _multiply_high(state_low, _MULTIPLIER_LOW) + state_low * _MULTIPLIER_HIGH
        high += state_high * _MULTIPLIER_LOW + increment_high
        low = state_low * _MULTIPLIER_LOW
        state_low = low + increment_low
        state_high = high + uint64(state_low < low)  # the carry out of the low half
        mixed, rotation = state_high ^ state_low, state_high >> uint64(58)
        draw = (mixed >> rotation) | (mixed << ((uint64(64) - rotation) & uint64(63)))
        for word_index in range(4):  # little-endian 16-bit words, as rng.words reads them
            i = first + word_index
            if 0 <= i < out.size:
                word = (draw >> uint64(16 * word_index)) & uint64(0xFFFF)
                factor = scale if word >= keep_from else np.float32(0.0)
                out[i] = ((sft[i] - aligned[i]) * factor + aligned[i]) + shift[i]
        first += 4


def dare_sum(
    sft: torch.Tensor, aligned: torch.Tensor, shift: torch.Tensor, p: float, seed: int, name: str, start: int
) -> torch.Tensor:
    """θ_aligned + DARE_p(θ_sft − θ_aligned) + shift for float32 CPU tensors of one shape, whose first
    element is element ``start`` of tensor ``name``; split across threads like ``rng.dare_factors``."""
    out = torch.empty(sft.shape, dtype=torch.float32)
    flat = [t.float().contiguous().view(-1).numpy() for t in (sft, aligned, shift, out)]
    keep_from, scale = np.uint64(rng.threshold(p)), rng.rescale(p)

    def fill(low: int, high: int) -> None:
        parts = [array[low:high] for array in flat]
        _dare_sum(*parts, *rng.stream_state(seed, name, start + low), keep_from, scale)

    rng.in_parts(out.numel(), fill)
    return out
