"""The benchmark CLI end to end on a tiny Inception-v3, and its report logic with made-up peer results.

The CLI runs in a subprocess, as users run it: with one CPU device (not the 8 of conftest) and without
TensorFlow, torch or Keras imported. Peers are not run (CI has no timm); their results are faked. The one-shot
GPU script (benchmarks/gpu.sh) runs in its tiny CPU mode, and the FSDP memory tool on a reduced network.
"""

import json
import os
import subprocess
import sys

import pytest

from inception_jax import cli
from inception_jax.benchmark import peers, report, timing

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TINY = [
    "--model=inception_v3",
    "--model.width_multiplier=0.1",
    "--image_size=75",
    "--batch",
    "2",
    "--repeats",
    "2",
    "--steps",
    "2",
    "--warmup",
    "1",
]
# Frameworks the benchmark process must not load: the GPU machine has no TensorFlow, peers run elsewhere.
FORBIDDEN_MODULES = ("tensorflow", "torch", "keras", "inception_jax.data")


def run_cli(tmp_path, *args):
    json_path = tmp_path / "result.json"
    check_imports = (
        f"import runpy, sys; sys.argv = ['benchmark', *{list(args)!r}, '--json', {str(json_path)!r}]; "
        "runpy.run_module('inception_jax.benchmark', run_name='__main__'); "
        f"loaded = [m for m in {FORBIDDEN_MODULES!r} if m in sys.modules]; "
        "assert not loaded, f'benchmark imported {loaded}'"
    )
    # The trace-time optimisations only slow compiling down; they do not change what is measured here.
    env = dict(os.environ, JAX_DISABLE_MOST_OPTIMIZATIONS="1")
    completed = subprocess.run(
        [sys.executable, "-c", check_imports], capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(json_path.read_text()), completed


@pytest.mark.parametrize("mode", ["train", "infer"])
def test_cli_measures_and_writes_json(tmp_path, mode):
    record, completed = run_cli(tmp_path, *TINY, "--mode", mode, "--rounds", "2")
    printed = completed.stdout
    ours = record["results"]["ours"]
    assert record["config"]["mode"] == mode and record["config"]["options"] == {"width_multiplier": 0.1}
    # Each round times the step compiled once (a train step carrying its donated state on).
    assert len(ours["images_per_s_rounds"]) == 2 and completed.stderr.count("[ours] compiling") == 1
    assert ours["status"] == "ok" and ours["steps"] == 2 and len(ours["images_per_s_windows"]) == 2
    assert min(ours["images_per_s_rounds"]) <= ours["images_per_s"] <= max(ours["images_per_s_rounds"])
    assert ours["images_per_s"] == pytest.approx(2 / ours["step_s"], rel=0.5)
    assert ours["compile_s"] > 0 and ours["peak_rss_bytes"] > 10**7
    assert ours["compiled_memory"]["temp"] > 0
    flops_per_mac = {"train": 6, "infer": 2}[mode]
    assert record["flops"]["flops_per_image"] == flops_per_mac * record["flops"]["macs_per_image"] > 0
    assert ours["tflops"] == pytest.approx(ours["images_per_s"] * record["flops"]["flops_per_image"] / 1e12)
    assert ours["mfu"] is None and record["peak_tflops"] is None  # a CPU has no listed peak
    assert record["ratios"] == {} and record["hardware"]["platform"] == "cpu"
    assert f"inception_v3 · {mode} · batch 2" in printed and "ours (Flax, XLA)" in printed


def fake_record(peer_results: dict) -> dict:
    ours = {
        "status": "ok",
        "images_per_s": 4.0,
        "step_s": 2.0,
        "compile_s": 30.0,
        "warmup_s": [1.0],
        "peak_rss_bytes": 3e9,
        "compiled_memory": {},
    }
    results = {"ours": ours, **peer_results}
    for result in results.values():
        report.add_flop_rates(result, flops_per_image=1e10, peak=None)
    return {
        "config": {
            "model": "inception_v3",
            "mode": "train",
            "batch": 8,
            "image_size": 299,
            "dtype": "float32",
            "remat": "none",
        },
        "flops": {"flops_per_mac": 6, "flops_per_image": 1e10, "macs_per_image": 1.7e9},
        "hardware": {
            "device_kind": "cpu",
            "cpu_model": "AMD EPYC",
            "usable_cores": 2,
            "load_average_before": (0.5, 0.5, 0.5),
        },
        "results": results,
        "ratios": report.ratios(results),
    }


def test_report_gives_ratios_and_marks_missing_peers():
    timm = {"status": "ok", "images_per_s": 2.0, "step_s": 4.0, "warmup_s": [5.0, 4.0], "peak_rss_bytes": 1e9}
    keras = peers.unavailable("keras.applications has no inception_v4")
    record = fake_record({"timm": timm, "keras": keras})
    assert record["ratios"] == {"timm": 2.0, "keras": None}
    assert timm["tflops"] == pytest.approx(0.02)
    text = report.format_report(record)
    timm_row = next(line for line in text.splitlines() if line.startswith("timm"))
    assert timm_row.split()[-1] == "2.00×" and "5.0" in timm_row  # peers' compile column is their first step
    assert "n/a: keras.applications has no inception_v4" in text


def test_peak_table_and_mfu():
    assert report.peak_tflops("NVIDIA H100 80GB HBM3", "bfloat16") == 989.0
    assert report.peak_tflops("NVIDIA H100 PCIe", "float32") == 378.0
    assert report.peak_tflops("cpu", "float32") is None
    result = {"status": "ok", "images_per_s": 1000.0}
    report.add_flop_rates(result, flops_per_image=6 * 5.73e9, peak=989.0)
    assert result["mfu"] == pytest.approx(1000 * 6 * 5.73e9 / 1e12 / 989.0)


def test_measure_takes_the_median_window(monkeypatch):
    clock = iter(
        [
            0.0,
            1.0,  # warm-up step: 1 s → 2 steps fill the 2 s window
            10.0,
            12.0,
            20.0,
            24.0,
            30.0,
            31.0,
        ]
    )  # windows of 2, 4 and 1 s
    monkeypatch.setattr(timing.time, "perf_counter", lambda: next(clock))
    result = timing.measure(lambda n: None, batch=8, steps=0, repeats=3, warmup=1, min_window_s=2.0, label="fake")
    assert result["steps"] == 2
    assert result["images_per_s_windows"] == [8.0, 4.0, 16.0] and result["images_per_s"] == 8.0
    assert result["step_s"] == 1.0


def test_keras_stock_runs_keras_with_the_callers_xla_flags(monkeypatch):
    seen = {}

    def fake_run(command, env, **kwargs):
        seen.update(peer=command[3], env=env)
        return subprocess.CompletedProcess(command, 0, stdout=peers.RESULT_MARKER + '{"status": "ok"}\n')

    monkeypatch.setattr(peers.subprocess, "run", fake_run)
    monkeypatch.setenv("XLA_FLAGS", "--tuned")
    result = peers.run_peer(
        "keras-stock",
        sys.executable,
        model="inception_v3",
        mode="train",
        batch=2,
        image_size=75,
        dtype="float32",
        steps=1,
        repeats=1,
        warmup=1,
        min_window_s=0.0,
        xla_flags="",
    )
    assert result == {"status": "ok"} and seen["peer"] == "keras-stock"
    assert seen["env"]["XLA_FLAGS"] == "" and seen["env"]["KERAS_BACKEND"] == "jax"
    assert peers.RUNNERS["keras-stock"] is peers.RUNNERS["keras"]


def test_the_plain_optax_peer_trains_our_network_in_its_own_step_with_the_flags_an_importer_gets():
    """The independent step runs in its own interpreter with XLA_FLAGS empty, as a program that imports the
    networks and sets nothing; `import inception_jax` gives it the tuned flag."""
    result = peers.run_peer(
        "plain-optax",
        sys.executable,
        model="resnet20",
        mode="train",
        batch=2,
        image_size=32,
        dtype="float32",
        steps=2,
        repeats=1,
        warmup=1,
        min_window_s=0.0,
        xla_flags="",
    )
    assert result["status"] == "ok" and result["images_per_s"] > 0 and result["steps"] == 2
    assert result["setup"] == f"plain optax step, XLA_FLAGS={cli.TUNED_XLA_FLAGS[0]!r}"
    assert set(result["versions"]) == {"jax", "optax", "inception_jax"}


def test_rounds_report_each_contenders_median_and_keep_every_round():
    rounds = [{"status": "ok", "images_per_s": v, "step_s": 8 / v, "warmup_s": [1.0]} for v in (4.0, 2.0, 3.0)]
    combined = report.over_rounds(rounds)
    assert combined["images_per_s"] == 3.0 and combined["step_s"] == pytest.approx(8 / 3)
    assert combined["images_per_s_rounds"] == [4.0, 2.0, 3.0] and combined["warmup_s"] == [1.0]
    failed = {"status": "failed", "reason": "exit status 1"}
    assert report.over_rounds([rounds[0], failed]) == failed
    assert report.over_rounds(rounds[:1]) == rounds[0]


def test_largest_batch_is_the_largest_power_of_two_predicted_to_fit(monkeypatch):
    from inception_jax.benchmark import ours  # noqa: PLC0415 (imports JAX and the networks)
    from inception_jax.models import create_model  # noqa: PLC0415
    from inception_jax.spec import InputSpec, ModelSpec  # noqa: PLC0415

    model = create_model("inception_v3", width_multiplier=0.1, min_depth=4, num_classes=10)
    spec = ModelSpec.of_module("inception_v3", model, InputSpec(image_size=75))
    found = ours.largest_batch(spec, mode="infer", ceiling=12, probe=2)
    assert found["batch"] == 8 and found["probe_batch"] == 2  # this host's RAM holds 8 such images easily
    memory = found["probe_memory"]
    fixed, per_image = ours.resident_bytes(memory) - memory["temp"], memory["temp"] / 2
    # A device that holds 5 images' temporaries at the 85% fill: 4 is the answer.
    monkeypatch.setattr(ours, "device_capacity_bytes", lambda: (fixed + 5 * per_image) / 0.85)
    found = ours.largest_batch(spec, mode="infer", ceiling=12, probe=2)
    assert found["batch"] == 4 and found["predicted_bytes"] == pytest.approx(fixed + 4 * per_image)


def test_gpu_script_in_tiny_mode_writes_every_record(tmp_path):
    """`benchmarks/gpu.sh --tiny` on this CPU: the batch search, bfloat16 training, remat at the same batch, the
    timm peer (this environment has no torch: its failure is recorded, the run goes on) and the input pipeline."""
    out = tmp_path / "gpu"
    completed = subprocess.run(
        ["bash", "benchmarks/gpu.sh", str(out), "--tiny", "--models=inception_resnet_v2"]
        + [f"--timm_python={sys.executable}"],
        cwd=REPO,
        env=dict(os.environ, PYTHON=sys.executable, JAX_DISABLE_MOST_OPTIMIZATIONS="1"),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    ours = json.loads((out / "inception_resnet_v2-ours.json").read_text())
    remat = json.loads((out / "inception_resnet_v2-ours-remat-block.json").read_text())
    timm = json.loads((out / "inception_resnet_v2-timm.json").read_text())
    pipeline = json.loads((out / "input-pipeline.json").read_text())

    search = ours["batch_search"]
    assert search["ceiling"] == 4 and search["batch"] == ours["config"]["batch"] == 4
    assert 0 < search["predicted_bytes"] < search["fill"] * search["capacity_bytes"]
    assert ours["config"]["dtype"] == "bfloat16" and ours["config"]["remat"] == "none"
    assert remat["config"]["remat"] == "block" and remat["config"]["batch"] == 4 and remat["batch_search"] is None
    assert timm["status"] == "failed" and timm["batch"] == 2  # retried once at half the batch
    assert pipeline["images_per_s_per_core"] > 0
    (row,) = summary["rows"]
    assert row["batch"] == 4 and row["ours_images_per_s"] == ours["results"]["ours"]["images_per_s"] > 0
    assert row["ours_memory_bytes"] == ours["results"]["ours"]["compiled_peak_bytes"] > 0
    assert row["remat_memory_bytes"] > 0 and row["timm_images_per_s"] is None and row["ours_over_timm"] is None
    assert summary["failed"] == ["inception_resnet_v2-timm"] and summary["skipped"] == [] and summary["tiny"]
    assert summary["command"].startswith(f"bash benchmarks/gpu.sh {out} --tiny")
    assert "| inception_resnet_v2 | 4 |" in completed.stdout


def test_fsdp_memory_tool_compiles_the_step_replicated_and_sharded():
    """`python -m inception_jax.benchmark.fsdp_memory` on a reduced Inception-v3 over 2 CPU devices: FSDP holds
    less state per device, and each peak is the sum of its parts."""
    tiny = ["--model=inception_v3", "--model.width_multiplier=0.25", "--image_size=75", "--devices=2", "--batch=2"]
    completed = subprocess.run(
        [sys.executable, "-m", "inception_jax.benchmark.fsdp_memory", *tiny],
        cwd=REPO,
        env=dict(os.environ, JAX_DISABLE_MOST_OPTIMIZATIONS="1"),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    record = json.loads(completed.stdout.splitlines()[-1])
    assert record["model"] == "inception_v3" and record["devices"] == record["global_batch"] == 2
    assert record["image_size"] == 75
    replicated, fsdp = record["replicated"], record["fsdp"]
    assert fsdp["arguments_mib"] < replicated["arguments_mib"]  # e.g. the classifier's 512×1000 kernel
    for figures in (replicated, fsdp):
        parts = figures["arguments_mib"] + figures["temporaries_mib"] + figures["outputs_mib"]
        assert figures["peak_estimate_mib"] == pytest.approx(parts - figures["aliased_mib"])


def test_imagenet_like_sizes_average_near_imagenets_and_keep_its_shapes():
    import numpy as np  # noqa: PLC0415

    from inception_jax.benchmark import imagenet_like_jpegs  # noqa: PLC0415

    rng = np.random.default_rng(0)
    sizes = np.array([imagenet_like_jpegs.image_size(rng) for _ in range(4000)])
    width, height = sizes.mean(axis=0)
    assert 420 < width < 520 and 340 < height < 420, (width, height)  # ImageNet's train images: about 470 × 390
    assert 0.4 < np.mean((sizes == (500, 375)).all(axis=1) | (sizes == (500, 333)).all(axis=1)) < 0.7
    assert 0.15 < np.mean((sizes == (375, 500)).all(axis=1)) < 0.25  # portraits
    assert 0.02 < np.mean(sizes.max(axis=1) >= 800) < 0.08  # the large tail


def test_input_pipeline_times_imagenet_like_jpegs_with_train_and_eval_preprocessing(tmp_path):
    photos_code = "from fixtures.photos import photo_paths; print(','.join(map(str, photo_paths().values())))"
    photos = subprocess.run(
        [sys.executable, "-c", photos_code], capture_output=True, text=True, cwd=f"{REPO}/tests", check=True
    ).stdout.strip()
    for command in (
        ["inception_jax.benchmark.imagenet_like_jpegs", f"--photos={photos}", f"--output={tmp_path / 'jpegs'}"]
        + ["--count=24", "--classes=2"],
        ["inception_jax.benchmark", "--input_pipeline", "--batch=8", "--image_size=75", "--pipeline_batches=2"]
        + [f"--pipeline_folder={tmp_path / 'jpegs'}", f"--json={tmp_path / 'pipeline.json'}"],
    ):
        done = subprocess.run([sys.executable, "-m", *command], capture_output=True, text=True, cwd=REPO, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(os.listdir(tmp_path / "jpegs" / "train")) == ["class_0", "class_1"]
    assert sum(len(files) for _, _, files in os.walk(tmp_path / "jpegs")) == 24
    record = json.loads((tmp_path / "pipeline.json").read_text())
    assert record["input_pipeline"]["dataset"] == "folder" and record["batches"] == 2
    for prefix in ("", "eval_"):
        images_per_s = record[f"{prefix}images_per_s"]
        per_core = record[f"{prefix}images_per_s_per_core"]
        assert images_per_s > 0 and per_core == pytest.approx(images_per_s / record["cores"])
    assert "eval preprocessing" in done.stdout


def test_the_pipeline_benchmark_prepares_eval_images_as_the_evaluation_does(tmp_path, monkeypatch):
    import numpy as np  # noqa: PLC0415
    from PIL import Image  # noqa: PLC0415

    from inception_jax.configs import paper  # noqa: PLC0415
    from inception_jax.data import pipeline, preprocessing  # noqa: PLC0415
    from inception_jax.spec import INCEPTION_INPUT  # noqa: PLC0415

    for index in range(16):
        folder = tmp_path / "train" / f"class_{index % 2}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((40, 60, 3), index * 10, np.uint8)).save(folder / f"{index}.jpg")
    config = paper.input_config(dataset="folder", folder=str(tmp_path), eval_split="train", image_size=32)
    config.update(batch_size=8, eval_batch_size=8)
    spec = INCEPTION_INPUT.replace(image_size=32)

    def refuse(*args, **kwargs):
        raise AssertionError("the other mode's preprocessing ran")

    with monkeypatch.context() as patch:
        patch.setattr(preprocessing, "preprocess_for_train", refuse)
        assert pipeline.benchmark(config, spec, num_batches=3, train=False) > 0  # 24 images: the split read again
    with monkeypatch.context() as patch:
        patch.setattr(preprocessing, "preprocess_for_eval", refuse)
        assert pipeline.benchmark(config, spec, num_batches=3, train=True) > 0


def test_the_frechet_benchmark_times_both_methods_in_one_run(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "inception_jax.benchmark.frechet", "--dims=64", "--rounds=2"]
        + [f"--json={tmp_path / 'frechet.json'}"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads((tmp_path / "frechet.json").read_text())
    assert set(record["seconds"]) == {"sqrtm", "eigh"} and all(len(times) == 2 for times in record["seconds"].values())
    assert record["relative_difference"] < 1e-9 and record["dims"] == 64
    assert "load_average_after" in record["hardware"] and "sqrtm / eigh" in done.stdout


def test_xla_configurations_take_turns_and_report_ratios_to_the_default(monkeypatch):
    from inception_jax.benchmark import xla_flags  # noqa: PLC0415

    calls = []

    def fake_measure(model, mode, flags_value, **settings):
        calls.append((model, mode, flags_value))
        speed = {"": 1.0, xla_flags.TUNED: 2.0}[flags_value] + len(calls) / 100
        return {"status": "ok", "images_per_s": speed, "step_s": 8 / speed, "compile_s": 9.0, "xla_flags": flags_value}

    monkeypatch.setattr(xla_flags, "measure", fake_measure)
    table = xla_flags.measure_all(["inception_v3"], ["train"], ["stock", "tuned"], rounds=2, batch=8)
    # Turns: stock, tuned, stock, tuned; each one's median over its rounds.
    assert [flags_value for _, _, flags_value in calls] == ["", xla_flags.TUNED] * 2
    stock, tuned = table["inception_v3"]["train"]["stock"], table["inception_v3"]["train"]["tuned"]
    assert stock["images_per_s_rounds"] == [1.01, 1.03] and stock["images_per_s"] == pytest.approx(1.02)
    assert tuned["images_per_s"] == pytest.approx(2.03) and tuned["xla_flags"] == xla_flags.TUNED
    row = xla_flags.format_table(table, ["stock", "tuned"]).splitlines()[-1]
    assert row == "| inception_v3 | train | 1.02 (0.50×) | 2.03 (1.00×) |"


def test_an_xla_configuration_reaches_the_measured_process():
    from inception_jax.benchmark import xla_flags  # noqa: PLC0415

    settings = {"batch": 2, "image_size": 32, "repeats": 1}
    for name in ("stock", "oneDNN"):
        result = xla_flags.measure("resnet20", "infer", xla_flags.CONFIGURATIONS[name], **settings)
        assert result["status"] == "ok" and result["images_per_s"] > 0
        assert result["xla_flags"] == xla_flags.CONFIGURATIONS[name]  # as that process read XLA_FLAGS
