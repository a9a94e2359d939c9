"""Inputs handled on purpose (tied embeddings, added vocabulary, buffers, partial tensors); the output."""

from __future__ import annotations

import hashlib
import json
import os

import torch
from conftest import left_beside, load_state, resta_on, write_model
from resta_bench import realign


def resta_expected(s, a, u, beta=0.5):
    return s + (a - u) * beta


def test_output_is_a_loadable_sharded_model_with_its_recipe(family, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = resta_on(
        family,
        beta=0.5,
        seed=11,
        out=tmp_path / "out",
        max_shard_size="50KB",
    )
    index = json.loads((out / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) > 2 and shards[0].endswith(f"-of-{len(shards):05d}.safetensors")
    model = AutoModelForCausalLM.from_pretrained(out)
    states = {role: load_state(path) for role, path in family.items()}
    for name, tensor in model.state_dict().items():
        assert torch.equal(
            tensor, resta_expected(states["sft"][name], states["aligned"][name], states["unaligned"][name])
        ), name
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer.chat_template and (out / "generation_config.json").is_file()

    recipe = json.loads((out / "recipe.json").read_text())
    assert recipe["method"] == "resta" and recipe["seed"] == 11
    assert recipe["params"] == {"beta": 0.5, "dare_p": 0.0}
    assert recipe["wall_time_s"] > 0 and recipe["peak_rss_bytes"] > 0 and recipe["versions"]["resta_bench"]
    for role in ("sft", "aligned", "unaligned"):
        hashes = recipe["inputs"][role]["sha256"]
        files = sorted(p for p in family[role].iterdir() if p.is_file())
        assert sorted(hashes) == [p.name for p in files]
        assert all(hashes[p.name] == hashlib.sha256(p.read_bytes()).hexdigest() for p in files)
    assert not left_beside(out)  # no staging dir


def test_tied_embeddings_stay_tied(tied_family, tmp_path):
    from transformers import AutoModelForCausalLM

    states = {role: load_state(path) for role, path in tied_family.items()}
    assert "lm_head.weight" not in states["sft"]
    out = resta_on(
        tied_family,
        out=tmp_path / "out",
    )
    output = load_state(out)
    assert "lm_head.weight" not in output
    assert json.loads((out / "recipe.json").read_text())["report"]["output_ties_embeddings"]
    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    name = "model.embed_tokens.weight"
    assert torch.equal(
        output[name], resta_expected(*(states[r][name] for r in ("sft", "aligned", "unaligned")))
    )


def test_untied_sft_takes_the_output_embedding_of_tied_inputs_from_their_input_embedding(
    family, tied_family, tmp_path
):
    out = realign.realign(
        "resta",
        sft=family["sft"],
        aligned=tied_family["aligned"],
        unaligned=tied_family["unaligned"],
        out=tmp_path / "out",
    )
    s, a, u = (
        load_state(family["sft"]),
        load_state(tied_family["aligned"]),
        load_state(tied_family["unaligned"]),
    )
    embed = "model.embed_tokens.weight"
    assert torch.equal(
        load_state(out)["lm_head.weight"], resta_expected(s["lm_head.weight"], a[embed], u[embed])
    )
    report = json.loads((out / "recipe.json").read_text())["report"]
    assert report["tied_embeddings"] == {role: {"lm_head.weight": embed} for role in ("aligned", "unaligned")}


def test_vocabulary_rows_added_by_the_sft_are_copied(family, tmp_path):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(family["sft"])
    vocab = model.config.vocab_size
    model.resize_token_embeddings(vocab + 8)
    model.save_pretrained(tmp_path / "sft_resized")
    out = realign.realign(
        "resta",
        sft=tmp_path / "sft_resized",
        aligned=family["aligned"],
        unaligned=family["unaligned"],
        out=tmp_path / "out",
    )
    s, a, u = (
        load_state(tmp_path / "sft_resized"),
        load_state(family["aligned"]),
        load_state(family["unaligned"]),
    )
    output = load_state(out)
    for name in ("model.embed_tokens.weight", "lm_head.weight"):
        assert output[name].shape[0] == vocab + 8
        assert torch.equal(output[name][:vocab], resta_expected(s[name][:vocab], a[name], u[name]))
        assert torch.equal(output[name][vocab:], s[name][vocab:])
    report = json.loads((out / "recipe.json").read_text())["report"]
    assert report["added_rows"] == {"model.embed_tokens.weight": 8, "lm_head.weight": 8}


def test_buffers_and_tensors_missing_from_some_inputs_are_reported(family, tmp_path):
    s, a, u = load_state(family["sft"]), load_state(family["aligned"]), load_state(family["unaligned"])
    inv_freq, mask = "model.rotary_emb.inv_freq", "model.layers.0.self_attn.causal_mask"
    for offset, state in enumerate((s, a, u)):
        state[inv_freq] = torch.arange(8, dtype=torch.float32) + offset
        state[mask] = torch.ones(4, 4, dtype=torch.bool)
    s["score.weight"] = torch.randn(2, 64)
    a["aligned_only.weight"] = torch.randn(3)
    dirs = {
        role: write_model(tmp_path / role, state, family["sft"])
        for role, state in (("sft", s), ("aligned", a), ("unaligned", u))
    }
    out = resta_on(dirs, out=tmp_path / "out")
    output = load_state(out)
    for name in (inv_freq, mask, "score.weight"):
        assert torch.equal(output[name], s[name]), name
    assert "aligned_only.weight" not in output
    report = json.loads((out / "recipe.json").read_text())["report"]
    assert sorted(report["buffers_copied"]) == sorted([inv_freq, mask])
    # "vector" is the safety vector, here derived from aligned and unaligned (so it lacks what they lack)
    assert report["only_in_template"] == {"score.weight": ["vector"]}
    assert report["dropped"] == {"aligned_only.weight": ["vector"]}


def test_input_hashes_come_from_the_cache_until_a_file_changes(family, tmp_path, monkeypatch):
    monkeypatch.setenv("RESTA_HASH_CACHE", str(tmp_path / "sha256.json"))
    first = json.loads((resta_on(family, out=tmp_path / "first") / "recipe.json").read_text())
    hashed: list[str] = []
    real_sha256 = realign.recipe.sha256_file

    def counting_sha256(path, **options):
        hashed.append(path.name)
        return real_sha256(path, **options)

    monkeypatch.setattr(realign.recipe, "sha256_file", counting_sha256)
    second = json.loads((resta_on(family, out=tmp_path / "second") / "recipe.json").read_text())
    assert hashed == [] and second["inputs"] == first["inputs"]

    config = family["sft"] / "config.json"
    stat = config.stat()
    os.utime(config, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000))  # same size, new mtime: hash again
    third = json.loads((resta_on(family, out=tmp_path / "third") / "recipe.json").read_text())
    assert hashed == ["config.json"] and third["inputs"] == first["inputs"]
