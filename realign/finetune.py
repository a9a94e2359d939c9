"""Fine-tuning recipes: make θ_unaligned (harmful QA) or θ_sft (a task) from a chat model.

The transformers Trainer does the optimisation, full or with a PEFT LoRA adapter; this module feeds it
chat-templated question–answer pairs whose loss covers the answer tokens only, and writes the result
atomically (a temporary folder renamed at the end) with a ``finetune.json`` recipe beside the weights.

``finetune``'s typed keyword arguments (``realign.params``) are the settings' one declaration: their
defaults, help and checks serve ``resta finetune``'s flags and experiment files too. Importing this
module loads no torch (the command line reads the settings to build its help).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Annotated, Any

from resta_bench.realign.errors import RealignError
from resta_bench.realign.finetune_data import encode_examples, load_examples, pad_batch
from resta_bench.realign.output import PYTHON, Spelling, check_out, follow_umask, staged_dir
from resta_bench.realign.params import check_params, param, params_of
from resta_bench.storage.atomic import write_json_atomic

log = logging.getLogger(__name__)

RECIPE_FILE = "finetune.json"
DEFAULT_LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _load_model(model_dir: Path, device: str):
    """The model in float32 (for stable CPU training), its tokenizer, and the dtype it was stored in."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    try:
        stored_dtype = AutoConfig.from_pretrained(model_dir).dtype or torch.float32
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    except (OSError, ValueError) as error:
        raise RealignError(f"{model_dir}: cannot load a causal LM and tokenizer ({error})") from None
    if tokenizer.chat_template is None:
        raise RealignError(f"{model_dir}: the tokenizer has no chat template")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.to(device), tokenizer, stored_dtype


@contextmanager
def _deterministic() -> Iterator[None]:
    """torch's deterministic algorithms while training, so that the same inputs and seed give the same
    weights run after run (warnings, not errors, for an op that has none); the caller's setting after."""
    import torch

    before, warn_only = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before, warn_only=warn_only)


def _progress_callback(losses: list[dict[str, float]], description: str):
    """A tqdm bar on stderr that also records the logged losses (the Trainer's own bar prints to stdout)."""
    from tqdm.auto import tqdm
    from transformers import TrainerCallback

    class ProgressOnStderr(TrainerCallback):
        bar = None

        def on_train_begin(self, args, state, control, **kwargs):
            self.bar = tqdm(total=state.max_steps, desc=description, file=sys.stderr, leave=False)

        def on_step_end(self, args, state, control, **kwargs):
            self.bar.update(state.global_step - self.bar.n)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                losses.append({"step": state.global_step, "loss": float(logs["loss"])})
                self.bar.set_postfix(loss=f"{logs['loss']:.3f}")

        def on_train_end(self, args, state, control, **kwargs):
            self.bar.close()

    return ProgressOnStderr()


