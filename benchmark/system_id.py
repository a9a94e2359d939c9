"""System ids: derived from what a system is, so the same thing always lands in the same folder.

A model given by a local path is identified by the SHA-256 of its files; a hub model by its id and
revision (pin ``revision`` to a commit for a reproducible id); a fine-tune by its input's id, its data
file's hash and its settings; a re-aligned variant by its inputs' ids, its method and parameters.
Names and labels from the experiment file are not part of the id: renaming a system keeps its results.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from resta_bench.benchmark.config import FINETUNE_INPUTS, Experiment, Recipe, SystemSpec, topological_order
from resta_bench.benchmark.errors import ConfigError
from resta_bench.realign.hashing import HashCache

ID_DIGITS = 12
# Written by the tools that make a model, with times in them: not part of what the model is.
_NOT_MODEL_FILES = {"recipe.json", "finetune.json", "README.md"}


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
    """The method as tables show it: DARE on the fine-tuning delta makes ``resta`` into ``resta-dare``."""
    if recipe.params.get("dare_p", 0) > 0 and "dare" not in recipe.method:
        return f"{recipe.method}-dare"
    return recipe.method


def _prefix(spec: SystemSpec) -> str:
    if spec.recipe is None:
        return spec.role
    return re.sub(r"[^A-Za-z0-9.+=-]", "-", method_label(spec.recipe))


def system_identity(spec: SystemSpec, input_ids: Mapping[str, str], cache: HashCache) -> dict[str, Any]:
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
        return {"finetune": settings, "regime": spec.regime, "from": input_ids["from"], "data": data_id}
    assert spec.recipe is not None
    recipe = spec.recipe.as_dict()
    recipe["inputs"] = {role: input_ids[role] for role in spec.recipe.inputs}
    return {"recipe": recipe}


def assign_system_ids(experiment: Experiment, cache: HashCache) -> dict[str, str]:
    """System name -> system id for every system of the experiment (inputs first, as ids chain)."""
    ids: dict[str, str] = {}
    for spec in topological_order(experiment.systems) or ():
        input_ids = {role: ids[name] for role, name in spec.inputs.items()}
        ids[spec.name] = f"{_prefix(spec)}-{_digest(system_identity(spec, input_ids, cache))}"
    seen: dict[str, str] = {}
    for name, system_id in ids.items():
        if system_id in seen:
            raise ConfigError(
                f"{experiment.source}: systems {seen[system_id]!r} and {name!r} are one system ({system_id})"
            )
        seen[system_id] = name
    cache.save()
    return ids


def cache_path_for(results_dir: Path) -> Path:
    return results_dir / ".cache" / "sha256.json"
