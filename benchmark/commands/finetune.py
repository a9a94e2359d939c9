"""`resta finetune`: make θ_unaligned (harmful QA) or θ_sft (a task) from a chat model.

The settings' flags come from ``realign.finetune``'s typed signature (its defaults, help and checks); a
flag left unset keeps the library's default.
"""

from __future__ import annotations

import argparse

from resta_bench.benchmark.commands.typed_flags import flag_options
from resta_bench.realign.finetune import SETTINGS  # imports no torch


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "finetune",
        help="fine-tune a chat model on question-answer JSON Lines (loss on the answers only)",
        description="Fine-tune a chat model, fully or with LoRA, on JSON Lines with 'question', 'answer' "
        "and optional 'system' fields, through the model's chat template; the loss covers the answer tokens "
        "only. Writes a model dir (or a LoRA adapter dir) atomically, with finetune.json beside it.",
    )
    parser.add_argument("--model", required=True, metavar="DIR", help="Hugging Face model dir to start from")
    parser.add_argument(
        "--data", required=True, metavar="FILE", help="JSON Lines file of question/answer pairs"
    )
    parser.add_argument(
        "--out", required=True, metavar="DIR", help="output dir (must not exist unless --overwrite)"
    )
    lora = parser.add_argument_group("LoRA (with --lora)")
    for setting in SETTINGS:
        group = lora if setting.name.startswith("lora_") else parser
        options = flag_options(setting)
        if setting.many:
            options["metavar"] = "MODULE"
        group.add_argument(setting.flag, dest=setting.name, help=setting.describe(), **options)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from resta_bench.realign.finetune import finetune
    from resta_bench.realign.output import COMMAND_LINE

    settings = {s.arg: getattr(args, s.name) for s in SETTINGS if getattr(args, s.name) is not None}
    print(finetune(args.model, args.data, args.out, spelling=COMMAND_LINE, **settings))
    return 0