def finetune(
    model: str | Path,
    data: str | Path,
    out: str | Path,
    *,
    lora: Annotated[bool, param("train a PEFT LoRA adapter instead of all weights")] = False,
    epochs: Annotated[float, param("passes over the data, a fraction allowed", within="(0, inf)")] = 3.0,
    lr: Annotated[
        float | None, param("peak learning rate", within="(0, inf)", unset="2e-4 with LoRA, else 2e-5")
    ] = None,
    batch_size: Annotated[int, param("examples per optimizer step", within="[1, inf)")] = 8,
    max_length: Annotated[int, param("tokens per example, prompt included", within="[1, inf)")] = 512,
    seed: Annotated[int, param("seed of data order, dropout and LoRA init")] = 0,
    lora_r: Annotated[int, param("rank r of each adapter", within="[1, inf)")] = 8,
    lora_alpha: Annotated[int, param("scaling α: the update is α/r · B·A")] = 16,
    lora_targets: Annotated[tuple[str, ...], param("names of the modules adapted")] = DEFAULT_LORA_TARGETS,
    weight_decay: Annotated[float, param("AdamW weight decay", within="[0, inf)")] = 0.0,
    warmup: Annotated[
        float, param("linear warm-up: a fraction of the steps below 1, else steps", within="[0, inf)")
    ] = 0.0,
    device: Annotated[str, param("cpu or cuda")] = "cpu",
    overwrite: Annotated[bool, param("replace an existing output dir that resta wrote")] = False,
    description: str = "finetune",
    spelling: Spelling = PYTHON,
) -> Path:
    """Fine-tune ``model`` on question–answer JSON Lines and write a model dir (or a LoRA adapter dir).

    ``lr`` defaults to 2e-4 with LoRA and 2e-5 without; ``warmup`` is a fraction of the steps when below
    1, else a step count (linear warm-up, then linear decay). A full fine-tune is stored in the input's
    dtype. Same inputs and seed, same weights. Raises ``RealignError`` (naming the file and line) on bad
    data, a missing or broken model or bad settings, leaving no ``out`` behind; ``StorageError`` for an
    ``out`` that is, contains or lies inside ``model`` or ``data``, or exists and is not a dir resta
    wrote (replaced only with ``overwrite``); both in ``spelling``'s words (``--out`` for the command line).
    """
    arguments = dict(locals())  # first: only the arguments are local yet
    check_params(SETTINGS, {p.name: arguments[p.arg] for p in SETTINGS}, spelling, owner="finetune")
    from resta_bench.realign.checkpoint import Checkpoint  # torch: here, not at the top
    from transformers import PrinterCallback, ProgressCallback, Trainer, TrainingArguments, set_seed

    model_dir, data_path = Path(model), Path(data)
    inputs = {"model": model_dir, "data": data_path}
    check_out(out, overwrite=overwrite, inputs=inputs, spelling=spelling)
    Checkpoint(
        model_dir, "model", named=spelling.name("model")
    )  # its config, index and shards are sound (transformers would crash)
    examples = load_examples(data_path)
    lr = lr if lr is not None else (2e-4 if lora else 2e-5)
    started = time.time()
    with staged_dir(
        out,
        overwrite=overwrite,
        kind="LoRA adapter" if lora else "fine-tuned model",
        inputs=inputs,
        spelling=spelling,
    ) as staging:
        set_seed(seed)  # before the model exists, so a LoRA adapter's random init is seeded too
        network, tokenizer, stored_dtype = _load_model(model_dir, device)
        if lora:
            network = _with_adapter(network, model_dir, lora_r, lora_alpha, lora_targets, spelling)
        features = encode_examples(tokenizer, examples, max_length, data_path)

        losses: list[dict[str, float]] = []
        arguments = TrainingArguments(
            output_dir=str(staging / "trainer"),
            num_train_epochs=epochs,
            learning_rate=lr,
            per_device_train_batch_size=batch_size,
            weight_decay=weight_decay,
            warmup_steps=warmup,
            lr_scheduler_type="linear",
            seed=seed,
            data_seed=seed,
            logging_steps=max(1, len(features) // batch_size // 4),
            save_strategy="no",
            report_to="none",
            disable_tqdm=True,
            use_cpu=device == "cpu",
            dataloader_num_workers=0,
        )
        trainer = Trainer(
            model=network,
            args=arguments,
            train_dataset=features,
            data_collator=partial(pad_batch, pad_token_id=tokenizer.pad_token_id),
            callbacks=[_progress_callback(losses, description)],
        )
        # Their log lines go to stdout; ours (above) goes to stderr.
        trainer.remove_callback(PrinterCallback)
        trainer.remove_callback(ProgressCallback)
        with _deterministic():
            trainer.train()
        shutil.rmtree(staging / "trainer", ignore_errors=True)
        if not lora:
            network = network.to(dtype=stored_dtype)
        network.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        follow_umask(staging)
        params = dict(
            lora=lora, epochs=epochs, lr=lr, batch_size=batch_size, max_length=max_length, seed=seed
        )
        params.update(weight_decay=weight_decay, warmup=warmup)
        if lora:
            params.update(lora_r=lora_r, lora_alpha=lora_alpha, lora_targets=list(lora_targets))
        recipe = _recipe(model_dir, data_path, len(features), params, losses, started)
        write_json_atomic(staging / RECIPE_FILE, recipe)
    log.info("fine-tuned %s on %s (%d examples) -> %s", model_dir, data_path, len(features), out)
    return Path(out)


def _with_adapter(network, model_dir: Path, r: int, alpha: float, targets: Sequence[str], spelling: Spelling):
    from peft import LoraConfig, get_peft_model

    adapter = LoraConfig(r=r, lora_alpha=alpha, target_modules=list(targets), task_type="CAUSAL_LM")
    try:
        return get_peft_model(network, adapter)
    except ValueError as error:  # e.g. no module of the model matches the targets
        message = " ".join(str(error).split())
        raise RealignError(
            f"{spelling.name('lora_targets')} {list(targets)}: {model_dir}: {message}"
        ) from None


def _recipe(
    model_dir: Path, data_path: Path, n_examples: int, params: dict[str, Any], losses: list, started: float
) -> dict[str, Any]:
    import transformers

    return {
        "recipe": "finetune",
        "model": str(model_dir.resolve()),
        "data": {"path": str(data_path.resolve()), "sha256": _sha256(data_path), "examples": n_examples},
        "params": params,
        "losses": losses,
        "transformers": transformers.__version__,
        "wall_seconds": round(time.time() - started, 3),
    }


# What ``finetune`` takes besides its inputs (``model``, ``data``, ``out``), checked before any work: PEFT's
# own checks of the LoRA settings would come late (after the model loads) and as tracebacks.
SETTINGS = params_of(finetune, leave_out=("description", "spelling"))


def answer_loss(model: str | Path, data: str | Path, *, max_length: int = 512, batch_size: int = 16) -> float:
    """Mean cross-entropy per answer token of ``model`` (a model dir) on a question–answer file."""
    import torch

    network, tokenizer, _ = _load_model(Path(model), "cpu")
    features = encode_examples(tokenizer, load_examples(data), max_length, Path(data))
    network.eval()
    total, tokens = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(features), batch_size):
            batch = pad_batch(features[start : start + batch_size], tokenizer.pad_token_id)
            logits = network(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            targets = batch["labels"][:, 1:]
            per_token = torch.nn.functional.cross_entropy(
                logits[:, :-1].flatten(0, 1), targets.flatten(), ignore_index=-100, reduction="sum"
            )
            total += float(per_token)
            tokens += int((targets != -100).sum())
    return total / tokens
