"""The committed notebooks: clean, executed in order, parameters the library knows, no typed number adrift."""

from __future__ import annotations

import csv
import re

import nbformat
import pytest

from kdlib.course.config import SETTINGS, SPECIAL
from kdlib.course.runner import check_overrides, declared_parameters, notebook_paths
from kdlib.store import project_root

PATHS = notebook_paths()
QUOTED = {"01_soft_labels": {"98.6", "44.5", "57.0", "58.9"}}  # numbers the text quotes from a paper (Hinton et al.)
DECIMAL = re.compile(r"(?<![\w.])\d[\d,]*\.\d+(?![\w.])")


def test_there_are_notebooks_in_order():
    names = [p.name for p in PATHS]
    assert names and names[0] == "00_overview.ipynb"
    assert [int(n[:2]) for n in names] == list(range(len(names)))


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_title_carries_the_notebooks_number(path):
    """The title (the site's page and menu entry, the overview's chapter list) says the number of the file."""
    first = nbformat.read(path, as_version=4).cells[0]
    assert first.cell_type == "markdown" and first.source.startswith(f"# {path.name[:2]} · "), first.source[:60]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_notebook_is_clean_and_executed(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert set(nb.metadata) <= {"kernelspec", "language_info"}, "stray notebook metadata"
    code = [c for c in nb.cells if c.cell_type == "code"]
    for cell in nb.cells:
        assert set(cell.metadata) <= {"tags", "jupyter"}, f"stray cell metadata: {cell.metadata}"
        assert "injected-parameters" not in cell.metadata.get("tags", [])
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), "not executed in order"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, f"error outputs: {[e.ename for e in errors]}"
    assert "parameters" in code[0].metadata.get("tags", []), "first code cell must be tagged parameters"


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_parameters_are_known_and_default_to_the_profile(path):
    declared = declared_parameters(path)
    assert {"profile", "dataset", "device", "run_dir"} <= declared
    assert declared <= set(SETTINGS) | set(SPECIAL)
    assert len(declared) <= 9, f"a parameters cell lists what a reader would change, not every setting: {declared}"
    source = nbformat.read(path, as_version=4).cells
    parameters_cell = next(c for c in source if "parameters" in c.metadata.get("tags", []))
    for line in parameters_cell.source.splitlines():
        if "=" in line:
            assert line.split("=", 1)[1].split("#")[0].strip() == "None", f"not None: {line}"


def test_runner_refuses_unknown_parameter_and_bad_value():
    with pytest.raises(ValueError, match="unknown parameter 'temprature'"):
        check_overrides(PATHS, {"temprature": 4})
    with pytest.raises(ValueError, match="not one of"):
        check_overrides(PATHS, {"dataset": "cifar10"})
    with pytest.raises(ValueError, match="with --profile"):
        check_overrides(PATHS, {"profile": "full"})
    with pytest.raises(ValueError, match="not a device"):
        check_overrides(PATHS, {"device": "gpu0"})
    check_overrides(PATHS, {"device": "cpu", "dataset": "mnist", "temperature": 4})  # accepted
    assert "gan_learning_rate" not in set().union(*(declared_parameters(p) for p in PATHS))
    check_overrides(PATHS, {"gan_learning_rate": 5e-4})  # a setting no cell lists: still given to the notebooks
    with pytest.raises(ValueError, match="gan_learning_rate"):
        check_overrides(PATHS, {"gan_learning_rate": -1.0})


def _decimals(value: str) -> set[str]:
    """A committed result as the text may write it: with 0 to 3 decimals."""
    try:
        number = float(value.replace(",", ""))
    except ValueError:
        return set()
    return {f"{number:.{digits}f}" for digits in range(4)}


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_every_measured_number_in_the_text_comes_from_a_cell_or_a_committed_result(path):
    """A number with a decimal point typed in a Markdown cell (outside math and section numbers) must appear in the
    notebook's own outputs or in a bench result committed under docs/results/: re-running a bench or a cell that
    changes it makes this test name the sentence that has drifted."""
    nb = nbformat.read(path, as_version=4)
    outputs = set()
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            text = "".join(data.get("text/markdown", "")) + data.get("text/plain", "") + output.get("text", "")
            outputs |= set(DECIMAL.findall(text))
    results = set()
    for table in (project_root() / "docs" / "results").rglob("*.csv"):
        with open(table, newline="") as file:
            results |= {shown for row in csv.reader(file) for value in row for shown in _decimals(value)}
    adrift = []
    for cell in (c for c in nb.cells if c.cell_type == "markdown"):
        text = re.sub(r"\$[^$]*\$|arXiv:\S+|[Ss]ections? [\d.]+|^#+ [\d.]+", "", cell.source, flags=re.MULTILINE)
        adrift += [number for number in DECIMAL.findall(text) if number not in outputs
                   and number.replace(",", "") not in results and number not in QUOTED.get(path.stem, set())]
    assert not adrift, f"{path.name}: numbers typed in its text that no cell output or committed result holds: {adrift}"


def test_a_number_typed_without_a_source_is_caught(tmp_path):
    drifted = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("## 2.1 A section\n\nThe student scored 9,876.54, $x = 1.5$, as section 3.2 shows."),
        nbformat.v4.new_code_cell("print(1)")])
    path = tmp_path / "09_drift.ipynb"
    nbformat.write(drifted, path)
    with pytest.raises(AssertionError, match=r"\['9,876.54'\]"):  # the heading, the math, the section are not numbers
        test_every_measured_number_in_the_text_comes_from_a_cell_or_a_committed_result(path)
