"""PyTorch's files read without PyTorch: `torch.save` files (the zip layout since PyTorch 1.6, and the older
pickle-then-storages layout) and TorchScript archives (`torch.jit.save`), tensors coming back as numpy arrays.

    state_dict = load_state_dict("resnet50-0676ba61.pth")    # {"conv1.weight": ndarray, ...}

Each format is a pickle whose tensors point at raw storages by a persistent id: records `<archive>/data/<key>` of
the zip, or, in the older layout, blocks that follow the pickle in the same file. The pickle is read by an
unpickler that knows only what a state_dict is made of (tensors, parameters, storages, ordered dicts, and in
TorchScript archives the modules' own classes, rebuilt as plain attribute holders); any other class, which a
pickle could use to run code, is refused. Tensors are cut out of their storages with their offset and strides
(views, transposes and slices all share one storage), bounds-checked, and copied into arrays of their own.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import pickle
import struct
import zipfile
from typing import Any, Mapping

import numpy as np

# The first two pickles of the older layout: a magic number, then the protocol version.
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001

# Storage classes as pickled (`torch.FloatStorage`, ...) and their element types.
_STORAGE_DTYPES = {
    "DoubleStorage": "<f8",
    "FloatStorage": "<f4",
    "HalfStorage": "<f2",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
    "ComplexFloatStorage": "<c8",
    "ComplexDoubleStorage": "<c16",
}


class TorchFileError(ValueError):
    """A file that is not a PyTorch file this reader understands, or that holds something else than tensors."""


@dataclasses.dataclass(frozen=True)
class _StorageType:
    name: str

    @property
    def dtype(self) -> np.dtype:
        code = _STORAGE_DTYPES[self.name]
        if code == "bfloat16":
            import ml_dtypes  # noqa: PLC0415  (installed with jax; needed only for bfloat16 tensors)

            return np.dtype(ml_dtypes.bfloat16)
        return np.dtype(code)


@dataclasses.dataclass(frozen=True)
class _Storage:
    """A storage named in the pickle, read once the pickle is done (in the older layout, it follows it)."""

    key: str
    type: _StorageType


@dataclasses.dataclass(frozen=True)
class _Tensor:
    """A tensor as the pickle describes it: a strided view of a storage."""

    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]


def _rebuild_tensor(storage, offset, shape, strides, *_):  # torch._utils._rebuild_tensor(_v2)
    return _Tensor(storage, int(offset), tuple(shape), tuple(strides))


def _rebuild_parameter(data, *_):  # torch._utils._rebuild_parameter(_with_state): the tensor inside
    return data


class ScriptModule:
    """A TorchScript module or object, as pickled: its attributes (tensors, submodules, settings), nothing else."""

    def __setstate__(self, state):
        self.__dict__["_state"] = state

    @property
    def attributes(self) -> dict:
        state = self.__dict__.get("_state")
        return state if isinstance(state, dict) else {}

    def __repr__(self):
        return f"<{type(self).__module__}.{type(self).__qualname__}>"


# Globals a state_dict's pickle may name, and what they become here.
_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
}
# TorchScript's own helpers for typed lists and type tags.
_SCRIPT_GLOBALS = {
    **{("torch.jit._pickle", f"build_{kind}list"): list for kind in ("int", "double", "bool", "tensor")},
    ("torch.jit._pickle", "restore_type_tag"): lambda value, _type: value,
}


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, script: bool = False):
        super().__init__(file)
        self.script = script
        self.script_classes: dict[tuple[str, str], type] = {}
        self.storages: list[_Storage] = []  # every storage the pickle refers to

    def find_class(self, module: str, name: str):
        if (module, name) in _GLOBALS:
            return _GLOBALS[module, name]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if self.script and (module, name) in _SCRIPT_GLOBALS:
            return _SCRIPT_GLOBALS[module, name]
        if self.script and (module == "__torch__" or module.startswith("__torch__.")):  # the archive's classes
            key = (module, name)
            if key not in self.script_classes:
                self.script_classes[key] = type(name, (ScriptModule,), {"__module__": module})
            return self.script_classes[key]
        raise TorchFileError(
            f"it names {module}.{name}, which is not part of a state_dict, so it was not read "
            "(loading it could run arbitrary code). Save the weights alone: "
            "torch.save(model.state_dict(), path)."
        )

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage" and isinstance(pid[1], _StorageType)):
            raise TorchFileError(f"it refers to {pid!r}, which is not a tensor storage.")
        if len(pid) > 5 and pid[5] is not None:
            raise TorchFileError(
                "it stores views of storages (PyTorch before 0.4); load it with PyTorch and save it again."
            )
        storage = _Storage(str(pid[2]), pid[1])
        self.storages.append(storage)
        return storage


def load(path: str | os.PathLike) -> Any:
    """What a `torch.save` file holds (dicts, lists, numbers, tensors as numpy arrays), or for a TorchScript
    archive its root `ScriptModule`, whose tensors `script_state_dict` collects."""
    path = os.fspath(path)
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                return _load_zip(archive)
        with open(path, "rb") as file:
            return _load_legacy(file)
    except TorchFileError as error:
        raise TorchFileError(f"Cannot read {path}: {error}") from None
    except (pickle.UnpicklingError, EOFError, struct.error, KeyError) as error:
        raise TorchFileError(f"Cannot read {path}: it is not a PyTorch file, or it is damaged ({error}).") from error


def load_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The state_dict in a `.pth`/`.pt`/`.bin` file as numpy arrays: a saved state_dict, a training checkpoint
    that keeps it under "state_dict" (timm), or a TorchScript archive (keys as `module.state_dict()` has them)."""
    loaded = load(path)
    if isinstance(loaded, ScriptModule):
        return script_state_dict(loaded)
    if isinstance(loaded, Mapping) and isinstance(loaded.get("state_dict"), Mapping):
        loaded = loaded["state_dict"]
    if not isinstance(loaded, Mapping) or not all(isinstance(value, np.ndarray) for value in loaded.values()):
        kinds = sorted({type(value).__name__ for value in loaded.values()}) if isinstance(loaded, Mapping) else []
        raise TorchFileError(
            f"{os.fspath(path)} holds a {type(loaded).__name__}"
            + (f" of {', '.join(kinds)}" if kinds else "")
            + ", not a state_dict of tensors. "
            "Save model.state_dict() instead."
        )
    return dict(loaded)


