"""How benchmarks, methods and their parameters are named on the site and in ``resta tables``.

A method's title and its parameters' symbols come from the method's own signature, which the runner
writes into each system.json (``method_title``, ``param_labels``); the leaderboard does not import the
methods. The tables below name what stores written before those fields hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from resta_bench.tasks import catalogue

# For system.json files without ``method_title``.
METHOD_NAMES = {
    "resta": "RESTA",
    "resta-dare": "RESTA+DARE",
    "hdr": "HDR",
    "interpolate": "interpolation",
    "safe-lora": "Safe LoRA",
    "task-arithmetic": "task arithmetic",
}
ROLE_NAMES = {"aligned": "aligned", "unaligned": "unaligned", "sft": "SFT"}
# For system.json files without ``param_labels`` (``lam`` is what HDR's parameter was called then).
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


def method_name(method: str | None, title: str | None = None) -> str:
    """The method's ``title`` as its signature gives it; else the site's name for ``method``."""
    return title or METHOD_NAMES.get(method or "", method or "")


def param_symbol(name: str, labels: Mapping[str, str] | None = None) -> str:
    """The parameter's symbol from ``labels`` (system.json ``param_labels``), else the site's own."""
    return (labels or {}).get(name) or PARAM_SYMBOLS.get(name, name)


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "/".join(_value(item) for item in value)
    return str(value)


def param_text(
    params: dict[str, Any] | None,
    *,
    leave_out: tuple[str, ...] = (),
    labels: Mapping[str, str] | None = None,
) -> str:
    """``β=0.5, p=0.3``: every setting but the seed (provenance, not a setting) and ``leave_out``, each
    named by ``labels`` (system.json ``param_labels``) or the site's symbols.

    ``dare_p`` = 0 is DARE switched off (plain RESTA), so it is not shown either."""
    shown = [
        f"{param_symbol(name, labels)}={_value(value)}"
        for name, value in (params or {}).items()
        if name != "seed" and name not in leave_out and not (name == "dare_p" and value == 0)
    ]
    return ", ".join(shown)


def variant_name(meta: dict[str, Any]) -> str:
    """A system as a variant of its fine-tuned model: ``SFT``, ``aligned``, ``RESTA β=0.5, p=0.3``."""
    if meta["role"] != "realigned":
        return ROLE_NAMES.get(meta["role"], meta["role"])
    method = method_name(meta.get("method"), meta.get("method_title"))
    return f"{method} {param_text(meta.get('params'), labels=meta.get('param_labels'))}".strip()
