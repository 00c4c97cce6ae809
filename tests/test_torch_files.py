"""PyTorch's files read without PyTorch: files real PyTorch wrote (fixtures/make_torch_file_fixtures.py) come
back exactly as PyTorch reads them, and a pickle that names anything but tensors is refused before it runs."""

import struct
import zipfile

import numpy as np
import pytest
from fixtures import torch_writer
from fixtures.timm_weights import FIXTURES

from inception_jax.convert import torch_files
from inception_jax.convert.torch_files import TorchFileError

FILES = FIXTURES / "torch_files"


@pytest.fixture(scope="module")
def expected():
    return dict(np.load(FILES / "expected.npz"))


def assert_same(read: dict, expected: dict, prefix: str) -> None:
    """`read` holds exactly the tensors PyTorch read (`expected`'s `prefix/...`), in PyTorch's order, with
    PyTorch's dtypes, each a contiguous array of its own."""
    assert list(read) == [key.removeprefix(f"{prefix}/") for key in expected if key.startswith(f"{prefix}/")]
    for key, value in read.items():
        want = expected[f"{prefix}/{key}"]
        assert str(value.dtype) == str(expected[f"dtype/{prefix}/{key}"]), key
        # bfloat16 is compared through float32, as PyTorch wrote it to the npz.
        assert value.shape == want.shape and np.array_equal(value.astype(want.dtype), want), key
        assert value.flags.c_contiguous and value.flags.owndata, key


def test_zip_checkpoint_reads_as_pytorch_reads_it(expected):
    loaded = torch_files.load(FILES / "checkpoint.pth")
    assert loaded["epoch"] == 3
    assert_same(torch_files.load_state_dict(FILES / "checkpoint.pth"), expected, "tensors")


def test_views_come_out_with_their_offset_and_strides():
    state_dict = torch_files.load_state_dict(FILES / "checkpoint.pth")
    base = state_dict["float32"]
    assert np.array_equal(state_dict["transposed"], base.T)
    assert np.array_equal(state_dict["offset_view"], base[1:, 2:5])
    assert np.array_equal(state_dict["every_other"], base[:, ::2])
    assert state_dict["int64_scalar"].shape == () and int(state_dict["int64_scalar"]) == 1234567890123


def test_legacy_layout_reads_as_pytorch_reads_it(expected):
    assert_same(torch_files.load_state_dict(FILES / "legacy.pth"), expected, "tensors")


def test_torchscript_archive_gives_its_state_dict(expected):
    assert_same(torch_files.load_state_dict(FILES / "script.pt"), expected, "script")
    module = torch_files.load(FILES / "script.pt")
    assert module.attributes["features"].attributes["0"].attributes["padding"] == [1, 2]


def test_tests_writer_gives_files_the_reader_reads_back(tmp_path):
    arrays = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array(7, np.int64)}
    torch_writer.save({"state_dict": arrays}, tmp_path / "w.pth")
    read = torch_files.load_state_dict(tmp_path / "w.pth")
    assert list(read) == ["a", "b"] and all(np.array_equal(read[k], v) for k, v in arrays.items())


def write_pickle(path, data: bytes, storage: bytes = b"") -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", data)
        archive.writestr("archive/data/0", storage)


def test_a_pickle_naming_any_other_callable_is_refused_before_it_runs(tmp_path):
    # os.system("touch <file>"): the classic pickle exploit.
    marker = tmp_path / "ran"
    command = f"touch {marker}".encode()
    data = b"\x80\x02cos\nsystem\nX" + struct.pack("<I", len(command)) + command + b"\x85R."
    write_pickle(tmp_path / "evil.pth", data)
    with pytest.raises(TorchFileError, match=r"names os\.system, which is not part of a state_dict"):
        torch_files.load(tmp_path / "evil.pth")
    assert not marker.exists()


def test_a_tensor_reaching_past_its_storage_is_refused(tmp_path):
    # A float tensor of 100 elements over a storage record of 4: as_strided would read past the buffer.
    tensor = torch_writer._tensor(np.zeros(100, np.float32), "0")
    write_pickle(tmp_path / "short.pth", b"\x80\x02" + tensor + b".", np.zeros(4, np.float32).tobytes())
    with pytest.raises(TorchFileError, match="reaches element 99 of a storage of 4"):
        torch_files.load(tmp_path / "short.pth")


def test_files_that_are_not_pytorchs_say_so(tmp_path):
    (tmp_path / "random.pth").write_bytes(np.random.default_rng(0).bytes(100))
    with pytest.raises(TorchFileError, match="not a PyTorch file"):
        torch_files.load(tmp_path / "random.pth")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(TorchFileError, match="without <archive>/data.pkl"):
        torch_files.load(tmp_path / "other.zip")


def test_a_whole_pickled_model_is_refused_with_what_to_do(tmp_path):
    # torch.save(model) pickles the model's class by reference.
    write_pickle(tmp_path / "model.pth", b"\x80\x02ctorchvision.models.resnet\nResNet\n)\x81.")
    with pytest.raises(TorchFileError, match=r"ResNet.*torch\.save\(model\.state_dict\(\), path\)"):
        torch_files.load_state_dict(tmp_path / "model.pth")
