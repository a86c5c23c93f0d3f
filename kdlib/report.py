"""Reports: the metrics of one or many run folders as one CSV, one Markdown file and the sweep's plots.

Rows come from what the notebooks wrote: notebook 01's classifiers, notebook 05's
teachers and students (or, without 05, the teachers of 02 and 03), and the
runner's wall time and peak memory per notebook. Each row starts with the run's
name and the parameters it was given (a sweep point's values, else the
runner's overrides), so rows of many runs sit in one table.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from kdlib.plots import quality_against
from kdlib.sweep import MARKER
from kdlib.tables import markdown_table

MODEL_COLUMNS = {"parameters": "parameters", "macs_per_image": "MACs/image", "images_per_second": "images/s",
                 "latency_ms": "latency (ms)", "frechet_distance": "Fréchet distance", "precision": "precision",
                 "recall": "recall", "density": "density", "coverage": "coverage", "fidelity": "fidelity",
                 "training_seconds": "training (s)"}


def _read(run: Path, name: str) -> dict[str, Any] | None:
    path = run / "metrics" / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def run_parameters(run: Path) -> dict[str, Any]:
    """What distinguishes a run: its sweep point, else the parameters the runner passed besides profile/run_dir."""
    marker = run / MARKER
    if marker.is_file():
        return json.loads(marker.read_text())["point"]
    given: dict[str, Any] = {}
    for entry in (_read(run, "runner") or {}).values():
        given |= {k: v for k, v in entry["parameters"].items() if k not in ("run_dir",)}
    return given


def collect(runs: list[str | Path]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(model rows, runner rows) of every run folder; a folder without metrics is an error."""
    models, runner = [], []
    for run in map(Path, runs):
        if not (run / "metrics").is_dir():
            raise FileNotFoundError(f"{run} has no metrics/ folder: is it a run folder (python -m kdlib run --run-dir ...)?")
        head = {"run": run.name, **run_parameters(run)}
        soft = _read(run, "01_soft_labels")
        if soft:
            for name, errors in soft["errors"].items():
                models.append(head | {"notebook": "01", "model": name, "test errors": errors,
                                      "parameters": soft["parameters"][name],
                                      "training (s)": soft["training_seconds"][name]})
        evaluation = _read(run, "05_evaluation")
        if evaluation:
            for row in evaluation["rows"]:
                models.append(head | {"notebook": "05", "model": row["name"], "family": row["family"],
                                      "objective": row["objective"], "width": row["width"],
                                      **{label: row[key] for key, label in MODEL_COLUMNS.items()}})
        else:
            for notebook, name in (("02_gan_teacher", "GAN teacher"), ("03_vae_teacher", "VAE teacher")):
                teacher = _read(run, notebook)
                if teacher:
                    models.append(head | {"notebook": notebook[:2], "model": name,
                                          **{label: teacher["teacher"][key] for key, label in MODEL_COLUMNS.items()
                                             if key in teacher["teacher"]},
                                          "training (s)": teacher["training_seconds"]})
        for notebook, entry in (_read(run, "runner") or {}).items():
            runner.append(head | {"notebook": notebook, "seconds": entry["seconds"],
                                  "peak memory (MiB)": entry["peak_memory_mib"]})
    return models, runner


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


def write_report(runs: list[str | Path], out: str | Path) -> dict[str, Path]:
    """Write ``report.csv``, ``report.md`` and, when notebook 05 ran, ``quality_vs_size.png`` into ``out``."""
    models, runner = collect(runs)
    if not models and not runner:
        raise ValueError(f"no metrics found in {[str(r) for r in runs]}: run the notebooks first")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = {"csv": out / "report.csv", "markdown": out / "report.md"}
    written["csv"].write_text(to_csv(models + [row | {"model": "(runner)"} for row in runner]))
    sections = [f"# Report of {len(runs)} run(s)\n"]
    if models:
        columns = _columns(models)
        sections.append("## Models\n\n" + markdown_table([{c: row.get(c, "") for c in columns} for row in models]))
    if runner:
        sections.append("## Wall time and peak memory per notebook\n\n" + markdown_table(runner))
    written["markdown"].write_text("\n\n".join(sections) + "\n")
    curve = compression_points(models)
    if curve:
        figure = quality_against(curve, "parameters", "parameters used for sampling (log scale)")
        written["plot"] = out / "quality_vs_size.png"
        figure.savefig(written["plot"], dpi=120, bbox_inches="tight")
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
        written[f"plot {name}"] = out / f"errors_vs_{name}.png"
        figure.savefig(written[f"plot {name}"], dpi=120, bbox_inches="tight")
        plt.close(figure)
    return written
