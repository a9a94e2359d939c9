"""Weight-space re-alignment: safety vectors, RESTA, DARE and comparison methods, streamed tensor by tensor.

from resta_bench import realign
realign.make_safety_vector("llama-chat", "llama-chat-unaligned", "vector")
realign.realign("resta", sft="llama-chat-code", vector="vector", out="llama-chat-code-resta", beta=0.5)
"""

from resta_bench.realign.api import describe_methods, make_safety_vector, realign
from resta_bench.realign.errors import RealignError
from resta_bench.realign.methods import method_names

__all__ = ["RealignError", "describe_methods", "make_safety_vector", "method_names", "realign"]
