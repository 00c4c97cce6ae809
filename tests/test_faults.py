"""What a run survives, with nothing lost (docs/reliability.md, Faults): damaged checkpoints, reruns with another
config, two runs on one workdir, and which checkpoints `keep_checkpoints` leaves. Each test trains QUICK's network:
the trainer's bookkeeping, not the network, is under test."""

import glob
import io
import json
import logging
import os
import pathlib
import re
import resource
import signal
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest
from model_utils import random_variables
from PIL import Image
from train_utils import QUICK, REPO, final_state, tiny_config, tiny_flags

import inception_jax
from inception_jax import fid, predict
from inception_jax.configs.digits import digits_input
from inception_jax.data import pipeline, preprocessing
from inception_jax.runs import read_metrics
from inception_jax.spec import InputSpec
from inception_jax.train.checkpoint import DAMAGED_DIRECTORY, CheckpointWriteError, TrainCheckpoints
from inception_jax.train.trainer import DIVERGED_EXIT_CODE, train_and_evaluate
from inception_jax.train.validation import ConfigChangedError
from inception_jax.train.workdir_lock import LOCK_FILE, WorkdirInUseError

RUN = {**QUICK, "checkpoint_every_steps": 2, "eval_every_steps": 6, "log_every_steps": 2}


def _train(data_dir, workdir, steps, **overrides):
    return train_and_evaluate(tiny_config(data_dir, total_steps=steps, **{**RUN, **overrides}), str(workdir))


def _steps(workdir):
    return sorted(int(name) for name in os.listdir(os.path.join(workdir, "checkpoints")) if name.isdigit())


def _files(directory):
    return sorted(
        os.path.relpath(p, directory) for p in glob.glob(f"{directory}/**", recursive=True) if os.path.isfile(p)
    )


def _truncate_largest_weights_file(step_dir):
    path = max((os.path.join(step_dir, f) for f in _files(step_dir) if f.startswith("weights")), key=os.path.getsize)
    os.truncate(path, os.path.getsize(path) // 2)


def _remove_optimizer_manifest(step_dir):
    os.remove(os.path.join(step_dir, "optimizer", "manifest.ocdbt"))


@pytest.fixture(scope="module")
def uninterrupted(data_dir, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("uninterrupted")
    _train(data_dir, workdir, 6)
    return jax.device_get(final_state(workdir))


@pytest.mark.parametrize("damage", [_truncate_largest_weights_file, _remove_optimizer_manifest])
def test_a_damaged_newest_checkpoint_is_kept_aside_and_the_run_resumes_from_the_step_before(
    data_dir, uninterrupted, tmp_path, caplog, damage
):
    _train(data_dir, tmp_path, 4)
    assert _steps(tmp_path) == [2, 4]
    damage(str(tmp_path / "checkpoints" / "4"))
    damaged_files = _files(tmp_path / "checkpoints" / "4")
    with caplog.at_level(logging.WARNING):
        _train(data_dir, tmp_path, 6)
    warning = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "step 4" in warning and "resuming from step 2 instead" in warning, warning
    kept = tmp_path / DAMAGED_DIRECTORY / "4"
    assert str(kept) in warning and _files(kept) == damaged_files  # moved whole, nothing deleted
    assert _steps(tmp_path) == [2, 4, 6]  # step 4 saved again, by the resumed run
    jax.tree.map(np.testing.assert_array_equal, jax.device_get(final_state(tmp_path)), uninterrupted)


def test_a_write_error_during_a_save_stops_naming_the_path_and_the_previous_checkpoint_resumes(
    data_dir, uninterrupted, tmp_path, monkeypatch
):
    """A file-size limit (`ulimit -f`, set in this process for step 4's save alone) stands in for a full disk."""
    real_save = TrainCheckpoints.save

    def save_into_a_full_disk_at_step_4(self, step, state, meta):
        if step != 4:
            return real_save(self, step, state, meta)
        self.wait()  # step 2 complete first
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, hard))  # the checkpoint's files are larger
        try:
            real_save(self, step, state, meta)
            self.wait()
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))

    monkeypatch.setattr(TrainCheckpoints, "save", save_into_a_full_disk_at_step_4)
    with pytest.raises(CheckpointWriteError, match=r"to \S+/checkpoints failed: .*File too large.*newest: step 2"):
        _train(data_dir, tmp_path, 6)
    assert _steps(tmp_path) == [2]
    monkeypatch.setattr(TrainCheckpoints, "save", real_save)  # space freed: the same run again
    _train(data_dir, tmp_path, 6)
    assert _steps(tmp_path) == [2, 4, 6]
    jax.tree.map(np.testing.assert_array_equal, jax.device_get(final_state(tmp_path)), uninterrupted)


