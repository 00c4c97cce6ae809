"""Training checkpoints with auto-resume: an Orbax `CheckpointManager` under `WORKDIR/checkpoints`, last N kept.

Each saved step holds three items:
    weights     raw and EMA parameters and BatchNorm statistics (`state.weights_of`): what evaluation reads
    optimizer   the step and the optimizer state (`state.optimizer_of`): what resuming adds
    meta        JSON: the config and the input position (`checkpoint_record`)
Runs written before the weights had an item of their own hold one `state` item instead; they restore too (the
weights alone, or the whole state), and their next save is in the new layout.

Resuming takes the newest step that reads back whole (`restore_newest_intact`): a damaged newer step (a file
truncated or removed) is moved to `WORKDIR/checkpoints_damaged/`, never deleted, and the run goes on from the
step before it. Orbax writes each step into a temporary directory renamed when complete, so a save killed half
way leaves no step to resume from.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Callable, Mapping
from typing import Any

import jax
import ml_collections
import orbax.checkpoint as ocp

from inception_jax import spec as spec_lib
from inception_jax.train.state import TrainState, optimizer_of, weights_of

_WEIGHTS, _OPTIMIZER, _META = "weights", "optimizer", "meta"
_LEGACY_STATE = "state"  # the whole train state in one item, as runs saved it before the split
DAMAGED_DIRECTORY = "checkpoints_damaged"


class CheckpointWriteError(OSError):
    """Writing a checkpoint failed (a full disk, a quota, an I/O error); the steps written before it are intact."""


class CheckpointMismatchError(ValueError):
    """A checkpoint of another model or configuration: every step of the run would refuse it the same way."""


def checkpoint_record(step: int, data_step: int, config: ml_collections.ConfigDict) -> dict[str, Any]:
    """The JSON saved with each training checkpoint: the input position and the config."""
    return {"step": int(step), "data_step": int(data_step), "config": spec_lib.encode(config.to_dict())}


def config_from_record(record: Mapping[str, Any]) -> ml_collections.ConfigDict:
    """The config of a `checkpoint_record`, with its tuples back as tuples."""
    return ml_collections.ConfigDict(spec_lib.decode(record["config"]))


def data_step_from_record(record: Mapping[str, Any]) -> int:
    """Where the input pipeline resumes: the batches consumed when the checkpoint was written."""
    return int(record.get("data_step", record["step"]))


def _describe_mismatch(expected, found) -> str:
    """Names the leaves that differ between two trees of arrays/shape structs, for error messages."""

    def name(key) -> str:  # Orbax stores dataclasses and namedtuples as dicts: compare bare names.
        for attr in ("name", "key", "idx"):
            if hasattr(key, attr):
                return str(getattr(key, attr))
        return str(key)

    def flat(tree):
        return {
            "/".join(map(name, path)): tuple(leaf.shape) for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]
        }

    want, got = flat(expected), flat(found)
    missing = sorted(set(want) - set(got))
    unexpected = sorted(set(got) - set(want))
    reshaped = sorted(k for k in set(want) & set(got) if want[k] != got[k])
    parts = []
    for label, keys, show in (
        ("missing", missing, str),
        ("unexpected", unexpected, str),
        ("shape differs", reshaped, lambda k: f"{k}: checkpoint {got[k]} vs model {want[k]}"),
    ):
        if keys:
            listed = "; ".join(show(k) for k in keys[:8])
            parts.append(f"{len(keys)} {label} (e.g. {listed}{' …' if len(keys) > 8 else ''})")
    return ", ".join(parts)


def _restore_args(abstract) -> ocp.args.PyTreeRestore:
    """Reads the legacy `state` item into `abstract`'s structure and shardings; stored leaves it lacks (the
    optimizer's, when only the weights are asked for) stay unread."""
    return ocp.args.PyTreeRestore(
        abstract, restore_args=ocp.checkpoint_utils.construct_restore_args(abstract), partial_restore=True
    )


