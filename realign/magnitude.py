"""The r-th largest magnitude of a vector read block by block, found exactly in constant memory.

The bits of a float32 |x| (its sign bit cleared), read as an integer, order as its value does. A first
pass counts the high 16 bits (2^15 buckets: the sign bit is gone), which tells the bucket holding the
r-th largest magnitude and how many lie above that bucket; a second pass counts the low 16 bits of the
magnitudes in that bucket only, which tells the value itself. Memory: arrays of counts, whatever the
size of the vector; the vector is never held. Blocks are counted independently (the caller may spread
them over threads) and by group, so that one pair of passes finds one threshold per group (per tensor).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch

HIGH_BUCKETS = 1 << 15
LOW_BUCKETS = 1 << 16
HIGH, LOW = (1, 0) if sys.byteorder == "little" else (0, 1)  # which int16 half of a float32 is which

Counter = Callable[[str, torch.Tensor], torch.Tensor]  # (group, float32 block) -> its counts per bucket
PerBlock = Callable[[Counter], Iterable[tuple[str, torch.Tensor]]]  # (group, counts) of every block


@dataclass(frozen=True)
class Threshold:
    value: float  # the rank-th largest magnitude (0.0 for an empty group)
    kept: int  # magnitudes ≥ value: rank, plus the ties at value
    total: int  # magnitudes counted


def rth_largest_magnitudes(per_block: PerBlock, ranks: dict[str, int]) -> dict[str, Threshold]:
    """The ``ranks[group]``-th largest |x| of each group's float32 blocks, to which ``per_block`` applies
    a counter (each call passes over all blocks again); 1 ≤ rank ≤ the group's size, 0 if it is empty."""
    high = _sums(per_block(lambda group, block: count_high(block)), HIGH_BUCKETS)
    totals = {group: int(high[group].sum()) if group in high else 0 for group in ranks}
    buckets: dict[str, tuple[int, int]] = {}  # group -> (bucket of its threshold, count above the bucket)
    for group, rank in ranks.items():
        if rank > totals[group] or rank < int(totals[group] > 0):
            raise ValueError(f"group {group}: rank {rank} of {totals[group]} magnitudes")
        if rank:
            buckets[group] = _bucket_of_rank(high[group], rank)
    del high  # one group per tensor holds 256 KB of counts each
    low = _sums(
        per_block(lambda group, block: count_low(block, buckets[group][0] if group in buckets else -1)),
        LOW_BUCKETS,
    )
    found = {group: Threshold(0.0, 0, 0) for group in ranks if group not in buckets}
    for group, (bucket, above) in buckets.items():
        offset, _ = _bucket_of_rank(low[group], ranks[group] - above)
        value = torch.tensor([bucket << 16 | offset], dtype=torch.int32).view(torch.float32).item()
        found[group] = Threshold(value, above + int(low[group][offset:].sum()), totals[group])
    return found


def _halves(block: torch.Tensor) -> torch.Tensor:
    """Each float32 as its two int16 halves, one row per element."""
    assert block.dtype == torch.float32
    return block.detach().contiguous().view(-1).view(torch.int16).view(-1, 2)


def count_high(block: torch.Tensor) -> torch.Tensor:
    return torch.bincount(_halves(block)[:, HIGH] & 0x7FFF, minlength=HIGH_BUCKETS).cpu()


def count_low(block: torch.Tensor, bucket: int) -> torch.Tensor:
    halves = _halves(block)
    low = halves[(halves[:, HIGH] & 0x7FFF) == bucket, LOW].to(torch.int32) & 0xFFFF
    return torch.bincount(low, minlength=LOW_BUCKETS).cpu()


def _sums(counts: Iterable[tuple[str, torch.Tensor]], buckets: int) -> dict[str, torch.Tensor]:
    totals: dict[str, torch.Tensor] = {}
    for group, part in counts:
        totals.setdefault(group, torch.zeros(buckets, dtype=torch.int64)).add_(part)
    return totals


def _bucket_of_rank(counts: torch.Tensor, rank: int) -> tuple[int, int]:
    """The bucket holding the rank-th largest counted value, and how many values lie in higher buckets."""
    at_or_above = counts.flip(0).cumsum(0).flip(0)
    bucket = int(torch.nonzero(at_or_above >= rank).max())
    above = int(at_or_above[bucket + 1]) if bucket + 1 < len(counts) else 0
    return bucket, above
