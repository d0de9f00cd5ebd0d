"""The MNIST handwritten-digit database (LeCun, Cortes, Burges) from its standard IDX files.

The four files may be gzip-compressed (``*.gz``) or raw. Integrity is checked on the *uncompressed* IDX
bytes, so the same digest accepts the raw file and any gzip of it (re-compressed archives have different
``.gz`` digests but the same content). The directory comes from an argument or ``DORLAB_MNIST_DIR``; there
is no built-in default path.
"""
from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ENVIRONMENT_VARIABLE = "DORLAB_MNIST_DIR"

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
FILE_NAMES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

# SHA-256 of the uncompressed standard files. Their MD5s (6bbc9ace..., a25bea73..., 2646ac64..., 27ae3e4e...)
# are the ones published with the database; these digests were computed from those same bytes.
SHA256 = {
    TRAIN_IMAGES: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    TRAIN_LABELS: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    TEST_IMAGES: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    TEST_LABELS: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

# IDX type codes (third byte of the magic number) -> numpy dtype (big-endian)
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class MnistNotFoundError(FileNotFoundError):
    """The MNIST directory or one of its four files is missing."""


class MnistChecksumError(ValueError):
    """A file's content does not match its recorded SHA-256."""


class IdxFormatError(ValueError):
    """A file is not a well-formed IDX file."""


@dataclass(frozen=True)
class MnistData:
    """Images as uint8 arrays (N, 28, 28), labels as uint8 arrays (N,)."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    directory: Path


def mnist_directory(directory: str | os.PathLike | None = None) -> Path:
    """The MNIST directory: the argument if given, else ``$DORLAB_MNIST_DIR``."""
    if directory is None:
        directory = os.environ.get(ENVIRONMENT_VARIABLE)
        if not directory:
            raise MnistNotFoundError(
                f"MNIST directory not given: pass it (e.g. --mnist-dir) or set {ENVIRONMENT_VARIABLE} to a "
                f"directory holding {', '.join(FILE_NAMES)} (each raw or .gz)"
            )
    path = Path(directory).expanduser()
    if not path.is_dir():
        raise MnistNotFoundError(
            f"MNIST directory {str(path)!r} does not exist (from argument or {ENVIRONMENT_VARIABLE}); it must "
            f"hold {', '.join(FILE_NAMES)} (each raw or .gz)"
        )
    return path


def _find_file(directory: Path, name: str) -> Path:
    for candidate in (directory / f"{name}.gz", directory / name):
        if candidate.is_file():
            return candidate
    raise MnistNotFoundError(
        f"{name}(.gz) not found in {str(directory)!r}; {ENVIRONMENT_VARIABLE} must name a directory holding "
        f"{', '.join(FILE_NAMES)} (each raw or .gz)"
    )


def read_idx_bytes(path: str | os.PathLike) -> bytes:
    """The uncompressed bytes of an IDX file, gzip detected from its magic bytes, not its name."""
    with open(path, "rb") as handle:
        head = handle.read(2)
    opener = gzip.open if head == b"\x1f\x8b" else open
    with opener(path, "rb") as handle:
        return handle.read()


def parse_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decode IDX bytes (magic 0x0000TTDD, big-endian dimensions) into an array."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise IdxFormatError(f"{source}: not an IDX file (magic bytes {data[:4]!r})")
    type_code, ndim = data[2], data[3]
    if type_code not in _IDX_DTYPES:
        raise IdxFormatError(f"{source}: unknown IDX type code 0x{type_code:02X}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IdxFormatError(f"{source}: truncated header ({len(data)} bytes, need {header})")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[type_code])
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise IdxFormatError(f"{source}: {len(data)} bytes, but shape {shape} of {dtype} needs {expected}")
    return np.frombuffer(data, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def load_idx(path: str | os.PathLike, sha256: str | None = None) -> np.ndarray:
    """Read one IDX file (raw or gzip); when ``sha256`` is given, check the uncompressed content first."""
    data = read_idx_bytes(path)
    if sha256 is not None:
        digest = hashlib.sha256(data).hexdigest()
        if digest != sha256.lower():
            raise MnistChecksumError(
                f"{path}: SHA-256 of the uncompressed content is {digest}, expected {sha256} "
                "(corrupted or not the standard file)"
            )
    return parse_idx(data, str(path))


def load_mnist(directory: str | os.PathLike | None = None, *,
               checksums: dict[str, str] | None = SHA256) -> MnistData:
    """Load the four MNIST files from ``directory`` (or ``$DORLAB_MNIST_DIR``).

    ``checksums`` maps each base file name to the SHA-256 of its uncompressed content (default: the
    standard digests); ``None`` skips the check (for files one made oneself).
    """
    path = mnist_directory(directory)
    arrays = {}
    for name in FILE_NAMES:
        digest = None if checksums is None else checksums[name]
        arrays[name] = load_idx(_find_file(path, name), digest)
    data = MnistData(arrays[TRAIN_IMAGES], arrays[TRAIN_LABELS], arrays[TEST_IMAGES], arrays[TEST_LABELS], path)
    for split, images, labels in (("train", data.train_images, data.train_labels),
                                  ("test", data.test_images, data.test_labels)):
        if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
            raise IdxFormatError(f"{split}: images {images.shape} and labels {labels.shape} do not match")
    return data


def encode_idx(array: np.ndarray) -> bytes:
    """The IDX encoding (header + big-endian payload) of ``array``."""
    array = np.asarray(array)
    codes = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_DTYPES.items()}
    dtype = array.dtype.newbyteorder("=")
    if dtype not in codes:
        raise ValueError(f"dtype {array.dtype} has no IDX type code (allowed: uint8, int8, int16, int32, float32, float64)")
    header = bytes([0, 0, codes[dtype], array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return header + array.astype(dtype.newbyteorder(">")).tobytes()


def write_idx(path: str | os.PathLike, array: np.ndarray, *, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file (gzip when the name ends in .gz unless ``compress`` says otherwise)."""
    path = Path(path)
    if compress is None:
        compress = path.suffix == ".gz"
    with (gzip.open if compress else open)(path, "wb") as handle:
        handle.write(encode_idx(array))
    return path


def idx_sha256(array: np.ndarray) -> str:
    """SHA-256 of the IDX encoding of ``array`` (what ``load_mnist`` checks)."""
    return hashlib.sha256(encode_idx(array)).hexdigest()


def train_validation_split(n_images: int, n_validation: int = 12_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random indices (train, validation) of ``n_images`` (60 000 -> 48 000 / 12 000)."""
    if not 0 < n_validation < n_images:
        raise ValueError(f"n_validation={n_validation} must be between 0 and n_images={n_images}")
    order = np.random.default_rng(seed).permutation(n_images)
    return np.sort(order[n_validation:]), np.sort(order[:n_validation])
