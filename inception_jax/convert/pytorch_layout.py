"""PyTorch state_dicts (timm, torchvision) ↔ Flax arrays: reading the files, and the OIHW/HWIO layouts."""

from __future__ import annotations

import os
from typing import Mapping

import numpy as np

from inception_jax.convert import torch_files


def load_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Reads a state_dict from a `.safetensors` file, or a `.pth`/`.pt`/`.bin` file (`torch.save`'s formats, or a
    TorchScript archive), without PyTorch."""
    path = os.fspath(path)
    if path.endswith(".safetensors"):
        try:
            from safetensors.numpy import load_file  # noqa: PLC0415
        except ImportError as error:
            raise ImportError(
                "Reading .safetensors files needs the safetensors package: pip install safetensors"
            ) from error
        try:
            return load_file(path)
        except Exception as error:  # safetensors' SafetensorError, or an OSError
            raise ValueError(
                f"Cannot read {path}: it is not a safetensors file, or it is damaged ({error})."
            ) from error
    if path.endswith((".pth", ".pt", ".bin")):
        return torch_files.load_state_dict(path)
    raise ValueError(f"Cannot read {path}: expected a .safetensors, .pth, .pt or .bin file.")


def numpy_state_dict(state_dict: Mapping | str | os.PathLike) -> dict[str, np.ndarray]:
    """A state_dict given as a mapping (numpy arrays or CPU torch tensors) or a file, as numpy arrays."""
    if isinstance(state_dict, (str, os.PathLike)):
        state_dict = load_state_dict(state_dict)
    # Torch tensors (detached, on the CPU) convert without importing torch.
    return {
        key: value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
        for key, value in state_dict.items()
    }


def classifier_outputs(state_dict: Mapping[str, np.ndarray], classifier: str) -> int:
    """The class count of the linear layer `classifier` (0 when the state_dict has none)."""
    weight = state_dict.get(f"{classifier}.weight", state_dict.get(f"{classifier}.bias"))
    return 0 if weight is None else weight.shape[0]


def to_flax(array: np.ndarray) -> np.ndarray:
    if array.ndim == 4:
        return array.transpose(2, 3, 1, 0)  # OIHW → HWIO
    return array.T if array.ndim == 2 else array  # linear (out, in) → (in, out)


def from_flax(array: np.ndarray) -> np.ndarray:
    if array.ndim == 4:
        return np.ascontiguousarray(array.transpose(3, 2, 0, 1))  # HWIO → OIHW
    return np.ascontiguousarray(array.T) if array.ndim == 2 else array


def torch_shape(flax_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The PyTorch shape of a Flax kernel or vector of `flax_shape`."""
    if len(flax_shape) == 4:
        height, width, fan_in, fan_out = flax_shape
        return fan_out, fan_in, height, width
    return tuple(reversed(flax_shape))
