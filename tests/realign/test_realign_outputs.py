"""Output dirs of `resta realign` and `resta safety-vector`: nothing of the user's is ever replaced, a killed
run's staging is cleaned by the next one, modes follow the umask, a bad hash cache costs only time."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import left_beside, resta_on, wrong_modes
from resta_bench import realign
from resta_bench.benchmark.cli import main
from resta_bench.storage.errors import StorageError
from resta_bench.storage.folders import MARKER


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` by relative path, with its content's hash."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def project(family, tmp_path) -> Path:
    """A folder the user keeps the three models in, with notes of their own; resta once wrote it."""
    folder = tmp_path / "p"
    for role in ("sft", "aligned", "unaligned"):
        shutil.copytree(family[role], folder / role)
    (folder / "NOTES.txt").write_text("my notes")
    (folder / MARKER).write_text("{}")  # the input rule holds even for a folder resta wrote
    return folder


def realign_argv(project: Path, out: Path) -> list[str]:
    roles = [f"--{role} {project / role}" for role in ("sft", "aligned", "unaligned")]
    return ["realign", "resta", *" ".join(roles).split(), "--out", str(out), "--overwrite"]


@pytest.mark.parametrize(
    ("where", "message"),
    [
        (".", "contains the input --sft ({project}/sft)"),
        ("sft/inner", "lies inside the input --sft ({project}/sft)"),
        ("aligned", "is also the input --aligned"),
    ],
)
def test_an_out_that_holds_or_lies_in_an_input_is_refused(project, capsys, where, message):
    before = snapshot(project)
    assert main(realign_argv(project, project / where)) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"resta realign: error: --out {(project / where).resolve()}: {message.format(project=project)}"
    ]
    assert snapshot(project) == before
    assert sorted(p.name for p in project.iterdir()) == [MARKER, "NOTES.txt", "aligned", "sft", "unaligned"]


def test_the_other_commands_and_the_python_api_refuse_such_an_out(project, family, capsys):
    before = snapshot(project)
    vector = f"safety-vector --aligned {project / 'aligned'} --unaligned {project / 'unaligned'}"
    assert main([*vector.split(), "--out", str(project), "--overwrite"]) == 2
    assert f"--out {project}: contains the input --aligned" in capsys.readouterr().err
    models = f"--model {family['sft']} --model {project / 'unaligned'}"
    arithmetic = f"realign task-arithmetic --base {family['aligned']} {models} --weights 1 1"
    assert main([*arithmetic.split(), "--out", str(project / "unaligned" / "x")]) == 2
    assert "lies inside the input --model #2" in capsys.readouterr().err
    with pytest.raises(StorageError, match=r"^out .*/p: contains the input sft "):
        resta_on({role: project / role for role in ("sft", "aligned", "unaligned")}, project, overwrite=True)
    with pytest.raises(StorageError, match=r"^out .*/p: contains the input aligned "):
        realign.make_safety_vector(project / "aligned", project / "unaligned", project, overwrite=True)
    with pytest.raises(StorageError, match=r"^out .*/p: already exists \(pass overwrite=True to"):
        realign.make_safety_vector(family["aligned"], family["unaligned"], project)
    assert snapshot(project) == before


def test_a_symbolic_link_as_out_is_refused_before_any_work(family, tmp_path, capsys, monkeypatch):
    real = resta_on(family, tmp_path / "real")  # a folder --overwrite could replace, were it given itself
    before = snapshot(real)
    link = tmp_path / "link"
    link.symlink_to(real)
    cache = tmp_path / "fresh-cache.json"
    monkeypatch.setenv("RESTA_HASH_CACHE", str(cache))
    argv = ["realign", "resta", "--out", str(link), "--overwrite"]
    argv += f"--sft {family['sft']} --aligned {family['aligned']} --unaligned {family['unaligned']}".split()
    capsys.readouterr()  # what making `real` logged
    assert main(argv) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"resta realign: error: --out {link}: is a symbolic link; give the folder it points to"
    ]
    assert link.is_symlink() and snapshot(real) == before
    assert not cache.exists() and not left_beside(link) and not left_beside(real)  # no input was read


def test_modes_follow_the_umask(family, tmp_path, monkeypatch, umask):
    sft = shutil.copytree(family["sft"], tmp_path / "sft")
    for private in [*sft.glob("*.safetensors"), *sft.glob("tokenizer*"), sft / "config.json"]:
        private.chmod(0o600)  # the copies in the output must not inherit this
    cache = tmp_path / "cache" / "sha256.json"
    monkeypatch.setenv("RESTA_HASH_CACHE", str(cache))
    vector = realign.make_safety_vector(family["aligned"], family["unaligned"], tmp_path / "vector")
    out = realign.realign("resta", sft=sft, vector=vector, out=tmp_path / "out", max_shard_size="100KB")
    assert (out / "model.safetensors.index.json").is_file() and (out / "tokenizer.json").is_file()
    assert wrong_modes([out, vector, cache.parent], umask) == {}


STALLING_RUN = """
import sys
from resta_bench import realign
from resta_bench.realign.methods.registry import register_method

