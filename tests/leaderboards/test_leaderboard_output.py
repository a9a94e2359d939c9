"""Where the site goes: only over an earlier leaderboard, staged beside it and swapped into place, with
the umask's modes; a build killed with SIGKILL or stopped by a full disk leaves the previous site and
no staging behind."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from leaderboard_store_factory import StoreSpec, write_store
from resta_bench.benchmark.cli import main
from resta_bench.leaderboards import build_site
from resta_bench.storage.errors import StorageError
from resta_bench.storage.folders import MARKER

LOCK = ".site.lock"  # beside the site: held while a build runs, left (empty) when it ends


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _cli(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "resta_bench.benchmark.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def test_the_site_carries_the_common_marker(small_store, tmp_path):
    site = build_site(small_store, tmp_path / "site", progress=False)
    assert json.loads((site / MARKER).read_text())["kind"] == "leaderboard"
    assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK, "results", "site"]


def test_never_replaces_a_user_folder(small_store, tmp_path):
    precious = tmp_path / "notes"
    precious.mkdir()
    (precious / "thesis.txt").write_text("keep me")
    with pytest.raises(StorageError, match=r"not a folder resta wrote \(no \.resta-output\)"):
        build_site(small_store, precious, progress=False)
    assert (precious / "thesis.txt").read_text() == "keep me"


def test_never_replaces_another_resta_output(small_store, tmp_path, capsys):
    """A folder another resta command wrote (here `resta tables --out`) is not a leaderboard."""
    tables = tmp_path / "tables"
    assert main(["tables", str(small_store), "--out", str(tables)]) == 0
    before = _tree(tables)
    assert main(["leaderboard", str(small_store), "--out", str(tables), "--no-progress"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error == (
        f"resta leaderboard: error: --out {tables}: holds resta's tables, not a leaderboard; "
        "remove it yourself or choose another folder"
    )
    assert _tree(tables) == before


def test_never_writes_into_the_results_store(small_store, capsys):
    inside = small_store / "site"
    assert main(["leaderboard", str(small_store), "--out", str(inside), "--no-progress"]) == 2
    assert "lies inside the input RESULTS" in capsys.readouterr().err
    assert not inside.exists()


def test_a_site_built_before_the_common_marker_is_replaced(small_store, tmp_path):
    """Earlier versions marked their sites with .resta-leaderboard: such a site is still ours."""
    site = tmp_path / "site"
    site.mkdir()
    (site / ".resta-leaderboard").write_text("built by resta leaderboard\n")
    (site / "index.html").write_text("old")
    build_site(small_store, site, progress=False)
    assert "old" not in (site / "index.html").read_text()
    assert (site / MARKER).is_file() and not (site / ".resta-leaderboard").exists()


@pytest.mark.parametrize("umask", [0o022, 0o002], ids=["umask-022", "umask-002"])
def test_files_and_folders_get_the_modes_the_umask_gives(umask, copy_store, tmp_path):
    """Built by two worker processes too (a large store), which inherit the umask."""
    previous = os.umask(umask)
    try:
        site = build_site(copy_store, tmp_path / "site", workers=2, progress=False)
    finally:
        os.umask(previous)
    modes = {str(p.relative_to(tmp_path)): p.stat().st_mode & 0o777 for p in [site, *site.rglob("*")]}
    expected = {path: (0o777 if (tmp_path / path).is_dir() else 0o666) & ~umask for path in modes}
    assert modes == expected
    assert {"site/static", "site/static/site.css", "site/systems", "site/index.html"} <= set(modes)


def _alive_in_group(group: int) -> list[int]:
    """Processes still alive in a process group (a build and its worker processes)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended while we looked
        if int(fields[2]) == group and fields[0] != "Z":
            alive.append(int(stat.parent.name))
    return alive


def _wait_for(condition, what: str) -> None:
    """Poll until ``condition()``; the bound only turns a hang into a failure, it times nothing."""
    deadline = time.monotonic() + 300
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.01)


BIG = StoreSpec(base_models=("a-7b", "b-7b"), questions_per_subcategory=2, response_chars=400)  # 52 systems


def _start_build(tmp_path: Path) -> tuple[subprocess.Popen, list[str]]:
    """A CLI build of a store large enough to be caught half-way, in its own process group."""
    store, site = tmp_path / "results", tmp_path / "site"
    write_store(store, BIG)
    command = [sys.executable, "-m", "resta_bench.benchmark.cli", "leaderboard", str(store)]
    command += ["--out", str(site), "--no-progress"]
    build = subprocess.Popen(command, stderr=subprocess.DEVNULL, start_new_session=True)
    return build, command


def test_a_build_killed_with_sigkill_is_cleaned_up_by_the_next(tmp_path):
    build, command = _start_build(tmp_path)
    _wait_for(
        lambda: list(tmp_path.glob(".site.*.partial/systems/*.html")) or build.poll() is not None,
        "the first pages",
    )
    assert build.poll() is None, "the build ended before it could be killed: give it a larger store"
    os.killpg(build.pid, signal.SIGKILL)  # the build and its workers
    build.wait()
    _wait_for(lambda: not _alive_in_group(build.pid), "the workers to die")
    [partial] = tmp_path.glob(".site.*.partial")
    assert not (tmp_path / "site").exists()

    rebuilt = subprocess.run(command, capture_output=True, text=True, check=False)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert rebuilt.stderr.splitlines() == [
        f"WARNING resta_bench.storage.folders: {partial}: removed unfinished output of an interrupted run",
        f"INFO resta_bench.leaderboards.site: leaderboard of 52 systems written to {tmp_path / 'site'}",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK, "results", "site"]


def test_the_workers_die_with_a_killed_build(tmp_path):
    """Workers that outlived their build would sleep forever, or write into staging the next build removes."""
    build, _ = _start_build(tmp_path)
    try:
        _wait_for(lambda: len(_alive_in_group(build.pid)) >= 2 or build.poll() is not None, "a worker")
        assert build.poll() is None, "the build ended before it could be killed: give it a larger store"
        os.kill(build.pid, signal.SIGKILL)  # the build alone, as `kill -9 PID` does
        build.wait()
        _wait_for(lambda: not _alive_in_group(build.pid), "the workers to die")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(build.pid, signal.SIGKILL)  # what a failed test left


@pytest.fixture
def small_disk(mount_small_disk) -> Path:
    return mount_small_disk("2m")


def test_a_full_disk_is_one_line_and_keeps_the_previous_site(small_disk, tmp_path):
    store, site = tmp_path / "results", small_disk / "site"
    write_store(
        store, StoreSpec(tasks=("code",), regimes=("lora",), betas=(1.0,), dare_ps=(), judges=("refusal",))
    )
    assert _cli("leaderboard", str(store), "--out", str(site), "--no-progress").returncode == 0
    before = _tree(site)
    write_store(store, StoreSpec(base_models=("big-7b",), response_chars=4000))  # more than 2 MiB of site

    failed = _cli("leaderboard", str(store), "--out", str(site), "--no-progress")
    assert failed.returncode == 2
    [line] = failed.stderr.splitlines()  # no traceback, and the file it could not write
    assert line.startswith(f"resta leaderboard: error: {small_disk}/.site.") and line.endswith(
        ": No space left on device"
    )
    assert _tree(site) == before
    assert sorted(p.name for p in small_disk.iterdir()) == [LOCK, "site"]
