"""The streaming loop: plan every output tensor (``tensor_plan``), run the method's pre-pass, then compute
row block by row block and stream the results into planned shards.

Memory is bounded by one row block per input and worker (``BLOCK_ELEMENTS`` float32 values) for
element-wise methods, and by one whole tensor per input for the others, never by the model size.
"""

from __future__ import annotations

import functools
import math
from collections import deque
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import torch
from resta_bench.realign.checkpoint import Source, all_finite
from resta_bench.realign.errors import RealignError
from resta_bench.realign.memory import reuse_freed_memory
from resta_bench.realign.methods import Method, TensorContext
from resta_bench.realign.prepass import Prepass
from resta_bench.realign.tensor_plan import Inputs, Report, TensorPlan, labelled, plan
from resta_bench.realign.writer import PlannedTensor, ShardWriter, plan_shards
from tqdm import tqdm

# 16 MB of float32 per input per block: small enough for malloc to reuse freed blocks (larger ones are
# mmapped afresh, page-faulted and zeroed on every allocation), large enough to amortise each read.
BLOCK_ELEMENTS = 1 << 22


def _blocks(rows: int, row_elements: int, whole: bool) -> Iterator[tuple[int, int]]:
    step = rows if whole else max(1, BLOCK_ELEMENTS // max(1, row_elements))
    for start in range(0, max(rows, 1), max(step, 1)):
        yield start, min(start + step, rows)


def _read_block(value: Any, name: str, start: int, stop: int, device: torch.device) -> Any:
    if isinstance(value, list):
        return [_read_block(source, name, start, stop, device) for source in value]
    return value.read(name, start, stop).to(device)


def stream(
    method: Method,
    inputs: Inputs,
    params: dict[str, Any],
    out_dir: Path,
    *,
    seed: int,
    device: torch.device,
    max_shard_bytes: int,
) -> Report:
    """Computes every output tensor of ``method`` into ``out_dir`` and returns what it did on purpose."""
    template = inputs[method.template]
    report = Report()
    plans = plan(template, inputs, report)
    derived = _prepare(method, inputs, params, plans, device, report)
    shards = plan_shards([p.output for p in plans], max_shard_bytes)
    writer = ShardWriter(out_dir, shards)
    total = sum(p.output.nbytes for p in plans)
    itemsize = {p.output.name: p.output.dtype.itemsize for p in plans}  # rows may come in float32
    workers = torch.get_num_threads() if method.elementwise and device.type == "cpu" else 1
    jobs = (
        job
        for tensor_plan in plans
        for job in _jobs(method, inputs, params, tensor_plan, seed, device, report, derived)
    )
    try:
        with (
            reuse_freed_memory(),
            _torch_threads_per_worker(workers),
            ThreadPoolExecutor(workers, thread_name_prefix="realign-blocks") as pool,
            tqdm(total=total, unit="B", unit_scale=True, desc=method.name, disable=None) as progress,
        ):
            for name, rows in _in_order(jobs, pool, workers):
                writer.write(name, rows)
                progress.update(rows.numel() * itemsize[name])
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return report


def _prepare(
    method: Method,
    inputs: Inputs,
    params: dict[str, Any],
    plans: list[TensorPlan],
    device: torch.device,
    report: Report,
) -> dict[str, Any]:
    """Runs the method's pre-pass, if it has one, over the rows the method will compute."""
    if method.prepare is None:
        return {}
    shapes = {
        p.output.name: (p.computed_rows, *p.output.shape[1:]) if p.output.shape else ()
        for p in plans
        if p.computed_rows
    }
    map_blocks = functools.partial(_map_blocks, inputs, shapes, device, f"{method.name} pre-pass")
    report.prepass = method.prepare(params, Prepass(inputs, shapes, map_blocks))
    return report.prepass


def _map_blocks(
    inputs: Inputs,
    shapes: dict[str, tuple[int, ...]],
    device: torch.device,
    desc: str,
    fn: Callable[[str, dict[str, torch.Tensor]], Any],
    roles: Sequence[str],
    *,
    names: Collection[str] | None = None,
    whole: bool = False,
) -> Iterator[tuple[str, Any]]:
    """``Prepass.map_blocks``: ``fn`` of each block on the block workers (one for whole tensors, which
    are too large to hold several of), results in order."""
    jobs = [
        functools.partial(_prepass_job, inputs, roles, name, start, stop, device, fn)
        for name in shapes
        if names is None or name in names
        for start, stop in _blocks((shapes[name] or (1,))[0], math.prod(shapes[name][1:]), whole)
    ]  # a 0-d tensor is one row
    workers = torch.get_num_threads() if device.type == "cpu" and not whole else 1
    with (
        _torch_threads_per_worker(workers),
        ThreadPoolExecutor(workers, thread_name_prefix="realign-prepass") as pool,
        tqdm(total=len(jobs), unit="block", desc=desc, disable=None) as progress,
    ):
        for result in _in_order(iter(jobs), pool, workers):
            progress.update()
            yield result


def _prepass_job(
    inputs: Inputs,
    roles: Sequence[str],
    name: str,
    start: int,
    stop: int,
    device: torch.device,
    fn: Callable[[str, dict[str, torch.Tensor]], Any],
) -> tuple[str, Any]:
    return name, fn(name, {role: _read_finite(inputs[role], name, start, stop, device) for role in roles})


def _read_finite(source: Source, name: str, start: int, stop: int, device: torch.device) -> torch.Tensor:
    """Rows a pre-pass reads: it may rank or drop any of them, so a NaN or Inf is refused here."""
    rows = _read_block(source, name, start, stop, device)
    if not all_finite(rows):
        source.check_finite(name, start, stop)
        raise RealignError(f"tensor {name}: {source.role} overflows float32")
    return rows


Rows = tuple[str, torch.Tensor]  # rows of one output tensor, to write: (name, values)
Job = Callable[[], Rows]
Result = TypeVar("Result")


def _in_order(
    jobs: Iterator[Callable[[], Result]], pool: ThreadPoolExecutor, workers: int
) -> Iterator[Result]:
    """The jobs' results in order, computed ``workers`` at a time while the caller writes the previous
    one; with one worker, computed in the caller's thread. At most ``workers + 1`` blocks are in memory."""
    if workers == 1:
        yield from (job() for job in jobs)
        return
    pending: deque[Future] = deque()
    for job in jobs:
        pending.append(pool.submit(job))
        if len(pending) > workers:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


@contextmanager
def _torch_threads_per_worker(workers: int) -> Iterator[None]:
    """One torch thread per block worker. Blocks computed side by side keep the cores busy through the
    Python between torch's operations, and no idle OpenMP thread spins (GNU OpenMP spins for several
    milliseconds after each parallel operation) against a worker that is not torch's, such as DARE's."""
    if workers == 1:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # threads started from here on, the workers among them, get one each
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _jobs(
    method: Method,
    inputs: Inputs,
    params: dict[str, Any],
    tensor_plan: TensorPlan,
    seed: int,
    device: torch.device,
    report: Report,
    derived: dict[str, Any],
) -> Iterator[Job]:
    output, template = tensor_plan.output, inputs[method.template]
    rows = output.shape[0] if output.shape else 1
    row_elements = math.prod(output.shape[1:])
    computed = tensor_plan.computed_rows or 0
    for start, stop in _blocks(computed, row_elements, whole=not method.elementwise) if computed else ():
        ctx = TensorContext(
            output.name, seed, device, report.notes, start=start * row_elements, derived=derived
        )
        yield functools.partial(_compute, method, inputs, params, output, start, stop, ctx)
    remaining = rows - computed
    if remaining or not computed:  # the template's own rows: added vocabulary, or a tensor copied whole
        for start, stop in _blocks(remaining, row_elements, whole=False):
            yield functools.partial(_copy, template, output.name, computed + start, computed + stop)


def _compute(
    method: Method,
    inputs: Inputs,
    params: dict[str, Any],
    output: PlannedTensor,
    start: int,
    stop: int,
    ctx: TensorContext,
) -> Rows:
    block = {role: _read_block(value, output.name, start, stop, ctx.device) for role, value in inputs.items()}
    result = method.fn(**block, ctx=ctx, **method.keywords(params)).to(output.dtype)
    _ensure_finite(method.drops(params), inputs, block, result, output.name, start, stop)
    return output.name, result.cpu()


def _copy(template: Source, name: str, start: int, stop: int) -> Rows:
    copied = template.read_stored(name, start, stop)
    if copied.is_floating_point() and not all_finite(copied):
        template.check_finite(name, start, stop)
    return name, copied


def _ensure_finite(
    dropping: set[str],
    inputs: Inputs,
    block: dict[str, Any],
    result: torch.Tensor,
    name: str,
    start: int,
    stop: int,
) -> None:
    """No NaN or Inf in the inputs or the output, at the cost of one check per block where possible.

    Sums and products (DARE's mask among them) carry a NaN or Inf of any input into the output, so
    checking the output suffices but for the inputs whose elements the method may drop (top-k,
    projections), which are checked too.
    The sources are re-read only on failure, to name the file that holds the value.
    """
    dropped = [(role, value) for role, value in block.items() if role in dropping]
    if all_finite(result) and all(all_finite(v) for _, value in dropped for v in _as_list(value)):
        return
    for _, source in labelled(inputs):
        source.check_finite(name, start, stop)
    raise RealignError(f"tensor {name}: the result overflows {result.dtype}")


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]
