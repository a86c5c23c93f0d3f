"""The student edition: every notebook without its worked solutions, each exercise left as a marked stub.

A solution cell carries the cell tag ``solution`` (Jupyter's cell-metadata tags). In each notebook the
solution cells form one block, right after the exercises; the student edition replaces that block by a heading
that says where the solutions are, and per exercise a text cell and an empty code cell that runs as it is, so
every later cell still runs. Everything else, outputs included, is kept.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell

from kdlib.course.folders import Ledger
from kdlib.course.lessons import exercises

SOLUTION = "solution"  # the tag of a worked solution's cells
YOURS = ("### Your solutions\n\nThe worked solutions are in the course edition (`notebooks/` in the repository). "
         "Work each exercise below: your reasoning in its text cell, your code in its code cell (empty, it runs as it "
         "is, so that the cells after it still run).")


def is_solution(cell: nbformat.NotebookNode) -> bool:
    return SOLUTION in cell.get("metadata", {}).get("tags", [])


def student_notebook(nb: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """``nb`` with its block of solution cells replaced by stubs, one per exercise; a notebook with no solution
    cells is returned unchanged (the overview has no exercises). Refused: solution cells in more than one block."""
    flags = [is_solution(c) for c in nb.cells]
    if not any(flags):
        return copy.deepcopy(nb)
    first = flags.index(True)
    last = len(flags) - 1 - flags[::-1].index(True)
    if not all(flags[first:last + 1]):
        raise ValueError(f"{name}: its cells tagged '{SOLUTION}' are not one block (cells {first} to {last} hold "
                         f"others): tag every cell of the solutions, or move the untagged ones after them")
    stubs = [new_markdown_cell(YOURS)]
    for number in range(1, exercises([c.source for c in nb.cells if c.cell_type == "markdown"], name) + 1):
        stubs += [new_markdown_cell(f"**{number}.** *Your answer.*"),
                  new_code_cell(f"# Exercise {number}: your code here")]
    student = copy.deepcopy(nb)
    student.cells = student.cells[:first] + stubs + student.cells[last + 1:]
    return student


def student_edition(notebooks: list[Path], out_dir: str | Path) -> list[Path]:
    """Write the student edition of each of ``notebooks`` into ``out_dir`` (same file names) and return their paths.
    A folder this function filled before is refilled; a file there that it did not write, or that changed since it
    wrote it (a student's answers), is refused before anything is written (``kdlib.course.folders.Ledger``)."""
    ledger = Ledger(out_dir, "python -m kdlib student-edition")
    ledger.check(path.name for path in notebooks)
    editions = [student_notebook(nbformat.read(path, as_version=4), path.name) for path in notebooks]
    return [ledger.write(path.name, lambda tmp, nb=nb: nbformat.write(nb, tmp)) for path, nb in zip(notebooks, editions)]
