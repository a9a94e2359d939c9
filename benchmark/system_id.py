"""System ids and identity records: derived from what a system is, so the same thing lands in one folder.

A model given by a local path is identified by the SHA-256 of its files; a hub model by its id and
revision (pin ``revision`` to a commit for a reproducible id); a fine-tune by its input's id, its data
file's hash and its settings; a re-aligned variant by its inputs' ids, its method and parameters.
Names and labels from the experiment file are not part of the id: renaming a system keeps its results.

The identity record is the part of ``system.json`` that says what the system is (:func:`system_record`);
the runner builds it once per system and run, after the system's model exists.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resta_bench.benchmark.config import FINETUNE_INPUTS, Experiment, Recipe, SystemSpec, topological_order
from resta_bench.benchmark.errors import ConfigError
from resta_bench.benchmark.store import read_json_object
from resta_bench.realign.hashing import HashCache
from resta_bench.storage.schema import ModelFiles, SystemRecord

ID_DIGITS = 12
# Written by the tools that make a model, with times in them: not part of what the model is.
_NOT_MODEL_FILES = {"recipe.json", "finetune.json", "README.md"}
# Where a variant's base model comes from: the first of these inputs it has.
_BASE_FROM = ("aligned", "from", "base", "sft", "unaligned", "vector", "models")

InputIds = dict[str, Any]  # role -> system id; ``models`` (task arithmetic) -> a list of them


def model_file_hashes(model_dir: Path, cache: HashCache) -> dict[str, str]:
    """SHA-256 of every file that makes up a model folder (weights, config, tokenizer), by file name."""
    files = sorted(p for p in model_dir.iterdir() if p.is_file() and p.name not in _NOT_MODEL_FILES)
    if not any(p.suffix in (".safetensors", ".bin") for p in files):
        raise ConfigError(f"{model_dir}: no model weights (*.safetensors or *.bin) in this folder")
    return {p.name: cache.sha256(p) for p in files}


def is_local(reference: str) -> bool:
    """A folder on this machine (the experiment loader makes local paths absolute; hub ids never are)."""
    return Path(reference).is_absolute() or Path(reference).exists()


def _digest(identity: Mapping[str, Any]) -> str:
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:ID_DIGITS]


def method_label(recipe: Recipe) -> str:
    """The method as ids and system.json's ``method`` spell it: DARE makes ``resta`` into ``resta-dare``."""
    if recipe.params.get("dare_p", 0) > 0 and "dare" not in recipe.method:
        return f"{recipe.method}-dare"
    return recipe.method


def _prefix(spec: SystemSpec) -> str:
    if spec.recipe is None:
        return spec.role
    return re.sub(r"[^A-Za-z0-9.+=-]", "-", method_label(spec.recipe))


def input_ids(spec: SystemSpec, ids: Mapping[str, str]) -> InputIds:
    """The ids of a system's inputs by role (a list for the ``models`` of task arithmetic)."""
    return {
        role: [ids[name] for name in value] if isinstance(value, (list, tuple)) else ids[value]
        for role, value in spec.inputs.items()
    }


def system_identity(spec: SystemSpec, inputs: InputIds, cache: HashCache) -> dict[str, Any]:
    """What a system is, as a JSON-able mapping; its hash is the system id."""
    if spec.model is not None:
        if is_local(spec.model):
            if not Path(spec.model).is_dir():
                # Known only once the folder exists; the runner refuses to run before then.
                return {"missing_model": spec.model}
            return {"model_sha256": model_file_hashes(Path(spec.model), cache)}
        return {"hub": spec.model, "revision": spec.revision or "main"}
    if spec.finetune is not None:
        settings = {key: value for key, value in spec.finetune.items() if key not in FINETUNE_INPUTS}
        data = Path(spec.finetune["data"])
        data_id = cache.sha256(data) if data.is_file() else spec.finetune["data"]
        return {"finetune": settings, "regime": spec.regime, "from": inputs["from"], "data": data_id}
    assert spec.recipe is not None
    recipe = spec.recipe.as_dict()
    recipe["inputs"] = {role: inputs[role] for role in spec.recipe.inputs}
    return {"recipe": recipe}


@dataclass(frozen=True)
class SystemIds:
    """Every system's id by name, the file hashes of the local model folders hashed to get them (so that
    ``system.json`` records them without hashing again), and the hash cache that remembers them."""

    ids: dict[str, str]
    hashes: dict[str, dict[str, str]]
    cache: HashCache


def identify_systems(experiment: Experiment, results_dir: Path | None) -> SystemIds:
    """Ids for every system of the experiment, file hashes remembered in the store's hash cache (none
    without a store)."""
    return _identify(experiment, HashCache(cache_path_for(results_dir) if results_dir else None))


def assign_system_ids(experiment: Experiment, cache: HashCache) -> dict[str, str]:
    """System name -> system id for every system of the experiment."""
    return _identify(experiment, cache).ids


