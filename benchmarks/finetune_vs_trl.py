"""`realign.finetune` side by side with TRL's SFTTrainer on the same job, in one run.

Both fine-tune the same tiny chat model on the same question–answer pairs through its chat template,
with the loss on the answer tokens only, the same optimiser settings and seed. Reported: wall time,
examples per second, and the answer-token loss of each result measured afterwards by the same function
(``realign.finetune.answer_loss``), so that "faster" cannot hide "learned less".

    pip install --no-deps trl          # benchmark-only peer, never a runtime dependency
    python benchmarks/finetune_vs_trl.py [--epochs 2] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _trl_finetune(
    model_dir: Path, data: Path, out: Path, *, epochs: float, lr: float, batch_size: int, seed: int
):
    import datasets
    from transformers import AutoModelForCausalLM, AutoTokenizer, PrinterCallback
    from trl import SFTConfig, SFTTrainer

    rows = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines()]
    dataset = datasets.Dataset.from_list(
        [
            {
                "prompt": [{"role": "user", "content": row["question"]}],
                "completion": [{"role": "assistant", "content": row["answer"]}],
            }
            for row in rows
        ]
    )
    config = SFTConfig(
        output_dir=str(out / "trainer"),
        num_train_epochs=epochs,
        learning_rate=lr,
        per_device_train_batch_size=batch_size,
        lr_scheduler_type="linear",
        seed=seed,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        use_cpu=True,
        completion_only_loss=True,
        max_length=512,
    )
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    trainer = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(model_dir),
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    trainer.remove_callback(PrinterCallback)  # its per-step log lines would bury the table on stdout
    trainer.train()
    trainer.model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=2, help="runs per tool; the median is reported")
    args = parser.parse_args()

    import torch
    from resta_bench.benchmark.demo import data
    from resta_bench.benchmark.tiny_models import build_tiny_chat_model, train_tokenizer
    from resta_bench.realign.finetune import answer_loss, finetune

    torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp(prefix="finetune-bench-"))
    training = data.write_training_sets(work / "data")["aligned"]
    tokenizer = train_tokenizer(data.corpus(), vocab_size=1024)
    model = build_tiny_chat_model(work / "model", tokenizer=tokenizer, hidden_size=128, intermediate_size=256)
    examples = len(training.read_text(encoding="utf-8").splitlines())
    settings = {"epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size, "seed": 0}

    runs = {
        "resta finetune": lambda out: finetune(model, training, out, overwrite=True, **settings),
        "TRL SFTTrainer": lambda out: _trl_finetune(model, training, out, **settings),
    }
    results = {}
    for name, run in runs.items():
        times = []
        for attempt in range(args.repeat):
            out = work / f"{name.split()[0]}-{attempt}"
            started = time.perf_counter()
            run(out)
            times.append(time.perf_counter() - started)
        results[name] = (statistics.median(times), answer_loss(out, training))

    ours = results["resta finetune"][0]
    print(f"{examples} examples x {args.epochs:g} epochs, batch {args.batch_size}, lr {args.lr:g}, 1 thread")
    print("| run | seconds (median) | examples/s | answer-token loss after | time / ours |")
    print("|---|---:|---:|---:|---:|")
    for name, (seconds, loss) in results.items():
        rate = examples * args.epochs / seconds
        print(f"| {name} | {seconds:.1f} | {rate:.0f} | {loss:.3f} | {seconds / ours:.2f}x |")


if __name__ == "__main__":
    main()
