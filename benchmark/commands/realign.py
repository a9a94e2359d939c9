"""`resta safety-vector` and `resta realign`: thin wrappers over the `realign` package's API.

Each method parameter's flag comes from the method's typed signature (``realign.methods.registry``):
one flag per parameter name, whichever methods take it; a flag left unset keeps the method's default.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from resta_bench.benchmark.commands.typed_flags import add_before_first_use, flag_options, given
from resta_bench.realign.output import DEFAULT_MAX_SHARD_SIZE  # imports no torch

if TYPE_CHECKING:
    from resta_bench.realign.params import Param


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
    parser.add_argument("--max-shard-size", default=DEFAULT_MAX_SHARD_SIZE, help="largest output shard")


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
        "recipe.json), streaming tensor by tensor. `resta realign --methods` lists the methods, their "
        "inputs, flags and defaults.",
    )
    realign.add_argument("method", nargs="?", help="re-alignment method")
    realign.add_argument(
        "--methods", action="store_true", help="list the methods, their inputs and flags, and exit"
    )
    realign.add_argument("--json", action="store_true", help="with --methods: as JSON")
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
    _add_output_options(realign, out_required=False)  # not with --methods
    add_before_first_use(realign, _add_method_flags)
    realign.set_defaults(func=run_realign)


def method_params() -> dict[str, list[tuple[str, Param]]]:
    """Each parameter name, with the methods that take it (method name, its ``Param``)."""
    from resta_bench.realign.methods import get_method, method_names

    found: dict[str, list[tuple[str, Param]]] = {}
    for name in method_names():
        for param in get_method(name).params:
            found.setdefault(param.name, []).append((name, param))
    return found


def _add_method_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("method parameters (unset: the method's own default)")
    for name, takers in method_params().items():
        options = flag_options(takers[0][1])
        if any(flag_options(param) != options for _, param in takers):
            methods = ", ".join(method for method, _ in takers)
            raise TypeError(f"methods {methods}: parameter {name!r} has different types, so no one flag fits")
        text = "; ".join(f"{method}: {param.describe()}" for method, param in takers)
        # Unset stays None (a switch too): the methods that do not take it are not given it.
        group.add_argument(takers[0][1].flag, dest=name, default=None, help=text, **options)


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
        print(json.dumps(describe_methods(), indent=2, ensure_ascii=False) if args.json else methods_table())
        return 0
    if not args.method or not args.out:
        raise RealignError("give a method and --out (`resta realign --methods` lists the methods)")
    params = given(args, method_params())
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


def methods_table() -> str:
    """One row per method parameter: method, inputs (optional ones in brackets), flag, default, reference."""
    from resta_bench.realign.methods import get_method, method_names
    from resta_bench.realign.output import COMMAND_LINE

    rows = [("method", "inputs", "flag", "default", "reference")]
    for name in method_names():
        method = get_method(name)
        inputs = [COMMAND_LINE.name(role) for role in method.inputs]
        inputs += [f"[{COMMAND_LINE.name(role)}]" for role in method.optional_inputs]
        flags = [(p.flag, p.default_text) for p in method.params] or [("", "")]
        for i, (flag, default) in enumerate(flags):
            first = i == 0
            rows.append((name if first else "", " ".join(inputs) if first else "", flag, default,
                         method.reference if first else ""))  # fmt: skip
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1]
             for row in rows]  # fmt: skip
    vector = "--vector: a safety-vector dir, or --aligned and --unaligned to compute it on the fly"
    return "\n".join([*(line.rstrip() for line in lines), "", vector])
