"""The Ray executor on a real two-node cluster: a head and a worker, each its own `ray start` process
with one CPU, both running an experiment's jobs at once into one results store; then the worker node
is killed (SIGKILL to its whole process group) mid-run, the driver reports the lost jobs, and a re-run
finishes them into a store equal to the local executor's. Also: a job's own error, and a cluster
whose token the driver lacks, each end the run with one line."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from resta_bench.benchmark.config import load_experiment
from resta_bench.benchmark.plan import build_plan
from resta_bench.benchmark.runner import run_experiment
from resta_bench.benchmark.store import ResultsStore

pytest.importorskip("ray")
psutil = pytest.importorskip("psutil")

pytestmark = pytest.mark.slow

START_TIMEOUT = 180  # seconds for a node to come up on a busy two-core machine
RUN_TIMEOUT = 900
MARKERS = ("head", "worker_node")  # a custom resource of each node, to tell their ids apart
JOB_TITLE = "ray::_run_job"  # the process title Ray gives a worker while it runs one of our jobs


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Cluster:
    """A head and a worker node on this machine, each a `ray start --block` in its own session."""

    address: str  # the head's GCS, HOST:PORT
    temp_root: Path
    logs: Path
    nodes: dict[str, subprocess.Popen] = field(default_factory=dict)
    node_ids: dict[str, str] = field(default_factory=dict)  # by custom resource: head, worker_node

    def start_node(self, name: str, *options: str) -> None:
        log = (self.logs / f"{name}.log").open("w")
        self.nodes[name] = subprocess.Popen(
            [
                "ray",
                "start",
                "--block",
                "--num-cpus=1",
                "--object-store-memory=100000000",
                "--disable-usage-stats",
                # Unix socket paths are limited to ~107 characters: a short temp dir per node.
                f"--temp-dir={self.temp_root / name}",
                f"--dashboard-agent-listen-port={_free_port()}",
                *options,
            ],
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while "Ray runtime started" not in (self.logs / f"{name}.log").read_text():
            assert self.nodes[name].poll() is None, (self.logs / f"{name}.log").read_text()[-3000:]
            assert time.monotonic() < deadline, f"ray node {name} did not start"
            time.sleep(0.2)

    @staticmethod
    def env() -> dict[str, str]:
        # A node joining with `ray start --address` turns token authentication on only when told to.
        return {**os.environ, "RAY_AUTH_MODE": "token"}

    def alive_nodes(self) -> dict[str, str]:
        """The node id of each live node, by the custom resource it was started with."""
        code = (
            f"import json, ray; ray.init(address={self.address!r}); print(json.dumps({{marker: n['NodeID'] "
            f"for n in ray.nodes() if n['Alive'] for marker in {MARKERS!r} if marker in n['Resources']}}))"
        )
        reply = subprocess.run(
            [sys.executable, "-c", code], env=self.env(), capture_output=True, text=True, timeout=120
        )
        assert reply.returncode == 0, reply.stderr[-3000:]
        return json.loads(reply.stdout.splitlines()[-1])

    def processes(self, name: str) -> list:
        """Every process of one node: `ray start --block` leads a session that holds all of them."""
        session = self.nodes[name].pid
        found = []
        for process in psutil.process_iter(["cmdline", "status"]):
            try:
                if os.getsid(process.pid) == session and process.info["status"] != psutil.STATUS_ZOMBIE:
                    found.append(process)
            except (ProcessLookupError, PermissionError):
                continue
        return found

    def running_a_job(self, name: str) -> bool:
        return any((p.info["cmdline"] or [""])[0].startswith(JOB_TITLE) for p in self.processes(name))

    def kill(self, name: str) -> None:
        """SIGKILL the node's process group, then any process of its session still alive."""
        node = self.nodes[name]
        try:
            os.killpg(node.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        node.wait(timeout=60)
        for process in self.processes(name):
            process.kill()


@pytest.fixture
def ray_env(tmp_path, monkeypatch) -> None:
    """Token authentication with this test's own token, never the user's ~/.ray/auth_token (where a
    local ``ray.init`` would otherwise write one)."""
    token = tmp_path / "ray-token"
    token.write_text(secrets.token_hex(32))
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(token))
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")


