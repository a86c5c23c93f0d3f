"""Reports: the records of one or many run folders as one CSV, one Markdown file and the sweep's plots.

A report loops over the record types, each with its section and row builder:
the classifiers and their temperature x alpha sweep, the evaluation's teachers,
students and targets (or, without an evaluation, the teachers alone), and per
notebook the runner's wall time, peak memory and machine. Each row starts with
the run's name and the parameters it was given (a sweep point's values, else the
runner's overrides), so rows of many runs sit in one table. ``update_readme``
regenerates a Markdown page's results (the pages under docs/results/) from the runs its own markers name.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import re
import shlex
import statistics
from collections.abc import Callable, Collection
from dataclasses import asdict
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from kdlib.course.config import SETTINGS
from kdlib.course.folders import Ledger
from kdlib.course.records import (NOTEBOOK, Classifiers, DiffusionResult, Evaluation, EvaluationRow, LatentRow,
                                  NotebookRun, Record, Teacher, read_record)
from kdlib.course.runner import select
from kdlib.course.shipped import shipped_table
from kdlib.course.sweep import SweepPoint, sweep_points
from kdlib.evaluate import LABELS, SPEED_RANGE, speed_range
from kdlib.plots import quality_against
from kdlib.targets import is_baseline, over_seeds, target_checks, target_rows, targets_text
from kdlib.tables import cell, markdown_table

MODEL_COLUMNS = ("parameters", "macs_per_image", "images_per_second", "latency_ms", "frechet_distance", "precision",
                 "recall", "density", "coverage", "fidelity", "training_seconds",
                 "frechet_distance_second")  # keys of LABELS
IN_CSV_ONLY = {"family", "objective", "width"}  # the model's name already says them
FD_SPREAD = "Fréchet distance, sd over seeds"
SECOND_SPREAD = "Fréchet distance, second ruler, sd over seeds"
README_BLOCK = re.compile(r"<!-- kdlib report (?P<args>[^>]*?) -->\n(?P<body>.*?)<!-- end of kdlib report -->", re.S)
SHIPPED_BLOCK = re.compile(r"<!-- kdlib shipped (?P<folder>[^>]*?) -->\n(?P<body>.*?)<!-- end of kdlib shipped -->", re.S)

def _classifier_rows(record: Classifiers) -> list[dict[str, Any]]:
    return [{"model": m.name, "test errors": m.mean_errors, "seeds": len(m.seeds),
             "spread (max - min)": m.spread,
             **({"validation errors": m.mean_validation_errors} if m.validation_errors else {}),
             "parameters": m.parameters,
             "training (s, mean)": sum(m.training_seconds) / len(m.training_seconds), "source": m.source}
            for m in record.models]


def _sweep_rows(record: Classifiers) -> list[dict[str, Any]]:
    return [{"model": "distilled student", "T": p.temperature, "alpha": p.alpha, "epochs": p.epochs,
             "test errors": p.test_errors} for p in record.sweep]


def _model_rows(rows: list[EvaluationRow]) -> list[dict[str, Any]]:
    """One row per model: the means over its seeds, the number of seeds and the Fréchet distances' spread (the
    second ruler's where it was measured)."""
    return [{"model": m.mean.name, "family": m.mean.family, "objective": m.mean.objective, "width": m.mean.width,
             "seeds": len(m.seeds) or "-",
             **{LABELS[key]: getattr(m.mean, key) for key in MODEL_COLUMNS if getattr(m.mean, key) is not None},
             FD_SPREAD: m.spread["frechet_distance"] if len(m.seeds) > 1 else "-",
             **({SECOND_SPREAD: m.spread["frechet_distance_second"] if len(m.seeds) > 1 else "-"}
                if m.mean.frechet_distance_second is not None else {}),
             SPEED_RANGE: speed_range(m.mean)}
            for m in over_seeds(rows)]


def _teacher_rows(record: Teacher) -> list[dict[str, Any]]:
    values = asdict(record.quality) | {"training_seconds": record.training_seconds}
    return [{"model": f"{record.family.upper()} teacher",
             **{LABELS[key]: values[key] for key in MODEL_COLUMNS if key in values}}]


