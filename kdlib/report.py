"""Reports: the metrics of one or many run folders as one CSV, one Markdown file and the sweep's plots.

Rows come from what the notebooks wrote: notebook 01's classifiers and its
temperature x alpha sweep, notebook 05's teachers, students and targets (or,
without 05, the teachers of 02 and 03), and per notebook the runner's wall
time, peak memory and machine. Each row starts with the run's name and the parameters it
was given (a sweep point's values, else the runner's overrides), so rows of many
runs sit in one table. ``update_readme`` regenerates the README's results from
the runs its own markers name, so those tables are never typed by hand.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shlex
from collections.abc import Collection
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from kdlib.plots import quality_against
from kdlib.students import TARGETS, target_rows
from kdlib.sweep import MARKER, sweep_points
from kdlib.tables import cell, markdown_table

MODEL_COLUMNS = {"parameters": "parameters", "macs_per_image": "MACs/image", "images_per_second": "images/s",
                 "latency_ms": "latency (ms)", "frechet_distance": "Fréchet distance", "precision": "precision",
                 "recall": "recall", "density": "density", "coverage": "coverage", "fidelity": "fidelity",
                 "training_seconds": "training (s)"}
TITLES = {"01": "Notebook 01: teacher and students (test errors out of 10,000)",
          "01 sweep": "Notebook 01: distilled students over temperature and alpha",
          "02": "Notebooks 02 and 03: the teachers", "03": "Notebooks 02 and 03: the teachers",
          "05": "Notebook 05: teachers and students"}
IN_CSV_ONLY = {"notebook", "family", "objective", "width"}  # the model's name already says them
README_BLOCK = re.compile(r"<!-- kdlib report (?P<args>[^>]*?) -->\n(?P<body>.*?)<!-- end of kdlib report -->", re.S)


def _read(run: Path, name: str) -> dict[str, Any] | None:
    path = run / "metrics" / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def expand(runs: list[str | Path]) -> list[Path]:
    """Run folders, a sweep's folder replaced by its points."""
    return [point for run in map(Path, runs) for point in (sweep_points(run) or [run])]


def run_parameters(run: Path) -> dict[str, Any]:
    """What distinguishes a run: its sweep point, else the parameters the runner passed besides profile/run_dir."""
    marker = run / MARKER
    if marker.is_file():
        return json.loads(marker.read_text())["point"]
    given: dict[str, Any] = {}
    for entry in (_read(run, "runner") or {}).values():
        given |= {k: v for k, v in entry["parameters"].items() if k not in ("run_dir",)}
    return given


def _setting(metrics: dict[str, Any]) -> dict[str, Any]:
    config = metrics.get("config", {})
    return {key: config[key] for key in ("profile", "dataset", "device", "threads") if key in config}


def machine_text(machine: dict[str, Any] | None) -> str:
    """A runner record's machine in one phrase, e.g. "AMD EPYC, 2 CPUs, cpu, torch 2.14.1"."""
    if not machine:
        return "not recorded"
    return f"{machine['cpu']}, {machine['cpus']} CPUs, {machine['device']}, torch {machine['torch']}"


def collect(runs: list[str | Path]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(model rows, target rows, runner rows) of every run folder; a folder without metrics is an error."""
    models, targets, runner = [], [], []
    for run in map(Path, runs):
        if not (run / "metrics").is_dir():
            raise FileNotFoundError(f"{run} has no metrics/ folder: is it a run folder (python -m kdlib run --run-dir ...)?")
        head = {"run": run.name, **run_parameters(run)}
        soft = _read(run, "01_soft_labels")
        if soft:
            here = head | _setting(soft)
            for name, errors in soft["errors"].items():
                models.append(here | {"notebook": "01", "model": name, "test errors": errors,
                                      "parameters": soft["parameters"][name],
                                      "training (s)": soft["training_seconds"][name]})
            for point in soft.get("sweep", []):
                models.append(here | {"notebook": "01 sweep", "model": "distilled student", **point})
        evaluation = _read(run, "05_evaluation")
        if evaluation:
            here = head | _setting(evaluation)
            for row in evaluation["rows"]:
                models.append(here | {"notebook": "05", "model": row["name"], "family": row["family"],
                                      "objective": row["objective"], "width": row["width"],
                                      **{label: row[key] for key, label in MODEL_COLUMNS.items()}})
            targets += [here | row for row in target_rows(evaluation.get("checks", []))]
        else:
            for notebook, name in (("02_gan_teacher", "GAN teacher"), ("03_vae_teacher", "VAE teacher")):
                teacher = _read(run, notebook)
                if teacher:
                    models.append(head | _setting(teacher) | {
                        "notebook": notebook[:2], "model": name,
                        **{label: teacher["teacher"][key] for key, label in MODEL_COLUMNS.items()
                           if key in teacher["teacher"]},
                        "training (s)": teacher["training_seconds"]})
        runner += [head | {"notebook": notebook, "seconds": entry["seconds"],
                           "peak memory (MiB)": entry["peak_memory_mib"], "machine": machine_text(entry.get("machine"))}
                   for notebook, entry in (_read(run, "runner") or {}).items()]
    return models, targets, runner


def compression_points(models: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Notebook 05's rows as points of the compression curve: one line per family and objective (and run,
    when several runs are reported); each teacher once."""
    generators = [row for row in models if row["notebook"] == "05"]
    several = len({row["run"] for row in generators}) > 1
    points = {}
    for row in generators:
        teacher = row["objective"] == "teacher"
        label = row["objective"] if not several or teacher else f"{row['objective']} [{row['run']}]"
        points.setdefault((row["family"], label, row["width"]),
                          {"family": row["family"], "objective": label, "width": row["width"],
                           "parameters": row["parameters"], "frechet_distance": row["Fréchet distance"]})
    return list(points.values())


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(key for row in rows for key in row))


