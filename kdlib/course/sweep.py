"""Sweeps: the notebook chain run once per point of a parameter grid, each point in its own run folder.

The grid comes from the command line (``-g temperature 1,4,20``) or a YAML file.
Each point's folder is named after its values; a point whose folder holds a
``SweepPoint`` record finished earlier and is skipped, so an interrupted sweep
resumes where it stopped, but only when it was run with the same settings: a
finished point that differs from what the sweep now asks is refused before
anything runs. ``base`` (a run folder with, e.g., the teachers of notebooks 02
and 03) seeds every point's folder with its checkpoints and the records of the
notebooks before the sweep's last that it does not run, so that a sweep of
notebook 04 does not train the teachers again. The points run in turn in one process, or as tasks on a
Dask cluster (``--workers N`` on this machine, ``--scheduler ADDRESS`` anywhere;
docs/sweeps.md): each point is written only by the process that runs it, into its
own folder, and marked finished last.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import itertools
import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterator
from typing import Any

import yaml

from kdlib.course.config import resolve_profile
from kdlib.course.folders import output_folder
from kdlib.course.records import NOTEBOOK, Record, RecordError, RunDir, written_by
from kdlib.course.runner import check_overrides, run_chain, select

SPEC_KEYS = {"profile": str, "grid": dict, "parameters": dict, "only": list, "from": str, "base": str}


@dataclass(frozen=True)
class SweepPoint(Record):
    """A finished point of a sweep: its values and everything else that decided what it ran."""

    point: dict[str, Any]
    parameters: dict[str, Any]
    profile: str
    only: tuple[str, ...] | None
    start: str | None
    base: str | None
    seconds: float
    FILE, WRITER = "sweep-point.json", "the sweep (python -m kdlib sweep)"

    def asked(self) -> dict[str, Any]:
        return {"point": self.point, "parameters": self.parameters, "profile": self.profile, "only": self.only,
                "from": self.start, "base": self.base}


class _UniqueKeys(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (plain YAML keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"the key {key!r} is given twice: keep one",
                                                        key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def read_spec(path: str | Path) -> dict[str, Any]:
    """A sweep from YAML: ``grid`` (name: list of values) and optionally ``profile``, ``parameters``
    (fixed overrides), ``only`` (list of notebooks), ``from`` (first notebook), ``base`` (run folder)."""
    try:
        spec = yaml.load(Path(path).read_text(), Loader=_UniqueKeys)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ValueError(f"{path}{where}: not valid YAML ({getattr(err, 'problem', None) or err})") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("grid"), dict):
        raise ValueError(f"{path}: a sweep file needs a 'grid' mapping, e.g. grid: {{temperature: [1, 4, 20]}}")
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {unknown}; allowed: {sorted(SPEC_KEYS)}")
    for key, kind in SPEC_KEYS.items():
        if key in spec and not isinstance(spec[key], kind):
            example = {"only": "only: [01_soft_labels]", "parameters": "parameters: {epochs: 2}"}.get(key, "")
            raise ValueError(f"{path}: '{key}' must be a {kind.__name__}, got {spec[key]!r} {example}".rstrip())
    if not all(isinstance(name, str) for name in spec.get("only", [])):
        raise ValueError(f"{path}: 'only' must list notebook names, e.g. only: [01_soft_labels]")
    return spec


def point_name(point: dict[str, Any]) -> str:
    """A folder name for a point, e.g. ``temperature=4,alpha=0.5``."""
    def text(value: Any) -> str:
        return "+".join(map(text, value)) if isinstance(value, list) else f"{value:g}" if isinstance(value, float) \
            else str(value)
    return re.sub(r"[^A-Za-z0-9._=+,-]", "_", ",".join(f"{k}={text(v)}" for k, v in point.items()))


def grid_points(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, the first name varying slowest; two points that would share
    a folder are refused."""
    if not grid:
        raise ValueError("the grid is empty: give at least one parameter and its values")
    for name, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ValueError(f"grid parameter {name!r} needs a non-empty list of values, got {values!r}")
    points = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    folders: dict[str, dict[str, Any]] = {}
    for point in points:
        other = folders.setdefault(point_name(point), point)
        if other is not point:
            raise ValueError(f"grid points {other} and {point} would share the folder {point_name(point)!r}: "
                             f"give each value once")
    return points


def _json(value: Any) -> str:
    """A value as JSON, so that tuples and lists (a record read back) compare equal."""
    return json.dumps(value, sort_keys=True)