def _diffusion_rows(record: DiffusionResult) -> list[dict[str, Any]]:
    """Each sampler of notebook 05 at each step count: the mean and spread over seeds of its quality, its training
    time; the VAE's reference points first."""
    groups: dict[tuple[str, int | None], list[LatentRow]] = {}
    for row in record.rows:
        groups.setdefault((row.method, row.steps), []).append(row)
    rows = []
    for (method, steps), group in groups.items():
        fd = [r.frechet_distance for r in group]
        rows.append({"sampler": method, "steps": steps if steps is not None else "",
                     "seeds": len(group) if group[0].seed is not None else "",
                     LABELS["frechet_distance"]: round(statistics.mean(fd), 1),
                     FD_SPREAD: round(statistics.stdev(fd), 1) if len(fd) > 1 else "",
                     "precision": round(statistics.mean(r.precision for r in group), 3),
                     "recall": round(statistics.mean(r.recall for r in group), 3),
                     "training (s)": record.training_seconds.get(method, "")})
    return rows


def _diffusion_speed_rows(record: DiffusionResult) -> list[dict[str, Any]]:
    return [{"sampler": name, "ms per image (batch 256)": round(ms, 4)}
            for name, ms in record.milliseconds_per_image.items()]


CLASSIFIERS = "Notebook 01: teacher and students (test errors out of 10,000)"
MODELS = "Notebook 06: teachers and students"
TARGETS_TITLE = "Notebook 06: the targets"
RUNNER_TITLE = "Wall time, peak memory and machine per notebook"
SECTIONS: list[tuple[type[Record], str, Callable[[Any], list[dict[str, Any]]]]] = [  # record type, title, rows
    (Classifiers, CLASSIFIERS, _classifier_rows),
    (Classifiers, "Notebook 01: distilled students over temperature and alpha", _sweep_rows),
    (Teacher, "Notebooks 02 and 03: the teachers", _teacher_rows),
    (DiffusionResult, "Notebook 05: a latent flow teacher and its step-distilled students", _diffusion_rows),
    (DiffusionResult, "Notebook 05: time per image", _diffusion_speed_rows),
    (Evaluation, MODELS, lambda record: _model_rows(list(record.rows))),
    (Evaluation, TARGETS_TITLE, lambda record: target_rows(target_checks(list(record.rows)))),
]


def expand(runs: list[str | Path]) -> list[Path]:
    """Run folders, a sweep's folder replaced by its finished points; a sweep folder with none is refused, naming
    its points."""
    expanded = []
    for run in map(Path, runs):
        points = sweep_points(run)
        started = sorted(p.name for p in run.glob("*/") if any(p.glob("*.ipynb")) or (p / "records").is_dir()) \
            if not points and not (run / "records").is_dir() else []
        if started:
            raise ValueError(f"{run} is a sweep folder with no finished point (its points {', '.join(started[:5])} "
                             f"failed or are still running; each one's notebooks are in its folder): run the sweep "
                             f"again, which retries them")
        expanded += points or [run]
    return expanded


def run_records(run: Path) -> list[Record]:
    """Every record of a run folder, each read and checked; a folder without records is an error. A sweep point's
    records of notebooks it did not run (copied from its base for its notebooks to read) are left out: the report
    of a point holds what it ran."""
    if not (run / "records").is_dir():
        raise FileNotFoundError(f"{run} has no records/ folder: is it a run folder (python -m kdlib run --run-dir ...)?")
    records = [read_record(path) for path in sorted((run / "records").glob("*.json"))]
    point = next((r for r in records if isinstance(r, SweepPoint)), None)
    if point is None:
        return records
    ran = {path.stem for path in select(list(point.only) if point.only else None, point.start)}
    return [r for r in records if not NOTEBOOK.fullmatch(writer := type(r).writer(**r.key())) or writer in ran]


def run_parameters(records: list[Record]) -> dict[str, Any]:
    """What distinguishes a run: its sweep point, else the parameters the runner passed besides run_dir."""
    point = next((r.point for r in records if isinstance(r, SweepPoint)), None)
    if point is not None:
        return dict(point)
    given: dict[str, Any] = {}
    for record in records:
        if isinstance(record, NotebookRun):
            given |= {k: v for k, v in record.parameters.items() if k != "run_dir"}
    return given


