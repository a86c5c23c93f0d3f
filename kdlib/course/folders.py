"""Where the course's commands may write: one rule for every folder a command fills.

- A folder given on the command line is never empty text, a file, a dangling link, or one of the
  course's own folders (the repository root, ``notebooks/``, ``kdlib/``, ``docs/``, ``pretrained/``, ``tests/``).
- A command that fills an ``--out`` folder keeps a ledger there (``.kdlib-written.json``): every file it
  wrote with its SHA-256, and the sub-folders it owns whole. It replaces or deletes only what its ledger lists,
  only inside the folder, and never a file whose bytes changed since it wrote them (a student's answers, an
  edited report): such a file is refused by name, with the fix.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath

from kdlib.store import atomic_write, file_sha256, project_root, write_json

LEDGER = ".kdlib-written.json"
OLDER_MARKERS = {".kdlib-prepared", ".student-edition", ".kdlib-site"}  # what kdlib wrote before the ledger
COURSE_FOLDERS = ("", "notebooks", "kdlib", "docs", "pretrained", "tests")  # relative to the repository root


def writable_folder(path: str | Path, what: str) -> Path:
    """``path`` as a folder this process can write into (created if missing), or a ValueError naming it."""
    if str(path).strip() == "":
        raise ValueError(f"{what} is empty: name a folder")
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise ValueError(f"{what} {path} is a symbolic link to {os.readlink(path)}, which does not exist: remove the "
                         f"link, or create the folder it points to")
    if path.exists() and not path.is_dir():
        raise ValueError(f"{what} {path} is a file, not a folder: name a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".kdlib-write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as err:
        raise ValueError(f"{what} {path} cannot be written ({err.strerror}): choose a writable folder") from None
    return path


def output_folder(path: str | Path, what: str) -> Path:
    """``writable_folder``, refusing the course's own folders (a run or a report there would overwrite the course)."""
    if str(path).strip() == "":
        raise ValueError(f"{what} is empty: name a folder")
    resolved, root = Path(path).resolve(), project_root().resolve()
    for name in COURSE_FOLDERS:
        if resolved == (root / name).resolve():
            raise ValueError(f"{what} {path} is the course's own folder {name or 'the repository root'}: what the "
                             f"command writes would replace the course's files; give a folder of its own, e.g. "
                             f"runs/NAME or build/NAME")
    return writable_folder(path, what)


