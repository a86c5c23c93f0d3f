"""Run the ordered notebooks with papermill, prepare them for nbval, keep them clean.

The chain is every ``notebooks/NN_*.ipynb`` in order of its number, so a new
notebook joins the runner, CI and the overview without any change here.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import nbformat
import papermill
import psutil
import torch

from kdlib.config import PROFILES, SETTINGS, resolve_device, resolve_profile
from kdlib.runs import RunDir, project_root


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


def select(only: list[str] | None = None, start: str | None = None) -> list[Path]:
    """The notebooks to run: all, those named in ``only``, or ``start`` and every one after it."""
    paths = notebook_paths()
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
              record: bool = False, only: list[str] | None = None, start: str | None = None) -> dict[str, float]:
    """Execute every notebook into the run folder, in order; return seconds per notebook.

    A failing notebook stops the chain with a ``RuntimeError`` that names it and the
    cell; its executed copy stays in the run folder. With ``update_committed`` the
    executed notebooks, cleaned, replace those in ``notebooks/`` (how the committed
    outputs are made); with ``record`` the timings go into ``notebooks/timings.json``,
    which the overview notebook shows (record only runs that trained from scratch:
    a run that loads checkpoints is fast). ``only`` names the notebooks to run
    (e.g. ``["01_soft_labels"]``), ``start`` the first one; default: all.
    Each notebook's wall time, the peak memory of its kernel and the parameters
    it was given go into the run's ``metrics/runner.json``.
    """
    profile = resolve_profile(profile)
    overrides = dict(overrides or {})
    paths = select(only, start)
    check_overrides(paths, overrides)
    run_path = Path(run_dir).resolve() if run_dir is not None else project_root() / "runs" / profile
    run_path.mkdir(parents=True, exist_ok=True)
    os.environ["KDLIB_PROGRESS"] = "0"  # nobody watches a batch run; keep widgets out of the outputs
    timings: dict[str, float] = {}
    for path in paths:
        output = run_path / path.name
        print(f"[kdlib run] {path.name} (profile {profile}) -> {output}", flush=True)
        began = time.perf_counter()
        parameters = _parameters_for(path, profile, run_path, overrides)
        try:
            with PeakMemory() as memory:
                papermill.execute_notebook(str(path), str(output), cwd=str(path.parent), progress_bar=False,
                                           parameters=parameters)
        except papermill.PapermillExecutionError as err:
            raise RuntimeError(f"{path.name} failed in cell {err.cell_index} (execution count "
                               f"{err.exec_count}): {err.ename}: {err.evalue}\nThe executed notebook "
                               f"is kept at {output}") from None
        timings[path.stem] = round(time.perf_counter() - began, 1)
        _record_run(run_path, path.stem, {"seconds": timings[path.stem], "peak_memory_mib": round(memory.peak_mib, 1),
                                          "parameters": parameters, "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                          "machine": machine(parameters.get("device"))})
        print(f"[kdlib run] {path.name} done in {timings[path.stem]:.1f} s, kernel peak memory "
              f"{memory.peak_mib:,.0f} MiB", flush=True)
        if update_committed:
            clean_notebook(output, path)
    (run_path / "timings.json").write_text(json.dumps(timings, indent=2) + "\n")
    if record:
        record_timings(profile, timings)
    return timings


def _record_run(run_path: Path, notebook: str, entry: dict[str, Any]) -> None:
    """Add one notebook's wall time, peak memory and parameters to the run's ``metrics/runner.json``."""
    run = RunDir(run_path)
    target = run.path / "metrics" / "runner.json"
    recorded = json.loads(target.read_text()) if target.is_file() else {}
    run.write_metrics("runner", recorded | {notebook: entry})


def machine(device: str | None = None) -> dict[str, Any]:
    """What a measurement ran on: CPU model and count, the device a notebook resolves, torch's version.

    (The threads a notebook used are in its own metrics' ``config``.)"""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                    if line.startswith("model name")), cpu)
    chosen = resolve_device(device)
    name = torch.cuda.get_device_name(chosen) if chosen.type == "cuda" else "cpu"
    return {"cpu": cpu, "cpus": os.cpu_count(), "device": name, "torch": torch.__version__}


def record_timings(profile: str, timings: dict[str, float]) -> None:
    """Merge measured times into ``notebooks/timings.json``, with the machine they came from."""
    target = notebooks_dir() / "timings.json"
    table = json.loads(target.read_text()) if target.is_file() else {}
    seconds = {**table.get(profile, {}).get("seconds", {}), **timings}
    table[profile] = {"seconds": seconds, "machine": machine()}
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
