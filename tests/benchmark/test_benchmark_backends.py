"""lm-eval model arguments per backend, and the GPUs a Ray job asks for (no GPU or vLLM needed)."""

from __future__ import annotations

import json

import pytest
from resta_bench.benchmark.config import Backend, Suite, parse_experiment
from resta_bench.benchmark.errors import ConfigError
from resta_bench.benchmark.executors import gpus_for
from resta_bench.benchmark.generate import generation_kwargs, model_arguments
from resta_bench.benchmark.plan import Plan, Step
from resta_bench.benchmark.store import ResultsStore


def test_hf_and_vllm_arguments(tmp_path):
    assert model_arguments("org/m", Backend(dtype="bfloat16"), revision="abc") == {
        "pretrained": "org/m",
        "revision": "abc",
        "dtype": "bfloat16",
    }
    vllm = Backend(
        type="vllm",
        tensor_parallel_size=4,
        pipeline_parallel_size=2,
        data_parallel_size=1,
        model_args={"gpu_memory_utilization": 0.8},
    )
    assert model_arguments("org/m", vllm) == {
        "pretrained": "org/m",
        "tensor_parallel_size": 4,
        "pipeline_parallel_size": 2,
        "data_parallel_size": 1,
        "gpu_memory_utilization": 0.8,
    }


def test_lora_adapters_load_their_base_model(tmp_path):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "/models/chat"}))
    assert model_arguments(str(adapter), Backend()) == {"pretrained": "/models/chat", "peft": str(adapter)}
    assert model_arguments(str(adapter), Backend(type="vllm"))["lora_local_path"] == str(adapter)
    (adapter / "adapter_config.json").write_text("{}")
    with pytest.raises(ConfigError, match="adapter_config.json: field 'base_model_name_or_path' is missing"):
        model_arguments(str(adapter), Backend())


def test_chat_completions_and_generation_settings():
    served = Backend(type="local-chat-completions", base_url="http://127.0.0.1:8000/v1/chat/completions")
    assert model_arguments("served", served) == {
        "model": "served",
        "base_url": served.base_url,
        "tokenized_requests": False,
    }
    suite = Suite(name="s", tasks=("catqa",), max_gen_toks=64, gen_kwargs={"temperature": 0.0})
    assert generation_kwargs(suite) == {"do_sample": False, "max_gen_toks": 64, "temperature": 0.0}


def test_ray_jobs_ask_for_the_gpus_their_backend_uses(tmp_path):
    experiment = parse_experiment(
        {
            "backend": {
                "type": "vllm",
                "tensor_parallel_size": 2,
                "pipeline_parallel_size": 2,
                "data_parallel_size": 2,
            },
            "systems": [
                {"name": "big", "role": "aligned", "model": "org/big"},
                {
                    "name": "cpu",
                    "role": "sft",
                    "model": "org/small",
                    "backend": {"type": "hf", "device": "cpu"},
                },
                {
                    "name": "v",
                    "recipe": {"method": "resta", "sft": "cpu", "aligned": "big", "unaligned": "big"},
                },
            ],
            "suites": [{"name": "s", "tasks": ["catqa"]}],
        }
    )
    plan = Plan(experiment, ResultsStore(tmp_path), {})
    assert gpus_for(plan, Step("generate", "big", "x", suite="s")) == 8
    assert gpus_for(plan, Step("generate", "cpu", "x", suite="s")) == 0
    assert gpus_for(plan, Step("make", "v", "x")) == 0  # re-alignment streams on the CPU
