"""The committed notebooks: clean, executed in order, parameters the library knows."""

from __future__ import annotations

import nbformat
import pytest

from kdlib.course.config import SETTINGS, SPECIAL
from kdlib.course.runner import check_overrides, declared_parameters, notebook_paths

PATHS = notebook_paths()


def test_there_are_notebooks_in_order():
    names = [p.name for p in PATHS]
    assert names and names[0] == "00_overview.ipynb"
    assert [int(n[:2]) for n in names] == list(range(len(names)))


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
    assert {"profile", "run_dir"} <= declared
    assert declared <= set(SETTINGS) | set(SPECIAL)
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
