"""A method added in one file: its typed signature alone gives its flag, its row in ``--methods``, the
checks of its parameter in every caller's words, and its labels on the leaderboard.

The toy method below is registered as a file in realign/methods/ registers one, for this module only;
nothing else in the project names it (no flag table, no label table).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

import pytest
import torch
from conftest import load_state
from resta_bench import realign
from resta_bench.benchmark.cli import main
from resta_bench.leaderboards.labels import variant_name
from resta_bench.leaderboards.store import read_system
from resta_bench.realign import RealignError
from resta_bench.realign.methods import TensorContext, registry
from resta_bench.realign.output import COMMAND_LINE, EXPERIMENT, PYTHON
from resta_bench.realign.params import param
from resta_bench.storage.schema import SystemRecord, write_record

REFERENCE = "tests/realign/test_realign_toy_method.py"


def scale(
    sft: torch.Tensor,
    *,
    ctx: TensorContext,
    factor: Annotated[
        float, param("factor γ of the SFT weights", symbol="γ", name="gamma", within="(0, 10]")
    ] = 1.0,
) -> torch.Tensor:
    """γ·θ_sft."""
    return sft * factor


@pytest.fixture(scope="module", autouse=True)
def toy_method():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(registry, "_METHODS", dict(registry._METHODS))  # the toy is forgotten afterwards
        registry.register_method("toy-scale", title="Toy scale", template="sft", reference=REFERENCE)(scale)
        yield registry.get_method("toy-scale")


def test_its_flag_is_in_the_help_with_its_default(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["realign", "--help"])
    assert exit_.value.code == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--gamma GAMMA toy-scale: factor γ of the SFT weights (default: 1)" in help_text


def test_its_flag_works_and_the_recipe_records_the_users_name(family, tmp_path):
    out = tmp_path / "toy"
    assert main(f"realign toy-scale --sft {family['sft']} --gamma 2 --out {out}".split()) == 0
    recipe = json.loads((out / "recipe.json").read_text())
    assert recipe["method"] == "toy-scale" and recipe["params"] == {"gamma": 2.0}
    sft = load_state(family["sft"])
    for name, tensor in load_state(out).items():
        torch.testing.assert_close(tensor, sft[name] * 2, rtol=0, atol=0)


def test_a_bad_value_on_the_command_line_names_the_flag(family, tmp_path, capsys):
    out = tmp_path / "toy"
    assert main(f"realign toy-scale --sft {family['sft']} --gamma 11 --out {out}".split()) == 2
    assert capsys.readouterr().err.strip() == "resta realign: error: --gamma must be in (0, 10], got 11"
    assert not out.exists()


def test_python_takes_the_users_name_not_the_keyword(family, tmp_path):
    out = realign.realign("toy-scale", sft=family["sft"], out=tmp_path / "toy", gamma=0.5)
    assert json.loads((out / "recipe.json").read_text())["params"] == {"gamma": 0.5}
    message = "method toy-scale takes no parameter factor (its parameters: gamma)"
    with pytest.raises(RealignError, match=f"^{re.escape(message)}$"):
        realign.realign("toy-scale", sft=family["sft"], out=tmp_path / "other", factor=0.5)
    assert not (tmp_path / "other").exists()


def test_methods_lists_its_row_with_its_flag(capsys):
    assert main(["realign", "--methods"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert ["toy-scale", "--sft", "--gamma", "1", REFERENCE] in rows


@pytest.mark.parametrize(
    "spelling, name", [(COMMAND_LINE, "--gamma"), (PYTHON, "gamma"), (EXPERIMENT, "gamma")]
)
def test_check_params_accepts_and_refuses_in_the_callers_words(toy_method, spelling, name):
    assert toy_method.check_params({"gamma": 3}, spelling) == {"gamma": 3.0}
    assert toy_method.check_params({}, spelling) == {"gamma": 1.0}
    refusals = {
        f"{name} must be in (0, 10], got 0": {"gamma": 0},
        f"{name} must be a finite number, got '2'": {"gamma": "2"},
        f"{name} must be a finite number, got nan": {"gamma": float("nan")},
        f"method toy-scale takes no parameter {spelling.name('factor')} (its parameters: {name})": {
            "factor": 2
        },
    }
    for message, given in refusals.items():
        with pytest.raises(RealignError, match=f"^{re.escape(message)}$"):
            toy_method.check_params(given, spelling)


def system_folder(root: Path, **fields) -> Path:
    folder = root / "toy-1"
    folder.mkdir()
    identity = dict(system_id="toy-1", label="tiny chat", base_model="tiny", role="realigned")
    record = SystemRecord(**identity, method="toy-scale", **fields)
    write_record(folder / "system.json", record)
    return folder


def test_the_leaderboard_names_it_by_the_labels_the_runner_stores(toy_method, tmp_path):
    params = toy_method.check_params({"gamma": 2})
    # What the runner writes into system.json from the registry; the leaderboard imports no method.
    stored = dict(method_title=toy_method.title_of(params), param_labels=toy_method.param_labels)
    folder = system_folder(tmp_path, params={**params, "seed": 0}, **stored)
    assert variant_name(read_system(folder).meta) == "Toy scale γ=2"


def test_a_store_written_before_the_labels_falls_back_on_the_names(tmp_path):
    folder = system_folder(tmp_path, params={"gamma": 2.0, "seed": 0})
    assert variant_name(read_system(folder).meta) == "toy-scale gamma=2"
