"""The miniature's settings: model shape, fine-tuning schedules, the re-alignment grid, evaluation size,
and the CPU kernels it runs on.

These were tuned once, on the demo's own measurements over seeds 0–2 (the README's demo section shows
them), so that the paper's effects show in a model small enough to train on a laptop in minutes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

log = logging.getLogger(__name__)

# Which code paths compute the floats. torch picks its vectorised kernels (AVX2, AVX-512) and MKL its
# matrix products by the CPU it finds, and a model trained through other kernels rounds differently and
# ends up elsewhere; the same paths on every x86-64 machine give the same numbers everywhere. One
# thread: a sum split across threads is added up in another order. Read by torch and MKL when they
# first compute, so set before that.
KERNEL_ENVIRONMENT = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_CBWR": "AVX2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
KERNELS = "AVX2"  # what torch reports with these settings


@contextmanager
def pinned_kernels() -> Iterator[None]:
    """:data:`KERNEL_ENVIRONMENT` while the demo runs (the caller's environment after); a warning when
    torch already chose other kernels in this process, as then the figures can differ from a fresh
    ``resta demo``'s."""
    from resta_bench.benchmark.generate import environment

    with environment(KERNEL_ENVIRONMENT):
        import torch

        chosen = torch.backends.cpu.get_cpu_capability()  # fixed by the first call in a process
        if chosen != KERNELS:
            log.warning(
                "torch computes with its %s kernels, not %s: this process ran torch before the demo, or "
                "the CPU lacks AVX2; the demo's figures can differ from those of a fresh `resta demo`",
                chosen,
                KERNELS,
            )
        yield


@dataclass(frozen=True)
class Schedule:
    """Keyword arguments for ``realign.finetune.finetune``."""

    epochs: float
    lr: float
    batch_size: int

    def as_dict(self) -> dict[str, float | int]:
        return {"epochs": self.epochs, "lr": self.lr, "batch_size": self.batch_size}


@dataclass(frozen=True)
class DemoSettings:
    # The tiny chat model (benchmark.tiny_models) and its byte-level BPE vocabulary.
    vocab_size: int = 1024
    hidden_size: int = 128
    num_layers: int = 2
    num_heads: int = 4
    # θ_aligned is trained from random weights; θ_unaligned and θ_sft are fine-tuned from it.
    aligned: Schedule = Schedule(epochs=5, lr=5e-3, batch_size=16)
    # Small steps keep the fine-tunes near θ_aligned, where weight arithmetic behaves (as in the paper's
    # 7B models); a larger SFT learning rate learns the task as well but wrecks everything else with it.
    unaligned: Schedule = Schedule(epochs=2, lr=5e-4, batch_size=16)
    sft: Schedule = Schedule(epochs=20, lr=5e-4, batch_size=8)
    # Re-alignment: RESTA over a β sweep, RESTA+DARE at one β, and the comparison methods.
    betas: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0)
    dare_beta: float = 0.5
    dare_p: float = 0.3
    # (method, the experiment systems it takes, its parameters)
    comparisons: tuple[tuple[str, tuple[str, ...], dict[str, float]], ...] = (
        ("interpolate", ("sft", "aligned"), {"alpha": 0.5}),
        ("hdr", ("sft", "aligned", "unaligned"), {"lambda": 1.0, "top_k": 0.1}),
    )
    # Evaluation: greedy, short answers (every template answer fits), one lm-eval batch per task.
    max_gen_toks: int = 16
    eval_batch_size: int = 64


FULL = DemoSettings()
# The test suite's size: the same models, a shorter grid.
QUICK = replace(FULL, betas=(0.5, 2.0), comparisons=())
