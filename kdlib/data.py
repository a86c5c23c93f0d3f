"""MNIST-style data sets as in-memory tensors: find the files, verify them, read them.

Sources are tried in this order, for each data set:

1. an explicit root: the ``root`` argument, else the ``KDLIB_DATA`` environment
   variable (torchvision layout ``<root>/MNIST/raw/...`` or the IDX files
   directly in ``<root>``, gzipped or not);
2. the folder where a system package installs the files
   (Debian/Ubuntu: ``apt-get install dataset-fashion-mnist`` puts
   Fashion-MNIST in ``/usr/share/datasets/fashion-mnist``);
3. ``<project>/data`` in torchvision layout (where step 4 downloads to);
4. a torchvision download into ``<project>/data`` (needs internet; skipped when
   ``download=False`` or ``KDLIB_DOWNLOAD=0``).

A source that holds none of a data set's files is passed over. A source that
holds some of them must hold all of them, each with its canonical SHA-256
(computed on the uncompressed bytes); anything else is an error that names the
file. Nothing falls back silently to other data.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import torch

from kdlib.store import project_root


class DataError(RuntimeError):
    """A data file exists but is corrupt, truncated or not the expected file."""


class DataNotFoundError(FileNotFoundError):
    """No source holds the data set."""


SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclass(frozen=True)
class DatasetSpec:
    """What identifies a data set: its files' digests, class names, where it lives."""

    name: str
    torchvision_name: str  # folder name and class in torchvision.datasets
    classes: tuple[str, ...]
    sha256: dict[str, str]  # uncompressed file name -> digest
    system_dir: Path | None  # where a system package installs the files
    system_hint: str  # how to get it from a system package ("" when none ships it)


DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist",
        torchvision_name="MNIST",
        classes=tuple(str(d) for d in range(10)),
        sha256={
            "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
        system_dir=None,
        system_hint="",
    ),
    "fashion-mnist": DatasetSpec(
        name="fashion-mnist",
        torchvision_name="FashionMNIST",
        classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        sha256={
            "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
        system_dir=Path("/usr/share/datasets/fashion-mnist"),
        system_hint="apt-get install dataset-fashion-mnist (Debian/Ubuntu)",
    ),
}


@dataclass(frozen=True)
class Split:
    """One split of a data set, held in memory."""

    images: torch.Tensor  # uint8, N x 1 x 28 x 28
    labels: torch.Tensor  # int64, N
    classes: tuple[str, ...]
    source: Path  # folder the files were read from

    def __len__(self) -> int:
        return len(self.labels)


