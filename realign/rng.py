"""Per-tensor random streams, so that DARE masks depend only on (seed, tensor name)."""

from __future__ import annotations

import hashlib

import numpy as np
import torch

_WORD_VALUES = 2**32


def tensor_seed(seed: int, name: str) -> int:
    """A 63-bit seed derived from the run seed and the tensor name (stable across Python runs)."""
    digest = hashlib.sha256(f"{seed}\0{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


class TensorStream:
    """Uniform 32-bit words from a NumPy PCG64 generator seeded by (seed, tensor name).

    Drawn on the CPU whatever the compute device, so the bits do not depend on it or on the thread
    count; successive calls continue one stream (a word left over from an odd-sized block is kept for
    the next), so row blocks together draw what one call for the whole tensor would. Raw words compared
    with an integer threshold cost two thirds of drawing float32 uniforms and comparing those, and
    resolve p to 2⁻³² instead of float32's 2⁻²⁴.
    """

    def __init__(self, seed: int, name: str) -> None:
        self._bits = np.random.PCG64(tensor_seed(seed, name))
        self._carry = np.empty(0, dtype="<u4")

    def words(self, count: int) -> np.ndarray:
        """The stream's next ``count`` words, as little-endian uint32 on every platform."""
        needed = count - self._carry.size
        fresh = self._bits.random_raw((needed + 1) // 2).astype("<u8", copy=False).view("<u4")
        words = np.concatenate((self._carry, fresh)) if self._carry.size else fresh
        self._carry = words[count:]
        return words[:count]

    def keep_mask(self, shape: tuple[int, ...], p: float) -> torch.Tensor:
        """1.0 where the next word is ≥ p·2³² (probability 1−p), else 0.0, as float32: multiplying by it
        costs a third of a boolean ``masked_fill_``."""
        count = int(np.prod(shape, dtype=np.int64))
        keep = np.empty(count, dtype=np.float32)
        np.greater_equal(self.words(count), np.uint32(round(p * _WORD_VALUES)), out=keep, casting="unsafe")
        return torch.from_numpy(keep).reshape(shape)
