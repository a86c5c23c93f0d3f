"""The two wings: the science core never imports the course wing and never names a notebook."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = sorted(p for p in (ROOT / "kdlib").glob("*.py") if p.name != "__main__.py")  # __main__ is the course's CLI
NOTEBOOKS = [p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")]


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, absolute or relative."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            found |= {f"{base}.{alias.name}".strip(".") for alias in node.names} if node.level == 0 else {"." * node.level + base}
    return found


def test_the_core_never_imports_the_course_wing():
    assert len(CORE) >= 10 and (ROOT / "kdlib" / "course" / "__init__.py").is_file()
    offenders = {path.name: sorted(m for m in imported_modules(path) if m.startswith(("kdlib.course", ".")))
                 for path in CORE}
    assert {name: found for name, found in offenders.items() if found} == {}


NOTEBOOK_NAME = re.compile("|".join([*map(re.escape, NOTEBOOKS), r"\bnotebooks? \d\d", r"[\"']\d\d_"]), re.I)


def test_the_core_never_names_a_notebook():
    assert NOTEBOOKS, "no notebooks found"
    named = {path.name: NOTEBOOK_NAME.findall(path.read_text()) for path in CORE}
    assert {name: hits for name, hits in named.items() if hits} == {}


def test_the_checks_catch_code_that_breaks_the_rule(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(f"from kdlib.course.records import Teacher\nfrom . import sweep\n"
                      f"PATH = '{NOTEBOOKS[0]}.ipynb'  # see notebook 02\nNAME = f'04_{{family}}'\n")
    assert imported_modules(sample) == {"kdlib.course.records.Teacher", "."}
    assert len(NOTEBOOK_NAME.findall(sample.read_text())) == 3  # the file name, the comment, the f-string
