"""Tiny model families for the re-alignment tests, built once per session.

A family is an aligned model plus an "unaligned" and an "sft" model that differ from it by small
random updates, as fine-tunes do; sharding, tying and dtype vary between families.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
    "special_tokens_map.json",
)


def load_state(model_dir: Path) -> dict[str, torch.Tensor]:
    """Every tensor of every safetensors shard in ``model_dir``."""
    state: dict[str, torch.Tensor] = {}
    for shard in sorted(Path(model_dir).glob("*.safetensors")):
        state.update(load_file(shard))
    return state


def derive(
    source: Path, out: Path, *, seed: int, scale: float = 0.02, max_shard_size: str = "10GB", dtype=None
):
    """``source`` plus Gaussian noise on every parameter: a stand-in for a fine-tuned model."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(source)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * scale)
    if dtype is not None:
        model = model.to(dtype)
    model.save_pretrained(out, max_shard_size=max_shard_size)
    for name in TOKENIZER_FILES:
        if (source / name).is_file():
            shutil.copy(source / name, out / name)
    return out


def build_family(root: Path, tokenizer, *, tied: bool = False, dtype=None) -> dict[str, Path]:
    from resta_bench.benchmark.tiny_models import build_tiny_chat_model

    root.mkdir(parents=True, exist_ok=True)
    aligned = build_tiny_chat_model(root / "seed", tokenizer=tokenizer, seed=0, tie_embeddings=tied)
    family = {
        "aligned": derive(aligned, root / "aligned", seed=1, scale=0.0, max_shard_size="60KB", dtype=dtype),
        "unaligned": derive(aligned, root / "unaligned", seed=2, dtype=dtype),
        "sft": derive(aligned, root / "sft", seed=3, max_shard_size="100KB", dtype=dtype),
    }
    return family


@pytest.fixture(scope="session")
def family(tmp_path_factory, tiny_tokenizer) -> dict[str, Path]:
    """Untied float32 family; aligned and sft in several shards with an index, unaligned in one file."""
    return build_family(tmp_path_factory.mktemp("family"), tiny_tokenizer)


@pytest.fixture(scope="session")
def tied_family(tmp_path_factory, tiny_tokenizer) -> dict[str, Path]:
    return build_family(tmp_path_factory.mktemp("tied"), tiny_tokenizer, tied=True)


@pytest.fixture(scope="session")
def bf16_family(tmp_path_factory, tiny_tokenizer) -> dict[str, Path]:
    return build_family(tmp_path_factory.mktemp("bf16"), tiny_tokenizer, dtype=torch.bfloat16)


@pytest.fixture(scope="session")
def lora_adapter(tmp_path_factory, family) -> Path:
    """A PEFT LoRA adapter on the aligned model with random (non-zero) A and B, rsLoRA off."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(4)
    model = AutoModelForCausalLM.from_pretrained(family["aligned"])
    config = LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"], init_lora_weights=False
    )
    out = tmp_path_factory.mktemp("lora") / "adapter"
    get_peft_model(model, config).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def lora_merged(tmp_path_factory, family, lora_adapter) -> Path:
    """The same adapter merged by PEFT itself: the reference for materialisation."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(family["aligned"]), lora_adapter)
    out = tmp_path_factory.mktemp("lora_merged") / "model"
    model.merge_and_unload().save_pretrained(out)
    return out


def resta_on(family: dict[str, Path], out: Path, **options) -> Path:
    """``resta`` on a family's models, the safety vector derived from its aligned and unaligned ones."""
    from resta_bench import realign

    return realign.realign(
        "resta",
        sft=family["sft"],
        aligned=family["aligned"],
        unaligned=family["unaligned"],
        out=out,
        **options,
    )


def write_model(out: Path, state: dict[str, torch.Tensor], like: Path) -> Path:
    """A one-file model dir holding ``state``, with the config and tokenizer of ``like``."""
    from safetensors.torch import save_file

    out.mkdir(parents=True)
    save_file(state, out / "model.safetensors", metadata={"format": "pt"})
    for name in ("config.json", "generation_config.json", *TOKENIZER_FILES):
        if (like / name).is_file():
            shutil.copy(like / name, out / name)
    return out


def left_beside(out: Path) -> list[str]:
    """What a run left beside ``out`` but its lock (which stays, empty): staging or retired dirs."""
    from resta_bench.storage.folders import lock_path

    lock = lock_path(Path(out).absolute()).name
    beside = (p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))
    return sorted(name for name in beside if name != lock)


@pytest.fixture(params=[0o022, 0o002], ids=["umask022", "umask002"])
def umask(request) -> Iterator[int]:
    """The process umask for one test, restored after it."""
    before = os.umask(request.param)
    yield request.param
    os.umask(before)


def wrong_modes(paths: list[Path], umask: int) -> dict[str, str]:
    """{path: its mode} for every path (folders with all they hold) whose mode is not the umask's."""
    wrong = {}
    for path in paths:
        for found in [path, *path.rglob("*")] if path.is_dir() else [path]:
            expected = (0o777 if found.is_dir() else 0o666) & ~umask
            if stat.S_IMODE(found.stat().st_mode) != expected:
                wrong[str(found)] = oct(stat.S_IMODE(found.stat().st_mode))
    return wrong


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """torch's intra-op thread count; the engine computes element-wise methods on that many workers."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
