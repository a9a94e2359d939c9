"""Weight-space re-alignment: safety vectors, RESTA, DARE and comparison methods, streamed tensor by tensor.

from resta_bench import realign
realign.make_safety_vector("llama-chat", "llama-chat-unaligned", "vector")
realign.realign("resta", sft="llama-chat-code", vector="vector", out="llama-chat-code-resta", beta=0.5)
"""

from __future__ import annotations

import importlib
from typing import Any

from resta_bench.realign.errors import RealignError

# Loaded on first use: they import torch, which light modules here (params, finetune's signature) and
# the command line's help must not pay for.
_LAZY = {
    "describe_methods": "resta_bench.realign.api",
    "make_safety_vector": "resta_bench.realign.api",
    "realign": "resta_bench.realign.api",
    "method_names": "resta_bench.realign.methods",
}

__all__ = ["RealignError", "describe_methods", "make_safety_vector", "method_names", "realign"]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