@pytest.fixture
def ray_cluster(ray_env, tmp_path) -> Iterator[Cluster]:
    temp_root = Path(tempfile.mkdtemp(prefix="rc", dir="/tmp"))
    # Every port a node would otherwise take by default is a free one, so that other Ray instances on
    # this machine (another test session) are no obstacle.
    port, dashboard_port = _free_port(), _free_port()
    cluster = Cluster(f"127.0.0.1:{port}", temp_root, tmp_path)
    try:
        head, worker = MARKERS
        cluster.start_node(
            "head",
            "--head",
            f"--port={port}",
            f"--dashboard-port={dashboard_port}",
            "--include-dashboard=false",
            f'--resources={{"{head}": 1}}',
        )
        cluster.start_node("worker", f"--address={cluster.address}", f'--resources={{"{worker}": 1}}')
        deadline = time.monotonic() + START_TIMEOUT
        while len(cluster.node_ids) < 2:
            assert time.monotonic() < deadline, "the worker node did not join the cluster"
            cluster.node_ids = cluster.alive_nodes()
        yield cluster
    finally:
        for name in reversed(list(cluster.nodes)):
            cluster.kill(name)
        shutil.rmtree(temp_root, ignore_errors=True)


def _six_systems(tiny_family) -> list[dict]:
    """Aligned, unaligned, SFT, and three re-aligned variants (RESTA β=0.5 and 1.0, RESTA+DARE)."""
    recipe = {"method": "resta", "sft": "sft", "aligned": "chat", "unaligned": "bad"}
    return [
        {"name": "chat", "role": "aligned", "model": str(tiny_family["aligned"])},
        {"name": "bad", "role": "unaligned", "model": str(tiny_family["unaligned"])},
        {"name": "sft", "role": "sft", "task": "code", "regime": "full", "model": str(tiny_family["sft"])},
        {"name": "resta", "recipe": {**recipe, "sweep": {"beta": [0.5, 1.0]}}},
        {"name": "resta-dare", "recipe": {**recipe, "beta": 1.0, "dare_p": 0.3}},
    ]


def _resta_run(experiment: Path, results: Path, stderr: Path, *options: str, **env: str) -> subprocess.Popen:
    """`resta run --executor ray` as its own process, a driver like a user's."""
    command = [sys.executable, "-m", "resta_bench.benchmark.cli", "run", str(experiment), "-o", str(results)]
    command += ["--executor", "ray", "--device", "cpu", "--skip-task-check", *options]
    with stderr.open("w") as stream:
        return subprocess.Popen(command, env={**Cluster.env(), **env}, stderr=stream, start_new_session=True)