@register_method("copy-then-stall", template="sft", reference="tests/realign/test_realign_outputs.py")
def copy_then_stall(sft, *, ctx):
    '''Copies the SFT model, stopping at model.norm.weight until stdin closes (the test kills it first).'''
    if ctx.name == "model.norm.weight":
        print("stalled", flush=True)
        sys.stdin.read()
    return sft

realign.realign("copy-then-stall", sft=sys.argv[1], out=sys.argv[2])
"""


def test_a_run_killed_mid_write_is_cleaned_up_by_the_next_one(family, tmp_path, capsys, caplog):
    out = tmp_path / "out"
    with open(tmp_path / "child.err", "w") as errors:
        child = subprocess.Popen(
            [sys.executable, "-c", STALLING_RUN, str(family["sft"]), str(out)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True,
        )  # fmt: skip
        try:
            assert child.stdout.readline() == "stalled\n", (tmp_path / "child.err").read_text()
            [staging] = left_beside(out)
            assert staging == f".out.{child.pid}.partial"
            assert list((tmp_path / staging).glob("*.safetensors"))  # half a model is on disk
            argv = f"realign resta --sft {family['sft']} --aligned {family['aligned']}"
            argv += f" --unaligned {family['unaligned']} --out {out}"
            assert main(argv.split()) == 2  # while it runs, the output is its own
            assert f"in use by another resta process (pid {child.pid}@" in capsys.readouterr().err
        finally:
            child.kill()
            child.wait()
    assert child.returncode == -9 and left_beside(out) == [staging]

    with caplog.at_level(logging.WARNING):
        assert main(argv.split()) == 0
    said = [r.getMessage() for r in caplog.records if staging in r.getMessage()]
    assert said == [f"{tmp_path / staging}: removed unfinished output of an interrupted run"]
    assert not left_beside(out) and json.loads((out / "recipe.json").read_text())["method"] == "resta"


@pytest.mark.parametrize(
    "cache_text",
    [
        lambda file: "[1, 2]",
        lambda file: json.dumps({str(file.resolve()): 5}),
        lambda file: json.dumps({str(file.resolve()): [1, 2]}),
        lambda file: '{"truncated": [1, ',
        lambda file: "\udcff",  # not UTF-8
    ],
    ids=["list", "number-entry", "short-entry", "not-json", "not-utf8"],
)
def test_a_bad_hash_cache_is_rebuilt_with_one_warning(family, tmp_path, monkeypatch, caplog, cache_text):
    cache = tmp_path / "sha256.json"
    cache.write_bytes(cache_text(family["sft"] / "config.json").encode("utf-8", "surrogateescape"))
    monkeypatch.setenv("RESTA_HASH_CACHE", str(cache))
    with caplog.at_level(logging.WARNING):
        resta_on(family, tmp_path / "out")
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warned) == 1 and warned[0].startswith(f"hash cache {cache}: ") and "rebuilding" in warned[0]
    entries = json.loads(cache.read_text())
    assert str((family["sft"] / "config.json").resolve()) in entries
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        resta_on(family, tmp_path / "again")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
