"""`resta finetune`: make θ_unaligned (harmful QA) or θ_sft (a task) from a chat model."""

from __future__ import annotations

import argparse

# realign.finetune's default (not imported: it would load torch for `resta --help`)
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")


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
    parser.add_argument(
        "--lora", action="store_true", help="train a PEFT LoRA adapter instead of all weights"
    )
    parser.add_argument("--epochs", type=float, default=3.0, help="passes over the data, a fraction allowed")
    parser.add_argument(
        "--lr", type=float, default=None, help="peak learning rate (default: 2e-4 with --lora, else 2e-5)"
    )
    parser.add_argument("--batch-size", type=int, default=8, help="examples per optimizer step")
    parser.add_argument("--max-length", type=int, default=512, help="tokens per example, prompt included")
    parser.add_argument(
        "--warmup",
        type=float,
        default=0.0,
        help="linear warm-up: a fraction of the steps below 1, else steps",
    )
    parser.add_argument("--weight-decay", type=float, default=0.0, help="AdamW weight decay")
    parser.add_argument("--seed", type=int, default=0, help="seed of data order, dropout and LoRA init")
    lora = parser.add_argument_group("LoRA (with --lora)")
    lora.add_argument("--lora-r", type=int, default=8, help="rank r of each adapter")
    lora.add_argument("--lora-alpha", type=int, default=16, help="scaling α: the update is α/r · B·A")
    lora.add_argument(
        "--lora-targets",
        nargs="+",
        default=list(LORA_TARGETS),
        metavar="MODULE",
        help="module names adapted",
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing output dir that resta wrote"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from resta_bench.realign.finetune import finetune
    from resta_bench.realign.output import COMMAND_LINE

    out = finetune(
        args.model,
        args.data,
        args.out,
        lora=args.lora,
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        max_length=args.max_length,
        seed=args.seed,
        lora_r=args.lora_r,
        lora_alpha=args.lora_alpha,
        lora_targets=tuple(args.lora_targets),
        warmup=args.warmup,
        weight_decay=args.weight_decay,
        device=args.device,
        overwrite=args.overwrite,
        spelling=COMMAND_LINE,
    )
    print(out)
    return 0
