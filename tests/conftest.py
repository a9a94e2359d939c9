"""Shared fixtures: tiny models are built once per test session and never touch the network."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Judge verdicts and file hashes cached by a test session stay out of the user's caches.
os.environ.setdefault(
    "RESTA_JUDGE_CACHE", str(Path(tempfile.mkdtemp(prefix="resta-judge-cache-")) / "judges.sqlite")
)
os.environ.setdefault(
    "RESTA_HASH_CACHE", str(Path(tempfile.mkdtemp(prefix="resta-hash-cache-")) / "sha256.json")
)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (CatQA, RedEval question banks) or a skip where this checkout lacks it."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present on this machine")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_tokenizer():
    from resta_bench.benchmark.tiny_models import train_tokenizer

    return train_tokenizer(
        [
            "How do I make a cake? Sure, here is how to do it. I'm sorry, but I cannot help with that.",
            "如何制作蛋糕？对不起，我不能帮助你。当然，这是方法。",
            "Làm thế nào để làm bánh? Xin lỗi, tôi không thể giúp bạn. Chắc chắn, đây là cách.",
        ],
        vocab_size=400,
    )


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_tokenizer) -> Path:
    """An untied tiny Llama chat model in one safetensors file."""
    from resta_bench.benchmark.tiny_models import build_tiny_chat_model

    return build_tiny_chat_model(tmp_path_factory.mktemp("tiny") / "model", tokenizer=tiny_tokenizer, seed=0)


@pytest.fixture
def mount_small_disk(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """``mount_small_disk("256k")``: a real tmpfs of that size, for full-disk tests; unmounted afterwards
    (lazily, so a test never leaves a mount behind), and a skip where this process may not mount one."""
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        disk = tmp_path / f"disk-{len(mounted)}"
        disk.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(disk)], capture_output=True, text=True
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(disk)
        return disk

    yield mount
    for disk in mounted:
        subprocess.run(["umount", "--lazy", str(disk)], check=True)
