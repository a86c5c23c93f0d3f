"""The committed notebooks: clean, executed in order, parameters the library knows, no typed number adrift."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import nbformat
import pytest

from kdlib.course.config import SETTINGS, SPECIAL
from kdlib.course.lessons import notebook_paths
from kdlib.course.runner import check_overrides, clean_notebook, declared_parameters, executed_as_written
from kdlib.store import project_root

PATHS = notebook_paths()
QUOTED: dict[str, set[str]] = {  # per notebook, numbers its text quotes (a version, a rule, a journal) rather than measures
    "00_overview": {"4.1", "95", "0.25"}, "07_when_distillation_pays": {"95", "34"}}
DECIMAL = re.compile(r"(?<![\w.])\d[\d,]*\.\d+(?![\w.])")
# A measured number as the text may type it: a decimal, a whole number of two digits or more (thousands with commas), or
# a percentage of any size. Not a year (1900 to 2099 without a comma) or a number with a leading zero ("notebook 04").
NUMBER = re.compile(r"(?<![\w.,\-])(\d[\d,]*\.\d+|\d{1,3}(?:,\d{3})+|\d{2,}|\d+(?=%))(?![\w.]\w)")
NOT_PROSE = re.compile(r"\$\$.*?\$\$|\$[^$]*\$|`[^`]*`|\]\([^)]*\)|arXiv:\S+|[Ss]ections? [\d.]+|^#+ [\d.]+",
                       re.S | re.M)
WORD_BUDGET = {"00_overview": 1200}  # every other lesson: LESSON_WORDS
LESSON_WORDS, CELL_WORDS, README_CHARACTERS = 3000, 350, 12_000


def measured_numbers(text: str) -> set[str]:
    """The numbers ``NUMBER`` finds in ``text``, without thousands commas or a leading zero's notebook numbers."""
    return {n.replace(",", "") for n in NUMBER.findall(text) if not re.fullmatch(r"0\d|(?:19|20)\d\d", n)}


def generated_prose(cell: nbformat.NotebookNode) -> str:
    """The Markdown a code cell displays, less its table rows: the paragraphs a reader reads."""
    text = "".join("".join(o.get("data", {}).get("text/markdown", "")) for o in cell.get("outputs", []))
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("|"))


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
    assert set(nb.metadata) <= {"kernelspec", "language_info", "kdlib"}, "stray notebook metadata"
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


LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")  # a Markdown link's target, without its anchor


def linked_numbers(cell_source: str, notebook: Path) -> set[str]:
    """The numbers of every file (Markdown or CSV, in the repository) a Markdown cell links to: where a sentence that
    cites a result may take its number from."""
    found = set()
    for target in LINK.findall(cell_source):
        path = (notebook.parent / target).resolve()
        if not path.is_file() or path.suffix not in (".md", ".csv"):
            continue
        text = path.read_text()
        found |= measured_numbers(text)
        if path.suffix == ".csv":
            found |= {shown for row in csv.reader(io.StringIO(text)) for value in row  # a number, or "254.2 ± 0.7"
                      for shown in _decimals(value) | measured_numbers(value)}
    return found


LESSON_PAGES = sorted((project_root() / "docs" / "lessons").glob("*.md"))  # topics the lessons moved out


