"""DARE's random drops, which depend only on (seed, tensor name, position in the tensor).

Each tensor has its own stream of uniform 16-bit words: NumPy PCG64 seeded by (seed, tensor name), each
raw 64-bit draw split little-endian into four words. PCG64 can jump ahead, so the words of any element
range are a pure function of (seed, name, first element, count): row blocks of a tensor together draw what
one call for the whole tensor would, whatever the block size, thread count or device.

An element is kept when its word is ≥ round(p·2¹⁶): p is resolved to 2⁻¹⁶ (a drop probability within
2⁻¹⁷ ≈ 7.6·10⁻⁶ of p, far below the sampling noise of any tensor's mask); 16-bit words need a quarter of
the draws of float32 uniforms. ``dare_factors`` draws with NumPy for any device; on the CPU,
``realign.dare_kernel`` steps the same generator itself from ``stream_state``.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

_WORD_VALUES = 2**16
_WORDS_PER_DRAW = 4
_LOW_64 = 2**64 - 1
_MIN_PART_ELEMENTS = 1 << 20  # below this, a thread hand-off costs more than it saves


def tensor_seed(seed: int, name: str) -> int:
    """A 63-bit seed derived from the run seed and the tensor name (stable across Python runs)."""
    digest = hashlib.sha256(f"{seed}\0{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def _stream_at(seed: int, name: str, start: int) -> np.random.PCG64:
    """The tensor's generator, advanced to the draw that holds word ``start``."""
    bits = np.random.PCG64(tensor_seed(seed, name))
    bits.advance(start // _WORDS_PER_DRAW)
    return bits


def words(seed: int, name: str, start: int, count: int) -> np.ndarray:
    """Words ``start`` to ``start + count`` of the tensor's stream, as little-endian uint16 on every
    platform."""
    bits = _stream_at(seed, name, start)
    within = start % _WORDS_PER_DRAW  # the range starts in the middle of a draw
    draws = -(-(within + count) // _WORDS_PER_DRAW)
    return bits.random_raw(draws).astype("<u8", copy=False).view("<u2")[within : within + count]


def stream_state(seed: int, name: str, start: int) -> tuple[np.uint64, np.uint64, np.uint64, np.uint64, int]:
    """Where word ``start`` of the tensor's stream is, for a generator that steps PCG64 itself: the 128-bit
    state and increment before the draw that holds it, as (state high, state low, increment high,
    increment low) halves, and how many of that draw's words come before it."""
    state = _stream_at(seed, name, start).state["state"]
    state, increment = state["state"], state["inc"]
    return (
        np.uint64(state >> 64),
        np.uint64(state & _LOW_64),
        np.uint64(increment >> 64),
        np.uint64(increment & _LOW_64),
        start % _WORDS_PER_DRAW,
    )


# p resolves to round(p·2¹⁶)·2⁻¹⁶, which is 1 (every element dropped, no word keeps one) from this p on.
DROPS_ALL_FROM = 1 - 2**-17


def threshold(p: float) -> np.uint16:
    """The smallest word that keeps an element: round(p·2¹⁶), for p below ``DROPS_ALL_FROM``."""
    return np.uint16(round(p * _WORD_VALUES))


def rescale(p: float) -> np.float32:
    """DARE's 1/(1−p) in float32. Kept elements are multiplied by it: a product is correctly rounded on
    every device, where a division by a scalar is not (CUDA multiplies by its reciprocal)."""
    return np.float32(1.0 / (1.0 - p))


def dare_factors(seed: int, name: str, start: int, count: int, p: float) -> np.ndarray:
    """What DARE multiplies elements ``start`` to ``start + count`` of the tensor by: ``rescale(p)`` where
    the word keeps the element (word ≥ round(p·2¹⁶), probability 1−p), 0 where it drops it; float32.

    Large ranges are split into one part per torch intra-op thread, drawn on a pool of threads (NumPy
    releases the GIL). Each part draws its own range of the stream, so the bits do not depend on the split.
    """
    factors = np.empty(count, dtype=np.float32)

    def fill(low: int, high: int) -> None:
        kept = words(seed, name, start + low, high - low) >= threshold(p)
        np.multiply(kept, rescale(p), out=factors[low:high])

    parts = max(1, min(torch.get_num_threads(), count // _MIN_PART_ELEMENTS))
    bounds = [count * i // parts for i in range(parts + 1)]
    ranges = list(itertools.pairwise(bounds))
    helping = [_worker_pool().submit(fill, low, high) for low, high in ranges[1:]]
    fill(*ranges[0])
    for part in helping:
        part.result()
    return factors


@functools.cache
def _worker_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(thread_name_prefix="dare-parts")
