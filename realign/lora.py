"""A PEFT LoRA adapter seen as a full SFT checkpoint: θ_sft = θ_base + scaling · B·A, per module.

The update is materialised row block by row block in float32, so DARE and the other methods see the
full update of each weight (never A and B separately) and memory stays bounded by one block.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from resta_bench.realign.checkpoint import (
    Checkpoint,
    TensorInfo,
    all_finite,
    open_safetensors,
    read_json,
    refuse_pickles,
)
from resta_bench.realign.errors import RealignError

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
PEFT_PREFIX = "base_model.model."
FACTOR_KEY = re.compile(
    r"^(?P<module>.+)\.(?P<factor>lora_A|lora_B|lora_embedding_A|lora_embedding_B)(\.weight)?$"
)


def is_lora_adapter(path: str | Path) -> bool:
    return (Path(path) / ADAPTER_CONFIG).is_file()


@dataclass(frozen=True)
class LowRankUpdate:
    """ΔW[rows] = scaling · left[rows] @ right, with ``left``/``right`` oriented as the stored weight."""

    left: torch.Tensor
    right: torch.Tensor
    scaling: float

    def rows(self, start: int, stop: int) -> torch.Tensor:
        return (self.left[start:stop] @ self.right).mul_(self.scaling)


def is_positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def is_finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_object(value: Any) -> bool:
    return isinstance(value, dict)


def _is_regex(value: str) -> bool:
    try:
        re.compile(value)
    except re.error:
        return False
    return True


def _checked(file: Path, name: str, value: Any, valid: Callable[[Any], bool], expected: str) -> Any:
    if value is None:
        raise RealignError(f"{file}: field {name!r} is missing (expected {expected})")
    if not valid(value):
        raise RealignError(f"{file}: field {name!r} must be {expected}, got {value!r}")
    return value


@dataclass(frozen=True)
class AdapterSettings:
    """What ``adapter_config.json`` says about the update: rank and alpha, per module where patterns say."""

    rank: int
    alpha: float
    rank_pattern: dict[str, int]
    alpha_pattern: dict[str, float]
    fan_in_fan_out: bool
    use_rslora: bool

    @classmethod
    def read(cls, file: Path) -> AdapterSettings:
        """The settings, each checked: PEFT writes every one, so a missing or odd one is a broken file."""
        config = read_json(file)
        if config.get("peft_type") != "LORA":
            raise RealignError(
                f"{file}: field 'peft_type' is {config.get('peft_type')!r}; only LORA adapters are supported"
            )
        flags = {}
        for name in ("use_dora", "fan_in_fan_out", "use_rslora"):
            flags[name] = _checked(file, name, config.get(name) or False, _is_bool, "true or false")
        if flags.pop("use_dora"):
            raise RealignError(f"{file}: field 'use_dora' is true; DoRA adapters are not supported")
        patterns = {
            name: _checked(file, name, config.get(name) or {}, _is_object, "an object")
            for name in ("rank_pattern", "alpha_pattern")
        }
        for name, pattern in patterns.items():
            for key in pattern:
                _checked(file, f"{name} key", key, _is_regex, "a regular expression")
        return cls(
            rank=_checked(file, "r", config.get("r"), is_positive_int, "a positive integer"),
            alpha=_checked(file, "lora_alpha", config.get("lora_alpha"), is_finite_number, "a number"),
            rank_pattern={
                key: _checked(file, f"rank_pattern.{key}", value, is_positive_int, "a positive integer")
                for key, value in patterns["rank_pattern"].items()
            },
            alpha_pattern={
                key: _checked(file, f"alpha_pattern.{key}", value, is_finite_number, "a number")
                for key, value in patterns["alpha_pattern"].items()
            },
            **flags,
        )


def _pattern_value(patterns: dict, module: str, default: float) -> float:
    """PEFT's rank_pattern and alpha_pattern: a key matches a module by its full name or a dotted suffix."""
    for key, value in patterns.items():
        if re.fullmatch(rf"(.*\.)?{key}", module):
            return value
    return default