def _wait(driver: subprocess.Popen) -> int:
    """The driver's exit code; whatever it left running (a local Ray instance) is killed."""
    try:
        return driver.wait(timeout=RUN_TIMEOUT)
    finally:
        try:
            os.killpg(driver.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        driver.wait()


def _run_to_end(experiment: Path, results: Path, cluster: Cluster, stderr: Path) -> None:
    driver = _resta_run(experiment, results, stderr, "--ray-address", cluster.address)
    assert _wait(driver) == 0, stderr.read_text()[-3000:]


def _ray_jobs(store: ResultsStore, kind: str) -> list[dict]:
    """Where and when each job of this kind ran, as system.json's provenance records it."""
    jobs = [store.read_system(sid).get("provenance", {}).get("ray_jobs", {}) for sid in store.system_ids()]
    return [where for system in jobs for key, where in system.items() if key.split(":")[0] == kind]


def _overlap(one: dict, other: dict) -> bool:
    return one["started"] <= other["finished"] and other["started"] <= one["finished"]


def _assert_same_results(store: ResultsStore, local: ResultsStore, experiment: Path) -> None:
    """Same system ids, same score rows as the local executor's store, nothing staged left behind."""

    def rows(of: ResultsStore) -> dict[str, dict[str, list]]:
        return {
            sid: {judge: doc["rows"] for judge, doc in of.read_scores(sid).items()} for sid in of.system_ids()
        }

    assert store.system_ids() == local.system_ids()
    assert rows(store) == rows(local)
    assert not list(store.root.rglob("*.partial"))
    assert build_plan(load_experiment(experiment), store.root).pending == []


def test_two_node_cluster_spreads_jobs_survives_a_dead_node_and_matches_local(
    ray_cluster, write_experiment, tiny_family, judge_cache, tmp_path
):
    """Six systems' make and generate jobs on both nodes at once; the worker node killed mid-run."""
    experiment = write_experiment("cluster", systems=_six_systems(tiny_family))
    local = ResultsStore(tmp_path / "local")
    run_experiment(experiment, local.root, device="cpu")
    assert len(local.system_ids()) == 6

    # Make and generate jobs land on both nodes, running at the same time, into one store.
    spread = ResultsStore(tmp_path / "spread")
    _run_to_end(experiment, spread.root, ray_cluster, tmp_path / "spread.err")
    _assert_same_results(spread, local, experiment)
    nodes = ray_cluster.node_ids
    for kind in ("make", "generate"):
        assert {job["node_id"] for job in _ray_jobs(spread, kind)} == set(nodes.values())
    on = {name: [j for j in _ray_jobs(spread, "generate") if j["node_id"] == nodes[name]] for name in nodes}
    assert any(_overlap(head, worker) for head in on["head"] for worker in on["worker_node"])

    # The worker node is killed while both nodes are generating: the driver names the lost jobs.
    store = ResultsStore(tmp_path / "killed")
    driver = _resta_run(experiment, store.root, tmp_path / "killed.err", "--ray-address", ray_cluster.address)
    deadline = time.monotonic() + RUN_TIMEOUT
    while not (
        list(store.root.glob("*/lm_eval/.safety.partial"))
        and ray_cluster.running_a_job("head")
        and ray_cluster.running_a_job("worker")
    ):
        if driver.poll() is not None or time.monotonic() > deadline:
            _wait(driver)
            pytest.fail(
                "never saw jobs on both nodes at once: " + (tmp_path / "killed.err").read_text()[-3000:]
            )
        time.sleep(0.05)
    ray_cluster.kill("worker")
    assert _wait(driver) == 2
    stderr = (tmp_path / "killed.err").read_text()
    lost = re.findall(r"lost: generate safety +\S+ \([\w-]+\): \w+Error", stderr)
    assert lost, "\n".join(line for line in stderr.splitlines() if "lost" in line)
    plural = "s" * (len(lost) != 1)
    assert f"resta run: error: {len(lost)} job{plural} lost; run again to finish them" in stderr
    # What the dead node did not finish is absent, never half there.
    finished = list(store.root.glob("*/lm_eval/safety"))
    assert all((suite / "suite.json").is_file() for suite in finished)
    assert len(finished) <= 6 - len(lost)

    # A re-run on the surviving head finishes the lost jobs into a store equal to the local one.
    _run_to_end(experiment, store.root, ray_cluster, tmp_path / "rerun.err")
    _assert_same_results(store, local, experiment)
    assert {job["node_id"] for job in _ray_jobs(store, "generate")} <= set(nodes.values())


def test_a_jobs_own_error_is_one_line_after_the_other_jobs_are_recorded(
    ray_env, write_experiment, tiny_family, tiny_tokenizer, judge_cache, tmp_path
):
    """A re-alignment whose SFT model has other shapes fails in its Ray job (on the local instance the
    driver starts): the user reads realign's one line, not Ray's remote traceback, and the wave's other
    job is still recorded."""
    from resta_bench.benchmark.tiny_models import build_tiny_chat_model

    wide = build_tiny_chat_model(tmp_path / "wide", tokenizer=tiny_tokenizer, intermediate_size=96, seed=3)
    systems = _six_systems(tiny_family)[:4]
    systems[3]["recipe"].pop("sweep")
    systems[3]["recipe"]["beta"] = 0.5
    systems += [
        {"name": "wide", "role": "sft", "task": "code", "regime": "full", "model": str(wide)},
        {"name": "resta-wide", "recipe": {**systems[3]["recipe"], "sft": "wide"}},
    ]
    experiment = write_experiment("wide", systems=systems)
    store = ResultsStore(tmp_path / "results")
    assert _wait(_resta_run(experiment, store.root, tmp_path / "wide.err")) == 2
    stderr = (tmp_path / "wide.err").read_text()
    errors = [line for line in stderr.splitlines() if line.startswith("resta run: error:")]
    assert errors == [errors[0]] and "down_proj.weight: shape [64, 96]" in errors[0], stderr[-3000:]
    assert re.search(r"failed: make model +resta-wide ", stderr)
    made = [store.read_system(sid) for sid in store.system_ids()]
    assert [m["name"] for m in made if "make" in m["provenance"].get("ray_jobs", {})] == ["resta"]


def test_a_cluster_without_our_token_is_one_line(ray_env, write_experiment, tiny_family, tmp_path):
    """Token authentication is on: a driver without the cluster's token is told so, in one line."""
    experiment = write_experiment("single", systems=_six_systems(tiny_family)[:1])
    address = f"127.0.0.1:{_free_port()}"
    no_token = str(tmp_path / "no-token")
    driver = _resta_run(
        experiment,
        tmp_path / "results",
        tmp_path / "token.err",
        "--ray-address",
        address,
        RAY_AUTH_TOKEN_PATH=no_token,
    )
    assert _wait(driver) == 2
    last = (tmp_path / "token.err").read_text().splitlines()[-1]
    assert last.startswith(f"resta run: error: --ray-address {address}: ") and no_token in last
