"""Fixtures the tests share."""

from __future__ import annotations

from pathlib import Path

import pytest

import kdlib.course.lessons as lessons
from lesson_chains import tiny_chain


@pytest.fixture
def two_lessons(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A course of two tiny notebooks (``tiny_chain``) in ``tmp_path / "nbs"``, found by the runner in place of the
    lessons; the folder."""
    folder = tmp_path / "nbs"
    tiny_chain(folder)
    monkeypatch.setattr(lessons, "notebooks_dir", lambda: folder)
    return folder
