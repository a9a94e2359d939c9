"""Streams output tensors into safetensors shards whose layout is planned before any data is computed.

Output names, shapes and dtypes are known up front (they follow the template input), so each shard's
header is written first and tensor bytes are appended as they are computed: the write buffer is one
row block, whatever the shard size.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import torch
from resta_bench.realign.checkpoint import DTYPE_NAMES, INDEX_FILE


@dataclass(frozen=True)
class PlannedTensor:
    name: str
    shape: tuple[int, ...]
    dtype: torch.dtype

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


@dataclass
class Shard:
    file_name: str
    tensors: list[PlannedTensor] = field(default_factory=list)

    @property
    def nbytes(self) -> int:
        return sum(t.nbytes for t in self.tensors)

    def header(self) -> bytes:
        entries: dict[str, dict] = {"__metadata__": {"format": "pt"}}
        offset = 0
        for tensor in self.tensors:
            entries[tensor.name] = {
                "dtype": DTYPE_NAMES[tensor.dtype],
                "shape": list(tensor.shape),
                "data_offsets": [offset, offset + tensor.nbytes],
            }
            offset += tensor.nbytes
        raw = json.dumps(entries, separators=(",", ":")).encode()
        raw += b" " * (-len(raw) % 8)  # keeps tensor data 8-byte aligned
        return len(raw).to_bytes(8, "little") + raw


def plan_shards(tensors: list[PlannedTensor], max_shard_bytes: int) -> list[Shard]:
    """Greedy packing in the given order; a tensor larger than the limit gets a shard of its own."""
    groups: list[list[PlannedTensor]] = [[]]
    size = 0
    for tensor in tensors:
        if groups[-1] and size + tensor.nbytes > max_shard_bytes:
            groups.append([])
            size = 0
        groups[-1].append(tensor)
        size += tensor.nbytes
    if len(groups) == 1:
        return [Shard("model.safetensors", groups[0])]
    return [Shard(f"model-{i:05d}-of-{len(groups):05d}.safetensors", g) for i, g in enumerate(groups, 1)]


class ShardWriter:
    """Writes planned shards in order; ``write`` takes consecutive row blocks of the current tensor."""

    def __init__(self, out_dir: Path, shards: list[Shard]) -> None:
        self.out_dir = out_dir
        self.shards = shards
        self._queue = [(shard, tensor) for shard in shards for tensor in shard.tensors]
        self._position = 0
        self._written = 0  # bytes of the current tensor so far
        self._file: BinaryIO | None = None
        self._shard: Shard | None = None

    def write(self, name: str, rows: torch.Tensor) -> None:
        shard, tensor = self._queue[self._position]
        if name != tensor.name:
            raise RuntimeError(f"writer expected tensor {tensor.name}, got {name}")
        if shard is not self._shard:
            self._open(shard)
        data = rows.to(tensor.dtype).contiguous().reshape(-1).view(torch.uint8).numpy()
        self._file.write(data)
        self._written += data.nbytes
        if self._written > tensor.nbytes:
            raise RuntimeError(f"writer got more bytes than planned for {name}")
        if self._written == tensor.nbytes:
            self._position += 1
            self._written = 0

    def _open(self, shard: Shard) -> None:
        self._close_file()
        self._shard = shard
        self._file = open(self.out_dir / shard.file_name, "wb")  # noqa: SIM115 - closed in _close_file
        self._file.write(shard.header())

    def _close_file(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def close(self) -> None:
        """Checks that every planned byte arrived, then writes the index when there are several shards."""
        self._close_file()
        if self._position != len(self._queue):
            raise RuntimeError(f"writer stopped before tensor {self._queue[self._position][1].name}")
        if len(self.shards) > 1:
            weight_map = {t.name: shard.file_name for shard in self.shards for t in shard.tensors}
            index = {"metadata": {"total_size": sum(s.nbytes for s in self.shards)}, "weight_map": weight_map}
            (self.out_dir / INDEX_FILE).write_text(json.dumps(index, indent=2) + "\n")

    def abort(self) -> None:
        self._close_file()
