"""The error every converter raises when weights do not fit the network: it names the keys, with counts.

Converters check every name and shape before building any variables, so a mismatch never loads partially.
"""

from __future__ import annotations

from typing import Mapping, Sequence

# Examples listed per kind of problem; the counts always cover all of them.
_SHOWN = 6


class WeightMismatchError(ValueError):
    """Weights whose names or shapes do not fit the network; nothing was converted."""


def check_shapes(
    what: str, expected: Mapping[str, Sequence[int]], found: Mapping[str, Sequence[int]], hint: str = ""
) -> None:
    """Raises `WeightMismatchError` unless `found` has exactly the names of `expected`, with the same shapes.

    `what` says which weights were checked against what ("timm state_dict for inception_v3"); `hint` is appended
    to the message (what to do about it).
    """
    missing = [name for name in expected if name not in found]
    unexpected = [name for name in found if name not in expected]
    reshaped = [
        f"{name} {tuple(found[name])} where {tuple(expected[name])} is needed"
        for name in expected
        if name in found and tuple(found[name]) != tuple(expected[name])
    ]
    problems = [
        _describe(label, names)
        for label, names in (("missing", missing), ("unexpected", unexpected), ("with the wrong shape", reshaped))
        if names
    ]
    if problems:
        raise WeightMismatchError(
            f"The {what} does not fit: {'; '.join(problems)}. Nothing was converted." + (f" {hint}" if hint else "")
        )


def _describe(label: str, names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN]) + (", …" if len(names) > _SHOWN else "")
    return f"{len(names)} {label} ({shown})"
