"""Read-only views of safetensors checkpoints: a model dir (one or many shards, with or without index).

Every read opens the shard with ``safe_open`` (memory-mapped), slices the rows asked for and closes
it again. The rows are converted to float32 straight from the mapped pages, and pages of a map stay
resident (and count in the RSS) only while it is open, so memory holds one row block per input, not
a shard. (safetensors' ``pread`` backend copies less but reads whole tensors for a slice: slower.)
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
from resta_bench.realign.errors import RealignError
from safetensors import SafetensorError, safe_open

INDEX_FILE = "model.safetensors.index.json"
PICKLED_PATTERNS = ("*.bin", "*.pt", "*.pth", "*.ckpt")

# Where a tied output embedding lives when a checkpoint stores only the input embedding.
OUTPUT_EMBEDDING_SUFFIXES = ("lm_head.weight", "embed_out.weight")
INPUT_EMBEDDING_SUFFIXES = ("embed_tokens.weight", "wte.weight", "word_embeddings.weight", "embed_in.weight")

DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
    "F8_E4M3": torch.float8_e4m3fn,
    "F8_E5M2": torch.float8_e5m2,
}
DTYPE_NAMES = {dtype: name for name, dtype in DTYPES.items()}


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    dtype: torch.dtype
    file: Path


class Source(Protocol):
    """What the engine needs from an input: tensor names, their shape and dtype, and row reads."""

    role: str
    path: Path

    def names(self) -> list[str]: ...

    def info(self, name: str) -> TensorInfo | None: ...

    def read(self, name: str, start: int, stop: int) -> torch.Tensor:
        """Rows ``start:stop`` of dim 0 in float32, to compute with (callers must not modify them)."""

    def read_stored(self, name: str, start: int, stop: int) -> torch.Tensor:
        """The same rows in the dtype they are stored in, to copy."""

    def check_finite(self, name: str, start: int, stop: int) -> None:
        """Raises ``RealignError`` naming the file when these rows hold NaN or Inf."""

    def files(self) -> list[Path]: ...

    def config(self) -> dict: ...


def refuse_pickles(path: Path, named: str) -> None:
    """Pickled checkpoints can run code when loaded; say how to convert them instead. ``named`` is the
    input as the caller spells it (``--sft`` on the command line, ``sft`` in Python)."""
    pickled = sorted(p.name for pattern in PICKLED_PATTERNS for p in path.glob(pattern))
    if pickled:
        convert = (
            'python -c "from transformers import AutoModelForCausalLM as M; '
            f"M.from_pretrained('{path}').save_pretrained('{path}-safetensors')\""
        )
        raise RealignError(
            f"{named} {path}: holds only pickled weights ({pickled[0]}), which resta never unpickles; "
            f"convert them once where you trust the file: {convert}"
        )
    raise RealignError(f"{named} {path}: no *.safetensors files in this directory")


def read_json(path: Path) -> dict:
    """The JSON object in ``path``; every file resta reads this way (configs, indexes, recipes) holds one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RealignError(f"{path}: not a readable JSON file ({error})") from None
    if not isinstance(data, dict):
        raise RealignError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data


def all_finite(tensor: torch.Tensor) -> bool:
    """No NaN and no ±Inf. min and max propagate NaN and are infinite when an element is: one fast
    reduction, several times faster than ``isfinite(...).all()`` on bfloat16."""
    if tensor.numel() == 0:
        return True
    low, high = torch.aminmax(tensor)
    return math.isfinite(low.item()) and math.isfinite(high.item())


@contextmanager
def open_safetensors(file: Path) -> Iterator:
    """``safe_open`` with errors turned into one line naming the file."""
    try:
        handle = safe_open(file, framework="pt")
    except (SafetensorError, OSError) as error:
        raise RealignError(f"{file}: not a readable safetensors file ({error})") from None
    with handle as opened:
        yield opened


