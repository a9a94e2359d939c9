"""Per-tensor random streams, so that DARE masks depend only on (seed, tensor name)."""

from __future__ import annotations

import hashlib

import numpy as np
import torch


def tensor_seed(seed: int, name: str) -> int:
    """A 63-bit seed derived from the run seed and the tensor name (stable across Python runs)."""
    digest = hashlib.sha256(f"{seed}\0{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


class TensorStream:
    """U[0, 1) float32 draws from a NumPy PCG64 generator seeded by (seed, tensor name).

    Drawn on the CPU whatever the compute device, so the bits do not depend on it or on the thread
    count; successive calls continue one stream, so row blocks together draw what one call for the
    whole tensor would. (PCG64 draws float32 about twice as fast as torch's CPU generator.)
    """

    def __init__(self, seed: int, name: str) -> None:
        self._generator = np.random.Generator(np.random.PCG64(tensor_seed(seed, name)))

    def _draw(self, shape: tuple[int, ...]) -> np.ndarray:
        return np.asarray(self._generator.random(tuple(shape), dtype=np.float32))

    def uniform(self, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.from_numpy(self._draw(shape))

    def keep_mask(self, shape: tuple[int, ...], p: float) -> torch.Tensor:
        """1.0 where the draw is ≥ p (probability 1−p), else 0.0, as float32: multiplying by it costs a
        third of a boolean ``masked_fill_``, and the comparison is done in NumPy, the cheaper of the two."""
        return torch.from_numpy((self._draw(shape) >= np.float32(p)).astype(np.float32))