class LoraSft:
    """The SFT model defined by a LoRA adapter on top of ``base`` (the aligned model it was trained from)."""

    def __init__(
        self, path: str | Path, base: Checkpoint, role: str = "sft", *, named: str | None = None
    ) -> None:
        self.path = Path(path)
        self.role = role
        self.named = named or role  # as the caller spells the input: --sft, sft
        self.base = base
        self.settings = AdapterSettings.read(self.path / ADAPTER_CONFIG)
        weights = self.path / ADAPTER_WEIGHTS
        if not weights.is_file():
            refuse_pickles(self.path, self.named)
        self.updates, self.replaced = self._load(weights)

    def _load(self, weights: Path) -> tuple[dict[str, LowRankUpdate], dict[str, torch.Tensor]]:
        factors: dict[str, dict[str, torch.Tensor]] = {}
        replaced: dict[str, torch.Tensor] = {}
        with open_safetensors(weights) as handle:
            for key in handle.keys():
                name = key.removeprefix(PEFT_PREFIX)
                tensor = handle.get_tensor(key)
                if tensor.is_floating_point() and not all_finite(tensor):
                    raise RealignError(f"{weights}: tensor {key} holds NaN or Inf values")
                match = FACTOR_KEY.match(name)
                if match:
                    factors.setdefault(match["module"], {})[match["factor"]] = tensor.float()
                elif self.base.info(name) is not None:  # modules_to_save: a full trained copy
                    replaced[name] = tensor
                else:
                    raise RealignError(f"{weights}: tensor {key} matches no LoRA factor and no base tensor")
        updates = {}
        for module, pair in factors.items():
            updates[f"{module}.weight"] = self._update(weights, module, pair)
        return updates, replaced

    def _update(self, weights: Path, module: str, pair: dict[str, torch.Tensor]) -> LowRankUpdate:
        target = f"{module}.weight"
        info = self.base.info(target)
        if info is None:
            raise RealignError(
                f"{weights}: adapts {module}, but {self.base.named} {self.base.path} has no tensor {target}"
            )
        settings = self.settings
        if "lora_A" in pair and "lora_B" in pair:
            a, b = pair["lora_A"], pair["lora_B"]
            transposed = settings.fan_in_fan_out
        elif "lora_embedding_A" in pair and "lora_embedding_B" in pair:
            a, b = pair["lora_embedding_A"], pair["lora_embedding_B"]
            transposed = True  # PEFT's embedding update is (B·A)ᵀ
        else:
            raise RealignError(f"{weights}: module {module} lacks one of its LoRA factors A and B")
        if a.dim() != 2 or b.dim() != 2:
            raise RealignError(
                f"{weights}: module {module} has non-matrix LoRA factors (conv LoRA is not supported)"
            )
        rank = _pattern_value(settings.rank_pattern, module, settings.rank)
        if a.shape[0] != rank or b.shape[1] != rank:
            raise RealignError(
                f"{weights}: module {module} has LoRA factors of rank {a.shape[0]} (A) and {b.shape[1]} (B), "
                f"but {ADAPTER_CONFIG} says r = {rank}"
            )
        alpha = _pattern_value(settings.alpha_pattern, module, settings.alpha)
        scaling = alpha / math.sqrt(rank) if settings.use_rslora else alpha / rank
        update = (
            LowRankUpdate(a.T.contiguous(), b.T.contiguous(), scaling)
            if transposed
            else LowRankUpdate(b, a, scaling)
        )
        shape = (update.left.shape[0], update.right.shape[1])
        if shape != info.shape:
            raise RealignError(
                f"{weights}: update of {module} has shape {list(shape)}, {target} has {list(info.shape)}"
            )
        return update

    def names(self) -> list[str]:
        return self.base.names()

    def info(self, name: str) -> TensorInfo | None:
        info = self.base.info(name)
        if name in self.replaced and info is not None:
            return TensorInfo(name, tuple(self.replaced[name].shape), info.dtype, self.path / ADAPTER_WEIGHTS)
        return info

    def read(self, name: str, start: int, stop: int) -> torch.Tensor:
        if name in self.replaced:
            return self.replaced[name][start:stop].float()
        rows = self.base.read(name, start, stop)
        update = self.updates.get(name)
        return rows if update is None else rows + update.rows(start, stop)

    def read_stored(self, name: str, start: int, stop: int) -> torch.Tensor:
        if name in self.replaced:
            return self.replaced[name][start:stop]
        if name in self.updates:
            return self.read(name, start, stop)  # materialised in float32; the writer stores the base dtype
        return self.base.read_stored(name, start, stop)

    def check_finite(self, name: str, start: int, stop: int) -> None:
        if name not in self.replaced:  # the adapter's own tensors were checked when it was loaded
            self.base.check_finite(name, start, stop)

    def files(self) -> list[Path]:
        return sorted(p for p in self.path.iterdir() if p.is_file())

    def config(self) -> dict:
        return self.base.config()
