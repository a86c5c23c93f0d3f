"""Sweeps: the notebook chain run once per point of a parameter grid, each point in its own run folder.

The grid comes from the command line (``-g temperature 1,4,20``) or a YAML file.
Each point's folder is named after its values; a point whose folder holds a
``SweepPoint`` record finished earlier and is skipped, so an interrupted sweep
resumes where it stopped, but only when it was run with the same settings: a
finished point that differs from what the sweep now asks is refused before
anything runs. ``base`` (a run folder with, e.g., the teachers of notebooks 02
and 03) seeds every point's folder with its checkpoints and the records of the
notebooks before the sweep's first, so that a sweep of notebook 04 does not
train the teachers again.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kdlib.course.config import resolve_profile
from kdlib.course.folders import output_folder
from kdlib.course.records import Record, RecordError, RunDir, writer_of
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


def read_spec(path: str | Path) -> dict[str, Any]:
    """A sweep from YAML: ``grid`` (name: list of values) and optionally ``profile``, ``parameters``
    (fixed overrides), ``only`` (list of notebooks), ``from`` (first notebook), ``base`` (run folder)."""
    try:
        spec = yaml.safe_load(Path(path).read_text())
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


def _seed(folder: Path, base: Path, first: str) -> None:
    """Copy ``base``'s checkpoints, and the records of notebooks before ``first``, into ``folder`` (missing
    files only). Later notebooks' records stay behind, so that a point's report holds only what it ran."""
    if not base.is_dir():
        raise FileNotFoundError(f"base run folder {base} does not exist")
    sources = [p for p in sorted((base / "checkpoints").glob("*")) if p.is_file()]
    for record in sorted((base / "records").glob("*.json")):
        writer = writer_of(record.name) or ""
        if re.fullmatch(r"\d\d_\w+", writer) and writer[:2] < first[:2]:
            sources.append(record)
    for source in sources:
        target = folder / source.parent.name / source.name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def run_sweep(out: str | Path, grid: dict[str, list[Any]], profile: str | None = None,
              parameters: dict[str, Any] | None = None, only: list[str] | None = None, start: str | None = None,
              base: str | Path | None = None) -> list[Path]:
    """Run the chain (or ``only`` / from ``start``) for every grid point into ``out/<point>``; return the folders.

    Every point's parameters, and every finished point's settings, are checked before
    the first point runs; finished points asked again with the same settings are skipped.
    """
    parameters, profile = dict(parameters or {}), resolve_profile(profile)
    points = grid_points(grid)
    paths = select(only, start)
    for point in points:
        check_overrides(paths, parameters | point, profile)
    out = output_folder(out, "--out")
    base_text = str(Path(base).resolve()) if base is not None else None
    asked = [{"point": point, "parameters": parameters, "profile": profile, "only": tuple(only) if only else None,
              "from": start, "base": base_text} for point in points]
    finished = set()
    for point, wanted in zip(points, asked):
        folder = out / point_name(point)
        if (folder / "records" / SweepPoint.file_name()).is_file():
            done = finished_point(folder)
            changed = {k: (v, wanted[k]) for k, v in done.asked().items() if _json(v) != _json(wanted[k])}
            if changed:
                raise ValueError(f"{folder} finished earlier with other settings (then, now: {changed}): give "
                                 f"another --out, or delete {folder} to run that point again")
            finished.add(point_name(point))
    folders = []
    for index, (point, wanted) in enumerate(zip(points, asked), 1):
        name = point_name(point)
        folder = out / name
        folders.append(folder)
        if name in finished:
            print(f"[kdlib sweep {index}/{len(points)}] {name}: finished earlier, skipped", flush=True)
            continue
        run = RunDir(folder)
        if base is not None:
            _seed(folder, Path(base), paths[0].stem)
        began = time.perf_counter()
        print(f"[kdlib sweep {index}/{len(points)}] {name}: running", flush=True)
        run_chain(profile, folder, parameters | point, only=only, start=start)
        seconds = round(time.perf_counter() - began, 1)
        SweepPoint(point, parameters, profile, wanted["only"], start, base_text, seconds).save(run)
        print(f"[kdlib sweep {index}/{len(points)}] {name}: done in {seconds:.0f} s", flush=True)
    return folders


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