def _identify(experiment: Experiment, cache: HashCache) -> SystemIds:
    """Inputs first, as ids chain; one ``ConfigError`` where two systems are one."""
    ids: dict[str, str] = {}
    hashes: dict[str, dict[str, str]] = {}
    for spec in topological_order(experiment.systems) or ():
        identity = system_identity(spec, input_ids(spec, ids), cache)
        if "model_sha256" in identity:
            hashes[spec.name] = identity["model_sha256"]
        ids[spec.name] = f"{_prefix(spec)}-{_digest(identity)}"
    seen: dict[str, str] = {}
    for name, system_id in ids.items():
        if system_id in seen:
            raise ConfigError(
                f"{experiment.source}: systems {seen[system_id]!r} and {name!r} are one system ({system_id})"
            )
        seen[system_id] = name
    cache.save()
    return SystemIds(ids, hashes, cache)


def cache_path_for(results_dir: Path) -> Path:
    return results_dir / ".cache" / "sha256.json"


def made_by(spec: SystemSpec) -> str:
    """The file the tool that makes a model writes last beside its weights: the model is complete."""
    return "finetune.json" if spec.finetune is not None else "recipe.json"


def identity(
    experiment: Experiment, named: SystemIds, spec: SystemSpec, folder: str, before: SystemRecord | None
) -> SystemRecord:
    """The system's identity record, its model in ``folder``: the files' hashes (those hashed for its id,
    else hashed now) and, for a made model, the recipe.json / finetune.json beside them; what the store
    recorded ``before`` stands in for what was deleted after use."""
    model = model_files(
        folder, spec, named.cache, named.hashes.get(spec.name), before.model if before else None
    )
    named.cache.save()
    recipe = before.recipe if before else None
    if spec.model is None and (Path(folder) / made_by(spec)).is_file():
        recipe = read_json_object(Path(folder) / made_by(spec))
    return system_record(experiment, named.ids, spec, model, recipe)


def model_files(
    path: str, spec: SystemSpec, cache: HashCache, hashes: dict[str, str] | None, recorded: ModelFiles | None
) -> ModelFiles:
    """Where the model is and its files' hashes: ``hashes`` when known (a given folder, hashed for its id),
    else hashed now; a folder whose weights were deleted after use (to free disk) keeps the ``recorded``
    ones, and a hub model is its id and revision."""
    if not is_local(path):
        return ModelFiles(path=path, revision=spec.revision or "main")
    folder = Path(path)
    if hashes is None and (any(folder.glob("*.safetensors")) or any(folder.glob("*.bin"))):
        hashes = model_file_hashes(folder, cache)
    if hashes is None and recorded is not None:
        hashes = recorded.sha256
    return ModelFiles(path=path, sha256=hashes)


def system_record(
    experiment: Experiment,
    ids: Mapping[str, str],
    spec: SystemSpec,
    model: ModelFiles,
    recipe: dict[str, Any] | None,
) -> SystemRecord:
    """What the system is, as docs/results-store.md describes ``system.json``: the identity fields
    (``recipe`` is the recipe.json / finetune.json of a made model)."""
    from resta_bench.realign.methods import get_method

    made_with = spec.recipe
    method = get_method(made_with.method) if made_with is not None else None
    return SystemRecord(
        system_id=ids[spec.name],
        name=spec.name,
        label=spec.label,
        base_model=_base_model(experiment, spec),
        role=spec.role,
        finetune_task=_from_sft(experiment, spec, "task"),
        regime=_from_sft(experiment, spec, "regime"),
        method=method_label(made_with) if made_with is not None else None,
        method_title=method.title_of(made_with.params) if method and made_with else None,
        param_labels=method.param_labels if method is not None else {},
        params={**made_with.params, "seed": made_with.seed} if made_with is not None else {},
        sft_system=ids[spec.inputs["sft"]] if "sft" in spec.inputs else None,
        aligned_system=aligned_system(experiment, ids, spec),
        inputs=input_ids(spec, ids),
        model=model,
        recipe=recipe,
    )


def aligned_system(experiment: Experiment, ids: Mapping[str, str], spec: SystemSpec) -> str | None:
    """The aligned model a system is compared with: a variant's ``aligned`` input, or the aligned model
    an SFT model was fine-tuned ``from`` (so its scores get a delta against it too)."""
    inputs = spec.inputs
    if "aligned" in inputs:
        return ids[inputs["aligned"]]
    source = inputs.get("from")
    if spec.role == "sft" and source is not None and experiment.system(source).role == "aligned":
        return ids[source]
    return None


def _base_model(experiment: Experiment, spec: SystemSpec) -> str:
    if spec.base_model:
        return spec.base_model
    if spec.model is not None:
        return Path(spec.model).name if is_local(spec.model) else spec.model
    # A variant's base is its aligned model's (or the model it was fine-tuned from, ...).
    role = next(role for role in _BASE_FROM if role in spec.inputs)
    source = spec.inputs[role]
    return _base_model(experiment, experiment.system(source if isinstance(source, str) else source[0]))


def _from_sft(experiment: Experiment, spec: SystemSpec, attribute: str) -> str | None:
    """The spec's own task / regime, else (for a re-aligned variant) that of the SFT model it repairs."""
    own = getattr(spec, attribute)
    if own is not None or "sft" not in spec.inputs:
        return own
    return _from_sft(experiment, experiment.system(spec.inputs["sft"]), attribute)
