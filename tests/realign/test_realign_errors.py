"""Every bad input: one line on stderr naming the file, tensor or option, exit code 2, no output left."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest
import torch
from conftest import left_beside, load_state, torch_threads, write_model
from resta_bench.benchmark.cli import main


def fails(capsys, argv: list[str], *fragments: str) -> str:
    """Runs ``resta`` in-process; checks exit code 2, a one-line message with ``fragments``, no output dir."""
    out = Path(argv[argv.index("--out") + 1]) if "--out" in argv else None
    existed = out is not None and out.exists()
    assert main(argv) == 2
    message = capsys.readouterr().err.strip().splitlines()[-1]
    assert message.startswith("resta ") and ": error: " in message
    for fragment in fragments:
        assert fragment in message
    if out is not None:
        assert out.exists() == existed
        assert not left_beside(out), "staging dir left"
    return message


def resta_args(family, out: Path, **override) -> list[str]:
    roles = {"sft": family["sft"], "aligned": family["aligned"], "unaligned": family["unaligned"], **override}
    argv = ["realign", "resta", "--out", str(out)]
    for role, path in roles.items():
        if path is not None:
            argv += [f"--{role}", str(path)]
    return argv


def copy_model(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest)
    return dest


class WritesAFileWhenUnpickled:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def test_missing_and_non_directory_inputs(family, tmp_path, capsys):
    fails(
        capsys, resta_args(family, tmp_path / "o", sft=tmp_path / "nope"), "--sft", "nope: no such directory"
    )
    (tmp_path / "file").write_text("x")
    fails(
        capsys, resta_args(family, tmp_path / "o", aligned=tmp_path / "file"), "--aligned", "not a directory"
    )


def test_pickled_checkpoints_are_refused_unopened(family, tmp_path, capsys):
    model = tmp_path / "pickled"
    model.mkdir()
    shutil.copy(family["sft"] / "config.json", model)
    marker = tmp_path / "unpickled"
    (model / "pytorch_model.bin").write_bytes(pickle.dumps(WritesAFileWhenUnpickled(marker)))
    fails(
        capsys,
        resta_args(family, tmp_path / "o", sft=model),
        "pytorch_model.bin",
        "never unpickles",
        "save_pretrained",
    )
    assert not marker.exists()


def test_shape_and_dtype_mismatches_name_the_tensor(family, bf16_family, tmp_path, capsys):
    state = load_state(family["aligned"])
    state["model.layers.1.mlp.up_proj.weight"] = state["model.layers.1.mlp.up_proj.weight"][:, :32].clone()
    narrow = write_model(tmp_path / "narrow", state, family["aligned"])
    fails(
        capsys,
        resta_args(family, tmp_path / "o", unaligned=narrow),
        "model.layers.1.mlp.up_proj.weight",
        "shape",
    )
    fails(capsys, resta_args(family, tmp_path / "o", sft=bf16_family["sft"]), "dtype", "bfloat16", "float32")


def test_truncated_and_corrupt_shards_name_the_file(family, tmp_path, capsys):
    truncated = copy_model(family["sft"], tmp_path / "truncated")
    shard = sorted(truncated.glob("*.safetensors"))[1]
    shard.write_bytes(shard.read_bytes()[:-100])
    fails(
        capsys,
        resta_args(family, tmp_path / "o", sft=truncated),
        shard.name,
        "not a readable safetensors file",
    )
    corrupt = copy_model(family["aligned"], tmp_path / "corrupt")
    shard = sorted(corrupt.glob("*.safetensors"))[0]
    shard.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all" + b"\0" * 64)
    fails(capsys, resta_args(family, tmp_path / "o", aligned=corrupt), shard.name)
    missing = copy_model(family["sft"], tmp_path / "missing_shard")
    sorted(missing.glob("*.safetensors"))[-1].unlink()
    fails(capsys, resta_args(family, tmp_path / "o", sft=missing), "model.safetensors.index.json", "missing")


@pytest.mark.parametrize("threads", [1, 3])  # one block at a time, or three block workers
def test_nan_in_a_late_tensor_stops_the_run_and_leaves_nothing(family, tmp_path, capsys, threads):
    state = load_state(family["sft"])
    state["model.norm.weight"] = state["model.norm.weight"].clone()
    state["model.norm.weight"][3] = float("nan")
    poisoned = write_model(tmp_path / "poisoned", state, family["sft"])
    with torch_threads(threads):
        fails(
            capsys,
            resta_args(family, tmp_path / "o", sft=poisoned),
            "model.norm.weight",
            "NaN or Inf",
            str(poisoned / "model.safetensors"),
        )


def test_nan_that_dare_would_drop_is_still_refused(family, tmp_path, capsys):
    from resta_bench.realign.rng import dare_factors

    name, seed, p = "model.norm.weight", 0, 0.5
    state = load_state(family["sft"])
    keep = torch.from_numpy(dare_factors(seed, name, 0, state[name].numel(), p) != 0)
    state[name] = state[name].clone()
    state[name][int((~keep).nonzero()[0])] = float("nan")  # where the mask drops the update
    poisoned = write_model(tmp_path / "poisoned", state, family["sft"])
    argv = [*resta_args(family, tmp_path / "o", sft=poisoned), "--dare-p", str(p), "--seed", str(seed)]
    fails(capsys, argv, name, "NaN or Inf")


def test_a_result_that_overflows_is_refused(family, tmp_path, capsys):
    argv = f"realign interpolate --sft {family['sft']} --aligned {family['aligned']} --alpha 1e40"
    fails(capsys, [*argv.split(), "--out", str(tmp_path / "o")], "the result overflows")


def test_existing_output_is_kept_unless_overwrite(family, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(resta_args(family, out)) == 0
    fails(capsys, resta_args(family, out), "already exists", "--overwrite")
    assert main([*resta_args(family, out), "--overwrite", "--beta", "0.1"]) == 0
    assert json.loads((out / "recipe.json").read_text())["params"]["beta"] == 0.1
    assert not left_beside(out)


def test_overwrite_never_replaces_a_folder_resta_did_not_write(family, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    fails(capsys, [*resta_args(family, out), "--overwrite"], "not a folder resta wrote", str(out))
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


@pytest.mark.parametrize("p", ["1", "1.5", "-0.1", "nan"])
def test_dare_p_outside_zero_one(family, tmp_path, capsys, p):
    fails(capsys, [*resta_args(family, tmp_path / "o"), "--dare-p", p], "--dare-p must be")


def test_bad_options_and_missing_inputs(family, lora_adapter, tmp_path, capsys):
    out = tmp_path / "o"
    a, u, s = family["aligned"], family["unaligned"], family["sft"]
    fails(capsys, resta_args(family, out, vector=a, unaligned=None), "not a safety vector")
    fails(capsys, f"realign nonsense --out {out}".split(), "unknown method 'nonsense'")
    unknown = "takes no parameter --alpha (its parameters: --beta, --dare-p)"
    fails(capsys, [*resta_args(family, out), "--alpha", "0.3"], unknown)
    fails(capsys, resta_args(family, out, unaligned=None), "needs --vector, or --aligned and --unaligned")
    fails(capsys, resta_args(family, out, vector=a), "not both")
    interpolate = f"realign interpolate --sft {s} --aligned {a} --unaligned {u} --out {out}"
    fails(capsys, interpolate.split(), "does not use --unaligned")
    fails(capsys, resta_args(family, out, sft=lora_adapter, aligned=None), "LoRA adapter", "--aligned")
    arithmetic = f"realign task-arithmetic --base {a} --model {s} --weights 1 2 --out {out}"
    fails(capsys, arithmetic.split(), "--weights has 2 values for 1 --model")
    fails(capsys, [*resta_args(family, out), "--max-shard-size", "lots"], "--max-shard-size")
    if not torch.cuda.is_available():
        fails(capsys, [*resta_args(family, out), "--device", "cuda"], "CUDA is not available")


def test_safety_vector_command_errors(family, tmp_path, capsys):
    argv = f"safety-vector --aligned {family['aligned']} --unaligned {tmp_path / 'x'} --out {tmp_path / 'v'}"
    fails(capsys, argv.split(), "--unaligned", "no such directory")


@pytest.mark.parametrize("p", ["0.99999999", repr(1 - 2**-17)])
def test_dare_p_that_rounds_to_dropping_everything(family, tmp_path, capsys, p):
    argv = [*resta_args(family, tmp_path / "o"), "--dare-p", p]
    fails(capsys, argv, f"--dare-p must be below 1 − 2⁻¹⁷ ≈ 0.9999924, got {p}", "drops every element")
    largest = repr(1 - 2**-17 - 2**-50)
    assert main([*resta_args(family, tmp_path / "o"), "--dare-p", largest]) == 0


def edit_json(path: Path, change) -> None:
    path.write_text(json.dumps(change(json.loads(path.read_text()))))


def first_shard_named(index: dict, value) -> dict:
    index["weight_map"][next(iter(index["weight_map"]))] = value
    return index


@pytest.mark.parametrize(
    ("file", "change", "message"),
    [
        ("config.json", lambda config: [config], "config.json: expected a JSON object, found list"),
        ("model.safetensors.index.json", lambda index: 3, "index.json: expected a JSON object, found int"),
        (
            "model.safetensors.index.json",
            lambda index: {**index, "weight_map": list(index["weight_map"])},
            "field 'weight_map' must be a non-empty object",
        ),
        (
            "model.safetensors.index.json",
            lambda index: first_shard_named(index, 5),
            "names 5, not a file of the folder",
        ),
        (
            "model.safetensors.index.json",
            lambda index: first_shard_named(index, "../aligned/model-00001-of-00009.safetensors"),
            "not a file of the folder",
        ),
    ],
)
def test_json_of_the_wrong_kind_names_the_file(family, tmp_path, capsys, file, change, message):
    model = copy_model(family["sft"], tmp_path / "model")
    edit_json(model / file, change)
    fails(capsys, resta_args(family, tmp_path / "o", sft=model), str(model / file), message)


def without(config: dict, field: str) -> dict:
    return {key: value for key, value in config.items() if key != field}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda config: [config], "expected a JSON object, found list"),
        (lambda config: without(config, "r"), "field 'r' is missing (expected a positive integer)"),
        (lambda config: {**config, "r": 0}, "field 'r' must be a positive integer, got 0"),
        (lambda config: {**config, "r": "4"}, "field 'r' must be a positive integer, got '4'"),
        (
            lambda config: {**config, "r": 8},
            "has LoRA factors of rank 4 (A) and 4 (B), but adapter_config.json",
        ),
        (lambda config: {**config, "lora_alpha": "8"}, "field 'lora_alpha' must be a number, got '8'"),
        (lambda config: without(config, "lora_alpha"), "field 'lora_alpha' is missing"),
        (lambda config: {**config, "alpha_pattern": [1]}, "field 'alpha_pattern' must be an object"),
        (lambda config: {**config, "rank_pattern": {"q_proj": "x"}}, "field 'rank_pattern.q_proj' must be"),
        (lambda config: {**config, "rank_pattern": {"(": 4}}, "field 'rank_pattern key' must be a regular"),
        (lambda config: {**config, "use_rslora": "no"}, "field 'use_rslora' must be true or false"),
    ],
)
def test_a_broken_lora_config_names_its_field(family, lora_adapter, tmp_path, capsys, change, message):
    adapter = copy_model(lora_adapter, tmp_path / "adapter")
    edit_json(adapter / "adapter_config.json", change)
    fails(capsys, resta_args(family, tmp_path / "o", sft=adapter), str(adapter), message)


@pytest.fixture
def small_disk(mount_small_disk) -> Path:
    return mount_small_disk("256k")


def test_a_full_disk_is_one_line_and_leaves_no_staging(family, small_disk, capsys):
    out = small_disk / "o"
    assert main(resta_args(family, out)) == 2
    assert capsys.readouterr().err.splitlines() == [f"resta realign: error: {out}: No space left on device"]
    assert [p.name for p in small_disk.iterdir()] == [".o.lock"]  # the lock stays, empty


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda family, tmp: {"sft": tmp / "nope"}, "sft {tmp}/nope: no such directory"),
        (
            lambda family, tmp: {"vector": family["aligned"], "unaligned": None},
            "vector {aligned}: not a safety",
        ),
        (lambda family, tmp: {"dare_p": 1.5}, "dare_p must be in [0, 1), got 1.5"),
        (
            lambda family, tmp: {"max_shard_size": "lots"},
            "max_shard_size 'lots': expected a size such as 5GB",
        ),
        (lambda family, tmp: {"unaligned": None}, "method resta needs vector, or aligned and unaligned"),
    ],
)
def test_python_callers_are_told_in_pythons_words(family, tmp_path, change, message):
    """The library's errors name what a Python caller passed (``sft``), not the command line's flags."""
    from resta_bench import realign
    from resta_bench.realign import RealignError

    given = {role: family[role] for role in ("sft", "aligned", "unaligned")} | change(family, tmp_path)
    with pytest.raises(RealignError) as error:
        realign.realign("resta", out=tmp_path / "o", **{k: v for k, v in given.items() if v is not None})
    assert str(error.value).startswith(message.format(tmp=tmp_path, aligned=family["aligned"]))
    assert "--" not in str(error.value)
    assert not (tmp_path / "o").exists()