def read_idx(path: Path, expected_sha256: str | None = None) -> torch.Tensor:
    """Read an IDX file (gzipped if its name ends in .gz) into a uint8 tensor.

    The header gives the shape; the length must match it exactly. With
    ``expected_sha256``, the uncompressed bytes must have that digest.
    """
    path = Path(path)
    fix = f"delete {path} and fetch the file again (see kdlib.data for the sources)"
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise DataError(f"{path}: cannot decompress ({err}); {fix}") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path}: not an IDX file of unsigned bytes (magic number "
                        f"{raw[:4].hex() or 'missing'}, expected 000008xx); {fix}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DataError(f"{path}: IDX header is truncated or has {ndim} dimensions; {fix}")
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    expected_len = header + int(torch.tensor(shape).prod())
    if len(raw) != expected_len:
        state = "truncated" if len(raw) < expected_len else "too long"
        raise DataError(f"{path}: file is {state}: header shape {shape} needs "
                        f"{expected_len} bytes, found {len(raw)}; {fix}")
    if expected_sha256 is not None:
        digest = hashlib.sha256(raw).hexdigest()
        if digest != expected_sha256:
            raise DataError(f"{path}: SHA-256 of the uncompressed data is {digest}, "
                            f"expected {expected_sha256}: this is not the canonical file; {fix}")
    return torch.frombuffer(bytearray(raw[header:]), dtype=torch.uint8).reshape(shape)


def _candidate_dirs(spec: DatasetSpec, root: Path | None) -> list[tuple[str, Path]]:
    """The (label, folder) pairs to look in, in order."""
    dirs: list[tuple[str, Path]] = []
    if root is not None:
        dirs += [("explicit root", root / spec.torchvision_name / "raw"), ("explicit root", root)]
    if spec.system_dir is not None:
        dirs.append(("system package", spec.system_dir))
    dirs.append(("project data folder", download_dir() / spec.torchvision_name / "raw"))
    return dirs


def _file_in(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def download_dir() -> Path:
    """Where torchvision downloads go: ``<project>/data``."""
    return project_root() / "data"


def _torchvision_download(spec: DatasetSpec) -> None:
    import torchvision.datasets as tvd

    dataset_class = getattr(tvd, spec.torchvision_name)
    for train in (True, False):
        dataset_class(root=str(download_dir()), train=train, download=True)


def _look(spec: DatasetSpec, root: Path | None, tried: list[str]) -> dict[str, Path] | None:
    """The data set's files in the first source that has any of them; None if none has."""
    for label, folder in _candidate_dirs(spec, root):
        found = {f: _file_in(folder, f) for f in spec.sha256}
        present = {f: p for f, p in found.items() if p is not None}
        if not present:
            tried.append(f"{label}: {folder} (no files)")
            continue
        missing = sorted(set(found) - set(present))
        if missing:
            raise DataNotFoundError(
                f"{spec.name}: {folder} holds only part of the data set; missing "
                f"{', '.join(missing)} (plain or .gz). Complete or remove that folder.")
        return present
    return None


def find_files(name: str, root: str | Path | None = None, download: bool = True) -> dict[str, Path]:
    """Locate the four files of data set ``name``; see the module docstring for the order."""
    spec = dataset_spec(name)
    root_value = root if root is not None else os.environ.get("KDLIB_DATA") or None
    root_path = Path(root_value).expanduser() if root_value is not None else None
    tried: list[str] = []
    files = _look(spec, root_path, tried)
    if files is not None:
        return files
    if not download or os.environ.get("KDLIB_DOWNLOAD", "1") == "0":
        tried.append("torchvision download: disabled (download=False or KDLIB_DOWNLOAD=0)")
    else:
        try:
            _torchvision_download(spec)
            files = _look(spec, root_path, [])
        except Exception as err:  # noqa: BLE001 - reported below with the sources tried
            tried.append(f"torchvision download into {download_dir()}: failed "
                         f"({type(err).__name__}: {err})")
        if files is not None:
            return files
    raise DataNotFoundError(
        f"data set {spec.name!r} was not found. Sources tried, in order:\n  - "
        + "\n  - ".join(tried)
        + f"\nTo provide it: set KDLIB_DATA (or pass root=) to a folder holding "
        f"{spec.torchvision_name}/raw/<IDX files> or the IDX files themselves; "
        + (f"or {spec.system_hint}; " if spec.system_hint else "")
        + "or run once with internet access so torchvision can download it.")


def dataset_spec(name: str) -> DatasetSpec:
    """The spec of a known data set, or a ValueError that lists the known ones."""
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {sorted(DATASETS)}")
    return DATASETS[name]


@functools.lru_cache(maxsize=8)
def _read_split(images_path: Path, labels_path: Path, images_sha: str, labels_sha: str
                ) -> tuple[torch.Tensor, torch.Tensor]:
    images = read_idx(images_path, images_sha)
    labels = read_idx(labels_path, labels_sha)
    if images.dim() != 3 or labels.dim() != 1 or len(images) != len(labels):
        raise DataError(f"{images_path} and {labels_path} do not form a data set: "
                        f"images {list(images.shape)}, labels {list(labels.shape)}")
    return images.unsqueeze(1), labels.long()


def load(name: str, split: str, root: str | Path | None = None, download: bool = True) -> Split:
    """Data set ``name`` ("mnist", "fashion-mnist"), split "train" or "test", verified, in memory."""
    spec = dataset_spec(name)
    if split not in SPLIT_FILES:
        raise ValueError(f"unknown split {split!r}; choose 'train' or 'test'")
    files = find_files(name, root, download)
    images_name, labels_name = SPLIT_FILES[split]
    images, labels = _read_split(files[images_name], files[labels_name],
                                 spec.sha256[images_name], spec.sha256[labels_name])
    if int(labels.max()) >= len(spec.classes):
        raise DataError(f"{files[labels_name]}: label {int(labels.max())} is out of range "
                        f"for {len(spec.classes)} classes")
    return Split(images, labels, spec.classes, files[images_name].parent)