@pytest.mark.parametrize("page", LESSON_PAGES, ids=lambda p: p.name)
def test_every_number_on_a_lesson_page_comes_from_what_it_links_to(page):
    """A page a lesson moved out may type a number only from what it links to: the outputs of a linked notebook,
    or a linked results page or CSV. It must also link back to a lesson."""
    text = page.read_text()
    found = linked_numbers(text, page)
    notebooks = [(page.parent / target).resolve() for target in LINK.findall(text)]
    notebooks = [path for path in notebooks if path.suffix == ".ipynb" and path.is_file()]
    assert notebooks, f"{page.name} links to no lesson: link the notebook it belongs to"
    for path in notebooks:
        for cell in nbformat.read(path, as_version=4).cells:
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                found |= measured_numbers("".join(data.get("text/markdown", "")) + "".join(data.get("text/plain", ""))
                                          + output.get("text", ""))
    adrift = sorted(measured_numbers(NOT_PROSE.sub(" ", text)) - found)
    assert not adrift, f"{page.name}: numbers that neither a linked notebook's outputs nor a linked file hold: {adrift}"


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_every_measured_number_in_the_text_comes_from_a_cell_or_a_committed_result(path):
    """A number typed in a Markdown cell (a decimal, a whole number of two digits or more, or a percentage; outside
    math, code, links, years and section numbers) must appear in the notebook's own outputs, or in a file under the
    repository that the same cell links to (a results page or CSV): re-running a bench or a cell that changes it
    makes this test name the sentence that has drifted."""
    nb = nbformat.read(path, as_version=4)
    outputs = set()
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            text = "".join(data.get("text/markdown", "")) + data.get("text/plain", "") + output.get("text", "")
            outputs |= measured_numbers(text)
    adrift = []
    for cell in (c for c in nb.cells if c.cell_type == "markdown"):
        typed = measured_numbers(NOT_PROSE.sub(" ", cell.source)) - outputs - QUOTED.get(path.stem, set())
        adrift += sorted(typed - linked_numbers(cell.source, path)) if typed else []
    assert not adrift, (f"{path.name}: numbers typed in its text that neither a cell output nor a file the same cell "
                        f"links to holds: {adrift}")


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_each_lesson_keeps_to_its_word_budget(path):
    """Prose, generated paragraphs included: at most 3,000 words a lesson (1,200 for the overview), 350 a cell."""
    nb = nbformat.read(path, as_version=4)
    cells = [c.source for c in nb.cells if c.cell_type == "markdown"] + [generated_prose(c) for c in nb.cells
                                                                          if c.cell_type == "code"]
    words = sum(len(text.split()) for text in cells)
    assert words <= WORD_BUDGET.get(path.stem, LESSON_WORDS), f"{path.name}: {words:,} words of prose"
    longest = max(len(text.split()) for text in cells)
    assert longest <= CELL_WORDS, f"{path.name}: a cell of {longest} words"


def test_the_readme_is_a_front_page():
    size = len((project_root() / "README.md").read_text())
    assert size <= README_CHARACTERS, f"README.md is {size:,} characters: results belong on pages under docs/"


def test_a_number_typed_without_a_source_is_caught(tmp_path):
    drifted = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("## 2.1 A section\n\nThe student scored 9,876.54 with 4,321 errors, 12.3456% fewer, "
                                      "in 2017 (Hinton et al.), $x = 1.5$, `--epochs 30`, as section 3.2 and notebook 04 "
                                      "show; 12 of them are in the output."),
        nbformat.v4.new_code_cell("print(12)")])
    drifted.cells[1].outputs = [nbformat.v4.new_output("stream", text="12\n")]
    path = tmp_path / "09_drift.ipynb"
    nbformat.write(drifted, path)
    # the heading, the year, the math, the code, the section, the notebook and the number in the output are not adrift
    with pytest.raises(AssertionError, match=r"\['12.3456', '4321', '9876.54'\]"):
        test_every_measured_number_in_the_text_comes_from_a_cell_or_a_committed_result(path)
    (tmp_path / "result.csv").write_text("student,errors\nA,\"4,321\"\n")  # a result file that holds 4,321
    drifted.cells[0].source = "The student made 4,321 errors."
    nbformat.write(drifted, path)
    with pytest.raises(AssertionError, match=r"\['4321'\]"):  # any file anywhere holding the number is not enough
        test_every_measured_number_in_the_text_comes_from_a_cell_or_a_committed_result(path)
    drifted.cells[0].source = "The student made 4,321 errors ([the results](result.csv))."
    nbformat.write(drifted, path)
    test_every_measured_number_in_the_text_comes_from_a_cell_or_a_committed_result(path)  # the cell links its source


def test_measured_numbers_are_found_and_years_and_notebooks_left_out():
    assert measured_numbers("1,314.7 against 1,478 errors, 11% fewer, 5% at most, in 2015, notebook 04, 7 seeds") == {
        "1314.7", "1478", "11", "5"}


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_the_notebook_was_executed_as_it_is_written(path):
    """An edit of the text or the code after execution leaves outputs (word counts, generated sentences, tables) that
    no longer follow it: `make notebooks` executes it again."""
    assert executed_as_written(path), f"{path.name} was edited after it was executed: run `make notebooks`"


