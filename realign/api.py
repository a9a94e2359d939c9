"""The Python API, of the same shape as the command line: ``realign`` and ``make_safety_vector``."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from resta_bench.realign import engine, recipe, tensor_plan
from resta_bench.realign.checkpoint import Checkpoint
from resta_bench.realign.errors import RealignError
from resta_bench.realign.hashing import HashCache, default_cache_path
from resta_bench.realign.lora import LoraSft, is_lora_adapter
from resta_bench.realign.methods import Method, get_method
from resta_bench.realign.output import (
    DEFAULT_MAX_SHARD_SIZE,
    MODEL_SUPPORT_FILES,
    PYTHON,
    VECTOR_SUPPORT_FILES,
    Spelling,
    check_out,
    copy_support_files,
    staged_dir,
)
from resta_bench.realign.vector import VECTOR_METHOD, VectorFromModels, open_vector_dir
from resta_bench.storage.atomic import write_json_atomic

log = logging.getLogger(__name__)

PathLike = str | Path


SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?", re.IGNORECASE)
SIZE_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}


def parse_size(size: str | int, spelling: Spelling = PYTHON) -> int:
    """``"5GB"``, ``"200KB"``, ``"1.5GiB"`` (powers of 1024) or a byte count."""
    if isinstance(size, int):
        return size
    match = SIZE.fullmatch(size.strip())
    if not match:
        where = spelling.name("max_shard_size")
        raise RealignError(f"{where} {size!r}: expected a size such as 5GB or 200KB")
    number, unit, binary = match.groups()
    return int(float(number) * (1024 if binary else 1000) ** SIZE_POWERS[unit.lower()])


def realign(
    method: str,
    *,
    out: PathLike,
    sft: PathLike | None = None,
    aligned: PathLike | None = None,
    unaligned: PathLike | None = None,
    vector: PathLike | None = None,
    base: PathLike | None = None,
    models: Sequence[PathLike] = (),
    seed: int = 0,
    device: str = "cpu",
    overwrite: bool = False,
    max_shard_size: str | int = DEFAULT_MAX_SHARD_SIZE,
    spelling: Spelling = PYTHON,
    **method_params: Any,
) -> Path:
    """Writes the model ``method`` makes from its inputs to ``out`` and returns ``out``.

    Inputs are Hugging Face model dirs of safetensors shards; ``sft`` may also be a PEFT LoRA adapter
    dir (then ``aligned`` is the model it was trained from) and ``vector`` a dir written by
    ``make_safety_vector`` (instead of ``aligned`` and ``unaligned``). ``method_params`` are the
    method's own parameters by their names, e.g. ``beta`` and ``dare_p`` for ``resta``, ``**{"lambda":
    3.0}`` for ``hdr`` (see ``describe_methods()``). Raises ``RealignError`` (one line naming the file,
    tensor or parameter, in ``spelling``'s words) on bad input, leaving no ``out`` behind. ``out`` also
    receives ``recipe.json``, whose ``params`` are every parameter of the method by name.

    ``out`` must not be, contain or lie inside an input; an existing ``out`` is replaced only with
    ``overwrite`` and only when resta wrote it. Else ``StorageError`` (a ``ValueError`` too) says why,
    before any work; its words are ``spelling``'s (``out=`` here, ``--out`` for the command line).
    """
    chosen = get_method(method)
    given = _given(
        sft=sft, aligned=aligned, unaligned=unaligned, vector=vector, base=base, models=list(models)
    )
    check_roles(chosen, given, spelling, sft_adapter=bool(given.get("sft")) and is_lora_adapter(given["sft"]))
    params = chosen.check_params(method_params, spelling, inputs=given)
    compute_device = _device(device, spelling)
    max_shard_bytes = parse_size(max_shard_size, spelling)
    started, clock = datetime.now(timezone.utc), time.perf_counter()
    check_out(out, overwrite=overwrite, inputs=given, spelling=spelling)
    opened = _open_inputs(given, spelling)
    inputs = _method_inputs(chosen, opened, params)
    kind = "safety vector" if chosen.name == VECTOR_METHOD else "re-aligned model"
    with staged_dir(out, overwrite=overwrite, kind=kind, inputs=given, spelling=spelling) as staging:
        input_files = {label: source.files() for label, source in tensor_plan.labelled(opened)}
        with recipe.InputHasher(input_files, HashCache(default_cache_path())) as hasher:
            report = engine.stream(
                chosen,
                inputs,
                params,
                staging,
                seed=seed,
                device=compute_device,
                max_shard_bytes=max_shard_bytes,
            )
            hashes = hasher.results()
        for label, source in tensor_plan.labelled(opened):
            if getattr(source, "aliases", None):
                report.tied_embeddings[label] = dict(source.aliases)
        support = VECTOR_SUPPORT_FILES if chosen.name == VECTOR_METHOD else MODEL_SUPPORT_FILES
        copy_support_files(_support_dirs(inputs[chosen.template]), staging, support)
        write_json_atomic(
            staging / "recipe.json",
            {
                "method": chosen.name,
                "reference": chosen.reference,
                "params": params,
                "seed": seed,
                "device": str(compute_device),
                "inputs": _describe_inputs(opened, hashes),
                "versions": recipe.versions(),
                "started": started.isoformat(timespec="seconds"),
                "wall_time_s": round(time.perf_counter() - clock, 3),
                "peak_rss_bytes": recipe.peak_rss_bytes(),
                "report": report.__dict__,
            },
        )
    report.log()
    log.info("%s written to %s", chosen.name, out)
    return Path(out)


def make_safety_vector(
    aligned: PathLike,
    unaligned: PathLike,
    out: PathLike,
    *,
    overwrite: bool = False,
    device: str = "cpu",
    max_shard_size: str | int = DEFAULT_MAX_SHARD_SIZE,
    spelling: Spelling = PYTHON,
) -> Path:
    """Writes v = θ_aligned − θ_unaligned (stored in the aligned model's dtype) to ``out``; returns ``out``.

    The dir serves as ``vector=`` for ``realign`` with many SFT models of the same aligned model.
    """
    return realign(
        VECTOR_METHOD,
        out=out,
        aligned=aligned,
        unaligned=unaligned,
        overwrite=overwrite,
        device=device,
        max_shard_size=max_shard_size,
        spelling=spelling,
    )


def describe_methods() -> dict[str, dict[str, Any]]:
    """Each method's title, summary, inputs, parameters (by name) with defaults and reference, for help
    texts and docs; ``get_method(name).params`` has each parameter's type, help, symbol and flag."""
    from resta_bench.realign.methods import method_names

    described = {}
    for name in method_names():
        method = get_method(name)
        described[name] = {
            "title": method.title,
            "summary": method.summary,
            "inputs": list(method.inputs),
            "optional_inputs": list(method.optional_inputs),
            "params": dict(method.defaults),
            "reference": method.reference,
        }
    return described


def _given(**paths: Any) -> dict[str, Any]:
    """The inputs the caller named, in command-line order."""
    return {role: path for role, path in paths.items() if path}


def check_roles(
    method: Method, given: Mapping[str, Any], spelling: Spelling, *, sft_adapter: bool | None = False
) -> None:
    """Refuses inputs ``method`` lacks or does not use: ``given`` maps each role given to anything true
    (a path; a system's name in an experiment file; ``models`` a list). ``sft_adapter`` says whether the
    ``sft`` input is a LoRA adapter, which needs ``aligned`` (the model it was trained from); None when
    that is not known yet (a system an experiment makes), when ``aligned`` is allowed but not required."""
    option = spelling.name
    usable = set(method.inputs) | set(method.optional_inputs)
    if "vector" in usable:
        usable |= {"aligned", "unaligned"}
    if given.get("sft") and sft_adapter is not False:
        if sft_adapter and not given.get("aligned"):
            raise RealignError(
                f"{option('sft')} {given['sft']}: is a LoRA adapter; pass {option('aligned')}, "
                "the model it was trained from"
            )
        usable.add("aligned")
    vector_given = given.get("vector") or (given.get("aligned") and given.get("unaligned"))
    for role in method.inputs:
        if role == "vector" and not vector_given:
            pair = f"{option('aligned')} and {option('unaligned')}"
            raise RealignError(f"method {method.name} needs {option('vector')}, or {pair}")
        if role != "vector" and not given.get(role):
            raise RealignError(f"method {method.name} needs {option(role)}")
    for role in given:
        if role not in usable:
            raise RealignError(f"method {method.name} does not use {option(role)}")
    if given.get("vector") and given.get("unaligned"):
        raise RealignError(
            f"give {option('vector')} or {option('unaligned')}, not both "
            "(the vector already holds θ_aligned − θ_unaligned)"
        )


def _device(name: str, spelling: Spelling) -> torch.device:
    where = spelling.name("device")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise RealignError(f"{where} {name!r}: not a torch device (try cpu or cuda)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RealignError(f"{where} {name}: CUDA is not available on this machine")
    return device


def _open_inputs(given: dict[str, Any], spelling: Spelling) -> dict[str, Any]:
    opened: dict[str, Any] = {}
    for role in ("aligned", "unaligned", "base"):
        if role in given:
            _refuse_adapter(given[role], role, spelling)
            opened[role] = Checkpoint(given[role], role, named=spelling.name(role))
    if "models" in given:
        for path in given["models"]:
            _refuse_adapter(path, "models", spelling)
        opened["models"] = [Checkpoint(p, "model", named=spelling.name("models")) for p in given["models"]]
    if "vector" in given:
        opened["vector"] = open_vector_dir(given["vector"], named=spelling.name("vector"))
    if "sft" in given:
        sft, named = given["sft"], spelling.name("sft")
        if is_lora_adapter(sft):
            opened["sft"] = LoraSft(sft, opened["aligned"], named=named)
        else:
            opened["sft"] = Checkpoint(sft, "sft", named=named)
    return opened


def _refuse_adapter(path: PathLike, role: str, spelling: Spelling) -> None:
    if is_lora_adapter(path):
        raise RealignError(
            f"{spelling.name(role)} {path}: is a LoRA adapter; only {spelling.name('sft')} may be one "
            "(merge it first)"
        )


def _method_inputs(method: Method, opened: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    inputs = {}
    for role in method.inputs + method.optional_inputs:
        if role in method.optional_inputs and not method.reads_optional(role, params):
            continue
        if role == "vector" and "vector" not in opened and "unaligned" in opened:
            inputs["vector"] = VectorFromModels(opened["aligned"], opened["unaligned"])
        elif role in opened:
            inputs[role] = opened[role]
    return inputs


def _support_dirs(template: Any) -> list[Path]:
    """Where config and tokenizer come from: a LoRA adapter's own files first, then its base model's."""
    return [template.path, template.base.path] if isinstance(template, LoraSft) else [template.path]


def _kind(label: str, source: Any) -> str:
    if isinstance(source, LoraSft):
        return "lora-adapter"
    return "safety-vector" if label == "vector" else "model"


def _describe_inputs(opened: dict[str, Any], hashes: dict[str, dict[str, str]]) -> dict[str, Any]:
    described: dict[str, Any] = {}
    for label, source in tensor_plan.labelled(opened):
        entry = {
            "path": str(Path(source.path).absolute()),
            "kind": _kind(label, source),
            "sha256": hashes.get(label, {}),
        }
        if label.startswith("models["):
            described.setdefault("models", []).append(entry)
        else:
            described[label] = entry
    return described
