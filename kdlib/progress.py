"""Progress bars that stay quiet under CI and in batch runs."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def quiet() -> bool:
    """True under CI (``CI`` set) or when ``KDLIB_PROGRESS=0``."""
    return bool(os.environ.get("CI")) or os.environ.get("KDLIB_PROGRESS", "1") == "0"


def progress(iterable: Iterable[T], **kwargs: Any) -> Iterable[T]:
    """``tqdm`` with ``disable`` passed explicitly (``TQDM_DISABLE`` misses notebook widgets)."""
    return tqdm(iterable, disable=quiet(), **kwargs)
