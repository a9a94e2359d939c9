"""Per-tensor random generators, so that DARE masks depend only on (seed, tensor name)."""

from __future__ import annotations

import hashlib

import torch


def tensor_seed(seed: int, name: str) -> int:
    """A 63-bit seed derived from the run seed and the tensor name (stable across Python runs)."""
    digest = hashlib.sha256(f"{seed}\0{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def tensor_generator(seed: int, name: str) -> torch.Generator:
    """A CPU generator: CPU draws are the same whatever the thread count or the compute device."""
    return torch.Generator(device="cpu").manual_seed(tensor_seed(seed, name))