def machine_text(record: NotebookRun) -> str:
    """A runner record's machine in one phrase, e.g. "AMD EPYC (AVX2 kernels), 2 CPUs, cpu, torch 2.14.1"."""
    m = record.machine
    return f"{m.cpu}{f' ({m.kernels} kernels)' if m.kernels else ''}, {m.cpus} CPUs, {m.device}, torch {m.torch}"


def collect(runs: list[str | Path]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(rows of every section, runner rows) of every run folder; each row names its section in ``"section"``."""
    rows, runner = [], []
    for run in map(Path, runs):
        records = run_records(run)
        head = {"run": run.name, **run_parameters(records)}
        evaluated = any(isinstance(r, Evaluation) for r in records)
        for record_type, title, make_rows in SECTIONS:
            for record in (r for r in records if type(r) is record_type):
                if record_type is Teacher and evaluated:
                    continue  # the evaluation measured the teachers again, beside their students
                setting = {k: record.config[k] for k in ("profile", "dataset", "device", "threads") if k in record.config}
                rows += [{"section": title} | head | setting | row for row in make_rows(record)]
        runner += [head | {"notebook": r.notebook, "seconds": r.seconds, "peak memory (MiB)": r.peak_memory_mib,
                           "machine": machine_text(r)} for r in records if isinstance(r, NotebookRun)]
    return rows, runner


def compression_points(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The evaluation's rows as points of the compression curve: one line per family and objective (and run,
    when several runs are reported); each teacher once."""
    models = [row for row in rows if row["section"] == MODELS]
    several = len({row["run"] for row in models}) > 1
    points = {}
    for row in models:
        teacher = row["objective"] == "teacher"
        label = row["objective"] if not several or teacher else f"{row['objective']} [{row['run']}]"
        spread = row.get(FD_SPREAD)
        points.setdefault((row["family"], label, row["width"]),
                          {"family": row["family"], "objective": label, "width": row["width"],
                           "parameters": row["parameters"], "frechet_distance": row[LABELS["frechet_distance"]],
                           "frechet_distance_sd": spread if isinstance(spread, float) else None})
    return list(points.values())


def setting_in_words(name: str) -> str:
    """A swept setting as a figure names it: its meaning up to the first parenthesis or semicolon ("epochs of every
    VAE student" for ``vae_student_epochs``); a name that is no setting, as it is."""
    setting = SETTINGS.get(name)
    return setting.meaning.split(" (")[0].split(";")[0] if setting else name


def budget_points(rows: list[dict[str, Any]], parameter: str, second: bool = False) -> list[dict[str, Any]]:
    """The evaluation's rows of a sweep over ``parameter`` (e.g. ``gan_student_epochs``) as points of Fréchet
    distance (on the second ruler with ``second``) against it: one line per family, objective and width (the
    width in the label where a family has several), the mean over seeds with its standard deviation. A parameter of
    one family (``gan_...``, ``vae_...``) keeps that family's rows only: the others did not change along it."""
    value, spread = (LABELS["frechet_distance_second"], SECOND_SPREAD) if second else \
        (LABELS["frechet_distance"], FD_SPREAD)
    models = [row for row in rows if row["section"] == MODELS and row.get(value) not in (None, "")]
    models = [row for row in models if row["family"] == parameter.split("_")[0]] or models
    widths = {family: {row["width"] for row in models if row["family"] == family and row["objective"] != "teacher"}
              for family in {row["family"] for row in models}}
    return [{"family": row["family"], parameter: row[parameter], "frechet_distance": row[value],
             "frechet_distance_sd": row.get(spread) if isinstance(row.get(spread), float) else None,
             "objective": row["objective"] if row["objective"] == "teacher" or len(widths[row["family"]]) == 1
             else f"{row['objective']} {row['width']:g}"} for row in models]


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(key for row in rows for key in row))


