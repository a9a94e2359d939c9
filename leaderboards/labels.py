"""How benchmarks, methods and their parameters are named on the site and in ``resta tables``."""

from __future__ import annotations

from typing import Any

from resta_bench.tasks import catalogue

METHOD_NAMES = {
    "resta": "RESTA",
    "resta-dare": "RESTA+DARE",
    "hdr": "HDR",
    "interpolate": "interpolation",
    "safe-lora": "Safe LoRA",
    "task-arithmetic": "task arithmetic",
}
ROLE_NAMES = {"aligned": "aligned", "unaligned": "unaligned", "sft": "SFT"}
# The paper's symbols; any other parameter is named as the method's signature names it.
PARAM_SYMBOLS = {
    "beta": "β",
    "dare_p": "p",
    "alpha": "α",
    "lam": "λ",
    "lambda": "λ",
    "top_k": "top-k",
    "top_k_scope": "top-k scope",
}


def benchmark_name(benchmark: str) -> str:
    """The catalogue's title (``CatQA``); a benchmark it lacks by its stored name."""
    entry = catalogue.benchmark(benchmark)
    return entry.title if entry else benchmark


def method_name(method: str | None) -> str:
    return METHOD_NAMES.get(method or "", method or "")


def param_symbol(name: str) -> str:
    return PARAM_SYMBOLS.get(name, name)


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "/".join(_value(item) for item in value)
    return str(value)


def param_text(params: dict[str, Any] | None, *, leave_out: tuple[str, ...] = ()) -> str:
    """``β=0.5, p=0.3``: every setting but the seed (provenance, not a setting) and ``leave_out``.

    ``dare_p`` = 0 is DARE switched off (plain RESTA), so it is not shown either."""
    shown = [
        f"{param_symbol(name)}={_value(value)}"
        for name, value in (params or {}).items()
        if name != "seed" and name not in leave_out and not (name == "dare_p" and value == 0)
    ]
    return ", ".join(shown)


def variant_name(meta: dict[str, Any]) -> str:
    """A system as a variant of its fine-tuned model: ``SFT``, ``aligned``, ``RESTA β=0.5, p=0.3``."""
    if meta["role"] != "realigned":
        return ROLE_NAMES.get(meta["role"], meta["role"])
    return f"{method_name(meta.get('method'))} {param_text(meta.get('params'))}".strip()
