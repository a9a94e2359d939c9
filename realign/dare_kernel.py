"""RESTA+DARE's sum θ_aligned + DARE_p(θ_sft − θ_aligned) + β·v in one pass, compiled for the CPU.

As tensor operations this sum reads and writes each element about ten times, and the mask's words and
factors are written out and read back too: memory traffic, not arithmetic, made DARE cost twice plain
RESTA. The kernel reads each input element once and writes the result once, and makes the random words
itself, a few hundred at a time into a buffer that stays in the L1 cache: it steps the tensor's PCG64
stream (NumPy's PCG64: a 128-bit LCG with the XSL-RR output) from the state that ``rng.stream_state``
gives for the block's first element. Its float32 operations are those of the tensor path, in the same
order and without fused multiply-adds (Numba compiles without fast-math), so both give the same bits; a
test holds them to it.
"""

from __future__ import annotations

import numpy as np
import torch
from llvmlite import ir
from numba import njit, types, uint16, uint64
from numba.extending import intrinsic
from resta_bench.realign import rng

# PCG64's 128-bit multiplier (O'Neill 2014; NumPy's PCG_DEFAULT_MULTIPLIER_128).
_MULTIPLIER = 0x2360ED051FC65DA44385DF649FCCF645
# Words are made for 256 elements at a time and used at once, while they are in the L1 cache; the
# element loop then has no draws in it, so it compiles to vector instructions.
_DRAWS_PER_CHUNK = 64
_WORDS_PER_CHUNK = 4 * _DRAWS_PER_CHUNK


@intrinsic
def _pcg64_step(typingctx, state_high, state_low, increment_high, increment_low):
    """PCG64's step, state·multiplier + increment (mod 2¹²⁸), on 64-bit halves in and out. Written in
    LLVM's 128-bit integers, which Numba lacks: one hardware 64×64→128-bit multiply, not four 32-bit ones.
    """
    halves = types.UniTuple(types.uint64, 2)
    signature = halves(types.uint64, types.uint64, types.uint64, types.uint64)

    def codegen(context, builder, signature, args):
        wide, half = ir.IntType(128), ir.IntType(64)
        high_shift = ir.Constant(wide, 64)
        state_high, state_low, increment_high, increment_low = (builder.zext(arg, wide) for arg in args)
        state = builder.or_(builder.shl(state_high, high_shift), state_low)
        increment = builder.or_(builder.shl(increment_high, high_shift), increment_low)
        stepped = builder.add(builder.mul(state, ir.Constant(wide, _MULTIPLIER)), increment)
        new_halves = [builder.trunc(builder.lshr(stepped, high_shift), half), builder.trunc(stepped, half)]
        return context.make_tuple(builder, signature.return_type, new_halves)

    return signature, codegen


@njit(inline="always")
def _xsl_rr(state_high: np.uint64, state_low: np.uint64) -> np.uint64:
    """PCG64's output: the state's halves xor-ed, rotated right by its top 6 bits."""
    mixed, rotation = state_high ^ state_low, state_high >> uint64(58)
    return (mixed >> rotation) | (mixed << ((uint64(64) - rotation) & uint64(63)))


@njit(nogil=True, cache=True)
def _dare_sum(
    sft: np.ndarray,
    aligned: np.ndarray,
    vector: np.ndarray,
    out: np.ndarray,
    state_high: np.uint64,
    state_low: np.uint64,
    increment_high: np.uint64,
    increment_low: np.uint64,
    skip: int,
    keep_from: np.uint16,
    scale: np.float32,
    beta: np.float32,
) -> None:
    words = np.empty(_WORDS_PER_CHUNK, np.uint16)
    done = 0
    while done < out.size:
        for draw in range(_DRAWS_PER_CHUNK):
            state_high, state_low = _pcg64_step(state_high, state_low, increment_high, increment_low)
            bits = _xsl_rr(state_high, state_low)
            for word in range(4):  # little-endian 16-bit words, as rng.words reads them
                words[4 * draw + word] = uint16((bits >> uint64(16 * word)) & uint64(0xFFFF))
        # The first chunk's first ``skip`` words belong to elements before this block.
        count = min(_WORDS_PER_CHUNK - skip, out.size - done)
        first, offset = uint64(done), uint64(skip)
        for j in range(uint64(count)):  # unsigned indices: no wraparound checks, so the loop vectorises
            i = first + j
            factor = scale if words[offset + j] >= keep_from else np.float32(0.0)
            out[i] = ((sft[i] - aligned[i]) * factor + aligned[i]) + vector[i] * beta
        done += count
        skip = 0


def dare_sum(
    sft: torch.Tensor,
    aligned: torch.Tensor,
    vector: torch.Tensor,
    beta: float,
    p: float,
    seed: int,
    name: str,
    start: int,
) -> torch.Tensor:
    """θ_aligned + DARE_p(θ_sft − θ_aligned) + β·v for float32 CPU tensors of one shape, whose first
    element is element ``start`` of tensor ``name``. One thread: the engine computes blocks side by side."""
    out = torch.empty(sft.shape, dtype=torch.float32)
    flat = [t.float().contiguous().view(-1).numpy() for t in (sft, aligned, vector, out)]
    state = rng.stream_state(seed, name, start)
    _dare_sum(*flat, *state, rng.threshold(p), rng.rescale(p), np.float32(beta))
    return out
