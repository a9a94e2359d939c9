"""Re-alignment methods: one module each, registered by name on import."""

from resta_bench.realign.methods import hdr, interpolate, resta, safe_lora, safety_vector, task_arithmetic  # noqa: F401
from resta_bench.realign.methods.registry import (
    Method,
    TensorContext,
    get_method,
    method_names,
    register_method,
)

__all__ = ["Method", "TensorContext", "get_method", "method_names", "register_method"]
