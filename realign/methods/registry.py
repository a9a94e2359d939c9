"""The method registry: a method is one decorated per-tensor function whose signature is its configuration.

Positional parameters name the inputs it reads (``sft``, ``aligned``, ``unaligned``, ``vector``, ``base``,
``models``); one with a default of ``None`` is optional. Keyword-only parameters (after ``*``) are its
hyper-parameters with their defaults, except ``ctx``, the per-tensor context the engine passes.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from resta_bench.realign.errors import RealignError
from resta_bench.realign.prepass import Prepass

ROLES = ("sft", "aligned", "unaligned", "vector", "base", "models")


@dataclass
class TensorContext:
    """What a method may know about the tensor at hand besides its values."""

    name: str
    seed: int
    device: torch.device
    notes: dict[str, list[str]]
    # Where the block starts in the tensor, counted in elements (0 for a whole tensor). Element i of the
    # tensor has word i of the tensor's random stream (seeded by seed and name), whatever the blocks.
    start: int = 0
    # What the method's pre-pass derived from the whole model (empty without one); shared, read-only.
    derived: dict[str, Any] = field(default_factory=dict)

    def note(self, kind: str) -> None:
        """Records this tensor under ``kind`` in the run's report (e.g. "safe-lora projected")."""
        names = self.notes.setdefault(kind, [])
        if self.name not in names:
            names.append(self.name)


@dataclass(frozen=True)
class Method:
    name: str
    fn: Callable[..., torch.Tensor]
    inputs: tuple[str, ...]
    optional_inputs: tuple[str, ...]
    defaults: dict[str, Any]
    template: str
    elementwise: bool
    reference: str
    validate: Callable[[dict[str, Any], dict[str, Any]], None] | None
    reads: Callable[[dict[str, Any]], set[str]] | None
    drops: Callable[[dict[str, Any]], set[str]]
    prepare: Callable[[dict[str, Any], Prepass], dict[str, Any]] | None = None

    def reads_optional(self, role: str, params: dict[str, Any]) -> bool:
        """Whether the optional input ``role``, when given, is read with these parameters."""
        return self.reads is None or role in self.reads(params)

    @property
    def summary(self) -> str:
        return (inspect.getdoc(self.fn) or "").splitlines()[0]

    def resolve_params(self, given: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(given) - set(self.defaults))
        if unknown:
            takes = ", ".join(self.defaults) or "none"
            raise RealignError(
                f"method {self.name} takes no parameter {unknown[0]!r} (its parameters: {takes})"
            )
        return {**self.defaults, **given}


_METHODS: dict[str, Method] = {}


def register_method(
    name: str,
    *,
    template: str,
    reference: str,
    elementwise: bool = True,
    validate: Callable[[dict[str, Any], dict[str, Any]], None] | None = None,
    reads: Callable[[dict[str, Any]], set[str]] | None = None,
    drops: Callable[[dict[str, Any]], set[str]] = lambda params: set(),
    prepare: Callable[[dict[str, Any], Prepass], dict[str, Any]] | None = None,
) -> Callable[[Callable[..., torch.Tensor]], Callable[..., torch.Tensor]]:
    """Registers ``fn`` under ``name``.

    ``template`` is the input whose tensor names, shapes and dtype the output takes. ``elementwise``
    methods may be called on row blocks of a tensor; others get whole tensors. ``validate(params,
    inputs)`` raises ``RealignError`` on bad parameters before any tensor is read. ``reads(params)``
    names the optional inputs used with these parameters (default: every one given), so that the
    others are not read at all. ``drops(params)`` names the inputs whose elements the method may discard
    (top-k, projections; not a mask that multiplies by zero, which keeps a NaN), so that a NaN or Inf in
    them need not reach the output: the engine checks those inputs as well as the output.
    ``prepare(params, prepass)`` runs before the first tensor is computed, reads what it needs through
    ``prepass.map_blocks`` and returns what each call then finds in ``ctx.derived`` (``realign.prepass``).
    """

    def decorate(fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        inputs, optional, defaults = [], [], {}
        for parameter in inspect.signature(fn).parameters.values():
            if parameter.kind is inspect.Parameter.KEYWORD_ONLY:
                if parameter.name != "ctx":
                    defaults[parameter.name] = parameter.default
            elif parameter.name not in ROLES:
                raise TypeError(f"method {name}: input {parameter.name!r} is not one of {ROLES}")
            else:
                (inputs if parameter.default is inspect.Parameter.empty else optional).append(parameter.name)
        _METHODS[name] = Method(
            name,
            fn,
            tuple(inputs),
            tuple(optional),
            defaults,
            template,
            elementwise,
            reference,
            validate,
            reads,
            drops,
            prepare,
        )
        return fn

    return decorate


def get_method(name: str) -> Method:
    if name not in _METHODS:
        raise RealignError(f"unknown method {name!r} (known: {', '.join(method_names())})")
    return _METHODS[name]


def method_names() -> list[str]:
    return sorted(_METHODS)
