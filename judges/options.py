"""The options of the model judges: one typed dataclass is their whole interface.

Its fields are the keyword arguments of ``get_judge(name, **options)``, the keys of an experiment file's
``judges[].options`` and, spelled with dashes, the ``resta judge`` flags. Defaults, help texts and bounds
live here only, and every value is checked before any work, whichever way it came in.
"""

from __future__ import annotations

import functools
import math
import typing
from collections.abc import Callable, Sequence
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from resta_bench.judges.errors import JudgeError
from resta_bench.storage.errors import StorageError
from resta_bench.storage.names import check_name

ENGINES = ("auto", "api", "vllm", "transformers")
# What a guard's "controversial" label counts as: harmful (strict) or safe (loose), in Qwen3Guard's terms.
CONTROVERSIAL_MODES = ("strict", "loose")

Check = Callable[[str], str | None]  # what is wrong with a text value, or None


def _one_of(choices: Sequence[str]) -> Check:
    return lambda value: None if value in choices else f"must be one of {', '.join(choices)}, got {value!r}"


def _http_url(value: str) -> str | None:
    return (
        None
        if value.startswith(("http://", "https://"))
        else f"must start with http:// or https://, got {value!r}"
    )


def file_name_problem(value: str) -> str | None:
    """Why ``value`` cannot name the judge's files (it becomes ``judgments/<judge id>.jsonl``), or None."""
    try:
        check_name(value, "")
    except StorageError as error:  # storage's one wording of the rule, less its (empty) field name
        return str(error).removeprefix(": ")
    return None


def _option(
    default: Any,
    help: str,  # noqa: A002  (argparse's word)
    *,
    flag: str | None = None,
    at_least: float | None = None,
    above: float | None = None,
    check: Check | None = None,
    empty_ok: bool = False,
) -> Any:
    return field(
        default=default,
        metadata={
            "help": help,
            "flag": flag,
            "at_least": at_least,
            "above": above,
            "check": check,
            "empty_ok": empty_ok,
        },
    )


@dataclass(frozen=True)
class ModelOptions:
    """Options shared by every model judge; ``None`` keeps the judge's own choice."""

    model: str | None = _option(None, "judge model: API model name, hub id or local path")
    engine: str = _option(
        "auto", "api, vllm, transformers, or auto: the API when --base-url is set", check=_one_of(ENGINES)
    )
    base_url: str | None = _option(
        None, "OpenAI-compatible endpoint, e.g. http://localhost:8000/v1", check=_http_url
    )
    api_key_env: str = _option(
        "OPENAI_API_KEY", "name of the environment variable holding the API key ('' for none)", empty_ok=True
    )
    concurrency: int = _option(64, "requests in flight at once", at_least=1)
    max_retries: int = _option(6, "retries per request on 429, 5xx and timeouts", at_least=0)
    timeout_s: float = _option(60.0, "seconds per request", flag="--timeout", above=0)
    temperature: float | None = _option(None, "sampling temperature (default: the server's)", at_least=0)
    max_tokens: int | None = _option(None, "reply length limit", at_least=1)
    verdict_retries: int = _option(4, "asks again while a reply has no verdict", at_least=0)
    batch_size: int = _option(8, "local judges: items per batch", at_least=1)
    device: str | None = _option(None, "local judges: torch device")
    prompt: str | None = _option(
        None, "chat judge: a named prompt (default redeval); harmbench: pipeline (default) or model-card"
    )
    prompt_file: str | None = _option(
        None, "chat judge: JSON prompt file (system, template, harmful, safe, languages)"
    )
    controversial: str | None = _option(
        None,
        "qwen3guard-gen, shieldlm: 'controversial' counts as harmful (strict, the default) or safe (loose)",
        check=_one_of(CONTROVERSIAL_MODES),
    )
    clip_tokens: int = _option(
        512,
        "harmbench: clips each response to this many classifier tokens, as HarmBench does (0: none)",
        at_least=0,
    )
    tokenizer: str | None = _option(
        None, "harmbench: the tokenizer that clips responses (default: the model)"
    )
    languages: Sequence[str] | None = _option(None, "override the judge's valid languages (comma-separated)")
    judge_id: str | None = _option(
        None, "names the judge's output files (default: the judge and the model)", check=file_name_problem
    )

    @classmethod
    def parse(cls, judge_name: str, options: dict[str, Any]) -> ModelOptions:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise JudgeError(f"judge {judge_name!r} has no option {unknown[0]!r}")
        for name, value in options.items():
            check_option(name, value)
        return cls(**options)


@dataclass(frozen=True)
class OptionSpec:
    """One option as a command line or a checker sees it."""

    name: str
    kind: type  # int, float, str or list (of str)
    default: Any
    metadata: typing.Mapping[str, Any]

    @property
    def flag(self) -> str:
        return self.metadata["flag"] or "--" + self.name.replace("_", "-")

    @property
    def help(self) -> str:
        shown = "" if self.default is None else f" (default {self.default})"
        return self.metadata["help"] + shown

    def fail(self, problem: str) -> JudgeError:
        return JudgeError(f"{self.name} ({self.flag}): {problem}")

    def check(self, value: Any) -> None:
        """A JudgeError naming the option (and its flag) unless ``value`` is one it takes."""
        if value is None and self.default is None:
            return
        checks = {int: self._check_number, float: self._check_number, str: self._check_text}
        checks.get(self.kind, self._check_list)(value)

    def _check_number(self, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int if self.kind is int else (int, float)):
            raise self.fail(f"must be {'a whole number' if self.kind is int else 'a number'}, got {value!r}")
        if self.kind is float and not math.isfinite(value):
            raise self.fail(f"must be a finite number, got {value!r}")
        at_least, above = self.metadata["at_least"], self.metadata["above"]
        if at_least is not None and value < at_least:
            raise self.fail(f"must be at least {at_least:g}, got {value!r}")
        if above is not None and value <= above:
            raise self.fail(f"must be more than {above:g}, got {value!r}")

    def _check_text(self, value: Any) -> None:
        if not isinstance(value, str):
            raise self.fail(f"must be a string, got {value!r}")
        if not value and not self.metadata["empty_ok"]:
            raise self.fail("must not be empty")
        problem = self.metadata["check"] and self.metadata["check"](value)
        if problem:
            raise self.fail(problem)

    def _check_list(self, value: Any) -> None:
        if (
            isinstance(value, str)
            or not isinstance(value, Sequence)
            or not all(isinstance(v, str) for v in value)
        ):
            raise self.fail(f"must be a list of strings, got {value!r}")


def _kind(hint: Any) -> type:
    """int, float, str or list, from a field's annotation (``int``, ``float | None``, ``Sequence[str]``)."""
    first = next(a for a in typing.get_args(hint) or (hint,) if a is not type(None))
    base = typing.get_origin(first) or first
    return list if base is Sequence else base


@functools.cache
def option_specs() -> tuple[OptionSpec, ...]:
    """Every option, in the dataclass's order (the order of the ``resta judge`` flags)."""
    hints = typing.get_type_hints(ModelOptions)
    return tuple(
        OptionSpec(f.name, _kind(hints[f.name]), None if f.default is MISSING else f.default, f.metadata)
        for f in fields(ModelOptions)
    )


def check_option(name: str, value: Any) -> None:
    """A JudgeError naming option ``name`` (and its flag) unless it takes ``value``."""
    next(spec for spec in option_specs() if spec.name == name).check(value)


DEFAULTS = ModelOptions()