def script_state_dict(module: ScriptModule, prefix: str = "") -> dict[str, np.ndarray]:
    """Every tensor of a TorchScript module tree, keyed by its attribute path (`layers.conv.weight`)."""
    state_dict = {}
    for name, value in module.attributes.items():
        if isinstance(value, np.ndarray):
            state_dict[prefix + name] = value
        elif isinstance(value, ScriptModule):
            state_dict.update(script_state_dict(value, f"{prefix}{name}."))
    return state_dict


def _load_zip(archive: zipfile.ZipFile) -> Any:
    names = set(archive.namelist())
    pickles = sorted(name for name in names if name.count("/") == 1 and name.endswith("/data.pkl"))
    if not pickles:
        raise TorchFileError(
            "it is a zip file without <archive>/data.pkl, so not a PyTorch file (or one "
            "from before PyTorch 1.4's TorchScript format)."
        )
    root = pickles[0].split("/")[0]
    script = f"{root}/constants.pkl" in names or any(name.startswith(f"{root}/code/") for name in names)
    big_endian = f"{root}/byteorder" in names and archive.read(f"{root}/byteorder").strip() == b"big"
    with archive.open(pickles[0]) as file:
        loaded = _Unpickler(file, script=script).load()

    def read(storage: _Storage) -> np.ndarray:
        return _array(archive.read(f"{root}/data/{storage.key}"), storage.type.dtype, big_endian)

    return _materialize(loaded, read)


def _load_legacy(file) -> Any:
    # The older layout: pickled magic number, protocol version and system info, then the object, then the list
    # of storage keys, then each storage in that order as an int64 element count followed by its bytes.
    if _Unpickler(file).load() != _LEGACY_MAGIC:
        raise TorchFileError("it is neither a zip file nor a file that torch.save wrote.")
    protocol, info = _Unpickler(file).load(), _Unpickler(file).load()
    if protocol != _LEGACY_PROTOCOL or not isinstance(info, dict):
        raise TorchFileError(f"it uses torch.save's protocol {protocol!r}; only {_LEGACY_PROTOCOL} is known.")
    byte_order = "<" if info.get("little_endian", True) else ">"
    unpickler = _Unpickler(file)
    loaded = unpickler.load()
    types = {storage.key: storage.type for storage in unpickler.storages}
    storages = {}
    for key in _Unpickler(file).load():
        if str(key) not in types:
            raise TorchFileError(f"it stores a storage {key!r} that no tensor uses.")
        count = struct.unpack(f"{byte_order}q", file.read(8))[0]
        dtype = types[str(key)].dtype
        data = file.read(count * dtype.itemsize)
        if count < 0 or len(data) != count * dtype.itemsize:
            raise TorchFileError(f"storage {key!r} is cut short.")
        storages[str(key)] = _array(data, dtype, big_endian=byte_order == ">")
    return _materialize(loaded, lambda storage: storages[storage.key])


def _array(data: bytes, dtype: np.dtype, big_endian: bool) -> np.ndarray:
    """A storage's bytes as a flat array of `dtype` (native byte order)."""
    if dtype.itemsize > 1 and big_endian:
        return np.frombuffer(data, dtype.newbyteorder(">")).astype(dtype)
    return np.frombuffer(data, dtype)


def _materialize(obj: Any, read) -> Any:
    """`obj` with each `_Tensor` replaced by a numpy array cut out of its storage (`read(storage)`)."""
    storages: dict[_Storage, np.ndarray] = {}

    def tensor(ref: _Tensor) -> np.ndarray:
        if ref.storage not in storages:
            storages[ref.storage] = read(ref.storage)
        flat = storages[ref.storage]
        if len(ref.strides) != len(ref.shape) or min(ref.strides, default=0) < 0 or ref.offset < 0:
            raise TorchFileError(f"a tensor has shape {ref.shape}, strides {ref.strides}, offset {ref.offset}.")
        if 0 in ref.shape:
            return np.zeros(ref.shape, flat.dtype)
        # The last element the view reaches must lie inside the storage: as_strided does not check.
        last = ref.offset + sum((size - 1) * stride for size, stride in zip(ref.shape, ref.strides))
        if last >= flat.size:
            raise TorchFileError(f"a tensor of shape {ref.shape} reaches element {last} of a storage of {flat.size}.")
        view = np.lib.stride_tricks.as_strided(
            flat[ref.offset :], ref.shape, tuple(stride * flat.itemsize for stride in ref.strides), writeable=False
        )
        return np.array(view, order="C")  # a contiguous copy that owns its memory

    def walk(value):
        if isinstance(value, _Tensor):
            return tensor(value)
        if isinstance(value, dict):  # OrderedDict keeps its type (and `_metadata`)
            for key in list(value):
                value[key] = walk(value[key])
            return value
        if isinstance(value, list):
            value[:] = [walk(item) for item in value]
            return value
        if isinstance(value, tuple):
            return tuple(walk(item) for item in value)
        if isinstance(value, ScriptModule):
            walk(value.attributes)
        return value

    return walk(obj)
