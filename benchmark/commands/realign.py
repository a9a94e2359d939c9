"""`resta safety-vector` and `resta realign`: thin wrappers over the `realign` package's API."""

from __future__ import annotations

import argparse
import json

# Method parameters as the command line spells them; a flag left unset keeps the method's default.
METHOD_FLAGS: tuple[tuple[str, str, dict], ...] = (
    ("--beta", "beta", {"type": float, "help": "resta: weight β of the safety vector (default: 0.5)"}),
    (
        "--dare-p",
        "dare_p",
        {"type": float, "help": "resta: DARE drop probability p in [0, 1) (default: 0.0)"},
    ),
    (
        "--alpha",
        "alpha",
        {"type": float, "help": "interpolate: weight α of θ_sft − θ_aligned (default: 0.5)"},
    ),
    (
        "--lambda",
        "lam",
        {"type": float, "help": "hdr: weight λ of the harm direction removed (default: 3.0)"},
    ),
    (
        "--top-k",
        "top_k",
        {"type": float, "help": "hdr: fraction k in (0, 1] of largest entries kept (default: 0.1)"},
    ),
    (
        "--top-k-scope",
        "top_k_scope",
        {"help": "hdr: global, one top-k over all weights, or per-tensor (default: global)"},
    ),
    (
        "--select-layers",
        "select_layers",
        {"help": "safe-lora: number (the N lowest cosines) or threshold (those ≤ τ); default: number"},
    ),
    (
        "--num-proj-layers",
        "num_proj_layers",
        {"type": int, "help": "safe-lora: N of --select-layers number (default: 10)"},
    ),
    (
        "--threshold",
        "threshold",
        {"type": float, "help": "safe-lora: τ of --select-layers threshold (default: 0.5)"},
    ),
    (
        "--target-modules",
        "target_modules",
        {
            "nargs": "+",
            "help": "safe-lora, full fine-tunes: modules projected (default: q_proj k_proj v_proj o_proj)",
        },
    ),
    (
        "--weights",
        "weights",
        {"type": float, "nargs": "+", "help": "task-arithmetic: one weight per --model (default: 1 each)"},
    ),
)


def _add_output_options(parser: argparse.ArgumentParser, *, out_required: bool) -> None:
    parser.add_argument(
        "--out", metavar="DIR", required=out_required, help="output dir (must not exist unless --overwrite)"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing output dir that resta wrote"
    )
    parser.add_argument(
        "--device", default="cpu", help="cpu or cuda; element-wise methods give the same bits on both"
    )
    parser.add_argument("--max-shard-size", default="5GB", help="largest output shard")


def register(subparsers) -> None:
    vector = subparsers.add_parser(
        "safety-vector",
        help="save v = θ_aligned − θ_unaligned as a checkpoint",
        description="Save the safety vector v = θ_aligned − θ_unaligned as its own checkpoint (in the "
        "aligned model's dtype), so that one vector re-aligns many fine-tuned models "
        "(`resta realign resta --vector`).",
    )
    vector.add_argument("--aligned", metavar="DIR", required=True, help="the aligned (chat) model dir")
    vector.add_argument(
        "--unaligned", metavar="DIR", required=True, help="the aligned model fine-tuned on harmful QA"
    )
    _add_output_options(vector, out_required=True)
    vector.set_defaults(func=run_safety_vector)

    realign = subparsers.add_parser(
        "realign",
        help="re-align a fine-tuned model in weight space (RESTA, DARE, baselines)",
        description="Write a re-aligned model dir (safetensors shards, the SFT's config and tokenizer, "
        "recipe.json), streaming tensor by tensor. Methods: resta, safety-vector, interpolate, hdr, "
        "safe-lora, task-arithmetic; `resta realign --methods` lists their inputs and parameters.",
    )
    realign.add_argument("method", nargs="?", help="re-alignment method")
    realign.add_argument("--methods", action="store_true", help="list the methods and exit")
    realign.add_argument("--sft", metavar="DIR", help="the fine-tuned model dir, or a PEFT LoRA adapter dir")
    realign.add_argument("--aligned", metavar="DIR", help="the aligned model dir (the SFT's starting point)")
    realign.add_argument("--unaligned", metavar="DIR", help="the aligned model fine-tuned on harmful QA")
    realign.add_argument(
        "--vector",
        metavar="DIR",
        help="a safety-vector dir (instead of --aligned/--unaligned for the vector)",
    )
    realign.add_argument("--base", metavar="DIR", help="task-arithmetic: the base model dir")
    realign.add_argument(
        "--model",
        dest="models",
        metavar="DIR",
        action="append",
        default=[],
        help="task-arithmetic: a model, repeated for each",
    )
    realign.add_argument("--seed", type=int, default=0, help="seed of the DARE masks")
    for flag, dest, options in METHOD_FLAGS:
        realign.add_argument(flag, dest=dest, default=None, **options)
    _add_output_options(realign, out_required=False)  # not with --methods
    realign.set_defaults(func=run_realign)


def run_safety_vector(args: argparse.Namespace) -> int:
    from resta_bench.realign import make_safety_vector
    from resta_bench.realign.output import COMMAND_LINE

    out = make_safety_vector(
        args.aligned,
        args.unaligned,
        args.out,
        overwrite=args.overwrite,
        device=args.device,
        max_shard_size=args.max_shard_size,
        spelling=COMMAND_LINE,
    )
    print(out)
    return 0


def run_realign(args: argparse.Namespace) -> int:
    from resta_bench.realign import RealignError, describe_methods, realign
    from resta_bench.realign.output import COMMAND_LINE

    if args.methods:
        print(json.dumps(describe_methods(), indent=2, ensure_ascii=False))
        return 0
    if not args.method or not args.out:
        raise RealignError("give a method and --out (`resta realign --methods` lists the methods)")
    params = {dest: getattr(args, dest) for _, dest, _ in METHOD_FLAGS if getattr(args, dest) is not None}
    out = realign(
        args.method,
        out=args.out,
        sft=args.sft,
        aligned=args.aligned,
        unaligned=args.unaligned,
        vector=args.vector,
        base=args.base,
        models=args.models,
        seed=args.seed,
        device=args.device,
        overwrite=args.overwrite,
        max_shard_size=args.max_shard_size,
        spelling=COMMAND_LINE,
        **params,
    )
    print(out)
    return 0
