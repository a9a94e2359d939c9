"""Leaderboard fixtures: a realistic results store written as files, and the site built from it once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from leaderboard_store_factory import StoreSpec, write_store
from resta_bench.benchmark.agreement import refresh_agreement
from resta_bench.benchmark.store import ResultsStore


@pytest.fixture(scope="session")
def lb_store(tmp_path_factory) -> Path:
    """Two base models' worth of systems, two judges and their stored agreement, utility rows, β and p
    sweeps, XSS payloads."""
    root = tmp_path_factory.mktemp("lb") / "results"
    write_store(
        root,
        StoreSpec(
            base_models=("llama-2-7b-chat", "mistral-7b-instruct"),
            tasks=("code", "math"),
            regimes=("lora", "full"),
            betas=(0.25, 0.5, 1.0),
            dare_ps=(0.3, 0.6),
            xss=True,
        ),
    )
    refresh_agreement(ResultsStore(root))  # what scoring two judges stores (benchmark/agreement.py)
    return root


@pytest.fixture(scope="session")
def lb_site(lb_store, tmp_path_factory) -> Path:
    from resta_bench.leaderboards import build_site

    return build_site(lb_store, tmp_path_factory.mktemp("lb_site") / "site", progress=False)


@pytest.fixture
def small_store(tmp_path) -> Path:
    """A fresh, small store a test may damage: one base model, one task, one judge."""
    root = tmp_path / "results"
    write_store(
        root, StoreSpec(tasks=("code",), regimes=("lora",), betas=(0.5, 1.0), dare_ps=(), judges=("refusal",))
    )
    return root


@pytest.fixture
def copy_store(lb_store, tmp_path) -> Path:
    target = tmp_path / "results"
    shutil.copytree(lb_store, target)
    return target
