"""The IDX loader on small files the tests write themselves: round trip, gzip and raw, checksums, errors."""
from __future__ import annotations

import gzip

import numpy as np
import pytest

from dorlab.compute import mnist


def _write_set(directory, *, compress=True, n_train=7, n_test=3, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {
        mnist.TRAIN_IMAGES: rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        mnist.TRAIN_LABELS: rng.integers(0, 10, n_train, dtype=np.uint8),
        mnist.TEST_IMAGES: rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        mnist.TEST_LABELS: rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for name, array in arrays.items():
        mnist.write_idx(directory / (name + (".gz" if compress else "")), array)
    return arrays, {name: mnist.idx_sha256(array) for name, array in arrays.items()}


@pytest.mark.parametrize("compress", [True, False])
def test_round_trip_with_checksums(tmp_path, compress):
    arrays, digests = _write_set(tmp_path, compress=compress)
    data = mnist.load_mnist(tmp_path, checksums=digests)
    np.testing.assert_array_equal(data.train_images, arrays[mnist.TRAIN_IMAGES])
    np.testing.assert_array_equal(data.train_labels, arrays[mnist.TRAIN_LABELS])
    np.testing.assert_array_equal(data.test_images, arrays[mnist.TEST_IMAGES])
    np.testing.assert_array_equal(data.test_labels, arrays[mnist.TEST_LABELS])
    assert data.train_images.dtype == np.uint8


def test_idx_header_is_the_standard_layout(tmp_path):
    path = mnist.write_idx(tmp_path / "x", np.arange(6, dtype=np.uint8).reshape(2, 3), compress=False)
    raw = path.read_bytes()
    assert raw[:4] == bytes([0, 0, 0x08, 2])
    assert raw[4:12] == bytes([0, 0, 0, 2, 0, 0, 0, 3])
    assert raw[12:] == bytes(range(6))
    int_path = mnist.write_idx(tmp_path / "y", np.array([1, -2], dtype=np.int32), compress=False)
    assert int_path.read_bytes() == bytes([0, 0, 0x0C, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFE])
    np.testing.assert_array_equal(mnist.load_idx(int_path), [1, -2])


def test_gzip_detected_by_content_not_name(tmp_path):
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    path = tmp_path / "named-raw-but-gzipped"
    path.write_bytes(gzip.compress(mnist.encode_idx(array)))
    np.testing.assert_array_equal(mnist.load_idx(path), array)


def test_checksum_mismatch_names_the_file(tmp_path):
    _, digests = _write_set(tmp_path)
    bad = dict(digests)
    bad[mnist.TEST_LABELS] = "0" * 64
    with pytest.raises(mnist.MnistChecksumError, match=mnist.TEST_LABELS):
        mnist.load_mnist(tmp_path, checksums=bad)


def test_standard_digests_reject_other_content(tmp_path):
    _write_set(tmp_path)
    with pytest.raises(mnist.MnistChecksumError, match="SHA-256"):
        mnist.load_mnist(tmp_path)  # the default digests are the real MNIST files'


def test_corrupted_payload_detected(tmp_path):
    arrays, digests = _write_set(tmp_path, compress=False)
    path = tmp_path / mnist.TRAIN_IMAGES
    raw = bytearray(path.read_bytes())
    raw[100] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(mnist.MnistChecksumError):
        mnist.load_mnist(tmp_path, checksums=digests)


def test_missing_directory_names_variable_and_files(tmp_path, monkeypatch):
    monkeypatch.delenv(mnist.ENVIRONMENT_VARIABLE, raising=False)
    with pytest.raises(mnist.MnistNotFoundError) as info:
        mnist.load_mnist()
    message = str(info.value)
    assert "DORLAB_MNIST_DIR" in message
    for name in mnist.FILE_NAMES:
        assert name in message
    monkeypatch.setenv(mnist.ENVIRONMENT_VARIABLE, str(tmp_path / "nowhere"))
    with pytest.raises(mnist.MnistNotFoundError, match="nowhere"):
        mnist.load_mnist()


def test_missing_file_named(tmp_path, monkeypatch):
    _, digests = _write_set(tmp_path)
    (tmp_path / (mnist.TEST_IMAGES + ".gz")).unlink()
    monkeypatch.setenv(mnist.ENVIRONMENT_VARIABLE, str(tmp_path))
    with pytest.raises(mnist.MnistNotFoundError, match=mnist.TEST_IMAGES):
        mnist.load_mnist(checksums=digests)


def test_environment_variable_used(tmp_path, monkeypatch):
    arrays, digests = _write_set(tmp_path)
    monkeypatch.setenv(mnist.ENVIRONMENT_VARIABLE, str(tmp_path))
    data = mnist.load_mnist(checksums=digests)
    assert data.directory == tmp_path
    np.testing.assert_array_equal(data.test_images, arrays[mnist.TEST_IMAGES])


def test_malformed_idx_rejected(tmp_path):
    path = tmp_path / "bad"
    path.write_bytes(bytes([0, 0, 0x08, 1, 0, 0, 0, 5, 1, 2]))  # says 5 bytes, holds 2
    with pytest.raises(mnist.IdxFormatError, match="needs"):
        mnist.load_idx(path)
    path.write_bytes(b"PK\x03\x04")
    with pytest.raises(mnist.IdxFormatError, match="not an IDX"):
        mnist.load_idx(path)


def test_labels_and_images_must_agree(tmp_path):
    arrays, digests = _write_set(tmp_path)
    mnist.write_idx(tmp_path / (mnist.TRAIN_LABELS + ".gz"), np.zeros(2, np.uint8))
    with pytest.raises(mnist.IdxFormatError, match="train"):
        mnist.load_mnist(tmp_path, checksums=None)


def test_split_is_seeded_and_disjoint():
    train, validation = mnist.train_validation_split(60_000, 12_000, seed=3)
    assert train.size == 48_000 and validation.size == 12_000
    assert np.intersect1d(train, validation).size == 0
    again, _ = mnist.train_validation_split(60_000, 12_000, seed=3)
    np.testing.assert_array_equal(train, again)
    with pytest.raises(ValueError, match="n_validation"):
        mnist.train_validation_split(10, 10)


@pytest.mark.slow
def test_real_mnist_checksums(mnist_dir):
    """The recorded digests match the real files (reads DORLAB_MNIST_DIR, which CI sets)."""
    data = mnist.load_mnist(mnist_dir)
    assert data.train_images.shape == (60_000, 28, 28) and data.test_images.shape == (10_000, 28, 28)
    assert np.bincount(data.test_labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