class Ledger:
    """What one command wrote into its output folder, so that it replaces or deletes nothing else."""

    def __init__(self, folder: str | Path, command: str, what: str = "--out", exclusive: bool = False) -> None:
        """Open (or start) the ledger of ``command`` in ``folder``. ``exclusive``: the folder must hold nothing
        but what the ledger lists (a command that empties and refills its folder)."""
        self.folder, self.command, self.what = output_folder(folder, what), command, what
        self.path = self.folder / LEDGER
        self.files: dict[str, str] = {}  # name -> SHA-256; a folder owned whole: name -> "folder"
        if self.path.is_file():
            self._read()
        if exclusive:
            foreign = sorted(p.name for p in self.folder.iterdir()
                             if p.name != LEDGER and p.name not in {PurePosixPath(n).parts[0] for n in self.files})
            if foreign:
                older = " (the marker of an older kdlib: delete the folder, it holds only what kdlib wrote)" \
                    if set(foreign) & OLDER_MARKERS else ""
                raise ValueError(f"{self.folder} holds files that {command} did not write ({', '.join(foreign[:5])})"
                                 f"{older}: give {what} an empty or new folder")

    def _read(self) -> None:
        fix = f"delete {self.path} and give {self.what} an empty or new folder"
        try:
            found = json.loads(self.path.read_text())
            command, files = found["command"], found["files"]
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"{self.path} is damaged (not the ledger kdlib writes): {fix}") from None
        if command != self.command:
            raise ValueError(f"{self.folder} was written by {command}, not {self.command}: give {self.what} "
                             f"another folder")
        for name in files:
            self._inside(name, fix)
        self.files = dict(files)

    def _inside(self, name: str, fix: str = "") -> Path:
        """``folder/name``, refused unless ``name`` is a plain relative path that stays inside the folder."""
        parts = PurePosixPath(name).parts
        if not parts or PurePosixPath(name).is_absolute() or ".." in parts or name != PurePosixPath(name).as_posix():
            raise ValueError(f"{self.path} names {name!r}, a path outside {self.folder}: "
                             f"{fix or 'the ledger was edited'}; nothing was deleted")
        target = self.folder.joinpath(*parts)
        root, parent = self.folder.resolve(), target.parent.resolve()
        if parent != root and root not in parent.parents:  # a sub-folder that is a link to elsewhere
            raise ValueError(f"{self.path} names {name!r}, which leads through a symbolic link to {parent}, outside "
                             f"{self.folder}: remove the link, or give {self.what} another folder; nothing was deleted")
        return target

    def _refuse_foreign(self, name: str) -> Path:
        """The path of ``name``, refused when something is there that this command did not write, or that changed
        since it wrote it."""
        target = self._inside(name)
        if target.is_symlink():
            raise ValueError(f"{target} is a symbolic link, which {self.command} did not make: remove the link, or "
                             f"give {self.what} another folder")
        if not target.exists():
            return target
        recorded = self.files.get(name)
        if recorded is None:
            raise ValueError(f"{target} was not written by {self.command}: move it away, or give {self.what} an "
                             f"empty or new folder")
        if recorded == "folder" and not target.is_dir() or recorded != "folder" and file_sha256(target) != recorded:
            raise ValueError(f"{target} changed since {self.command} wrote it (your edits?): it is kept; move it "
                             f"away, or give {self.what} another folder")
        return target

    def check(self, names: Iterable[str]) -> None:
        """Refuse, before anything is written, any of ``names`` that holds something not this command's."""
        for name in names:
            self._refuse_foreign(name)

    def write(self, name: str, write: Callable[[Path], None]) -> Path:
        """Write ``name`` atomically through ``write(tmp)`` and record its SHA-256."""
        target = self._refuse_foreign(name)
        atomic_write(target, write)
        self.files[name] = file_sha256(target)
        self._save()
        return target

    def folder_of_its_own(self, name: str, holds: Callable[[PurePosixPath], bool] | None = None) -> Path:
        """A sub-folder this command owns whole (e.g. a build's ``html/``), emptied: created, or the one it made.
        ``holds``: which files (paths inside the sub-folder) what fills it writes; any other file there (a user's
        notes) is refused by name before anything is deleted."""
        target = self._refuse_foreign(name)
        if target.exists():  # the folder it made before (``_refuse_foreign`` checked)
            if holds is not None:
                foreign = sorted(str(path.relative_to(target)) for path in target.rglob("*")
                                 if (path.is_file() or path.is_symlink())
                                 and not holds(PurePosixPath(path.relative_to(target).as_posix())))
                if foreign:
                    raise ValueError(f"{target} holds files that {self.command} and the runs it prepares do not "
                                     f"write ({', '.join(foreign[:5])}): move them away, or give {self.what} another "
                                     f"folder; nothing was deleted")
            shutil.rmtree(target)
        target.mkdir(parents=True)
        self.files[name] = "folder"
        self._save()
        return target

    def swap(self, built: str, name: str) -> Path:
        """Put the sub-folder ``built`` (this command's) in the place of ``name`` (this command's, or not there yet);
        the old ``name`` is moved aside first and deleted last, so that a failure leaves one whole folder."""
        new, target = self._refuse_foreign(built), self._refuse_foreign(name)
        if target.exists():
            old = self._refuse_foreign(f"{name}.old")
            if old.exists():
                shutil.rmtree(old)
            self.files[f"{name}.old"] = "folder"
            self._save()
            target.rename(old)
            new.rename(target)
            shutil.rmtree(old)
            del self.files[f"{name}.old"]
        else:
            new.rename(target)
        self.files[name] = "folder"
        del self.files[built]
        self._save()
        return target

    def remove_others(self, keep: Iterable[str]) -> None:
        """Delete what the ledger lists besides ``keep`` (files left from an earlier, larger write), each checked."""
        for name in sorted(set(self.files) - set(keep)):
            target = self._refuse_foreign(name)
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
            del self.files[name]
        self._save()

    def _save(self) -> None:
        write_json(self.path, {"command": self.command, "files": self.files})
