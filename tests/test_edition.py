"""The student edition: the committed notebooks tag their solutions, and the edition removes exactly those."""

from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from kdlib.course.cli import main
from kdlib.course.folders import LEDGER
from kdlib.course.edition import SOLUTION, is_solution, student_edition, student_notebook
from kdlib.course.lessons import exercises, markdown_cells
from kdlib.course.lessons import notebook_paths

PATHS = notebook_paths()
LESSONS = [p for p in PATHS if not p.name.startswith("00_")]


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_every_lesson_tags_its_solutions_as_one_block_after_its_exercises(path):
    cells = nbformat.read(path, as_version=4).cells
    start = next(i for i, c in enumerate(cells) if c.cell_type == "markdown" and c.source.startswith("## Exercises"))
    end = next(i for i, c in enumerate(cells) if c.source.startswith("## Summary"))
    assert exercises(markdown_cells(path), path.name) >= 2
    assert start + 1 < end, "no solutions between the exercises and the summary"
    assert [i for i, c in enumerate(cells) if is_solution(c)] == list(range(start + 1, end))
    assert any(c.cell_type == "code" for c in cells[start + 1:end]), "no solution is executed code"


def test_the_overview_has_no_solutions():
    assert not any(is_solution(c) for c in nbformat.read(PATHS[0], as_version=4).cells)


def small_notebook() -> nbformat.NotebookNode:
    tagged = {"tags": [SOLUTION]}
    return new_notebook(cells=[
        new_code_cell("x = 1"),
        new_markdown_cell("## Exercises\n\n1. **One.** Do it.\n2. **Two.** Do more."),
        new_markdown_cell("**1.** The secret answer.", metadata=tagged),
        new_code_cell("secret = 42\nprint(secret)", metadata=tagged),
        new_markdown_cell("**2.** Another secret.", metadata=tagged),
        new_markdown_cell("## Summary and what to read next"),
        new_code_cell("print(x)")])


def test_the_student_notebook_replaces_the_solutions_by_runnable_stubs():
    nb = small_notebook()
    student = student_notebook(nb, "small.ipynb")
    sources = [c.source for c in student.cells]
    assert not any(is_solution(c) for c in student.cells) and "secret" not in "".join(sources)
    assert sources[:2] == [c.source for c in nb.cells[:2]] and sources[-2:] == [c.source for c in nb.cells[-2:]]
    assert sources[2].startswith("### Your solutions")
    assert sources[3:7] == ["**1.** *Your answer.*", "# Exercise 1: your code here",
                            "**2.** *Your answer.*", "# Exercise 2: your code here"]
    assert [c.cell_type for c in student.cells[3:7]] == ["markdown", "code", "markdown", "code"]
    for cell in student.cells:
        if cell.cell_type == "code":
            compile(cell.source, "cell", "exec")  # every stub runs
    assert nb.cells[2].source == "**1.** The secret answer."  # the course edition is left as it was


def test_solutions_in_two_blocks_or_without_numbered_exercises_are_refused():
    nb = small_notebook()
    nb.cells[4].metadata = {}  # an untagged cell inside the solutions
    nb.cells[4], nb.cells[3] = nb.cells[3], nb.cells[4]
    with pytest.raises(ValueError, match=r"small.ipynb: its cells tagged 'solution' are not one block"):
        student_notebook(nb, "small.ipynb")
    nb = small_notebook()
    nb.cells[1].source = "## Exercises\n\nDo things."
    with pytest.raises(ValueError, match=r"must number its exercises 1\., 2\."):
        student_notebook(nb, "small.ipynb")


def test_the_student_edition_writes_every_notebook_and_refuses_foreign_files(tmp_path, capsys):
    out = tmp_path / "student"
    assert main(["student-edition", "--out", str(out)]) == 0
    written = sorted(p.name for p in out.glob("*.ipynb"))
    assert written == [p.name for p in PATHS] and (out / LEDGER).is_file()
    for path in LESSONS:
        course, student = nbformat.read(path, as_version=4), nbformat.read(out / path.name, as_version=4)
        assert not any(is_solution(c) for c in student.cells)
        kept = [c.source for c in course.cells if not is_solution(c)]
        assert [c.source for c in student.cells if not c.source.startswith(("### Your solutions", "**", "# Exercise"))
                ] == [s for s in kept if not s.startswith("**")]
    assert main(["student-edition", "--out", str(out)]) == 0  # its own folder: written again
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / PATHS[1].name).write_text("my notes")
    with pytest.raises(ValueError, match=r"01_soft_labels.ipynb was not written by python -m kdlib student-edition"):
        student_edition(PATHS, foreign)
    assert (foreign / PATHS[1].name).read_text() == "my notes"


def test_prepare_injects_the_profile_into_the_student_edition(tmp_path):
    assert main(["prepare", "--profile", "smoke", "--student", "--out", str(tmp_path / "nbval")]) == 0
    nb = nbformat.read(tmp_path / "nbval" / LESSONS[0].name, as_version=4)
    injected = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert 'profile = "smoke"' in injected.source
    assert not any(is_solution(c) for c in nb.cells) and any(c.source.startswith("### Your solutions") for c in nb.cells)
