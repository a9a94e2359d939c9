"""How straight the runner's path is: the results folder followed through a `resta demo`-like run.

A tiny version of the demo's experiment (the demo's data and experiment file, a random tiny aligned
model, fine-tunes of a few steps, two documents per task) is run with ``benchmark.runner.run_experiment``
under ``sys.setprofile`` and an audit hook, and these figures are printed:

- **returns**: the path of the results folder through the code. Every function of the modules it passes
  (config, plan, runner, executors, system_id, provenance, store, the store schema, realign's hash
  cache) that is called with the results folder among its arguments (the folder, a path in it, or an
  object holding one: the store, the plan, the hash cache), called through those modules only, joins
  the path at its first call, as one reads the code along the run; a module's consecutive functions count
  once. What a step's own work (lm-eval, judging, utility scores) does with the store is not the path.
  A return is a module the path comes back to after it had left it (config → plan → runner → store
  has none).
- **the same over every call**: returns along the whole run, each step's calls too (not only first
  calls): what the runner does again after every step shows here.
- **store I/O**: reads and writes of the systems' ``system.json``, of suite records and of the hash
  cache (reads are ``open`` in a read mode, writes the rename that ends each atomic write), and the
  file hashes looked up (``HashCache.sha256``), per system.

    python benchmarks/runner_trace.py                # prints the figures
    python benchmarks/runner_trace.py --path         # and the path itself

It imports whatever ``resta_bench`` is on the path, so an older tree can be measured with
``PYTHONPATH=<folder holding resta_bench/>``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any

import yaml

# (file path inside resta_bench, as a suffix) -> the module's short name on the path
PATH_MODULES = {
    "benchmark/config": "config",  # config.py, or the config/ package as one module
    "benchmark/plan.py": "plan",
    "benchmark/runner.py": "runner",
    "benchmark/executors.py": "executors",
    "benchmark/system_id.py": "system_id",
    "benchmark/provenance.py": "provenance",
    "benchmark/store.py": "store",
    "storage/schema": "schema",
    "realign/hashing.py": "hash cache",
}


def _module_of(filename: str, root: str) -> str | None:
    if not filename.startswith(root):
        return None
    inside = filename[len(root) :]
    return next((name for prefix, name in PATH_MODULES.items() if inside.startswith(prefix)), None)


def tiny_demo_experiment(out: Path) -> Path:
    """The demo's experiment file over a random tiny aligned model, with minute fine-tunes and 2 documents
    per task (the demo's own steps, shrunk until only the path is left)."""
    from resta_bench.benchmark.demo import data
    from resta_bench.benchmark.demo.run import experiment_document
    from resta_bench.benchmark.demo.settings import QUICK, Schedule
    from resta_bench.benchmark.tiny_models import build_tiny_chat_model, train_tokenizer

    data.write_training_sets(out / "data" / "train")
    data.write_evaluation_sets(out / "data" / "eval")
    tokenizer = train_tokenizer(data.corpus(), vocab_size=QUICK.vocab_size)
    build_tiny_chat_model(out / "models" / "aligned", tokenizer=tokenizer, hidden_size=32, seed=0)
    brief = Schedule(epochs=0.02, lr=5e-4, batch_size=16)
    settings = replace(QUICK, unaligned=brief, sft=brief, max_gen_toks=4, eval_batch_size=8)
    document = experiment_document(out, settings, 0)
    for suite in document["suites"]:
        suite["limit"] = 2
    path = out / "experiment.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def _holds_results(value: Any, results: str) -> bool:
    """Whether an argument is the results folder, a path in it, or an object holding one (the store, the
    plan, the hash cache, the runner's records: ``root``, ``store``, ``plan``, ``path`` attributes)."""
    for _ in range(4):  # records.plan.store.root at most
        if isinstance(value, (str, Path)):
            return str(value).startswith(results)
        holders = ("root", "store", "plan", "path")
        value = next((getattr(value, name) for name in holders if hasattr(value, name)), None)
    return False


class Trace:
    """The profile hook and the audit hook of one run."""

    def __init__(self, root: str, results: Path):
        self.root = root
        self.results = str(results.resolve())
        self.seen: dict[Any, None] = {}  # functions (code objects) on the path, the first where it starts
        self.path: list[tuple[str, str]] = []  # (module, function) by first call with the results folder
        self.last: str | None = None  # the module of the latest call along the path
        self.entered: set[str] = set()
        self.visits = 0  # module changes along the whole run (every step's calls, not only the first)
        self.back = 0  # of which into a module entered before
        self.io: Counter[str] = Counter()
        self.active = False

    def profile(self, frame: FrameType, event: str, _arg: Any) -> None:
        if event != "call":
            return
        module = _module_of(frame.f_code.co_filename, self.root)
        if module is None:
            return
        if module == "hash cache" and frame.f_code.co_name == "sha256":
            self.io["hash lookups (HashCache.sha256)"] += 1
        code = frame.f_code
        if self.path and not self._called_along_the_path(frame):
            return
        arguments = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        if code in self.seen or any(
            _holds_results(frame.f_locals.get(name), self.results) for name in arguments
        ):
            if code not in self.seen:
                self.seen[code] = None
                self.path.append((module, code.co_name))
            if module != self.last:
                self.visits += 1
                self.back += module in self.entered
                self.last = module
                self.entered.add(module)

    def _called_along_the_path(self, frame: FrameType) -> bool:
        """Called through the path's modules only, from where the path starts: what a step's own work
        (lm-eval, judging, utility scores) does with the store is not the path."""
        caller = frame.f_back
        while caller is not None and _module_of(caller.f_code.co_filename, self.root) is not None:
            if caller.f_code is next(iter(self.seen)):
                return True
            caller = caller.f_back
        return False

    def modules(self) -> list[str]:
        """The path's modules, a module's consecutive functions once."""
        path = self.path
        return [module for index, (module, _) in enumerate(path) if not index or path[index - 1][0] != module]

    def returns(self) -> int:
        modules = self.modules()
        return sum(module in modules[:index] for index, module in enumerate(modules))

    def audit(self, event: str, args: tuple[Any, ...]) -> None:
        """Reads are ``open`` in a read mode; writes are the rename that ends every atomic write."""
        if not self.active or event not in ("open", "os.rename") or not isinstance(args[0], (str, Path)):
            return
        if event == "open":
            mode = args[1]
            if not isinstance(mode, str) or any(flag in mode for flag in "wax+"):
                return  # os.open (flags, no mode string) is how storage.atomic starts its temporary file
            path, what = str(args[0]), "reads"
        else:
            path, what = str(args[1]), "writes"
        name = Path(path).name
        if path.startswith(self.results) and name in ("system.json", "suite.json", "sha256.json"):
            self.io[f"{name} {what}"] += 1


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--path", action="store_true", help="print the path: its modules, then its functions")
    parser.add_argument("--keep", type=Path, default=None, help="build in this folder and keep it")
    args = parser.parse_args()

    import resta_bench.benchmark
    from resta_bench.benchmark.runner import run_experiment

    root = str(Path(resta_bench.benchmark.__file__).resolve().parent.parent) + "/"
    with tempfile.TemporaryDirectory() as scratch:
        out = args.keep or Path(scratch)
        experiment = tiny_demo_experiment(out)
        results = out / "results"
        trace = Trace(root, results)
        sys.addaudithook(trace.audit)
        trace.active = True
        sys.setprofile(trace.profile)
        try:
            plan = run_experiment(experiment, results, device="cpu")  # config → plan → run → store
        finally:
            sys.setprofile(None)
            trace.active = False
        systems = len(plan.system_ids)
    modules = trace.modules()
    print(f"resta_bench at {root}; {systems} systems, {len(plan.steps)} steps")
    print(f"returns to a module left before: {trace.returns()} ({len(modules)} modules on the path)")
    print(f"the same over every call:        {trace.back} (of {trace.visits} module changes)")
    for key, value in sorted(trace.io.items()):
        print(f"{key + ':':<33}{value} ({value / systems:.1f} per system)")
    if args.path:
        print(" → ".join(modules))
        for module, function in trace.path:
            print(f"  {module}.{function}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