def _seed(folder: Path, base: Path, chain: tuple[str, ...]) -> None:
    """Copy ``base``'s checkpoints, and the records of the notebooks before the last of ``chain`` that ``chain``
    does not run (e.g. notebook 05's for a sweep of 04 and 06), into ``folder`` (missing files only). The records of
    the notebooks it runs, and of later ones, stay behind, so that a point's report holds only what it ran and
    what that read."""
    if not base.is_dir():
        raise FileNotFoundError(f"base run folder {base} does not exist")
    sources = [p for p in sorted((base / "checkpoints").glob("*")) if p.is_file()]
    for record in sorted((base / "records").glob("*.json")):
        writer = written_by(record) or ""
        if NOTEBOOK.fullmatch(writer) and writer not in chain and writer[:2] < chain[-1][:2]:
            sources.append(record)
    for source in sources:
        target = folder / source.parent.name / source.name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


@dataclass(frozen=True)
class PointJob:
    """One point to run: everything its process needs (it may run on a Dask worker on another machine)."""

    folder: Path
    asked: SweepPoint  # what decided the point, to be saved (with its wall time) once it finished
    chain: tuple[Path, ...]  # the notebooks the sweep checked the point's settings against, in order

    @property
    def name(self) -> str:
        return self.folder.name


def run_point(job: PointJob) -> tuple[float, str]:
    """Run one point into its folder and mark it finished (its ``SweepPoint`` record, written last, so that a
    point stopped on the way is never marked); return its wall time and where it ran."""
    where = _worker_name()
    run, asked = RunDir(job.folder), job.asked
    if asked.base is not None:
        _seed(job.folder, Path(asked.base), tuple(path.stem for path in job.chain))
    began = time.perf_counter()
    print(f"[kdlib sweep] {job.name}: running on {where}", flush=True)
    run_chain(asked.profile, job.folder, asked.parameters | asked.point, chain=list(job.chain))
    seconds = round(time.perf_counter() - began, 1)
    dataclasses.replace(asked, seconds=seconds).save(run)
    return seconds, where


def _worker_name() -> str:
    """The Dask worker running this, or "this process" outside a worker."""
    try:
        from distributed import get_worker
        return f"worker {get_worker().name}"
    except (ImportError, ValueError):
        return "this process"


def run_sweep(out: str | Path, grid: dict[str, list[Any]], profile: str | None = None,
              parameters: dict[str, Any] | None = None, only: list[str] | None = None, start: str | None = None,
              base: str | Path | None = None, workers: int | None = None, scheduler: str | None = None
              ) -> list[Path]:
    """Run the chain (or ``only`` / from ``start``) for every grid point into ``out/<point>``; return the folders.

    Every point's parameters, and every finished point's settings, are checked before
    the first point runs; finished points asked again with the same settings are skipped.
    The points run one after another in this process, or with ``workers`` on a local Dask
    cluster of that many processes (each given its share of the cores as torch's threads),
    or on the Dask cluster whose scheduler is at ``scheduler``. A point that fails is
    reported with its folder, the others finish, and the sweep then raises.
    """
    parameters, profile = dict(parameters or {}), resolve_profile(profile)
    if workers is not None and scheduler is not None:
        raise ValueError("give --workers (a local Dask cluster) or --scheduler (an existing one), not both")
    if workers is not None and not (isinstance(workers, int) and workers >= 1):
        raise ValueError(f"--workers {workers!r}: give a number of worker processes, at least 1")
    points = grid_points(grid)
    cores = os.cpu_count() or 1
    if workers is not None and workers > min(len(points), cores):
        raise ValueError(f"--workers {workers}: more workers than the sweep's {len(points)} point(s) or this "
                         f"machine's {cores} cores, each worker would get less than a core and its memory share; "
                         f"give --workers {min(len(points), cores)} or fewer")
    paths = select(only, start)
    for point in points:
        check_overrides(paths, parameters | point, profile)
    out = output_folder(out, "--out").resolve()  # absolute: a remote worker's working folder is not this one
    base_text = str(Path(base).resolve()) if base is not None else None
    jobs = [PointJob(out / point_name(point), SweepPoint(point, parameters, profile, tuple(only) if only else None,
                                                         start, base_text, 0.0), tuple(paths)) for point in points]
    finished = set()
    for job in jobs:
        if (job.folder / "records" / SweepPoint.file_name()).is_file():
            wanted = job.asked.asked()
            changed = {k: (v, wanted[k]) for k, v in finished_point(job.folder).asked().items()
                       if _json(v) != _json(wanted[k])}
            if changed:
                raise ValueError(f"{job.folder} finished earlier with other settings (then, now: {changed}): give "
                                 f"another --out, or delete {job.folder} to run that point again")
            finished.add(job.name)
            print(f"[kdlib sweep] {job.name}: finished earlier, skipped", flush=True)
    pending = [job for job in jobs if job.name not in finished]
    print(f"[kdlib sweep] {len(jobs)} point(s): {len(finished)} finished earlier, {len(pending)} to run", flush=True)
    if workers is not None:
        workers = max(1, min(workers, len(pending)))  # no idle workers for the points already finished
    outcomes = _on_dask(pending, workers, scheduler) if pending and (workers or scheduler) else _in_turn(pending)
    failed = []
    for done, (job, outcome) in enumerate(outcomes, len(finished) + 1):
        if isinstance(outcome, BaseException):
            failed.append(job)
            print(f"[kdlib sweep {done}/{len(jobs)}] {job.name}: FAILED: {outcome}\n  its folder: {job.folder}",
                  flush=True)
        else:
            seconds, where = outcome
            print(f"[kdlib sweep {done}/{len(jobs)}] {job.name}: done in {seconds:.0f} s on {where}", flush=True)
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(jobs)} point(s) failed ({', '.join(j.name for j in failed)}; "
                           f"their errors are printed above); the others finished. Run the sweep again to retry them: "
                           f"finished points are skipped")
    return [job.folder for job in jobs]