def test_an_edit_after_execution_is_caught(tmp_path):
    executed = tmp_path / "executed.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("The student scores 150.2."),
                                         nbformat.v4.new_code_cell("x = 1")])
    nb.cells.insert(1, nbformat.v4.new_code_cell("profile = 'smoke'", metadata={"tags": ["injected-parameters"]}))
    nbformat.write(nb, executed)
    clean_notebook(executed, tmp_path / "clean.ipynb")
    assert executed_as_written(tmp_path / "clean.ipynb")  # the injected cell is not the notebook's own
    for edit in ("The student scores 151.0.", None):  # the text, then the code, edited after the run
        nb = nbformat.read(tmp_path / "clean.ipynb", as_version=4)
        if edit:
            nb.cells[0].source = edit
        else:
            nb.cells[1].source = "x = 2"
        nbformat.write(nb, tmp_path / "edited.ipynb")
        assert not executed_as_written(tmp_path / "edited.ipynb")


# Sentence length over a lesson's prose: Markdown cells less code, math, tables, headings, images and links' targets.
MEAN_WORDS, LONG_WORDS, LONG_SHARE = 17, 30, 1 / 20


def prose_of(markdown: str) -> str:
    """The sentences of a Markdown cell as a reader reads them: code, math and tables out, links' text kept; a list
    item or a blank line ends a sentence."""
    text = re.sub(r"```.*?```", " ", markdown, flags=re.S)
    text = re.sub(r"\$\$.*?\$\$", " MATH ", text, flags=re.S)
    text = re.sub(r"\$[^$\n]+\$", "MATH", text)
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", " ", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"`[^`]*`", "CODE", text)
    lines = [line for line in text.splitlines() if not line.lstrip().startswith(("|", "#", "<"))]
    return " ".join(re.sub(r"^\s*(?:[-*+]|\d+\.)\s+", "\n", line) if line.strip() else "\n" for line in lines)


def sentence_lengths(nb: nbformat.NotebookNode) -> list[int]:
    """The number of words in each sentence (of three words or more) of the notebook's Markdown prose."""
    text = " ".join(prose_of(cell.source) for cell in nb.cells if cell.cell_type == "markdown")
    parts = [part for chunk in text.split("\n") for part in re.split(r"(?<=[.!?])\s+(?=[A-Z*_(\"'0-9])", chunk)]
    return [len(part.split()) for part in parts if len(part.split()) >= 3]


def too_long(lengths: list[int]) -> str | None:
    """Why the prose breaks the limits (a mean of at most 17 words a sentence, at most 1 in 20 over 30), or None."""
    mean, share = sum(lengths) / len(lengths), sum(n > LONG_WORDS for n in lengths) / len(lengths)
    if mean > MEAN_WORDS or share > LONG_SHARE:
        return f"sentences average {mean:.1f} words (at most {MEAN_WORDS}), {share:.0%} run past {LONG_WORDS} (at most 5%)"
    return None


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_a_student_can_follow_the_sentences(path):
    problem = too_long(sentence_lengths(nbformat.read(path, as_version=4)))
    assert problem is None, f"{path.name}: {problem}; write shorter sentences, or cut a topic to docs/"


@pytest.mark.parametrize("page", LESSON_PAGES, ids=lambda p: p.name)
def test_a_student_can_follow_the_pages_the_lessons_moved_out(page):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(page.read_text())])
    problem = too_long(sentence_lengths(nb))
    assert problem is None, f"{page.name}: {problem}; write shorter sentences"


def test_long_chained_sentences_are_caught():
    short = "The student learns from the teacher. It trains for one epoch. Its samples look real."
    chained = ("The student, which starts as the teacher cut to a tenth of its channels, learns from the teacher's "
               "images for the same latents: a regression whose target moves as the generator's batch norm does, "
               "weighted against an adversarial term whose critic sees the real images; and so on for every step.")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(short + " $$x = y + z$$ `a.b(c)`\n\n| a | b |\n|---|---|")])
    assert sentence_lengths(nb) == [6, 5, 4] and too_long(sentence_lengths(nb)) is None
    nb.cells.append(nbformat.v4.new_markdown_cell(chained))
    assert "run past 30" in too_long(sentence_lengths(nb))
