"""The data layer on small synthetic IDX files, and on the real data sets when present."""

from __future__ import annotations

import gzip
import hashlib
import struct
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from kdlib import data

N = 12


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX encoding written independently of the reader: magic, big-endian dims, bytes."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def digests(arrays: dict[str, np.ndarray]) -> dict[str, str]:
    return {k: hashlib.sha256(idx_bytes(v)).hexdigest() for k, v in arrays.items()}


@pytest.fixture
def arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, (N, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, N, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (N // 2, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, N // 2, dtype=np.uint8),
    }


def write_set(folder: Path, arrays: dict[str, np.ndarray], gz: bool) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        raw = idx_bytes(array)
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)


@pytest.fixture
def synthetic(monkeypatch, tmp_path, arrays) -> data.DatasetSpec:
    """A data set 'synthetic' whose canonical digests are those of ``arrays``."""
    spec = data.DatasetSpec(
        name="synthetic", torchvision_name="Synthetic", classes=tuple("abcdefghij"),
        sha256=digests(arrays),
        system_dir=tmp_path / "system", system_hint="install the synthetic package")
    monkeypatch.setitem(data.DATASETS, "synthetic", spec)
    monkeypatch.setattr(data, "download_dir", lambda: tmp_path / "downloads")
    monkeypatch.delenv("KDLIB_DATA", raising=False)
    monkeypatch.delenv("KDLIB_DOWNLOAD", raising=False)
    data._read_split.cache_clear()
    return spec


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("layout", ["torchvision", "flat"])
def test_load_reads_shapes_dtypes_values(tmp_path, arrays, synthetic, gz, layout):
    root = tmp_path / "root"
    write_set(root / "Synthetic" / "raw" if layout == "torchvision" else root, arrays, gz)
    train = data.load("synthetic", "train", root=root, download=False)
    test = data.load("synthetic", "test", root=root, download=False)
    assert train.images.shape == (N, 1, 28, 28) and train.images.dtype == torch.uint8
    assert train.labels.shape == (N,) and train.labels.dtype == torch.int64
    assert test.images.shape == (N // 2, 1, 28, 28)
    np.testing.assert_array_equal(train.images[:, 0].numpy(), arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(test.labels.numpy(), arrays["t10k-labels-idx1-ubyte"])
    assert train.classes == tuple("abcdefghij")


def test_read_idx_of_other_shapes(tmp_path):
    values = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "x").write_bytes(idx_bytes(values))
    np.testing.assert_array_equal(data.read_idx(tmp_path / "x").numpy(), values)


def test_source_order_root_then_system_then_download_folder(tmp_path, arrays, synthetic, monkeypatch):
    flipped = {k: (255 - v if "images" in k else v) for k, v in arrays.items()}
    write_set(tmp_path / "system", arrays, gz=True)
    write_set(tmp_path / "downloads" / "Synthetic" / "raw", arrays, gz=False)
    # An explicit root that does not have the data set is passed over: the system folder serves.
    empty = tmp_path / "empty"
    empty.mkdir()
    assert data.load("synthetic", "train", root=empty, download=False).source == tmp_path / "system"
    # Without the system folder, the project's download folder serves.
    monkeypatch.setitem(data.DATASETS, "synthetic", replace(synthetic, system_dir=tmp_path / "nowhere"))
    assert data.load("synthetic", "train", download=False).source == tmp_path / "downloads" / "Synthetic" / "raw"
    # An explicit root with the data set wins, also when given by KDLIB_DATA.
    write_set(tmp_path / "mine", flipped, gz=False)
    monkeypatch.setitem(data.DATASETS, "synthetic", replace(synthetic, sha256=digests(flipped)))
    monkeypatch.setenv("KDLIB_DATA", str(tmp_path / "mine"))
    found = data.load("synthetic", "train", download=False)
    assert found.source == tmp_path / "mine"
    np.testing.assert_array_equal(found.images[:, 0].numpy(), flipped["train-images-idx3-ubyte"])


def test_download_is_tried_last_and_its_files_used(tmp_path, arrays, synthetic, monkeypatch):
    calls = []

    def fake_download(spec):
        calls.append(spec.name)
        write_set(tmp_path / "downloads" / "Synthetic" / "raw", arrays, gz=True)

    monkeypatch.setattr(data, "_torchvision_download", fake_download)
    split = data.load("synthetic", "test")
    assert calls == ["synthetic"] and len(split) == N // 2


def test_missing_data_set_lists_sources_and_how_to_fix(tmp_path, synthetic, monkeypatch):
    def failing_download(spec):
        raise RuntimeError("no network")

    monkeypatch.setattr(data, "_torchvision_download", failing_download)
    with pytest.raises(data.DataNotFoundError) as info:
        data.load("synthetic", "train", root=tmp_path / "root")
    message = str(info.value)
    for expected in ("explicit root", "system package", "project data folder", "no network",
                     "KDLIB_DATA", "install the synthetic package"):
        assert expected in message
    with pytest.raises(data.DataNotFoundError, match="download: disabled"):
        data.load("synthetic", "train", download=False)
    monkeypatch.setenv("KDLIB_DOWNLOAD", "0")
    with pytest.raises(data.DataNotFoundError, match="download: disabled"):
        data.load("synthetic", "train")


def test_partial_data_set_names_missing_file(tmp_path, arrays, synthetic):
    write_set(tmp_path / "root", arrays, gz=False)
    (tmp_path / "root" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(data.DataNotFoundError, match="missing t10k-labels-idx1-ubyte"):
        data.load("synthetic", "train", root=tmp_path / "root", download=False)


def corrupt(path: Path, kind: str) -> None:
    raw = path.read_bytes()
    if kind == "magic":
        path.write_bytes(b"\x00\x00\x09\x03" + raw[4:])
    elif kind == "truncated":
        path.write_bytes(raw[:-100])
    elif kind == "checksum":
        path.write_bytes(raw[:-1] + bytes([(raw[-1] + 1) % 256]))


@pytest.mark.parametrize("kind, message", [("magic", "not an IDX file"), ("truncated", "truncated"),
                                           ("checksum", "SHA-256")])
def test_bad_file_raises_error_naming_file(tmp_path, arrays, synthetic, kind, message):
    write_set(tmp_path / "root", arrays, gz=False)
    bad = tmp_path / "root" / "train-images-idx3-ubyte"
    corrupt(bad, kind)
    with pytest.raises(data.DataError, match=message) as info:
        data.load("synthetic", "train", root=tmp_path / "root", download=False)
    assert str(bad) in str(info.value) and "delete" in str(info.value)


def test_corrupt_gzip_raises(tmp_path, arrays, synthetic):
    write_set(tmp_path / "root", arrays, gz=True)
    bad = tmp_path / "root" / "train-labels-idx1-ubyte.gz"
    bad.write_bytes(bad.read_bytes()[:20])
    with pytest.raises(data.DataError, match="cannot decompress"):
        data.load("synthetic", "train", root=tmp_path / "root", download=False)


def test_label_out_of_range_raises(tmp_path, arrays, monkeypatch, synthetic):
    arrays = {**arrays, "train-labels-idx1-ubyte": np.full(N, 10, dtype=np.uint8)}
    write_set(tmp_path / "root", arrays, gz=False)
    monkeypatch.setitem(data.DATASETS, "synthetic", replace(synthetic, sha256=digests(arrays)))
    with pytest.raises(data.DataError, match="out of range"):
        data.load("synthetic", "train", root=tmp_path / "root", download=False)


def test_unknown_names_raise():
    with pytest.raises(ValueError, match="unknown data set 'cifar'"):
        data.load("cifar", "train")
    with pytest.raises(ValueError, match="unknown split 'val'"):
        data.load("mnist", "val")


def real(name: str, split: str) -> data.Split:
    try:
        return data.load(name, split, download=False)
    except data.DataNotFoundError as err:
        pytest.skip(f"{name} not available here: {err}")


@pytest.mark.parametrize("name, first_train, first_test, train_counts", [
    ("mnist", 5, 7, [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]),
    ("fashion-mnist", 9, 9, [6000] * 10),
])
def test_real_data_sets(name, first_train, first_test, train_counts):
    train, test = real(name, "train"), real(name, "test")
    assert train.images.shape == (60_000, 1, 28, 28) and test.images.shape == (10_000, 1, 28, 28)
    assert int(train.labels[0]) == first_train and int(test.labels[0]) == first_test
    assert torch.bincount(train.labels).tolist() == train_counts
