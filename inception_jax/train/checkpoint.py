"""Training checkpoints with auto-resume: an Orbax `CheckpointManager` under `WORKDIR/checkpoints`, last N kept.

Each step holds the whole train state (params, batch_stats, optimizer state, EMA, step) and a JSON record with
the input position and the config (`artifacts.checkpoint_record`). What is rebuilt from them, and standalone
weights, live in `inception_jax.artifacts`.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import orbax.checkpoint as ocp

_STATE, _META = "state", "meta"


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


class TrainCheckpoints:
    """Saves and restores the train state under `workdir/checkpoints`; the newest step is resumed."""

    def __init__(self, workdir: str, max_to_keep: int = 3):
        self.directory = os.path.join(os.path.abspath(workdir), "checkpoints")
        self.manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True),
            item_handlers={_STATE: ocp.StandardCheckpointHandler(), _META: ocp.JsonCheckpointHandler()},
        )

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

    def state_metadata(self, step: int):
        """Shapes and dtypes of the train state saved at `step`, without reading it."""
        return self.manager.item_metadata(step)[_STATE]

    def save(self, step: int, state, meta: dict[str, Any]) -> None:
        """Starts an asynchronous save; `wait()` blocks until it is on disk."""
        self.manager.save(
            step, args=ocp.args.Composite(**{_STATE: ocp.args.StandardSave(state), _META: ocp.args.JsonSave(meta)})
        )

    def wait(self) -> None:
        self.manager.wait_until_finished()

    def read_meta(self, step: int | None = None) -> dict[str, Any]:
        """The JSON record saved with `step` (default: latest): its config and input position, without the state."""
        step = self.manager.latest_step() if step is None else step
        return self.manager.restore(step, args=ocp.args.Composite(**{_META: ocp.args.JsonRestore()}))[_META]

    def restore(self, abstract_state, step: int | None = None):
        """Restores `(state, meta)` of `step` (default: latest) into `abstract_state`'s structure and shardings.

        A checkpoint of another model or configuration raises a ValueError naming the mismatched leaves.
        """
        step = self.manager.latest_step() if step is None else step
        stored = self.state_metadata(step)
        mismatch = _describe_mismatch(abstract_state, stored)
        if mismatch:
            raise ValueError(
                f"The checkpoint at {self.directory} (step {step}) does not fit this model and "
                f"optimizer: {mismatch}. Use a fresh --workdir, or the config that wrote it."
            )
        restored = self.manager.restore(
            step,
            args=ocp.args.Composite(
                **{_STATE: ocp.args.StandardRestore(abstract_state), _META: ocp.args.JsonRestore()}
            ),
        )
        return restored[_STATE], restored[_META]

    def close(self) -> None:
        self.manager.wait_until_finished()
        self.manager.close()
