"""Run the ordered notebooks with papermill, prepare them for nbval, keep them clean.

The chain is every ``notebooks/NN_*.ipynb`` in order of its number, so a new
notebook joins the runner, CI and the overview without any change here.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import time
from pathlib import Path
from typing import Any

import nbformat
import papermill
import torch

from kdlib.config import PROFILES, SETTINGS, resolve_device, resolve_profile
from kdlib.runs import project_root


OWN_OPTIONS = {"profile": "--profile", "run_dir": "--run-dir"}  # runner options, not -p parameters


def notebooks_dir() -> Path:
    return project_root() / "notebooks"


def notebook_paths() -> list[Path]:
    """The course's notebooks, in order: ``notebooks/NN_*.ipynb``."""
    return sorted(p for p in notebooks_dir().glob("[0-9][0-9]_*.ipynb"))


def declared_parameters(path: Path) -> set[str]:
    """Names assigned in a notebook's ``parameters`` cell."""
    return set(papermill.inspect_notebook(str(path)))


def check_overrides(paths: list[Path], overrides: dict[str, Any]) -> None:
    """Refuse, before anything runs, a parameter no notebook declares or a bad value."""
    declared = set().union(*(declared_parameters(p) for p in paths)) if paths else set()
    for name, value in overrides.items():
        if name in OWN_OPTIONS:
            raise ValueError(f"set {name} with {OWN_OPTIONS[name]}, not as a parameter")
        if name not in declared:
            raise ValueError(f"unknown parameter {name!r}: no notebook in the chain declares it "
                             f"(declared: {sorted(declared)})")
        if name == "device":
            resolve_device(value)
        else:
            SETTINGS[name].check(name, value)


def _parameters_for(path: Path, profile: str, run_dir: Path, overrides: dict[str, Any]) -> dict[str, Any]:
    declared = declared_parameters(path)
    given = {"profile": profile, "run_dir": str(run_dir), **overrides}
    return {k: v for k, v in given.items() if k in declared}


def run_chain(profile: str | None = None, run_dir: str | Path | None = None,
              overrides: dict[str, Any] | None = None, update_committed: bool = False,
              record: bool = False, only: list[str] | None = None) -> dict[str, float]:
    """Execute every notebook into the run folder, in order; return seconds per notebook.

    A failing notebook stops the chain with a ``RuntimeError`` that names it and the
    cell; its executed copy stays in the run folder. With ``update_committed`` the
    executed notebooks, cleaned, replace those in ``notebooks/`` (how the committed
    outputs are made); with ``record`` the timings go into ``notebooks/timings.json``,
    which the overview notebook shows (record only runs that trained from scratch:
    a run that loads checkpoints is fast). ``only``
    names the notebooks to run (e.g. ``["01_soft_labels"]``); default: all.
    """
    profile = resolve_profile(profile)
    overrides = dict(overrides or {})
    paths = notebook_paths()
    if only:
        unknown = sorted(set(only) - {p.stem for p in paths})
        if unknown:
            raise ValueError(f"unknown notebook(s) {unknown}; the chain has {[p.stem for p in paths]}")
        paths = [p for p in paths if p.stem in only]
    check_overrides(paths, overrides)
    run_path = Path(run_dir).resolve() if run_dir is not None else project_root() / "runs" / profile
    run_path.mkdir(parents=True, exist_ok=True)
    os.environ["KDLIB_PROGRESS"] = "0"  # nobody watches a batch run; keep widgets out of the outputs
    timings: dict[str, float] = {}
    for path in paths:
        output = run_path / path.name
        print(f"[kdlib run] {path.name} (profile {profile}) -> {output}", flush=True)
        start = time.perf_counter()
        try:
            papermill.execute_notebook(str(path), str(output), cwd=str(path.parent), progress_bar=False,
                                       parameters=_parameters_for(path, profile, run_path, overrides))
        except papermill.PapermillExecutionError as err:
            raise RuntimeError(f"{path.name} failed in cell {err.cell_index} (execution count "
                               f"{err.exec_count}): {err.ename}: {err.evalue}\nThe executed notebook "
                               f"is kept at {output}") from None
        timings[path.stem] = round(time.perf_counter() - start, 1)
        print(f"[kdlib run] {path.name} done in {timings[path.stem]:.1f} s", flush=True)
        if update_committed:
            clean_notebook(output, path)
    (run_path / "timings.json").write_text(json.dumps(timings, indent=2) + "\n")
    if record:
        record_timings(profile, timings)
    return timings


def record_timings(profile: str, timings: dict[str, float]) -> None:
    """Merge measured times into ``notebooks/timings.json``, with the machine they came from."""
    target = notebooks_dir() / "timings.json"
    table = json.loads(target.read_text()) if target.is_file() else {}
    seconds = {**table.get(profile, {}).get("seconds", {}), **timings}
    table[profile] = {"seconds": seconds, "machine": {
        "cpus": os.cpu_count(), "threads": torch.get_num_threads(), "cuda": torch.cuda.is_available(),
        "processor": platform.machine(), "torch": torch.__version__}}
    target.write_text(json.dumps(table, indent=2, sort_keys=True) + "\n")


def course_table() -> str:
    """A Markdown table of the notebooks: title, first paragraph, measured minutes per profile."""
    timings_file = notebooks_dir() / "timings.json"
    timings = json.loads(timings_file.read_text()) if timings_file.is_file() else {}
    profiles = list(PROFILES)
    rows = ["| notebook | what it teaches | " + " | ".join(f"{p} (min)" for p in profiles) + " |",
            "|---|---|" + "---|" * len(profiles)]
    for path in notebook_paths():
        intro = next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
        paragraphs = [p.strip() for p in intro.source.split("\n\n") if p.strip()]
        title, summary = paragraphs[0].lstrip("# "), (paragraphs[1] if len(paragraphs) > 1 else "")
        minutes = [timings.get(p, {}).get("seconds", {}).get(path.stem) for p in profiles]
        cells = [f"{m / 60:.1f}" if m is not None else "not measured" for m in minutes]
        rows.append(f"| `{path.name}`: {title} | {summary.replace(chr(10), ' ')} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def prepare_for_nbval(profile: str, out_dir: Path) -> list[Path]:
    """Copy each notebook into ``out_dir`` with the profile and a fresh run folder injected.

    The copies keep their committed outputs, so ``pytest --nbval-lax out_dir``
    executes each notebook once and checks the cells marked ``# NBVAL_CHECK_OUTPUT``.
    """
    profile = resolve_profile(profile)
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    run_path = (out_dir / "run").resolve()
    prepared = []
    for path in notebook_paths():
        target = out_dir / path.name
        papermill.execute_notebook(str(path), str(target), prepare_only=True, progress_bar=False,
                                   parameters=_parameters_for(path, profile, run_path, {}))
        prepared.append(target)
    return prepared


def clean_notebook(source: Path, target: Path) -> None:
    """Write ``source`` to ``target`` without papermill's injected cell and metadata."""
    nb = nbformat.read(source, as_version=4)
    nb.cells = [c for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    nb.metadata = nbformat.NotebookNode({k: v for k, v in nb.metadata.items()
                                         if k in ("kernelspec", "language_info")})
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