def to_csv(rows: list[dict[str, Any]]) -> str:
    """All rows, the union of their columns (empty where a row has no value)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_columns(rows), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: json.dumps(v) if isinstance(v, list | tuple) else v for k, v in row.items()} for row in rows)
    return buffer.getvalue()


def section(title: str, rows: list[dict[str, Any]], hidden: Collection[str] = ()) -> str:
    """A Markdown section without the ``hidden`` columns; columns with one value in every row are said once
    above the table."""
    columns = [c for c in _columns(rows) if c not in hidden]
    shared = {c: rows[0].get(c) for c in columns
              if len(rows) > 1 and all(c in row and row[c] == rows[0][c] for row in rows)}
    said = "All rows: " + ", ".join(f"{c} {cell(v)}" for c, v in shared.items()) + ".\n\n" if shared else ""
    table = [{c: row.get(c, "") for c in columns if c not in shared} for row in rows]
    return f"## {title}\n\n{said}{markdown_table(table)}"


def report_markdown(rows: list[dict[str, Any]], runner: list[dict[str, Any]], figures: dict[str, Path]) -> str:
    """The report's Markdown sections; figures are linked by file name (they sit beside the report)."""
    sections = []
    for title in dict.fromkeys(row["section"] for row in rows):
        text = section(title, [row for row in rows if row["section"] == title], IN_CSV_ONLY | {"section"})
        sections.append(text + ("\n\n" + targets_text() if title == TARGETS_TITLE else ""))
    if runner:
        sections.append(section(RUNNER_TITLE, runner) + "\n\nWall time of the run that wrote the records (a run "
                        "that loads its checkpoints is fast); peak memory is the notebook kernel's resident set size.")
    sections += [f"![{caption}]({path.name})" for caption, path in figures.items()]
    return "\n\n".join(sections)


def write_report(runs: list[str | Path], out: str | Path) -> dict[str, Path]:
    """Write ``report.csv``, ``report.md`` and the plots (Fréchet distance against size when an evaluation ran,
    unless several runs have models of the same sizes, as along a sweep; against each swept numeric parameter where
    runs differ in one; test errors against it for the classifiers) into ``out``. A file there that the report did not
    write, or that changed since, is refused before anything is written; a figure an earlier report wrote there and
    this one does not draw is removed. Refused: ``out`` inside a run's ``records/``, ``checkpoints/`` or
    ``figures/`` (its ledger and files would sit among the run's own)."""
    for run in map(Path, runs):
        inside = Path(out).resolve().relative_to(run.resolve()).parts if Path(out).resolve().is_relative_to(
            run.resolve()) else ()
        if inside and inside[0] in ("records", "checkpoints", "figures"):
            raise ValueError(f"--out {out} is inside the run folder {run}'s {inside[0]}/, among what the run wrote: "
                             f"give the report a folder of its own, e.g. reports/NAME")
    rows, runner = collect(runs)
    if not rows and not runner:
        raise ValueError(f"no records found in {[str(r) for r in runs]}: run the notebooks first")
    figures: dict[str, tuple[str, plt.Figure]] = {}  # caption -> (file name, figure)
    given = [run_parameters(run_records(Path(run))) for run in runs]
    swept = [name for name in dict.fromkeys(k for g in given for k in g)  # numeric parameters that differ
             if all(isinstance(g.get(name), int | float) for g in given) and len({g[name] for g in given}) > 1]
    curve = compression_points(rows)
    sizes: dict[str, set[tuple[str, float]]] = {}  # each run's models, by family and width
    for row in rows:
        if row["section"] == MODELS:
            sizes.setdefault(row["run"], set()).add((row["family"], row["width"]))
    stacked = len(sizes) > 1 and len({frozenset(models) for models in sizes.values()}) == 1
    if curve and not stacked:  # runs of the same sizes would stack at one size: a swept number is drawn (below)
        figures["Fréchet distance against parameters, distilled and from scratch"] = ("quality_vs_size.png",
            quality_against(curve, "parameters", "parameters used for sampling (log scale)",
                            y_error="frechet_distance_sd"))
    baselines = {row["objective"] for row in rows if row["section"] == MODELS and is_baseline(row["family"],
                                                                                              row["objective"])}
    for name in swept:  # e.g. a sweep of the students' epochs: quality against the budget, on each ruler
        for second, ruler_name in ((False, "shipped ruler"), (True, "second ruler")):
            points = budget_points(rows, name, second)
            if points:
                words = setting_in_words(name)
                figures[f"Fréchet distance ({ruler_name}) against the {words}, mean ± sd over seeds"] = (
                    f"quality_vs_{name}{'_second' if second else ''}.png",
                    quality_against(points, name, f"{words} (log scale)", ylabel=f"Fréchet distance, {ruler_name}",
                                    y_error="frechet_distance_sd", baselines=baselines))
    classifiers = [row for row in rows if row["section"] == CLASSIFIERS]
    for name in swept if classifiers else []:  # e.g. a temperature sweep of the classifiers
        figure, ax = plt.subplots(figsize=(5, 3.2))
        for model in dict.fromkeys(row["model"] for row in classifiers):
            ax.plot(*zip(*sorted((row[name], row["test errors"]) for row in classifiers if row["model"] == model)),
                    marker="o", label=model)
        ax.set_xlabel(name)
        ax.set_ylabel("test errors")
        ax.legend(fontsize=8)
        figures[f"Notebook 01: test errors against {name}"] = (f"errors_vs_{name}.png", figure)
    try:
        ledger = Ledger(out, "python -m kdlib report")
        ledger.check(["report.csv", "report.md", *(file for file, _ in figures.values())])
        written = {"csv": ledger.write("report.csv", lambda tmp: tmp.write_text(
            to_csv(rows + [row | {"section": RUNNER_TITLE} for row in runner])))}
        for caption, (file, figure) in figures.items():
            written[f"plot {caption}"] = ledger.write(file, lambda tmp, figure=figure: figure.savefig(
                tmp, format="png", dpi=120, bbox_inches="tight"))
    finally:
        for _, figure in figures.values():
            plt.close(figure)
    paths = {caption: written[f"plot {caption}"] for caption in figures}
    text = f"# Report of {len(runs)} run(s)\n\n{report_markdown(rows, runner, paths)}\n"
    written["markdown"] = ledger.write("report.md", lambda tmp: tmp.write_text(text))
    ledger.remove_others(path.name for path in written.values())  # figures an earlier report drew and this one not
    return written


