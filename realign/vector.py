"""Safety vectors v = θ_aligned − θ_unaligned: computed on the fly, or read from a saved vector dir."""

from __future__ import annotations

from pathlib import Path

import torch
from resta_bench.realign.checkpoint import Checkpoint, TensorInfo, read_json
from resta_bench.realign.errors import RealignError

VECTOR_METHOD = "safety-vector"


def open_vector_dir(path: str | Path, *, named: str = "vector") -> Checkpoint:
    """A dir written by ``make_safety_vector``; refuses a plain model dir given by mistake. Errors name
    it as ``named`` (``--vector`` on the command line)."""
    vector = Checkpoint(path, "vector", named=named)
    recipe = vector.path / "recipe.json"
    if not recipe.is_file() or read_json(recipe).get("method") != VECTOR_METHOD:
        raise RealignError(
            f"{named} {vector.path}: not a safety vector (its recipe.json does not say method "
            f"{VECTOR_METHOD!r}); make one with `resta safety-vector`"
        )
    return vector


class VectorFromModels:
    """The vector as the difference of two checkpoints, read row block by row block in float32."""

    role = "vector"

    def __init__(self, aligned: Checkpoint, unaligned: Checkpoint) -> None:
        self.aligned, self.unaligned = aligned, unaligned
        self.path = aligned.path

    def names(self) -> list[str]:
        return self.aligned.names()

    def info(self, name: str) -> TensorInfo | None:
        aligned, unaligned = self.aligned.info(name), self.unaligned.info(name)
        if aligned is None or unaligned is None:
            return None
        for what, ours, theirs in (
            ("shape", aligned.shape, unaligned.shape),
            ("dtype", aligned.dtype, unaligned.dtype),
        ):
            if ours != theirs:
                raise RealignError(
                    f"tensor {name}: {what} {ours} in {aligned.file} but {theirs} in {unaligned.file}"
                )
        return aligned

    def read(self, name: str, start: int, stop: int) -> torch.Tensor:
        return self.aligned.read(name, start, stop) - self.unaligned.read(name, start, stop)

    def read_stored(self, name: str, start: int, stop: int) -> torch.Tensor:
        return self.read(name, start, stop)  # a derived vector exists only in float32

    def check_finite(self, name: str, start: int, stop: int) -> None:
        self.aligned.check_finite(name, start, stop)
        self.unaligned.check_finite(name, start, stop)

    def files(self) -> list[Path]:
        return []

    def config(self) -> dict:
        return self.aligned.config()
