"""`resta demo` gives the same bits whatever the machine's thread, hashing and kernel settings.

Two real processes run the quick demo: one as this machine is, one as a machine set up otherwise would
run it (more threads for OpenMP, MKL and the tokenizers, another hash seed, torch told to use its plain
kernels). The weights, the judgments and the scores must be identical to the bit; before the demo chose
its kernels itself, the second run trained other weights.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ELSEWHERE = {
    "OMP_NUM_THREADS": "2",
    "MKL_NUM_THREADS": "2",
    "RAYON_NUM_THREADS": "2",
    "TOKENIZERS_PARALLELISM": "true",
    "PYTHONHASHSEED": "12345",
    "ATEN_CPU_CAPABILITY": "default",  # torch's unvectorised kernels: other roundings than AVX2's
}


def _demo(out: Path, extra: dict[str, str]) -> str:
    env = {key: value for key, value in os.environ.items() if key not in ELSEWHERE}
    command = [sys.executable, "-m", "resta_bench.benchmark.cli", "demo", "--quick", "--seed", "0"]
    finished = subprocess.run(
        [*command, "--out", str(out)], env={**env, **extra}, capture_output=True, text=True, check=False
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    return finished.stdout


def _outcome(out: Path) -> dict[str, bytes]:
    """Every model's weights, every judgments file, every scores file (without its time of writing)."""
    files: dict[str, bytes] = {}
    for path in sorted((out / "models").rglob("*.safetensors")):
        files[str(path.relative_to(out))] = path.read_bytes()
    for path in sorted((out / "results").glob("*/judgments/*.jsonl")):
        files[str(path.relative_to(out))] = path.read_bytes()
    for path in sorted((out / "results").glob("*/scores/*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        document.pop("created")
        files[str(path.relative_to(out))] = json.dumps(document, sort_keys=True).encode()
    return files


def test_the_demo_is_bit_reproducible_across_machine_settings(tmp_path):
    here_summary = _demo(tmp_path / "here", {})
    elsewhere_summary = _demo(tmp_path / "elsewhere", ELSEWHERE)
    here, elsewhere = _outcome(tmp_path / "here"), _outcome(tmp_path / "elsewhere")
    assert any(name.endswith(".safetensors") for name in here) and any("scores" in name for name in here)
    assert here.keys() == elsewhere.keys()
    differing = [name for name in here if here[name] != elsewhere[name]]
    assert not differing, differing
    table = here_summary.split("\n\n")[0]
    assert table == elsewhere_summary.split("\n\n")[0] and "resta/beta=0.5" in table
