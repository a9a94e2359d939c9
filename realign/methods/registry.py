"""The method registry: a method is one decorated per-tensor function whose signature is its interface.

Positional parameters name the inputs it reads (``sft``, ``aligned``, ``unaligned``, ``vector``, ``base``,
``models``); one with a default of ``None`` is optional. Keyword-only parameters (after ``*``) are its
parameters, each ``Annotated[type, param(help, symbol=..., within=...)] = default`` (``realign.params``),
except ``ctx``, the per-tensor context the engine passes. From them come the command line's flags, the
checks of experiment files, ``resta realign --methods`` and the labels of tables and charts.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from resta_bench.realign.errors import RealignError
from resta_bench.realign.output import PYTHON, Spelling
from resta_bench.realign.params import Param, check_params, keywords, params_of
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


Validate = Callable[[dict[str, Any], Mapping[str, Any], Spelling], None]


@dataclass(frozen=True)
class Method:
    name: str
    title: str  # as tables and charts name it: "RESTA", "Safe LoRA"
    fn: Callable[..., torch.Tensor]
    inputs: tuple[str, ...]
    optional_inputs: tuple[str, ...]
    params: tuple[Param, ...]
    template: str
    elementwise: bool
    reference: str
    validate: Validate | None
    reads: Callable[[dict[str, Any]], set[str]] | None
    drops: Callable[[dict[str, Any]], set[str]]
    prepare: Callable[[dict[str, Any], Prepass], dict[str, Any]] | None = None
    retitle: Callable[[Mapping[str, Any]], str] | None = None

    def reads_optional(self, role: str, params: dict[str, Any]) -> bool:
        """Whether the optional input ``role``, when given, is read with these parameters."""
        return self.reads is None or role in self.reads(params)

    @property
    def summary(self) -> str:
        return (inspect.getdoc(self.fn) or "").splitlines()[0]

    @property
    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    @property
    def param_labels(self) -> dict[str, str]:
        """{user name: symbol}, e.g. {"beta": "β", "dare_p": "p"}: how tables and charts name them."""
        return {p.name: p.symbol for p in self.params}

    def title_of(self, params: Mapping[str, Any]) -> str:
        """The title of a system these parameters made ("RESTA+DARE" when RESTA's dare_p > 0)."""
        return self.retitle(params) if self.retitle is not None else self.title

    def check_params(
        self,
        given: Mapping[str, Any],
        spelling: Spelling = PYTHON,
        *,
        inputs: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Every parameter by its user name, ``given``'s checked and the others' defaults; a bad name,
        type or value raises ``RealignError`` in ``spelling``'s words. With ``inputs`` (role -> what was
        given; ``models`` a list), the checks that involve them run too (DARE needs ``aligned``)."""
        params = check_params(self.params, given, spelling, owner=f"method {self.name}")
        if inputs is not None and self.validate is not None:
            self.validate(params, inputs, spelling)
        return params

    def keywords(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``check_params``' result as the function's keywords (``lambda`` -> ``lam``)."""
        return keywords(self.params, params)


_METHODS: dict[str, Method] = {}


def register_method(
    name: str,
    *,
    template: str,
    title: str | None = None,
    reference: str,
    elementwise: bool = True,
    validate: Validate | None = None,
    reads: Callable[[dict[str, Any]], set[str]] | None = None,
    drops: Callable[[dict[str, Any]], set[str]] = lambda params: set(),
    prepare: Callable[[dict[str, Any], Prepass], dict[str, Any]] | None = None,
    retitle: Callable[[Mapping[str, Any]], str] | None = None,
) -> Callable[[Callable[..., torch.Tensor]], Callable[..., torch.Tensor]]:
    """Registers ``fn`` under ``name``; ``title`` is its name in tables and charts (default: ``name``).

    ``template`` is the input whose tensor names, shapes and dtype the output takes. ``elementwise``
    methods may be called on row blocks of a tensor; others get whole tensors. Each parameter's type,
    range and choices are checked from its annotation; ``validate(params, inputs, spelling)`` raises
    ``RealignError`` on what they cannot say (a parameter that needs an input), before any tensor is
    read. ``reads(params)`` names the optional inputs used with these parameters (default: every one
    given), so that the others are not read at all. ``drops(params)`` names the inputs whose elements
    the method may discard (top-k, projections; not a mask that multiplies by zero, which keeps a NaN),
    so that a NaN or Inf in them need not reach the output: the engine checks those inputs as well as
    the output. ``prepare(params, prepass)`` runs before the first tensor is computed, reads what it
    needs through ``prepass.map_blocks`` and returns what each call then finds in ``ctx.derived``
    (``realign.prepass``). ``retitle(params)`` titles a variant (RESTA+DARE). Every callback gets the
    parameters by their user names.
    """

    def decorate(fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        inputs, optional = [], []
        for parameter in inspect.signature(fn).parameters.values():
            if parameter.kind is inspect.Parameter.KEYWORD_ONLY:
                continue
            if parameter.name not in ROLES:
                raise TypeError(f"method {name}: input {parameter.name!r} is not one of {ROLES}")
            (inputs if parameter.default is inspect.Parameter.empty else optional).append(parameter.name)
        _METHODS[name] = Method(
            name,
            title or name,
            fn,
            tuple(inputs),
            tuple(optional),
            params_of(fn, leave_out=("ctx",)),
            template,
            elementwise,
            reference,
            validate,
            reads,
            drops,
            prepare,
            retitle,
        )
        return fn

    return decorate


def get_method(name: str) -> Method:
    if name not in _METHODS:
        raise RealignError(f"unknown method {name!r} (known: {', '.join(method_names())})")
    return _METHODS[name]


def method_names() -> list[str]:
    return sorted(_METHODS)
