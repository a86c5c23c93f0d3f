"""Sweeps: the notebook chain run once per point of a parameter grid, each point in its own run folder.

The grid comes from the command line (``-g temperature 1,4,20``) or a YAML file.
Each point's folder is named after its values; a point whose folder holds the
marker ``sweep_point.json`` finished earlier and is skipped, so an interrupted
sweep resumes where it stopped. ``base`` (a run folder with, e.g., the teachers
of notebooks 02 and 03) seeds every point's folder with its checkpoints and the
metrics of the notebooks before the sweep's first, so that a sweep of notebook 04
does not train the teachers again.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import time
from pathlib import Path
from typing import Any

import yaml

from kdlib.notebooks import check_overrides, run_chain, select

MARKER = "sweep_point.json"
SPEC_KEYS = {"profile", "grid", "parameters", "only", "from", "base"}


def read_spec(path: str | Path) -> dict[str, Any]:
    """A sweep from YAML: ``grid`` (name: list of values) and optionally ``profile``, ``parameters``
    (fixed overrides), ``only`` (notebooks), ``from`` (first notebook), ``base`` (run folder)."""
    spec = yaml.safe_load(Path(path).read_text())
    if not isinstance(spec, dict) or not isinstance(spec.get("grid"), dict):
        raise ValueError(f"{path}: a sweep file needs a 'grid' mapping, e.g. grid: {{temperature: [1, 4, 20]}}")
    unknown = sorted(set(spec) - SPEC_KEYS)
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {unknown}; allowed: {sorted(SPEC_KEYS)}")
    return spec


def grid_points(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, the first name varying slowest."""
    if not grid:
        raise ValueError("the grid is empty: give at least one parameter and its values")
    for name, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ValueError(f"grid parameter {name!r} needs a non-empty list of values, got {values!r}")
    return [dict(zip(grid, values)) for values in itertools.product(*grid.values())]


def point_name(point: dict[str, Any]) -> str:
    """A folder name for a point, e.g. ``temperature=4,alpha=0.5``."""
    def text(value: Any) -> str:
        return "+".join(map(text, value)) if isinstance(value, list) else f"{value:g}" if isinstance(value, float) \
            else str(value)
    return re.sub(r"[^A-Za-z0-9._=+,-]", "_", ",".join(f"{k}={text(v)}" for k, v in point.items()))


def _seed(folder: Path, base: Path, first: str) -> None:
    """Copy ``base``'s checkpoints, and the metrics of notebooks before ``first``, into ``folder`` (missing files only).

    Later notebooks' metrics stay behind, so that a point's report holds only what the point ran.
    """
    if not base.is_dir():
        raise FileNotFoundError(f"base run folder {base} does not exist")
    sources = [p for p in sorted((base / "checkpoints").glob("*")) if p.is_file()]
    sources += [p for p in sorted((base / "metrics").glob("[0-9][0-9]_*.json")) if p.name[:2] < first[:2]]
    for source in sources:
        target = folder / source.parent.name / source.name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def run_sweep(out: str | Path, grid: dict[str, list[Any]], profile: str | None = None,
              parameters: dict[str, Any] | None = None, only: list[str] | None = None, start: str | None = None,
              base: str | Path | None = None) -> list[Path]:
    """Run the chain (or ``only`` / from ``start``) for every grid point into ``out/<point>``; return the folders.

    Every point's parameters are checked before the first one runs; finished points are skipped.
    """
    out, parameters = Path(out), dict(parameters or {})
    points = grid_points(grid)
    paths = select(only, start)
    for point in points:
        check_overrides(paths, parameters | point)
    folders = []
    for index, point in enumerate(points, 1):
        name = point_name(point)
        folder = out / name
        folders.append(folder)
        if (folder / MARKER).is_file():
            print(f"[kdlib sweep {index}/{len(points)}] {name}: finished earlier, skipped", flush=True)
            continue
        folder.mkdir(parents=True, exist_ok=True)
        if base is not None:
            _seed(folder, Path(base), paths[0].stem)
        began = time.perf_counter()
        print(f"[kdlib sweep {index}/{len(points)}] {name}: running", flush=True)
        run_chain(profile, folder, parameters | point, only=only, start=start)
        seconds = round(time.perf_counter() - began, 1)
        marker = folder / f".{MARKER}.tmp"  # written whole, then renamed: a cut-off write is no marker
        marker.write_text(json.dumps({"point": point, "parameters": parameters, "profile": profile,
                                      "seconds": seconds}, indent=2) + "\n")
        marker.replace(folder / MARKER)
        print(f"[kdlib sweep {index}/{len(points)}] {name}: done in {seconds:.0f} s", flush=True)
    return folders


def sweep_points(folder: str | Path) -> list[Path]:
    """The finished points of a sweep folder, in the order of their values (numbers before text)."""
    def order(point: Path) -> list[tuple[int, Any]]:
        values = json.loads((point / MARKER).read_text())["point"].values()
        return [(0, v) if isinstance(v, int | float) else (1, json.dumps(v)) for v in values]
    return sorted((marker.parent for marker in Path(folder).glob(f"*/{MARKER}")), key=order)
