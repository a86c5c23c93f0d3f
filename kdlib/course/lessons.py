"""What the lessons show of themselves: the course's table of notebooks, each lesson's study and running time, and
the machine that timed them. Notebooks call it, so it reads the notebook files as plain JSON and imports nothing
of the runner's (no papermill, nbformat or jupyter_client).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from kdlib.course.config import PROFILES
from kdlib.store import project_root

EXERCISE = re.compile(r"^(\d+)\. \*\*", re.M)  # "1. **Title.**": one exercise of the Exercises cell
# A study pace, not a reading speed: a first-year graduate student working through text with mathematics, checking
# each step (a lecturer's rule of thumb, not a measurement), and a sitting per exercise.
STUDY_WORDS_PER_MINUTE, MINUTES_PER_EXERCISE = 60, 10


def notebooks_dir() -> Path:
    return project_root() / "notebooks"


def notebook_paths() -> list[Path]:
    """The course's notebooks, in order: ``notebooks/NN_*.ipynb``."""
    return sorted(p for p in notebooks_dir().glob("[0-9][0-9]_*.ipynb"))


def markdown_cells(path: Path) -> list[str]:
    """The text of each Markdown cell of the notebook at ``path``, in order."""
    cells = json.loads(path.read_text())["cells"]
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in cells if c["cell_type"] == "markdown"]


def exercises(markdown: list[str], name: str) -> int:
    """How many exercises a notebook's Exercises cell (the one Markdown cell headed "## Exercises") numbers;
    ``markdown`` is the notebook's Markdown cells' text."""
    cells = [text for text in markdown if text.startswith("## Exercises")]
    if len(cells) != 1:
        raise ValueError(f"{name}: expected one Markdown cell headed '## Exercises', found {len(cells)}")
    numbers = [int(n) for n in EXERCISE.findall(cells[0])]
    if numbers != list(range(1, len(numbers) + 1)) or not numbers:
        raise ValueError(f"{name}: the Exercises cell must number its exercises 1., 2., ... (found {numbers})")
    return len(numbers)


def machine_phrase(recorded: dict[str, Any]) -> str:
    """A machine of ``notebooks/timings.json`` in words: "2 cores of an Intel(R) Xeon(R) Processor (AVX512 kernels)"."""
    kernels = f" ({recorded['kernels']} kernels)" if recorded.get("kernels") else ""
    device = f", {recorded['device']}" if recorded.get("device", "cpu") != "cpu" else ""
    return f"{recorded.get('cpus', '?')} cores of {recorded.get('cpu', 'an unrecorded CPU')}{kernels}{device}"


def recorded_timings() -> dict[str, Any]:
    """``notebooks/timings.json`` (profile -> seconds per notebook and the machine), or {} before any was recorded."""
    target = notebooks_dir() / "timings.json"
    return json.loads(target.read_text()) if target.is_file() else {}


def course_table() -> str:
    """A Markdown table of the notebooks: title (which starts with the notebook's number), first paragraph (what it
    teaches), measured minutes per profile."""
    timings = recorded_timings()
    profiles = list(PROFILES)
    rows = ["| notebook | what it teaches | " + " | ".join(f"{p} (min)" for p in profiles) + " |",
            "|---|---|" + "---|" * len(profiles)]
    for path in notebook_paths():
        paragraphs = [p.strip() for p in markdown_cells(path)[0].split("\n\n") if p.strip()]
        title, summary = paragraphs[0].lstrip("# "), (paragraphs[1] if len(paragraphs) > 1 else "")
        minutes = [timings.get(p, {}).get("seconds", {}).get(path.stem) for p in profiles]
        cells = [f"{m / 60:.1f}" if m is not None else "not measured" for m in minutes]
        rows.append(f"| {title} | {summary.replace(chr(10), ' ')} | " + " | ".join(cells) + " |")
    machines = [f"{p} on {machine_phrase(timings[p].get('machine', {}))}" for p in profiles if p in timings]
    return "\n".join(rows) + ("\n\nMeasured with `python -m kdlib run --record-timings`: " + "; ".join(machines) + "."
                              if machines else "")


def study_time(notebook: str) -> str:
    """What a notebook asks of a student's time: studying its text (its Markdown words at ``STUDY_WORDS_PER_MINUTE``)
    and its exercises (``MINUTES_PER_EXERCISE`` each), an estimate that says how it is made; and running it in each
    timed profile (``notebooks/timings.json``, written by ``python -m kdlib run --record-timings``), measured, on the
    machine that timed it."""
    path = notebooks_dir() / f"{notebook}.ipynb"
    if not path.is_file():
        raise ValueError(f"no notebook {notebook!r} in {notebooks_dir()}; known: {[p.stem for p in notebook_paths()]}")
    markdown = markdown_cells(path)
    words = sum(len(text.split()) for text in markdown)
    count = exercises(markdown, path.name) if any(text.startswith("## Exercises") for text in markdown) else 0
    minutes = words / STUDY_WORDS_PER_MINUTE + count * MINUTES_PER_EXERCISE
    timings = recorded_timings()
    runs = []
    for profile in (p for p in PROFILES if p != "smoke"):  # smoke's numbers mean nothing to a student
        seconds = timings.get(profile, {}).get("seconds", {}).get(notebook)
        if seconds is not None:  # each profile's time with the machine that measured it
            runs.append(f"{seconds / 60:.1f} min in `{profile}` on {machine_phrase(timings[profile].get('machine', {}))}")
    running = (f"{' and '.join(runs)}, measured by `python -m kdlib run --record-timings`" if runs
               else "not timed yet")
    return (f"**Time.** Studying: about {5 * round(minutes / 5):.0f} min, estimated as {words:,} words of text at "
            f"{STUDY_WORDS_PER_MINUTE} a minute" + (f" and {count} exercises at {MINUTES_PER_EXERCISE} minutes each"
                                                     if count else "") + f". Running: {running}.")
