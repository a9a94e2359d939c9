"""`resta realign resta` side by side with mergekit's `task_arithmetic` on random Llama-shaped checkpoints.

mergekit computes the same RESTA when the base model is θ_unaligned, with weight 1 for θ_sft and β for
θ_aligned: θ_u + (θ_sft − θ_u) + β(θ_a − θ_u) = θ_sft + β(θ_a − θ_u). Both tools run as subprocesses
(mergekit from its own venv, so it cannot touch the shared site-packages), interleaved round by round
in a rotating order, each after ``os.sync()``; wall time, CPU time and peak RSS are measured per
command (see LAUNCHER). Prints a table; the figures go into benchmarks/README.md by hand.

    python benchmarks/realign_vs_mergekit.py --shape 1.1b            # the comparison (~13 GB of disk)
    python benchmarks/realign_vs_mergekit.py --shape 7b --no-mergekit  # RSS bound at 7B (~55 GB of disk)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

WORK = Path(__file__).resolve().parent / "_work"
MERGEKIT = Path("/work/venvs/mergekit/bin/mergekit-yaml")
BETA, DARE_P = 0.5, 0.3


@dataclass(frozen=True)
class Shape:
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    vocab: int
    shard_bytes: int


SHAPES = {
    "tiny": Shape(256, 512, 2, 4, 2, 1000, 1 << 20),
    "1.1b": Shape(2048, 5632, 22, 32, 4, 32000, 500 << 20),  # TinyLlama-1.1B
    "7b": Shape(4096, 11008, 32, 32, 32, 32000, 2 << 30),  # Llama-2-7B
}


def tensor_shapes(shape: Shape) -> dict[str, tuple[int, ...]]:
    h, kv = shape.hidden, shape.hidden // shape.heads * shape.kv_heads
    shapes: dict[str, tuple[int, ...]] = {"model.embed_tokens.weight": (shape.vocab, h)}
    for i in range(shape.layers):
        p = f"model.layers.{i}."
        shapes |= {
            p + "self_attn.q_proj.weight": (h, h),
            p + "self_attn.k_proj.weight": (kv, h),
            p + "self_attn.v_proj.weight": (kv, h),
            p + "self_attn.o_proj.weight": (h, h),
            p + "mlp.gate_proj.weight": (shape.intermediate, h),
            p + "mlp.up_proj.weight": (shape.intermediate, h),
            p + "mlp.down_proj.weight": (h, shape.intermediate),
            p + "input_layernorm.weight": (h,),
            p + "post_attention_layernorm.weight": (h,),
        }
    return shapes | {"model.norm.weight": (h,), "lm_head.weight": (shape.vocab, h)}


def config(shape: Shape) -> dict:
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": shape.hidden,
        "intermediate_size": shape.intermediate,
        "num_hidden_layers": shape.layers,
        "num_attention_heads": shape.heads,
        "num_key_value_heads": shape.kv_heads,
        "vocab_size": shape.vocab,
        "max_position_embeddings": 2048,
        "rms_norm_eps": 1e-5,
        "tie_word_embeddings": False,
        "torch_dtype": "bfloat16",
    }


class Pool:
    """Random values drawn once and sliced at name-dependent offsets: disk-bound, not RNG-bound, at 7B."""

    def __init__(self, size: int = 1 << 26) -> None:
        self.values = torch.randn(size, generator=torch.Generator().manual_seed(0))

    def take(self, count: int, offset: int) -> torch.Tensor:
        offset %= self.values.numel()
        repeats = math.ceil((offset + count) / self.values.numel())
        return (
            self.values.repeat(repeats)[offset : offset + count]
            if repeats > 1
            else self.values[offset : offset + count]
        )


def shard_plan(shape: Shape) -> list[list[tuple[str, tuple[int, ...]]]]:
    shards: list[list[tuple[str, tuple[int, ...]]]] = [[]]
    size = 0
    for name, dims in tensor_shapes(shape).items():
        nbytes = math.prod(dims) * 2
        if shards[-1] and size + nbytes > shape.shard_bytes:
            shards.append([])
            size = 0
        shards[-1].append((name, dims))
        size += nbytes
    return shards


def make_family(shape: Shape, root: Path) -> dict[str, Path]:
    """aligned, unaligned = aligned + noise, sft = aligned + other noise; bf16, several shards each."""
    pool = Pool()
    plan = shard_plan(shape)
    noise = {"aligned": 0.0, "unaligned": 0.002, "sft": 0.003}
    dirs = {}
    for r, role in enumerate(noise):
        out = dirs[role] = root / role
        if (out / "config.json").is_file():
            continue  # made by an earlier run
        out.mkdir(parents=True, exist_ok=True)
        weight_map, i = {}, 0
        for j, names in enumerate(plan, 1):
            file = f"model-{j:05d}-of-{len(plan):05d}.safetensors"
            shard = {}
            for name, dims in names:
                count = math.prod(dims)
                values = pool.take(count, 7919 * i) * 0.02 + (1.0 if len(dims) == 1 else 0.0)
                if noise[role]:
                    values = values + pool.take(count, 104729 * (i + 1) * (r + 3)) * noise[role]
                shard[name] = values.to(torch.bfloat16).reshape(dims)
                weight_map[name] = file
                i += 1
            save_file(shard, out / file, metadata={"format": "pt"})
        (out / "model.safetensors.index.json").write_text(
            json.dumps({"metadata": {}, "weight_map": weight_map})
        )
        (out / "config.json").write_text(json.dumps(config(shape), indent=2))
        print(f"made {out} ({len(plan)} shards)", file=sys.stderr)
    return dirs


@dataclass(frozen=True)
class Run:
    wall_s: float
    cpu_s: float  # user + system time of the command: less sensitive than wall time to a busy machine
    peak_rss_bytes: int


# A small launcher between this (large) process and the measured one: a child's ru_maxrss counts the
# memory of the process it was forked from, so the measured command is forked from the small launcher.
LAUNCHER = (
    "import os, subprocess, sys\n"
    "child = subprocess.Popen(sys.argv[2:])\n"
    "_, status, usage = os.wait4(child.pid, 0)\n"
    "open(sys.argv[1], 'w').write(f'{usage.ru_maxrss * 1024} {usage.ru_utime + usage.ru_stime}')\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def measure(command: list[str], log: Path) -> Run:
    """Wall time and peak RSS of ``command`` alone."""
    rss_file = log.with_suffix(".rss")
    os.sync()  # the previous command's output is on disk: no command pays for another's write-back
    started = time.perf_counter()
    with open(log, "w") as sink:
        status = subprocess.run(
            [sys.executable, "-c", LAUNCHER, str(rss_file), *command], stdout=sink, stderr=subprocess.STDOUT
        ).returncode
    wall = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{command[0]} failed ({status}); see {log}")
    peak, cpu = rss_file.read_text().split()
    return Run(wall, float(cpu), int(peak))


def run_resta(family: dict[str, Path], out: Path, *, dare_p: float = 0.0) -> Run:
    shutil.rmtree(out, ignore_errors=True)
    command = [
        "resta",
        "realign",
        "resta",
        "--sft",
        str(family["sft"]),
        "--aligned",
        str(family["aligned"]),
        "--unaligned",
        str(family["unaligned"]),
        "--beta",
        str(BETA),
        "--out",
        str(out),
    ]
    if dare_p:
        command += ["--dare-p", str(dare_p)]
    return measure(command, out.with_suffix(".log"))


def run_mergekit(family: dict[str, Path], out: Path, mergekit: Path) -> Run:
    shutil.rmtree(out, ignore_errors=True)
    recipe = {
        "merge_method": "task_arithmetic",
        "base_model": str(family["unaligned"]),
        "models": [
            {"model": str(family["sft"]), "parameters": {"weight": 1.0}},
            {"model": str(family["aligned"]), "parameters": {"weight": BETA}},
        ],
        "parameters": {"normalize": False},
        "dtype": "float32",
        "out_dtype": "bfloat16",
    }
    config_file = out.with_suffix(".yml")
    config_file.write_text(json.dumps(recipe))  # JSON is YAML
    return measure(
        [str(mergekit), str(config_file), str(out), "--no-copy-tokenizer"], out.with_suffix(".log")
    )


def tensor_files(model: Path) -> dict[str, Path]:
    index = (
        json.loads((model / "model.safetensors.index.json").read_text())["weight_map"]
        if (model / "model.safetensors.index.json").is_file()
        else None
    )
    if index is not None:
        return {name: model / file for name, file in index.items()}
    files = {}
    for file in model.glob("*.safetensors"):
        with safe_open(file, "pt") as handle:
            files |= dict.fromkeys(handle.keys(), file)
    return files


def compare(ours: Path, theirs: Path) -> dict:
    """Tensor by tensor, in bf16 units in the last place (ulps) of the stored values."""
    mine, peer = tensor_files(ours), tensor_files(theirs)
    if mine.keys() != peer.keys():
        raise SystemExit(f"tensor names differ: {sorted(mine.keys() ^ peer.keys())[:5]}")
    equal = total = max_ulps = 0
    for name in mine:
        with safe_open(mine[name], "pt") as a, safe_open(peer[name], "pt") as b:
            x, y = a.get_tensor(name), b.get_tensor(name)
        if x.dtype != y.dtype or x.shape != y.shape:
            raise SystemExit(f"{name}: {x.dtype} {list(x.shape)} vs {y.dtype} {list(y.shape)}")
        ulps = (x.view(torch.int16).int() - y.view(torch.int16).int()).abs()
        equal += int((ulps == 0).sum())
        total += ulps.numel()
        max_ulps = max(max_ulps, int(ulps.max()))
    return {"tensors": len(mine), "elements": total, "equal_fraction": equal / total, "max_ulps": max_ulps}


def machine() -> str:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
        platform.processor(),
    )
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} CPU cores ({cpu}), {memory:.0f} GiB RAM, {platform.system()} {platform.release()}"
    )


def gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shape", choices=sorted(SHAPES), default="1.1b")
    parser.add_argument("--mergekit", type=Path, default=MERGEKIT, help="mergekit-yaml of a separate venv")
    parser.add_argument(
        "--no-mergekit", action="store_true", help="only resta, with and without DARE (the 7B memory bound)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the checkpoints under benchmarks/_work")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds; the best of each is kept")
    args = parser.parse_args()

    root = WORK / args.shape
    # A cache of its own, made afresh: round 1 hashes every input (cold); later rounds find the hashes
    # there, as a β sweep over the same inputs does.
    os.environ["RESTA_HASH_CACHE"] = str(root / "sha256.json")
    (root / "sha256.json").unlink(missing_ok=True)
    print(f"machine: {machine()}\nshape: {args.shape} {SHAPES[args.shape]}", flush=True)
    started = time.perf_counter()
    family = make_family(SHAPES[args.shape], root)
    input_bytes = sum(f.stat().st_size for f in family["sft"].glob("*.safetensors"))
    print(f"inputs: 3 × {gib(input_bytes)} made in {time.perf_counter() - started:.0f} s", flush=True)
    try:
        outputs = {"resta": root / "resta", "mergekit": root / "mergekit", "resta+dare": root / "resta_dare"}
        commands = {
            "resta": lambda: run_resta(family, outputs["resta"]),
            "mergekit": lambda: run_mergekit(family, outputs["mergekit"], args.mergekit),
            "resta+dare": lambda: run_resta(family, outputs["resta+dare"], dare_p=DARE_P),
        }
        compared = {"resta", "mergekit"}
        if args.no_mergekit:
            del commands["mergekit"]
            compared = set()
        runs: dict[str, list[Run]] = {label: [] for label in commands}
        for attempt in range(1 if args.no_mergekit else args.repeat):
            # Interleaved, so that load on the machine hits all alike, and in a rotating order, so that
            # no command always follows the same one (whose write-back and cache state it would inherit).
            labels = list(commands)[attempt % len(commands) :] + list(commands)[: attempt % len(commands)]
            for label in labels:
                runs[label].append(commands[label]())
                if label not in compared:  # removed at once: 13 GB each at 7B
                    shutil.rmtree(outputs[label])
            latest = {label: done[-1] for label, done in runs.items()}
            print(f"round {attempt + 1} ({', '.join(labels)}): {latest}", flush=True)
        best = {label: min(done, key=lambda run: run.wall_s) for label, done in runs.items() if done}
        print("\n| run | wall s (best) | CPU s | peak RSS |\n|---|---|---|---|")
        for label, run in best.items():
            print(f"| {label} | {run.wall_s:.1f} | {run.cpu_s:.1f} | {gib(run.peak_rss_bytes)} |")
        if "mergekit" in best:
            equality = compare(root / "resta", root / "mergekit")
            mk, ours, dare = best["mergekit"], best["resta"], best["resta+dare"]
            print(f"\nequality vs mergekit: {equality}")
            print(f"wall time resta / mergekit: {ours.wall_s / mk.wall_s:.2f} (target ≤ 0.5)")
            print(f"CPU time resta / mergekit: {ours.cpu_s / mk.cpu_s:.2f}")
            print(f"peak RSS resta / mergekit: {ours.peak_rss_bytes / mk.peak_rss_bytes:.3f} (target ≤ 0.25)")
            print(f"wall time resta+dare / resta: {dare.wall_s / ours.wall_s:.2f} (target ≤ 1.5)")
            print(f"CPU time resta+dare / resta: {dare.cpu_s / ours.cpu_s:.2f}")
            # The ratio of two bests swings with one lucky round; within a round both met the same load.
            for numerator, denominator in (("resta", "mergekit"), ("resta+dare", "resta")):
                pairs = zip(runs[numerator], runs[denominator], strict=True)
                ratios = [mine.wall_s / theirs.wall_s for mine, theirs in pairs]
                label = f"{numerator} / {denominator}"
                shown = ", ".join(f"{ratio:.2f}" for ratio in ratios)
                print(f"wall time {label} per round: {shown}; median {statistics.median(ratios):.2f}")
        else:
            print(
                f"\npeak RSS at {args.shape}: resta {gib(best['resta'].peak_rss_bytes)}, resta+dare "
                f"{gib(best['resta+dare'].peak_rss_bytes)}, for 3 inputs of {gib(input_bytes)}"
            )
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