def to_csv(rows: list[dict[str, Any]]) -> str:
    """All rows, the union of their columns (empty where a row has no value)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_columns(rows), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: json.dumps(v) if isinstance(v, list) else v for k, v in row.items()} for row in rows)
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


def targets_text() -> str:
    """The targets of ``kdlib.students.TARGETS`` in words."""
    gan, vae = TARGETS["gan"], TARGETS["vae"]
    return (f"Targets: a GAN student with >= {gan['fewer_parameters']:g}x fewer parameters than its teacher has a "
            f"Fréchet distance <= {gan['versus_teacher']:g}x the teacher's and <= {gan['versus_scratch']:g}x the "
            f"scratch student's of its size, and >= {gan['speedup']:g}x the teacher's images/s; a VAE student with "
            f">= {vae['fewer_parameters']:g}x fewer parameters has a Fréchet distance <= "
            f"{vae['versus_scratch']:g}x the scratch student's.")


def report_markdown(models: list[dict[str, Any]], targets: list[dict[str, Any]], runner: list[dict[str, Any]],
                    figures: dict[str, Path]) -> str:
    """The report's Markdown sections; figures are linked by file name (they sit beside the report)."""
    sections = []
    for title in dict.fromkeys(TITLES[row["notebook"]] for row in models):
        sections.append(section(title, [row for row in models if TITLES[row["notebook"]] == title], IN_CSV_ONLY))
    if targets:
        sections.append(section("Notebook 05: the targets", targets) + "\n\n" + targets_text())
    if runner:
        sections.append(section("Wall time, peak memory and machine per notebook", runner)
                        + "\n\nWall time of the run that wrote the metrics (a run that loads its checkpoints is "
                          "fast); peak memory is the notebook kernel's resident set size.")
    for caption, path in figures.items():
        sections.append(f"![{caption}]({path.name})")
    return "\n\n".join(sections)


def write_report(runs: list[str | Path], out: str | Path) -> dict[str, Path]:
    """Write ``report.csv``, ``report.md`` and the plots (Fréchet distance against size when notebook 05 ran,
    test errors against each swept numeric parameter for notebook 01) into ``out``."""
    models, targets, runner = collect(runs)
    if not models and not runner:
        raise ValueError(f"no metrics found in {[str(r) for r in runs]}: run the notebooks first")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = {"csv": out / "report.csv", "markdown": out / "report.md"}
    written["csv"].write_text(to_csv(models + [row | {"model": "(runner)"} for row in runner]))
    figures = {}
    curve = compression_points(models)
    if curve:
        figure = quality_against(curve, "parameters", "parameters used for sampling (log scale)")
        figures["Fréchet distance against parameters, distilled and from scratch"] = out / "quality_vs_size.png"
        figure.savefig(out / "quality_vs_size.png", dpi=120, bbox_inches="tight")
        plt.close(figure)
    given = [run_parameters(Path(run)) for run in runs]
    swept = [name for name in dict.fromkeys(k for g in given for k in g)  # numeric parameters that differ
             if all(isinstance(g.get(name), int | float) for g in given) and len({g[name] for g in given}) > 1]
    classifiers = [row for row in models if row["notebook"] == "01"]
    for name in swept if classifiers else []:  # e.g. a temperature sweep of notebook 01
        figure, ax = plt.subplots(figsize=(5, 3.2))
        for model in dict.fromkeys(row["model"] for row in classifiers):
            points = sorted((row[name], row["test errors"]) for row in classifiers if row["model"] == model)
            ax.plot(*zip(*points), marker="o", label=model)
        ax.set_xlabel(name)
        ax.set_ylabel("test errors")
        ax.legend(fontsize=8)
        figures[f"Notebook 01: test errors against {name}"] = out / f"errors_vs_{name}.png"
        figure.savefig(out / f"errors_vs_{name}.png", dpi=120, bbox_inches="tight")
        plt.close(figure)
    written |= {f"plot {caption}": path for caption, path in figures.items()}
    body = report_markdown(models, targets, runner, figures)
    written["markdown"].write_text(f"# Report of {len(runs)} run(s)\n\n{body}\n")
    return written


def update_readme(readme: str | Path) -> list[str]:
    """Regenerate every ``<!-- kdlib report RUN... --out FOLDER -->`` ... ``<!-- end of kdlib report -->``
    block of ``readme`` from the runs its marker names (paths relative to the README); return the markers."""
    readme = Path(readme)
    done = []

    def fill(match: re.Match[str]) -> str:
        words = shlex.split(match["args"])
        if len(words) < 3 or words[-2] != "--out" or "--out" in words[:-2]:
            raise ValueError(f"{readme}: marker '<!-- kdlib report {match['args']} -->' must read "
                             "'<!-- kdlib report RUN... --out FOLDER -->'")
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

    updated = README_BLOCK.sub(fill, readme.read_text())
    if not done:
        raise ValueError(f"{readme} has no '<!-- kdlib report RUN... --out FOLDER -->' ... "
                         "'<!-- end of kdlib report -->' block to fill")
    readme.write_text(updated)
    return done
