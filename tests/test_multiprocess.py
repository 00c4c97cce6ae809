"""Two real processes on this machine, 4 CPU devices each, through the real TFDS path and `python -m ...main`.

Every process is started with a timeout and killed at the end of its test, whatever happens.
"""

import os
import signal
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import pytest
from train_utils import QUICK, tiny_flags

from inception_jax.runs import read_metrics
from inception_jax.train import mesh as mesh_lib
from inception_jax.train.checkpoint import TrainCheckpoints

HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT_S = 600
# 12 steps, checkpoints every 4: a kill after step 4's checkpoint leaves work to redo. The network compiles in
# seconds (train_utils.QUICK): the test is about the processes.
RUN = {**QUICK, "total_steps": 12, "checkpoint_every_steps": 4, "eval_every_steps": 6, "log_every_steps": 4}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.fixture
def processes():
    """Started processes; any still running at the end of the test is killed."""
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def _env(process_id: int):
    # Each process gets a persistent compilation cache of its own (this test used none before: with the shared
    # one, a process that loaded a multi-process executable while the other compiled its own lost the
    # coordination service's deadline, seen with JAX 0.10.2 and the reduced Inception-ResNet-v2). JAX writes cache
    # entries from process 0 only, so process 1 still compiles every program each run while process 0 loads it:
    # the same wait, now for a network that compiles in seconds (QUICK).
    cache = f"{os.environ['JAX_COMPILATION_CACHE_DIR']}_process{process_id}"
    return {**os.environ, "JAX_COMPILATION_CACHE_DIR": cache, "JAX_NUM_CPU_DEVICES": "4"}


def _start_pair(processes, command) -> list[subprocess.Popen]:
    """Starts `command(process_id, port)` for processes 0 and 1 with one coordinator port."""
    port = _free_port()
    pair = [
        subprocess.Popen(
            command(i, port), env=_env(i), cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for i in range(2)
    ]
    processes.extend(pair)
    return pair


def _finish(pair) -> list[str]:
    outputs = [process.communicate(timeout=TIMEOUT_S)[0] for process in pair]
    for process, output in zip(pair, outputs):
        assert process.returncode == 0, output[-4000:]
    return outputs


def _batches_of_two_processes_and_of_one(tmp_path, processes, data_dir, *imagenet):
    """Each process's rows of the first batches, read by `distributed_batches.py` in 2 processes and in 1."""
    worker = os.path.join(HERE, "distributed_batches.py")
    pair = _start_pair(
        processes,
        lambda i, port: (
            [sys.executable, worker, str(i), "2", str(port), data_dir, str(tmp_path / f"p{i}.npz")] + list(imagenet)
        ),
    )
    one = subprocess.Popen(
        [sys.executable, worker, "0", "1", "0", data_dir, str(tmp_path / "one.npz"), *imagenet],
        env={**os.environ, "JAX_NUM_CPU_DEVICES": "8"},
        cwd=HERE,
    )
    processes.append(one)
    _finish(pair)
    assert one.wait(timeout=TIMEOUT_S) == 0
    return (np.load(tmp_path / f"{name}.npz") for name in ("p0", "p1", "one"))


def _assert_disjoint_shards_that_make_the_one_process_batch(p0, p1, single, rows_per_process):
    assert int(p0["devices"]) == int(p1["devices"]) == int(single["devices"]) == 8
    assert p0["image"].shape[1] == p1["image"].shape[1] == single["image"].shape[1] // 2 == rows_per_process
    for key in ("image", "label"):  # process 0's rows, then process 1's: the 1-process global batch
        np.testing.assert_array_equal(np.concatenate([p0[key], p1[key]], axis=1), single[key])
    # Without augmentation a row is its example's image: no example is in both processes' shards.
    seen = [{row.tobytes() for row in p["image"].reshape(-1, *p["image"].shape[2:])} for p in (p0, p1)]
    assert seen[0] and seen[1] and not seen[0] & seen[1]


def test_each_process_reads_a_disjoint_shard_and_together_they_are_the_one_process_batch(tmp_path, data_dir, processes):
    p0, p1, single = _batches_of_two_processes_and_of_one(tmp_path, processes, data_dir)
    _assert_disjoint_shards_that_make_the_one_process_batch(p0, p1, single, rows_per_process=8)


def test_two_processes_read_disjoint_shards_of_imagenet_prepared_from_its_archives(tmp_path, mini_imagenet, processes):
    data_dir, manual_dir, _ = mini_imagenet  # TFDS's imagenet2012 builder, on the miniature archives
    p0, p1, single = _batches_of_two_processes_and_of_one(tmp_path, processes, data_dir, manual_dir)
    _assert_disjoint_shards_that_make_the_one_process_batch(p0, p1, single, rows_per_process=4)


def _main(workdir, data_dir):
    def command(process_id, port):
        return [
            sys.executable,
            "-m",
            "inception_jax.main",
            "--distributed",
            f"--coordinator_address=localhost:{port}",
            "--num_processes=2",
            f"--process_id={process_id}",
            *tiny_flags(data_dir, str(workdir), **RUN),
        ]

    return command


def _final_state(workdir):
    """The latest step and its state, restored onto this process's devices (not the 2 × 4 that saved it)."""
    checkpoints = TrainCheckpoints(str(workdir))
    step = checkpoints.latest_step()
    state = checkpoints.read_saved(step, mesh_lib.replicated(mesh_lib.make_mesh()))
    checkpoints.close()
    return step, jax.device_get(state)


def test_two_processes_sigkilled_and_restarted_end_like_an_uninterrupted_two_process_run(tmp_path, data_dir, processes):
    uninterrupted = _finish(_start_pair(processes, _main(tmp_path / "a", data_dir)))
    assert "Process 1 of 2; 4 local / 8 global devices" in uninterrupted[1]
    # Only process 0 writes metric files (both print them): one TensorBoard writer, each record once (below).
    events = [name for name in os.listdir(tmp_path / "a") if name.startswith("events.out.tfevents")]
    assert len(events) == 1, events

    killed = _start_pair(processes, _main(tmp_path / "b", data_dir))
    first_checkpoint = tmp_path / "b" / "checkpoints" / "4"
    deadline = time.monotonic() + TIMEOUT_S
    while not first_checkpoint.exists():
        assert all(p.poll() is None for p in killed), "a process ended before the first checkpoint"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(1.0)  # let both processes finish writing their parts of it
    for process in killed:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert TrainCheckpoints(str(tmp_path / "b")).latest_step() < 12

    resumed = _finish(_start_pair(processes, _main(tmp_path / "b", data_dir)))
    assert "Resumed from" in resumed[0]

    def records(workdir):  # each step's metrics, once: duplicates would mean two writers
        rows = [{k: v for k, v in r.items() if k != "train/img_per_sec"} for r in read_metrics(str(workdir))]
        return {(r["step"], tuple(sorted(k for k in r if k != "step"))): r for r in rows}, len(rows)

    (a, rows_a), (b, _) = records(tmp_path / "a"), records(tmp_path / "b")
    assert len(a) == rows_a  # process 0 alone wrote
    final = [key for key in a if key[0] == 12]
    assert final and all(a[key] == b[key] for key in final)  # the same final metrics
    (step_a, state_a), (step_b, state_b) = _final_state(tmp_path / "a"), _final_state(tmp_path / "b")
    assert step_a == step_b == 12
    jax.tree.map(np.testing.assert_array_equal, state_a, state_b)  # bitwise on CPU
