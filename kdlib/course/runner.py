"""Run the ordered notebooks with papermill, prepare them for nbval, keep them clean.

The chain is every ``notebooks/NN_*.ipynb`` in order of its number, so a new
notebook joins the runner, CI and the overview without any change here.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import nbformat
from nbclient.exceptions import DeadKernelError
import papermill
from papermill.parameterize import parameterize_notebook
import psutil
from jupyter_client.manager import AsyncKernelManager
from traitlets import CaselessStrEnum, default

from kdlib.course.config import (SETTINGS, check, check_together, machine, profile_values, resolve_device,
                                 resolve_profile)
from kdlib.course.folders import Ledger
from kdlib.course.records import NOTEBOOK, CellTime, NotebookRun, RunDir
from kdlib.course import lessons
from kdlib.course.edition import student_notebook
from kdlib.progress import quiet
from kdlib.store import project_root, write_json


WRITE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}  # a run folder that cannot take
OWN_OPTIONS = {"profile": "--profile", "run_dir": "--run-dir"}  # runner options, not -p parameters


class _SettingsAreKnown(logging.Filter):
    """papermill warns of a parameter a notebook's parameters cell does not list; a setting is not unknown
    there (every notebook reads every setting from its profile), so that warning would mislead."""

    def filter(self, record: logging.LogRecord) -> bool:
        name = record.getMessage().removeprefix("Passed unknown parameter: ")
        return name == record.getMessage() or name not in SETTINGS


logging.getLogger("papermill").addFilter(_SettingsAreKnown())


class IPCKernelManager(AsyncKernelManager):
    """The notebooks' kernel, talking to the runner over local (IPC) sockets: no network port is opened, and the
    kernel has no reason to warn that TCP traffic goes unencrypted. Each kernel's sockets get a path of their own
    in the temporary folder: jupyter_client's default names them after the working folder, where two runs at once
    (a sweep's workers) would take the same sockets."""

    transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

    @default("ip")
    def _own_socket_path(self) -> str:
        return str(Path(tempfile.gettempdir()) / f"kdlib-kernel-{uuid.uuid4().hex}")


def declared_parameters(path: Path) -> set[str]:
    """Names assigned in a notebook's ``parameters`` cell."""
    return set(papermill.inspect_notebook(str(path)))


def check_overrides(paths: list[Path], overrides: dict[str, Any], profile: str | None = None) -> None:
    """Refuse, before anything runs, a name that is neither a setting nor declared by a notebook, a bad value, or
    values that do nothing together with the profile's others (``check_together``)."""
    declared = set().union(*(declared_parameters(p) for p in paths)) if paths else set()
    for name, value in overrides.items():
        if name in OWN_OPTIONS:
            raise ValueError(f"set {name} with {OWN_OPTIONS[name]}, not as a parameter")
        if name not in declared and name not in SETTINGS:
            raise ValueError(f"unknown parameter {name!r}: no setting has that name and no notebook in the chain "
                             f"declares it (settings: {sorted(SETTINGS)})")
        if name == "device":
            resolve_device(value)
        else:
            check(name, value)
    profile = resolve_profile(profile)
    check_together(profile_values(profile, overrides.get("dataset")) | overrides)


def _parameters_for(path: Path, profile: str, run_dir: Path, overrides: dict[str, Any]) -> dict[str, Any]:
    """What papermill gives one notebook: what its parameters cell declares, and every setting (a notebook reads
    any setting from its profile, so a setting given for the chain reaches every notebook that uses it)."""
    declared = declared_parameters(path)
    given = {"profile": profile, "run_dir": str(run_dir), **overrides}
    return {k: v for k, v in given.items() if k in declared or k in SETTINGS}


def select(only: list[str] | None = None, start: str | None = None) -> list[Path]:
    """The notebooks to run: all, those named in ``only``, or ``start`` and every one after it."""
    paths = lessons.notebook_paths()
    names = [p.stem for p in paths]
    if only and start:
        raise ValueError("give --only or --from, not both")
    unknown = sorted((set(only or []) | {start}) - {None} - set(names))
    if unknown:
        raise ValueError(f"unknown notebook(s) {unknown}; the chain has {names}")
    if start:
        return paths[names.index(start):]
    return [p for p in paths if p.stem in only] if only else paths


class PeakMemory:
    """Peak resident memory (MiB) of this process's children, e.g. a notebook's kernel, sampled in a thread."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval, self.peak_mib = interval, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for child in me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:  # the child ended between listing and reading
                    pass
            self.peak_mib = max(self.peak_mib, total / 2**20)
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_chain(profile: str | None = None, run_dir: str | Path | None = None,
              overrides: dict[str, Any] | None = None, update_committed: bool = False,
              record: bool = False, only: list[str] | None = None, start: str | None = None,
              chain: list[Path] | None = None) -> dict[str, float]:
    """Execute every notebook into the run folder, in order; return seconds per notebook.

    Each notebook runs into a ``.partial`` copy that replaces the executed notebook
    only when it finished, so a failed or interrupted run keeps the last good one.
    A failing notebook stops the chain with a ``RuntimeError`` that names it and the
    cell; its executed copy stays beside the good one as ``NAME.failed.ipynb``. With
    ``update_committed`` the executed notebooks, cleaned, replace those in
    ``notebooks/`` (how the committed outputs are made); with ``record`` the timings
    go into ``notebooks/timings.json``, which the overview notebook shows (refused when the run
    folder already holds checkpoints: a run that loads them instead of training is fast). ``only``
    names the notebooks to run (e.g. ``["01_soft_labels"]``), ``start`` the first
    one; default: all; ``chain`` gives the notebooks' paths instead (a sweep's point runs the chain its sweep
    checked). Each notebook's wall time, the peak memory of its kernel and
    the parameters it was given go into a ``NotebookRun`` record, with every code cell's time (the slowest three
    are printed). A progress bar over each notebook's cells shows
    how far it is, except under CI or with ``KDLIB_PROGRESS=0`` (``kdlib.progress.quiet``).
    """
    profile = resolve_profile(profile)
    overrides = dict(overrides or {})
    paths = list(chain) if chain is not None else select(only, start)
    check_overrides(paths, overrides, profile)
    if run_dir is not None and str(run_dir).strip() == "":
        raise ValueError("--run-dir is empty: name a folder, or leave it out for runs/<profile>")
    run = RunDir(Path(run_dir if run_dir is not None else project_root() / "runs" / profile).resolve())
    run.records  # refused now, not after the first notebook ran, when it is a file or cannot be written
    earlier = sorted(p.name for p in run.checkpoints.glob("*.pt"))  # ``checkpoints`` makes the folder if need be
    if record and earlier:
        raise ValueError(f"--record-timings times runs that train, but {run.checkpoints} already holds {len(earlier)} "
                         f"checkpoint(s) from an earlier run (e.g. {earlier[0]}), which the notebooks would load "
                         "instead of training: give a new --run-dir, or leave out --record-timings")
    for path in paths:
        executed_here(run.path / path.name)
    earlier_timings(run.path / "timings.json", paths)
    cells_bar = not quiet()  # the runner's own bar over each notebook's cells, for whoever watches the terminal
    os.environ["KDLIB_PROGRESS"] = "0"  # inside the notebooks: keep progress widgets out of the committed outputs
    timings: dict[str, float] = {}
    for path in paths:
        output, partial = run.path / path.name, run.path / f"{path.stem}.partial.ipynb"
        print(f"[kdlib run] {path.name} (profile {profile}) -> {output}", flush=True)
        began = time.perf_counter()
        parameters = _parameters_for(path, profile, run.path, overrides)
        try:
            with PeakMemory() as memory:
                papermill.execute_notebook(str(path), str(partial), cwd=str(path.parent), progress_bar=cells_bar,
                                           parameters=parameters, kernel_manager_class=IPCKernelManager)
            timings[path.stem] = round(time.perf_counter() - began, 1)
            entry = NotebookRun(path.stem, timings[path.stem], round(memory.peak_mib, 1), parameters,
                                time.strftime("%Y-%m-%dT%H:%M:%S"), machine(parameters.get("device")),
                                cell_times(partial))
            entry.save(run)  # the record first: a failed write keeps the old notebook beside the old record
            partial.replace(output)
        except papermill.PapermillExecutionError as err:
            failed = partial.replace(run.path / f"{path.stem}.failed.ipynb")
            raise RuntimeError(f"{path.name} failed in cell {err.cell_index} (execution count "
                               f"{err.exec_count}): {err.ename}: {err.evalue}\nThe executed notebook "
                               f"is kept at {failed}") from None
        except DeadKernelError:
            failed = partial.replace(run.path / f"{path.stem}.failed.ipynb") if partial.is_file() else None
            raise RuntimeError(f"{path.name}: its kernel died{_last_cell(failed)}, with no Python error: most often "
                               f"the machine ran out of memory (the system's log, e.g. `dmesg`, names the killed "
                               f"process), or the kernel was killed; lower the run's sizes (--profile smoke) or free "
                               f"memory, and run again" + (f"; the executed notebook is kept at {failed}" if failed
                                                           else "")) from None
        except OSError as err:
            if err.errno not in WRITE_ERRORS:
                raise
            raise RuntimeError(f"writing {err.filename or partial} failed ({err.strerror or err}): free space on its "
                               f"disk, or make {run.path} writable, and run again; the last good {output.name} "
                               f"and its record are kept") from None
        finally:
            partial.unlink(missing_ok=True)  # an unfinished execution: never left to take the space
        print(f"[kdlib run] {path.name} done in {timings[path.stem]:.1f} s, kernel peak memory "
              f"{memory.peak_mib:,.0f} MiB; slowest cells: " + "; ".join(
                  f"#{c.index} {c.seconds:.1f} s ({c.first_line[:40]})" for c in entry.slowest()), flush=True)
        if update_committed:
            clean_notebook(output, path)
    write_json(run.path / "timings.json", earlier_timings(run.path / "timings.json", paths) | timings)
    if record:
        record_timings(profile, timings)
    return timings


def earlier_timings(target: Path, paths: list[Path]) -> dict[str, float]:
    """The seconds per notebook a run wrote into ``target`` before (kept beside the new ones), or {} when there is
    none; refused, before any notebook runs, when ``target`` is not what the runner writes (a user's file)."""
    if not target.exists() and not target.is_symlink():
        return {}
    try:
        found = json.loads(target.read_text()) if not target.is_symlink() else None
    except (OSError, ValueError):
        found = None
    if not isinstance(found, dict) or not all(NOTEBOOK.fullmatch(k) and isinstance(v, int | float)
                                              for k, v in found.items()):
        raise ValueError(f"{target} is not the runner's timings (notebook -> seconds), and the run would replace it: "
                         f"move it away, or give --run-dir a folder of its own (e.g. runs/NAME)")
    return found


def executed_here(target: Path) -> None:
    """Refuse to replace ``target`` unless it is a notebook this runner executed (papermill's metadata names the run
    folder it was given, here or before the folder was renamed): a committed or hand-edited notebook is the user's."""
    if not target.exists() and not target.is_symlink():
        return
    try:
        given = nbformat.read(target, as_version=4).metadata.get("papermill", {}).get("parameters", {})
    except Exception:  # noqa: BLE001 - nbformat raises several types for a file that is not a notebook
        given = {}
    if not target.is_file() or target.is_symlink() or "run_dir" not in given:  # (a run folder renamed since: its own)
        raise ValueError(f"{target} was not executed by python -m kdlib run, and running would replace it: move it "
                         f"away, or give --run-dir a folder of its own (e.g. runs/NAME)")


def _last_cell(executed: Path | None) -> str:
    """" in cell N (its first line)" for the last cell papermill started in ``executed`` (where the chain stopped),
    or "" when none is known."""
    try:
        cells = nbformat.read(executed, as_version=4).cells if executed is not None else []
    except Exception:  # noqa: BLE001 - a notebook cut off when its kernel died
        return ""
    started = [index for index, cell in enumerate(cells) if cell.metadata.get("papermill", {}).get("start_time")]
    if not started:
        return ""
    first = next((line for line in cells[started[-1]].source.splitlines() if line.strip()), "")
    return f" in cell {started[-1]} ({first[:60]})"


def cell_times(executed: Path) -> tuple[CellTime, ...]:
    """Every code cell's wall time in a notebook papermill executed (its ``metadata.papermill.duration``)."""
    cells = nbformat.read(executed, as_version=4).cells
    return tuple(CellTime(index, round(float(cell.metadata.get("papermill", {}).get("duration") or 0.0), 2),
                          next((line for line in cell.source.splitlines() if line.strip()), ""))
                 for index, cell in enumerate(cells) if cell.cell_type == "code")


def record_timings(profile: str, timings: dict[str, float]) -> None:
    """Merge measured times into ``notebooks/timings.json``, with the machine they came from."""
    target = lessons.notebooks_dir() / "timings.json"
    table = lessons.recorded_timings()
    seconds = {**table.get(profile, {}).get("seconds", {}), **timings}
    table[profile] = {"seconds": seconds, "machine": dataclasses.asdict(machine())}
    target.write_text(json.dumps(table, indent=2, sort_keys=True) + "\n")


def prepare_for_nbval(profile: str, out_dir: Path, student: bool = False) -> list[Path]:
    """Copy each notebook into ``out_dir`` with the profile and a fresh run folder (``out_dir/run``) injected;
    with ``student``, its student edition (``kdlib.course.edition``), so that CI runs that too.

    The copies keep their committed outputs, so ``pytest --nbval-lax out_dir``
    executes each notebook once and checks the cells marked ``# NBVAL_CHECK_OUTPUT``.
    ``out_dir`` is empty, new, or one this function filled (its ledger, ``kdlib.course.folders.Ledger``): what it
    wrote is replaced, anything else refused, and nothing is deleted that it did not write.
    """
    profile = resolve_profile(profile)
    ledger = Ledger(out_dir, "python -m kdlib prepare", exclusive=True)
    names = [path.name for path in lessons.notebook_paths()]
    ledger.check(names)
    run_path = ledger.folder_of_its_own("run", holds=RunDir.writes).resolve()
    prepared = []
    for path in lessons.notebook_paths():
        nb = student_notebook(nbformat.read(path, as_version=4), path.name) if student else \
            nbformat.read(path, as_version=4)
        nb.metadata["papermill"] = nbformat.NotebookNode()  # where papermill records the parameters it injects
        for cell in nb.cells:  # papermill looks for the tagged parameters cell in every cell's tags
            cell.metadata.setdefault("tags", [])
        nb = parameterize_notebook(nb, _parameters_for(path, profile, run_path, {}))
        prepared.append(ledger.write(path.name, lambda tmp, nb=nb: nbformat.write(nb, tmp)))
    ledger.remove_others(names + ["run"])
    return prepared


def source_digest(nb: nbformat.NotebookNode) -> str:
    """The SHA-256 of a notebook's cells as written, before running: each cell's type and source, in order (papermill's
    injected parameters left out). ``clean_notebook`` records it when the notebook is executed for committing, so that
    an edit made afterwards, which the outputs no longer follow, is caught (``executed_as_written``)."""
    cells = [[c.cell_type, c.source] for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    return hashlib.sha256(json.dumps(cells).encode()).hexdigest()


def executed_as_written(path: Path) -> bool:
    """Whether the notebook at ``path`` holds the outputs of its cells as they are written now: the digest recorded at
    its execution is its cells' digest today."""
    nb = nbformat.read(path, as_version=4)
    return nb.metadata.get("kdlib", {}).get("executed_source_sha256") == source_digest(nb)


def clean_notebook(source: Path, target: Path) -> None:
    """Write ``source`` to ``target`` without papermill's injected cell and metadata, with the digest of the cells
    it executed (``source_digest``)."""
    nb = nbformat.read(source, as_version=4)
    nb.cells = [c for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    nb.metadata = nbformat.NotebookNode({k: v for k, v in nb.metadata.items()
                                         if k in ("kernelspec", "language_info")})
    nb.metadata["kdlib"] = {"executed_source_sha256": source_digest(nb)}
    count = 0
    for cell in nb.cells:
        cell.metadata = nbformat.NotebookNode({k: v for k, v in cell.metadata.items()
                                               if k in ("tags", "jupyter")})
        if cell.cell_type == "code":
            count += 1
            cell.execution_count = count
            for output in cell.outputs:
                if "execution_count" in output:
                    output.execution_count = count
    nbformat.write(nb, target)