def _in_turn(jobs: list[PointJob]) -> Iterator[tuple[PointJob, tuple[float, str] | BaseException]]:
    """Each point in this process, one after another; a failure is handed on, not raised."""
    for job in jobs:
        try:
            yield job, run_point(job)
        except (ValueError, RuntimeError, OSError) as err:
            yield job, err


def _on_dask(jobs: list[PointJob], workers: int | None, scheduler: str | None
             ) -> Iterator[tuple[PointJob, tuple[float, str] | BaseException]]:
    """Each point as a Dask task, on a new local cluster of ``workers`` processes or the one at ``scheduler``,
    handed on as it finishes. Leaving (a failure, Ctrl-C) closes a local cluster and its workers."""
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise RuntimeError("--workers and --scheduler run the points on Dask, which is not installed here: "
                           "pip install -e '.[cluster]'") from None
    with contextlib.ExitStack() as stack:
        if scheduler is not None:
            client = stack.enter_context(Client(scheduler, timeout="30s"))
            print(f"[kdlib sweep] {len(jobs)} point(s) on the Dask cluster at {scheduler} "
                  f"({len(client.scheduler_info()['workers'])} workers now)", flush=True)
        else:
            threads = max(1, (os.cpu_count() or 1) // workers)
            cluster = stack.enter_context(LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0",
                env={"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}))
            client = stack.enter_context(Client(cluster))
            print(f"[kdlib sweep] {len(jobs)} point(s) on {workers} local Dask worker(s), {threads} torch "
                  f"thread(s) each", flush=True)
        if importlib.util.find_spec("bokeh") is not None:
            print(f"[kdlib sweep] Dask dashboard: {client.dashboard_link}", flush=True)
        futures = {client.submit(run_point, job, key=f"kdlib-sweep-{job.name}", pure=False): job for job in jobs}
        for future in as_completed(futures):
            try:
                yield futures[future], future.result()
            except Exception as err:  # noqa: BLE001 - a point's own error, or the worker that died running it
                yield futures[future], err


def finished_point(folder: Path) -> SweepPoint:
    """The record that marks ``folder`` as a finished point, refused with the fix when damaged."""
    try:
        return SweepPoint.load(RunDir(folder))
    except RecordError as err:
        raise RecordError(f"{str(err).split('; ')[0]}: the point's record is damaged; move or delete the point's "
                          f"folder {folder}, and the sweep runs that point again") from None


def sweep_points(folder: str | Path) -> list[Path]:
    """The finished points of a sweep folder, in the order of their values (numbers before text)."""
    def order(point: Path) -> list[tuple[int, Any]]:
        values = finished_point(point).point.values()
        return [(0, v) if isinstance(v, int | float) else (1, json.dumps(v)) for v in values]
    markers = Path(folder).glob(f"*/records/{SweepPoint.file_name()}")
    return sorted((marker.parent.parent for marker in markers), key=order)