def update_readme(readme: str | Path, only: Collection[str] | None = None) -> list[str]:
    """Regenerate every ``<!-- kdlib report RUN... --out FOLDER -->`` ... ``<!-- end of kdlib report -->``
    block of ``readme`` from the runs its marker names (paths relative to the file), and every
    ``<!-- kdlib shipped FOLDER -->`` ... ``<!-- end of kdlib shipped -->`` block from the manifests in
    FOLDER; return the markers. With ``only`` (run folders as the markers write them), a report block that
    names none of them is left as it was, and returned as "kept: MARKER"."""
    readme = Path(readme)
    done = []

    def fill(match: re.Match[str]) -> str:
        words = shlex.split(match["args"])
        if len(words) < 3 or words[-2] != "--out" or "--out" in words[:-2]:
            raise ValueError(f"{readme}: marker '<!-- kdlib report {match['args']} -->' must read "
                             "'<!-- kdlib report RUN... --out FOLDER -->'")
        if only is not None and not set(words[:-2]) & set(only):
            done.append(f"kept: {match['args']}")
            return match[0]
        written = write_report(expand([readme.parent / run for run in words[:-2]]), readme.parent / words[-1])
        body = written["markdown"].read_text().split("\n", 2)[2].rstrip("\n")  # without the title
        body = re.sub(r"^## ", "#### ", body, flags=re.M)
        for key, path in written.items():
            if key.startswith("plot "):
                body = body.replace(f"]({path.name})", f"]({Path(os.path.relpath(path, readme.parent)).as_posix()})")
        done.append(match["args"])
        return (f"<!-- kdlib report {match['args']} -->\n_Generated by `python -m kdlib report --readme "
                f"{readme.name}` from {', '.join(f'`{w}`' for w in words[:-2])}; CSV and Markdown in "
                f"`{words[-1]}/`._\n\n{body}\n<!-- end of kdlib report -->")

    def fill_shipped(match: re.Match[str]) -> str:
        folder = match["folder"].strip()
        done.append(f"shipped {folder}")
        return (f"<!-- kdlib shipped {folder} -->\n_Generated by `python -m kdlib report --readme {readme.name}` "
                f"from the manifests in `{folder}/`._\n\n{shipped_table(readme.parent / folder)}\n"
                f"<!-- end of kdlib shipped -->")

    updated = SHIPPED_BLOCK.sub(fill_shipped, README_BLOCK.sub(fill, readme.read_text()))
    if not done:
        raise ValueError(f"{readme} has no '<!-- kdlib report RUN... --out FOLDER -->' ... "
                         "'<!-- end of kdlib report -->' block to fill")
    readme.write_text(updated)
    return done
