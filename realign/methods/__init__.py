"""Re-alignment methods: one module each, registered by name on import."""

from realign.methods import hdr, interpolate, resta, safe_lora, safety_vector, task_arithmetic  # noqa: F401
from realign.methods.registry import Method, TensorContext, get_method, method_names, register_method

__all__ = ["Method", "TensorContext", "get_method", "method_names", "register_method"]