def test_when_no_checkpoint_reads_back_each_step_is_named_and_left_in_place(data_dir, tmp_path):
    _train(data_dir, tmp_path, 4)
    for step in (2, 4):
        _remove_optimizer_manifest(str(tmp_path / "checkpoints" / str(step)))
    with pytest.raises(RuntimeError, match=r"No checkpoint in .* reads back \(step 4: .*; step 2: .*fresh --workdir"):
        _train(data_dir, tmp_path, 6)
    assert _steps(tmp_path) == [2, 4] and not os.path.exists(tmp_path / DAMAGED_DIRECTORY)


def test_a_rerun_that_changes_the_trajectory_is_refused_naming_each_field(data_dir, tmp_path, caplog):
    _train(data_dir, tmp_path, 2)
    with pytest.raises(ConfigChangedError) as refused:
        _train(data_dir, tmp_path, 4, seed=1, **{"input.batch_size": 8, "schedule.base_learning_rate": 0.1})
    message = str(refused.value)
    for change in ("input.batch_size: 16 → 8", "seed: 0 → 1", "schedule.base_learning_rate: 0.045 → 0.1"):
        assert change in message, message
    assert "3 field(s)" in message and "--allow_config_change" in message
    assert _steps(tmp_path) == [2]  # nothing trained or saved
    # Bookkeeping, evaluation and the run's length may change.
    _train(data_dir, tmp_path, 4, log_every_steps=1, eval_every_steps=4, **{"input.eval_batch_size": 64})
    assert _steps(tmp_path) == [2, 4]
    with caplog.at_level(logging.WARNING):  # the explicit override goes on, and says what changed
        train_and_evaluate(tiny_config(data_dir, total_steps=6, **RUN, seed=1), str(tmp_path), allow_config_change=True)
    assert _steps(tmp_path) == [2, 4, 6] and "seed: 0 → 1" in caplog.text


def test_a_second_run_on_a_workdir_in_use_is_refused_and_a_dead_runs_lock_is_taken_over(data_dir, tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom inception_jax.train import workdir_lock\n"
            f"with workdir_lock.hold({str(tmp_path)!r}):\n    print('held', flush=True)\n    time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(
            WorkdirInUseError,
            match=rf"in use by another run: host {socket.gethostname()}, "
            rf"process id {holder.pid}, since .*another --workdir",
        ):
            _train(data_dir, tmp_path, 2)
        assert not os.path.exists(tmp_path / "checkpoints")
    finally:
        holder.send_signal(signal.SIGKILL)  # dies holding it: the kernel releases the lock, the file stays
        holder.wait()
    assert f"process id {holder.pid}" in (tmp_path / LOCK_FILE).read_text()
    _train(data_dir, tmp_path, 2)
    assert _steps(tmp_path) == [2]


def test_keep_checkpoints_leaves_the_newest_steps(data_dir, tmp_path):
    _train(data_dir, tmp_path, 5, checkpoint_every_steps=1, keep_checkpoints=2)
    assert _steps(tmp_path) == [4, 5]


def test_it_learns_the_digits_in_100_steps(data_dir, tmp_path):
    metrics = _train(data_dir, tmp_path, 100, eval_every_steps=100, checkpoint_every_steps=100)
    # 10 classes: chance is 0.1 and a uniform guess's loss ln 10 = 2.30. Measured on 2026-12-06 (Zen 4), seeds 0, 1
    # and 2: top-1 0.383, 0.408, 0.467; EMA top-1 0.481, 0.581, 0.517; EMA loss 1.387, 1.387, 1.368.
    assert metrics["eval/top1"] > 0.3 and metrics["eval_ema/top1"] > 0.4, metrics
    assert metrics["eval_ema/loss"] < 1.6, metrics


def test_a_diverging_command_exits_65_naming_the_step_and_keeps_the_last_good_checkpoint(data_dir, tmp_path):
    # Warmup makes step 1 use lr 0 (a good state) and step 2 an absurd rate (as tests/test_train.py's in-process test).
    diverging = {"schedule.base_learning_rate": 1e35, "schedule.warmup_epochs": 2 / 89, "checkpoint_every_steps": 1}
    flags = tiny_flags(data_dir, str(tmp_path), total_steps=4, **{**RUN, **diverging, "log_every_steps": 1})
    done = subprocess.run(
        [sys.executable, "-m", "inception_jax.main", *flags], capture_output=True, text=True, timeout=600, cwd=REPO
    )
    assert done.returncode == DIVERGED_EXIT_CODE == 65, done.stderr[-3000:]
    assert "Training diverged at step 2" in done.stderr and "Traceback" not in done.stderr
    assert _steps(tmp_path) == [1]


