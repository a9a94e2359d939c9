"""Weight-space re-alignment: safety vectors, RESTA, DARE and comparison methods, streamed tensor by tensor.

import realign
realign.make_safety_vector("llama-chat", "llama-chat-unaligned", "vector")
realign.realign("resta", sft="llama-chat-code", vector="vector", out="llama-chat-code-resta", beta=0.5)
"""

from realign.api import describe_methods, make_safety_vector, realign
from realign.errors import RealignError
from realign.methods import method_names

__all__ = ["RealignError", "describe_methods", "make_safety_vector", "method_names", "realign"]
