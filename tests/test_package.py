"""The package works when installed as a package: a wheel, in a fresh virtual environment outside the checkout."""

import os
import shutil
import subprocess
import sys
import sysconfig
import venv

from train_utils import QUICK, REPO, TINY


def test_the_wheel_trains_the_embedded_default_from_another_directory(tmp_path):
    # A copy of the sources without build outputs: setuptools would otherwise reuse a stale build/ directory.
    source = tmp_path / "source"
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(".*", "build", "dist", "*.egg-info", "runs", "__pycache__", "notebooks"),
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            str(source),
            "-w",
            str(tmp_path / "dist"),
        ],
        check=True,
        cwd=tmp_path,
    )
    (wheel,) = (tmp_path / "dist").glob("inception_jax-*.whl")
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=False)
    python = str(environment / "bin" / "python")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
    )
    # The dependencies come from the test environment's site-packages; its .pth files (the checkout's editable
    # install among them) are not run from a path that a .pth file adds.
    site_packages = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    with open(os.path.join(site_packages, "test_dependencies.pth"), "w") as f:
        f.write(sysconfig.get_paths()["purelib"] + "\n")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH",)}
    where = subprocess.run(
        [python, "-c", "import inception_jax.imagenet as i; print(i.__file__); print(i.class_names(1008)[169])"],
        cwd=elsewhere,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert where.startswith(str(environment)), where
    assert where.splitlines()[1].startswith("giant panda"), where  # the class lists are in the wheel
    overrides = {
        **TINY,
        **QUICK,
        "total_steps": 3,
        "log_every_steps": 3,
        "eval_every_steps": 3,
        "checkpoint_every_steps": 3,
        "input.data_dir": str(tmp_path / "tfds"),
    }
    done = subprocess.run(
        [python, "-m", "inception_jax.main", "--workdir=run"]
        + [f"--config.{key}={value}" for key, value in overrides.items()],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (elsewhere / "run" / "spec.json").exists() and (elsewhere / "run" / "metrics.jsonl").exists()
    assert "Final evaluation: eval/died" in done.stderr