def test_a_resume_across_an_epoch_and_a_learning_rate_boundary_with_augmentation_is_bitwise(data_dir, tmp_path):
    # 89 steps per epoch; the rate halves at each epoch (staircase): step 89 ends both. The first run stops at 86.
    augmented = {"input.flip": True, "input.color_distortion": True}
    recipe = {"schedule.epochs_per_decay": 1.0, "schedule.decay_rate": 0.5, **augmented}
    common = {"checkpoint_every_steps": 43, "eval_every_steps": 94, "log_every_steps": 43, **recipe}
    _train(data_dir, tmp_path / "uninterrupted", 94, **common)
    _train(data_dir, tmp_path / "resumed", 86, **common)
    assert _steps(tmp_path / "resumed") == [43, 86]
    _train(data_dir, tmp_path / "resumed", 94, **common)
    rates = {r["step"]: r["train/lr"] for r in read_metrics(str(tmp_path / "resumed")) if "train/lr" in r}
    assert rates[94] == pytest.approx(rates[86] / 2)  # the boundary was crossed after resuming
    jax.tree.map(
        np.testing.assert_array_equal,
        jax.device_get(final_state(tmp_path / "resumed")),
        jax.device_get(final_state(tmp_path / "uninterrupted")),
    )


def test_the_fault_injection_command_kills_runs_during_saves_and_loses_none(data_dir, tmp_path):
    # Two trials: one killed at a random moment, one as the save of a random step starts (seed 1: step 8's).
    done = subprocess.run(
        [sys.executable, "-m", "inception_jax.faults", "--trials=2", "--steps=8", "--seed=1"]
        + [f"--data_dir={data_dir}", f"--root={tmp_path}", f"--json={tmp_path / 'faults.json'}"],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    trials = json.loads((tmp_path / "faults.json").read_text())["trials"]
    assert [t["resumed_exactly"] for t in trials] == [True, True]
    aimed = trials[1]
    assert aimed["aimed_at_save"] and aimed["killed_during_save"] and aimed["resumed_from_step"] > 0, aimed
    header, _, row = done.stdout.strip().splitlines()[-3:]
    summary = dict(zip(header.strip("| ").split(" | "), map(int, row.strip("| ").split(" | ")), strict=True))
    assert summary["trials"] == 2 and summary["lost"] == 0 and summary["resumed exactly"] == 2, summary
    assert summary["killed during a save"] >= 1 and summary["rerun from a checkpoint"] >= 1, summary


def _awkward_images() -> dict[str, bytes]:
    """A folder's worth of what real image folders hold: every mode PIL writes, three files that do not decode,
    and a non-image."""
    pixels = np.random.default_rng(5).integers(0, 256, (12, 10, 3), dtype=np.uint8)

    def encoded(image, image_format):
        buffer = io.BytesIO()
        image.save(buffer, image_format)
        return buffer.getvalue()

    rgb = Image.fromarray(pixels)
    jpeg = encoded(rgb, "JPEG")
    return {
        "good.jpg": jpeg,
        "grey.png": encoded(rgb.convert("L"), "PNG"),
        "rgba.png": encoded(rgb.convert("RGBA"), "PNG"),
        "cmyk.jpg": encoded(rgb.convert("CMYK"), "JPEG"),
        "palette.png": encoded(rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16), "PNG"),
        "sixteen_bit.png": encoded(Image.fromarray(pixels[:, :, 0].astype(np.uint16) * 257 + 100), "PNG"),
        "truncated.jpg": jpeg[: len(jpeg) // 2],
        "empty.jpg": b"",
        "random_bytes.png": np.random.default_rng(6).bytes(300),
        "notes.txt": b"not an image",  # left out by its extension
    }


UNDECODABLE = ("empty.jpg", "random_bytes.png", "truncated.jpg")


def test_image_folders_read_every_decodable_image_as_rgb_and_name_the_files_that_do_not_decode(tmp_path, caplog):
    files = _awkward_images()
    decodable = sorted(name for name in files if name not in UNDECODABLE and name != "notes.txt")
    for directory in (tmp_path / "fid", tmp_path / "train" / "things", tmp_path / "test" / "things"):
        directory.mkdir(parents=True)
        for name, data in files.items():
            (directory / name).write_bytes(data)

    # The pixels every reader must give: PIL's RGB; 16-bit greyscale by its high byte (PIL's convert clips it).
    def pil_rgb(name):
        with Image.open(io.BytesIO(files[name])) as image:
            if image.mode.startswith("I;16"):
                return np.repeat((np.asarray(image).astype(np.uint16) >> 8).astype(np.uint8)[..., None], 3, axis=-1)
            return np.asarray(image.convert("RGB"))

    for name in decodable:  # training, evaluation and predict decode with decode_rgb
        np.testing.assert_array_equal(np.asarray(preprocessing.decode_rgb(files[name])), pil_rgb(name), err_msg=name)
    assert pil_rgb("sixteen_bit.png").max() > 0 and pil_rgb("sixteen_bit.png").min() < 255  # not clipped white

    # fid: the first undecodable file stops it, named; skipping counts them.
    with pytest.raises(ValueError, match=r"empty\.jpg does not decode as an image.*--skip_undecodable"):
        list(fid.read_images(tmp_path / "fid"))
    with caplog.at_level(logging.WARNING):
        images = list(fid.read_images(tmp_path / "fid", skip_undecodable=True))
    assert "Skipped 3 of 9 files" in caplog.text and all(name in caplog.text for name in UNDECODABLE)
    for name, image in zip(decodable, images, strict=True):
        np.testing.assert_array_equal(image, pil_rgb(name), err_msg=name)

    # predict: the file named.
    spec = InputSpec(image_size=8)
    for name in UNDECODABLE:
        with pytest.raises(ValueError, match=rf"{re.escape(name)} does not decode as an image"):
            predict.prepared_image(str(tmp_path / "fid" / name), spec)

    # Training and evaluation folders: every undecodable file of the split named; skipping counts them.
    config = digits_input(8, dataset="folder", folder=str(tmp_path), batch_size=8, eval_batch_size=8)
    with pytest.raises(
        ValueError,
        match=r"3 of 9 images in .*/train do not decode: .*empty\.jpg.*random_bytes.*"
        r"truncated\.jpg.*skip_undecodable=True",
    ):
        pipeline.dataset_info(config)
    config.skip_undecodable = True
    info = pipeline.dataset_info(config)
    assert (info.num_train_examples, info.num_eval_examples) == (len(decodable), len(decodable)) == (6, 6)


def _truncated_copy(source, target) -> str:
    data = pathlib.Path(source).read_bytes()
    pathlib.Path(target).write_bytes(data[: len(data) // 2])
    return str(target)


def test_truncated_weights_files_are_refused_naming_the_file_and_nothing_is_converted(tmp_path):
    """Each format's reader on a file cut in half; another network's file and missing keys are refused by each
    converter's own tests (WeightMismatchError naming the keys: test_convert_timm, _torchvision, _keras, _slim)."""
    from safetensors.numpy import save_file  # noqa: PLC0415
    from test_convert_slim import save_checkpoint, slim_variables  # noqa: PLC0415

    from inception_jax.convert import from_keras, from_slim, from_timm, from_torchvision  # noqa: PLC0415
    from inception_jax.convert.torch_files import TorchFileError  # noqa: PLC0415

    save_file({"conv1.weight": np.zeros((64, 3, 7, 7), np.float32)}, str(tmp_path / "whole.safetensors"))
    cut = _truncated_copy(tmp_path / "whole.safetensors", tmp_path / "model.safetensors")
    with pytest.raises(ValueError, match=rf"Cannot read {re.escape(cut)}: it is not a safetensors file, or it is dam"):
        from_timm("inception_v3", cut)

    cut = _truncated_copy(pathlib.Path(REPO, "tests", "fixtures", "torch_files", "checkpoint.pth"), tmp_path / "m.pth")
    with pytest.raises(TorchFileError, match=rf"Cannot read {re.escape(cut)}"):
        from_torchvision("resnet18", cut)

    import h5py  # noqa: PLC0415  (the Keras converter's optional dependency)

    with h5py.File(tmp_path / "whole.h5", "w") as file:
        file["dense/kernel"] = np.zeros((2048, 10), np.float32)
    cut = _truncated_copy(tmp_path / "whole.h5", tmp_path / "model.weights.h5")
    with pytest.raises(ValueError, match=rf"Cannot read {re.escape(cut)}: it is not an HDF5 \(\.h5\) weights file"):
        from_keras("inception_v3", cut)

    model = inception_jax.create_model("inception_v4", num_classes=1001, aux_head=True)
    prefix = str(tmp_path / "model.ckpt")
    save_checkpoint(prefix, slim_variables("inception_v4", random_variables(model, model.min_size)))
    data = next(path for path in tmp_path.iterdir() if path.name.startswith("model.ckpt.data"))
    _truncated_copy(data, data)
    with pytest.raises(ValueError, match=rf"Cannot read the slim checkpoint {re.escape(prefix)}: it is damaged"):
        from_slim("inception_v4", prefix, keep_background=True)
