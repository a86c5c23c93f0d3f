"""Tiny notebook chains for the tests of the runner, the sweep and the probe's cases: seconds to run, each writing
a record whose value tells which run wrote it."""

from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_notebook


def tiny_chain(folder, fail_in: str | None = None, names: tuple[str, ...] = ("00_first", "01_second")) -> None:
    """Two notebooks that record their temperature as a classifier's test errors (and one that fails, if asked);
    a temperature of 99 makes them sleep, to be killed."""
    folder.mkdir(exist_ok=True)
    for name in names:
        cells = [new_code_cell("profile = None\nrun_dir = None\ntemperature = None"),
                 new_code_cell("import time\nfrom kdlib.course import Artifact, ClassifierResult, Classifiers, RunDir\n"
                               "time.sleep(120 if temperature == 99 else 0)\n"
                               "Classifiers('fashion-mnist', profile, {'profile': profile}, 10, (ClassifierResult("
                               "'student', (0,), (int(temperature * 10),), 5, (1.0,), (Artifact('x.pt', '0' * 64),), 'run'),), ()"
                               ").save(RunDir(run_dir))")]
        cells[0].metadata["tags"] = ["parameters"]
        if name == fail_in:
            cells.append(new_code_cell("raise ValueError('this cell fails on purpose')"))
        nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "language": "python",
                                                                            "display_name": "Python 3"}}),
                       folder / f"{name}.ipynb")


def injected_temperature(path) -> str:
    cell = next(c for c in nbformat.read(path, as_version=4).cells if "injected-parameters" in c.metadata.get("tags", []))
    return next(line for line in cell.source.splitlines() if line.startswith("temperature"))