class Checkpoint:
    """A Hugging Face model dir (or a safety-vector dir) of safetensors shards; errors name it as
    ``named`` (the caller's spelling of the input: ``--sft``, ``sft``; default: ``role``)."""

    def __init__(self, path: str | Path, role: str, *, named: str | None = None) -> None:
        self.path = Path(path)
        self.role = role
        self.named = named or role
        if not self.path.exists():
            raise RealignError(f"{self.named} {self.path}: no such directory")
        if not self.path.is_dir():
            raise RealignError(f"{self.named} {self.path}: not a directory (give the model's folder)")
        self._tensors = self._scan()
        self._config = read_json(self.path / "config.json") if (self.path / "config.json").is_file() else {}
        self.aliases: dict[str, str] = {}
        # The last float32 block each thread read: a method may read a checkpoint twice for one block (as
        # itself and inside a safety vector), and this serves the second read without reading or
        # converting again. Per thread, since the engine's workers read blocks side by side.
        self._last_read = threading.local()

    def _shard_files(self) -> list[Path]:
        index = self.path / INDEX_FILE
        if index.is_file():
            weight_map = read_json(index).get("weight_map")
            if not isinstance(weight_map, dict) or not weight_map:
                raise RealignError(f"{index}: field 'weight_map' must be a non-empty object")
            for name, shard in weight_map.items():
                # A shard is a file of this folder: its hash is in the recipe, which hashes only those.
                if not isinstance(shard, str) or Path(shard).name != shard or shard in ("", ".", ".."):
                    raise RealignError(f"{index}: tensor {name} names {shard!r}, not a file of the folder")
            files = sorted({self.path / name for name in weight_map.values()})
            for file in files:
                if not file.is_file():
                    raise RealignError(f"{index}: names shard {file.name}, which is missing")
            self._weight_map = weight_map
            return files
        self._weight_map = None
        files = sorted(p for p in self.path.glob("*.safetensors") if p.name != "adapter_model.safetensors")
        if not files:
            refuse_pickles(self.path, self.named)
        return files

    def _scan(self) -> dict[str, TensorInfo]:
        tensors: dict[str, TensorInfo] = {}
        for file in self._shard_files():
            with open_safetensors(file) as handle:
                for name in handle.keys():
                    if name in tensors:
                        raise RealignError(f"{file}: tensor {name} is also in {tensors[name].file.name}")
                    view = handle.get_slice(name)
                    dtype = DTYPES.get(view.get_dtype())
                    if dtype is None:
                        raise RealignError(f"{file}: tensor {name} has unsupported dtype {view.get_dtype()}")
                    tensors[name] = TensorInfo(name, tuple(view.get_shape()), dtype, file)
        if self._weight_map is not None:
            for name, shard in self._weight_map.items():
                if name not in tensors or tensors[name].file.name != shard:
                    raise RealignError(f"{self.path / INDEX_FILE}: tensor {name} is not in {shard}")
        return tensors

    def names(self) -> list[str]:
        return list(self._tensors)

    def info(self, name: str) -> TensorInfo | None:
        found = self._tensors.get(name)
        if (
            found is None
            and self.config().get("tie_word_embeddings")
            and name.endswith(OUTPUT_EMBEDDING_SUFFIXES)
        ):
            found = self._tied_input_embedding(name)
        return found

    def _tied_input_embedding(self, name: str) -> TensorInfo | None:
        for candidate, info in self._tensors.items():
            if candidate.endswith(INPUT_EMBEDDING_SUFFIXES):
                self.aliases[name] = candidate
                return TensorInfo(name, info.shape, info.dtype, info.file)
        return None

    def read(self, name: str, start: int, stop: int) -> torch.Tensor:
        last = getattr(self._last_read, "block", None)
        if last is not None and last[0] == (name, start, stop):
            return last[1]
        rows = self.read_stored(name, start, stop).float()
        self._last_read.block = ((name, start, stop), rows)
        return rows

    def read_stored(self, name: str, start: int, stop: int) -> torch.Tensor:
        """Rows ``start:stop`` of dim 0 (the whole tensor for a 0-d one)."""
        stored = self.aliases.get(name, name)
        info = self._tensors[stored]
        with open_safetensors(info.file) as handle:
            try:
                rows = handle.get_tensor(stored) if not info.shape else handle.get_slice(stored)[start:stop]
            except (SafetensorError, OSError) as error:
                raise RealignError(f"{info.file}: cannot read tensor {stored} ({error})") from None
        return rows

    def check_finite(self, name: str, start: int, stop: int) -> None:
        rows = self.read_stored(name, start, stop)
        if rows.is_floating_point() and not all_finite(rows):
            stored = self.aliases.get(name, name)
            raise RealignError(f"{self._tensors[stored].file}: tensor {stored} holds NaN or Inf values")

    def files(self) -> list[Path]:
        return sorted(p for p in self.path.iterdir() if p.is_file())

    def config(self) -> dict:
        return self._config