class TrainCheckpoints:
    """Saves and restores the train state under `workdir/checkpoints`; the newest step is resumed."""

    def __init__(self, workdir: str, max_to_keep: int = 3):
        self.directory = os.path.join(os.path.abspath(workdir), "checkpoints")
        self.manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True),
            item_handlers={
                _WEIGHTS: ocp.StandardCheckpointHandler(),
                _OPTIMIZER: ocp.StandardCheckpointHandler(),
                _META: ocp.JsonCheckpointHandler(),
                _LEGACY_STATE: ocp.PyTreeCheckpointHandler(),  # partial reads: the weights without the optimizer
            },
        )
        self._write_failed = False

    @classmethod
    def of_existing_run(cls, workdir: str) -> "TrainCheckpoints":
        """The checkpoints of a finished or running training run; refuses a directory without any."""
        if not os.path.isdir(os.path.join(workdir, "checkpoints")):  # checked first: opening would create it
            raise FileNotFoundError(
                f"{workdir} holds no training checkpoints; pass the --workdir of a run of "
                f"`python -m inception_jax.main`, or train one there first."
            )
        return cls(workdir)

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def resolve_step(self, step: int | None = None) -> int:
        """`step` if it was saved, or the latest saved step when `step` is None; errors list the saved steps."""
        saved = sorted(self.manager.all_steps())
        if not saved:
            raise FileNotFoundError(f"{self.directory} holds no finished checkpoint yet.")
        if step is None:
            return saved[-1]
        if step not in saved:
            raise ValueError(
                f"{self.directory} has no checkpoint at step {step}; its steps are {saved}. "
                f"Pass one of them, or none for the latest."
            )
        return step

    def _stored(self, step: int) -> tuple[bool, Any]:
        """Whether `step` predates the weights' own item (one `state` item then), and its items' metadata.

        Read once per call site: Orbax reads every item's metadata from disk each time it is asked.
        """
        metadata = self.manager.item_metadata(step)
        return metadata.get(_WEIGHTS) is None, metadata

    def weights_metadata(self, step: int):
        """Shapes and dtypes of the weights saved at `step` (`params`, `batch_stats`, ...), without reading them."""
        legacy, metadata = self._stored(step)
        return metadata[_LEGACY_STATE if legacy else _WEIGHTS]

    def save(self, step: int, state: TrainState, meta: dict[str, Any]) -> None:
        """Starts an asynchronous save; `wait()` blocks until it is on disk.

        A failed write (this one's start, or the previous asynchronous one's) raises `CheckpointWriteError`.
        """
        with self._writing():
            self.manager.save(
                step,
                args=ocp.args.Composite(
                    **{
                        _WEIGHTS: ocp.args.StandardSave(weights_of(state)),
                        _OPTIMIZER: ocp.args.StandardSave(optimizer_of(state)),
                        _META: ocp.args.JsonSave(meta),
                    }
                ),
            )

    def wait(self) -> None:
        with self._writing():
            self.manager.wait_until_finished()

    @contextlib.contextmanager
    def _writing(self):
        """Turns a write's failure into a `CheckpointWriteError` naming the directory and the newest intact step."""
        try:
            yield
        except CheckpointWriteError:
            raise
        except Exception as error:
            self._write_failed = True
            self.manager.reload()
            intact = self.manager.latest_step()
            raise CheckpointWriteError(
                f"Writing a checkpoint to {self.directory} failed: {_first_line(error)}. The checkpoints written "
                f"before it are intact (newest: {'none' if intact is None else f'step {intact}'}); free space there, "
                f"or copy the run to another --workdir, and rerun the same command to resume."
            ) from error

    def read_meta(self, step: int | None = None) -> dict[str, Any]:
        """The JSON record saved with `step` (default: latest): its config and input position, without the state."""
        step = self.manager.latest_step() if step is None else step
        return self.manager.restore(step, args=ocp.args.Composite(**{_META: ocp.args.JsonRestore()}))[_META]

    def _check_fits(self, pairs, step: int, what: str) -> None:
        """Raises naming the leaves where each (abstract tree, stored metadata) pair differs."""
        mismatch = ", ".join(filter(None, (_describe_mismatch(abstract, stored) for abstract, stored in pairs)))
        if mismatch:
            raise CheckpointMismatchError(
                f"The checkpoint at {self.directory} (step {step}) does not fit this {what}: {mismatch}. "
                f"Use a fresh --workdir, or the config that wrote it."
            )

    def restore_weights(self, abstract_weights: dict, step: int | None = None) -> dict:
        """The weights (`state.weights_of`'s dict) of `step` (default: latest), in `abstract_weights`' shardings.

        Reads neither the optimizer state nor anything that needs an optimizer to be built.
        """
        step = self.manager.latest_step() if step is None else step
        legacy, metadata = self._stored(step)
        if legacy:
            stored = metadata[_LEGACY_STATE]
            self._check_fits([(abstract_weights, {field: stored[field] for field in abstract_weights})], step, "model")
            return self.manager.restore(
                step, args=ocp.args.Composite(**{_LEGACY_STATE: _restore_args(abstract_weights)})
            )[_LEGACY_STATE]
        self._check_fits([(abstract_weights, metadata[_WEIGHTS])], step, "model")
        return self.manager.restore(
            step, args=ocp.args.Composite(**{_WEIGHTS: ocp.args.StandardRestore(abstract_weights)})
        )[_WEIGHTS]

    def restore(self, abstract_state: TrainState, step: int | None = None) -> tuple[TrainState, dict[str, Any]]:
        """Restores `(state, meta)` of `step` (default: latest) into `abstract_state`'s structure and shardings.

        A checkpoint of another model or configuration raises a ValueError naming the mismatched leaves.
        """
        step = self.manager.latest_step() if step is None else step
        meta = ocp.args.JsonRestore()
        legacy, metadata = self._stored(step)
        if legacy:
            self._check_fits([(abstract_state, metadata[_LEGACY_STATE])], step, "model and optimizer")
            restored = self.manager.restore(
                step, args=ocp.args.Composite(**{_LEGACY_STATE: _restore_args(abstract_state), _META: meta})
            )
            return restored[_LEGACY_STATE], restored[_META]
        abstract_weights, abstract_optimizer = weights_of(abstract_state), optimizer_of(abstract_state)
        self._check_fits(
            [(abstract_weights, metadata[_WEIGHTS]), (abstract_optimizer, metadata[_OPTIMIZER])],
            step,
            "model and optimizer",
        )
        restored = self.manager.restore(
            step,
            args=ocp.args.Composite(
                **{
                    _WEIGHTS: ocp.args.StandardRestore(abstract_weights),
                    _OPTIMIZER: ocp.args.StandardRestore(abstract_optimizer),
                    _META: meta,
                }
            ),
        )
        return TrainState(**restored[_WEIGHTS], **restored[_OPTIMIZER]), restored[_META]

    def restore_newest_intact(
        self, abstract_state: TrainState, check_record: Callable[[dict[str, Any]], None] = lambda record: None
    ) -> tuple[TrainState, dict[str, Any]]:
        """`restore` of the newest step that reads back whole; `check_record(meta)` vets each step's record first.

        A step that fails to read (a truncated or missing file, unreadable JSON) is moved to `checkpoints_damaged/`
        beside the checkpoints, with a warning naming it and the step resumed instead. Errors of `check_record`
        and `CheckpointMismatchError` (the run's config or model differs) are raised as they are: an older step
        would not fix them.
        """
        damaged = []
        for step in sorted(self.manager.all_steps(), reverse=True):
            try:
                record = self.read_meta(step)
            except Exception as error:  # noqa: BLE001  (Orbax and TensorStore raise many kinds for a bad file)
                damaged.append((step, error))
                continue
            check_record(record)
            try:
                restored = self.restore(abstract_state, step)
            except CheckpointMismatchError:
                raise
            except Exception as error:  # noqa: BLE001
                damaged.append((step, error))
                continue
            self._move_aside(damaged, f"resuming from step {step} instead")
            return restored
        listed = "; ".join(f"step {step}: {_first_line(error)}" for step, error in damaged)
        raise RuntimeError(
            f"No checkpoint in {self.directory} reads back ({listed}). They are left as they are; start the run "
            f"in a fresh --workdir, or copy an intact step back into {self.directory}."
        )

    def _move_aside(self, damaged: list[tuple[int, Exception]], instead: str) -> None:
        """Moves each damaged step to `checkpoints_damaged/STEP` (process 0; the others wait), warning per step."""
        if not damaged:
            return
        aside = os.path.join(os.path.dirname(self.directory), DAMAGED_DIRECTORY)
        for step, error in damaged:
            target, copies = os.path.join(aside, str(step)), 1
            while os.path.exists(target):  # an earlier damaged copy of the same step: keep both
                target, copies = os.path.join(aside, f"{step}.{copies}"), copies + 1
            logging.warning(
                "The checkpoint of step %d in %s does not read back (%s); %s. Step %d is kept, moved to %s.",
                step,
                self.directory,
                _first_line(error),
                instead,
                step,
                target,
            )
            if jax.process_index() == 0:
                os.makedirs(aside, exist_ok=True)
                shutil.move(os.path.join(self.directory, str(step)), target)
        if jax.process_count() > 1:
            from jax.experimental import multihost_utils  # noqa: PLC0415

            multihost_utils.sync_global_devices("damaged checkpoints moved aside")
        self.manager.reload()

    def read_saved(self, step: int, sharding: jax.sharding.Sharding | None = None) -> dict[str, Any]:
        """Everything saved at `step` as plain nested dicts (`params`, ..., `step`, `opt_state`), each array placed
        with `sharding` (default: the first local device), whatever mesh saved it: for inspecting and comparing
        checkpoints without the model or optimizer that wrote them."""
        sharding = sharding or jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
        legacy, metadata = self._stored(step)
        items = (_LEGACY_STATE,) if legacy else (_WEIGHTS, _OPTIMIZER)
        abstract = {
            item: jax.tree.map(
                lambda leaf: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=sharding), metadata[item]
            )
            for item in items
        }
        read = _restore_args if legacy else ocp.args.StandardRestore
        restored = self.manager.restore(step, args=ocp.args.Composite(**{item: read(abstract[item]) for item in items}))
        return {key: value for item in items for key, value in restored[item].items()}

    def close(self) -> None:
        reported = self._write_failed  # raised already: a repeat here would hide the first report
        try:
            self.wait()
        except CheckpointWriteError:
            if not reported:
                raise
        finally:
            self.manager.close()


def _first_line(error: Exception) -> str:
    """The error's type and first line, its middle cut when long (TensorStore's put the cause at the end)."""
    lines = str(error).strip().splitlines()
    line = lines[0] if lines else ""
    return f"{type(error).__name__}: {line if len(line) <= 600 else line[:300] + ' … ' + line[-300:]}"
