"""The batch runner: overrides, a failing chain, resumable sweeps, reports (smoke profile, tiny notebooks)."""

from __future__ import annotations

import csv
import json
import os

import nbformat
import pytest
import torch
from nbformat.v4 import new_code_cell, new_notebook

import kdlib.notebooks as notebooks
from kdlib.__main__ import main
from kdlib.notebooks import run_chain, select
from kdlib.report import collect, compression_points, section, update_readme, write_report
from kdlib.sweep import MARKER, grid_points, point_name, read_spec, run_sweep


def test_overrides_reach_the_notebook_and_time_and_memory_are_recorded(tmp_path):
    run_chain("smoke", tmp_path, {"temperature": 4.0, "alpha": 0.5}, only=["01_soft_labels"])
    executed = nbformat.read(tmp_path / "01_soft_labels.ipynb", as_version=4)
    injected = next(c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert "temperature = 4.0" in injected.source and "alpha = 0.5" in injected.source
    resolved = next(c for c in executed.cells if "configure(globals())" in c.source)
    shown = "".join(o.get("data", {}).get("text/plain", "") for o in resolved.outputs)
    assert "'temperature': 4.0" in shown and "'alpha': 0.5" in shown and "'profile': 'smoke'" in shown
    entry = json.loads((tmp_path / "metrics" / "runner.json").read_text())["01_soft_labels"]
    assert entry["seconds"] > 0 and entry["peak_memory_mib"] > 50  # a kernel with torch loaded
    assert entry["parameters"]["temperature"] == 4.0
    assert entry["machine"]["cpus"] == os.cpu_count() and entry["machine"]["device"] == (
        torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu")


def test_unknown_parameter_or_notebook_is_refused_before_anything_runs(tmp_path, capsys):
    assert main(["run", "--profile", "smoke", "--run-dir", str(tmp_path), "-p", "temprature", "4"]) == 1
    assert "unknown parameter 'temprature'" in capsys.readouterr().err
    assert main(["run", "--profile", "smoke", "--run-dir", str(tmp_path), "--from", "09_nothing"]) == 1
    assert "unknown notebook(s) ['09_nothing']" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.ipynb"))
    with pytest.raises(ValueError, match="not both"):
        select(["01_soft_labels"], "02_gan_teacher")
    names = [p.stem for p in select(start="03_vae_teacher")]
    assert names[0] == "03_vae_teacher" and "02_gan_teacher" not in names and len(names) >= 3


def tiny_chain(folder, fail_in: str | None = None) -> None:
    """Two notebooks that record their temperature (and one that fails, if asked)."""
    folder.mkdir()
    for name in ("00_first", "01_second"):
        cells = [new_code_cell("profile = None\nrun_dir = None\ntemperature = None"),
                 new_code_cell("import json, pathlib\n"
                               "metrics = pathlib.Path(run_dir, 'metrics')\nmetrics.mkdir(parents=True, exist_ok=True)\n"
                               f"(metrics / '{name}.json').write_text(json.dumps({{'temperature': temperature}}))")]
        cells[0].metadata["tags"] = ["parameters"]
        if name == fail_in:
            cells.append(new_code_cell("raise ValueError('this cell fails on purpose')"))
        nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "language": "python",
                                                                            "display_name": "Python 3"}}),
                       folder / f"{name}.ipynb")


def test_a_failing_notebook_stops_the_chain_names_its_cell_and_is_kept(tmp_path, monkeypatch):
    tiny_chain(tmp_path / "nbs", fail_in="00_first")
    monkeypatch.setattr(notebooks, "notebooks_dir", lambda: tmp_path / "nbs")
    with pytest.raises(RuntimeError, match=r"00_first.ipynb failed in cell 3 .*this cell fails on purpose"):
        run_chain("smoke", tmp_path / "run", {"temperature": 2.0})
    assert (tmp_path / "run" / "00_first.ipynb").is_file()  # kept for inspection
    assert not (tmp_path / "run" / "01_second.ipynb").exists()  # the chain stopped


def test_a_resumed_sweep_skips_finished_points_and_the_report_has_every_run(tmp_path, monkeypatch, capsys):
    tiny_chain(tmp_path / "nbs")
    monkeypatch.setattr(notebooks, "notebooks_dir", lambda: tmp_path / "nbs")
    spec = tmp_path / "sweep.yaml"
    spec.write_text("profile: smoke\nonly: [01_second]\ngrid:\n  temperature: [1.0, 4.0]\n")
    assert read_spec(spec)["grid"] == {"temperature": [1.0, 4.0]}
    base = tmp_path / "base"  # a finished run: its checkpoints and earlier notebooks' metrics seed every point
    for name, text in (("checkpoints/teacher.pt", "weights"), ("metrics/00_first.json", "{}"),
                       ("metrics/05_later.json", "{}"), ("metrics/runner.json", "{}")):
        (base / name).parent.mkdir(parents=True, exist_ok=True)
        (base / name).write_text(text)
    spec.write_text(spec.read_text() + f"base: {base}\n")
    assert main(["sweep", str(spec), "--out", str(tmp_path / "sweep")]) == 0
    first = capsys.readouterr().out
    assert "[kdlib sweep 1/2] temperature=1: running" in first and "[kdlib sweep 2/2] temperature=4: done" in first
    point = tmp_path / "sweep" / "temperature=4"
    assert json.loads((point / "metrics" / "01_second.json").read_text()) == {"temperature": 4.0}
    assert not (point / "00_first.ipynb").exists()
    assert (point / "checkpoints" / "teacher.pt").read_text() == "weights"
    assert sorted(p.name for p in (point / "metrics").iterdir()) == ["00_first.json", "01_second.json", "runner.json"]
    assert json.loads((point / "metrics" / "runner.json").read_text()).keys() == {"01_second"}
    (point / MARKER).unlink()  # as if the sweep had been interrupted during its second point
    assert main(["sweep", str(spec), "--out", str(tmp_path / "sweep")]) == 0
    again = capsys.readouterr().out
    assert "[kdlib sweep 1/2] temperature=1: finished earlier, skipped" in again
    assert "[kdlib sweep 2/2] temperature=4: running" in again
    # Notebook 05's rows in both points, as the evaluation would have written them.
    for fd, folder in ((300.0, "temperature=1"), (280.0, "temperature=4")):
        (tmp_path / "sweep" / folder / "metrics" / "05_evaluation.json").write_text(json.dumps(evaluation(fd)))
    assert main(["report", str(tmp_path / "sweep"), "--out", str(tmp_path / "report")]) == 0
    with open(tmp_path / "report" / "report.csv") as handle:
        table = list(csv.DictReader(handle))
    models = [(r["run"], r["temperature"], r["model"], r["Fréchet distance"]) for r in table if r["notebook"] == "05"]
    assert models == [("temperature=1", "1.0", "GAN teacher", "300.0"), ("temperature=1", "1.0", "GAN 1/8 output", "37.5"),
                      ("temperature=4", "4.0", "GAN teacher", "280.0"), ("temperature=4", "4.0", "GAN 1/8 output", "35.0")]
    assert {r["run"] for r in table if r["model"] == "(runner)"} == {"temperature=1", "temperature=4"}
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "| temperature=4 | 4 | GAN 1/8 output | 10 | 35 |" in markdown and "peak memory (MiB)" in markdown
    assert (tmp_path / "report" / "quality_vs_size.png").stat().st_size > 1000


def evaluation(fd: float) -> dict:
    """Notebook 05's metrics for a teacher (Fréchet distance ``fd``) and one student (``fd / 8``)."""
    rows = [{"name": name, "family": "gan", "objective": objective, "width": width, "parameters": parameters,
             "macs_per_image": 1, "images_per_second": 1.0, "latency_ms": 1.0, "frechet_distance": fd * width,
             "precision": 0.5, "recall": 0.5, "density": 1.0, "coverage": 0.5, "fidelity": 0.1,
             "training_seconds": 1.0}
            for name, objective, width, parameters in (("GAN teacher", "teacher", 1.0, 100),
                                                       ("GAN 1/8 output", "output", 0.125, 10))]
    return {"rows": rows}


def test_the_readme_blocks_are_regenerated_from_the_runs_they_name(tmp_path, capsys):
    run = tmp_path / "runs" / "full"
    (run / "metrics").mkdir(parents=True)
    config = {"profile": "full", "dataset": "mnist", "device": "cpu", "threads": 2}
    (run / "metrics" / "01_soft_labels.json").write_text(json.dumps({
        "config": config, "errors": {"teacher": 108, "student (labels)": 149},
        "parameters": {"teacher": 2000, "student (labels)": 1000},
        "training_seconds": {"teacher": 6.5, "student (labels)": 2.5},
        "sweep": [{"T": 1.0, "alpha": 0.5, "epochs": 8, "test errors": 153},
                  {"T": 4.0, "alpha": 0.5, "epochs": 8, "test errors": 134}]}))
    checks = [{"student": "GAN 1/8 output", "fewer_parameters": 10.0, "versus_teacher": 1.25, "versus_scratch": 0.5,
               "speedup": 4.0, "met": False}]
    (run / "metrics" / "05_evaluation.json").write_text(json.dumps(evaluation(300.0) | {"config": config,
                                                                                        "checks": checks}))
    machine = {"cpu": "Some CPU", "cpus": 2, "device": "cpu", "torch": "2.x"}
    (run / "metrics" / "runner.json").write_text(json.dumps({"05_evaluation": {
        "seconds": 12.5, "peak_memory_mib": 900.0, "parameters": {"profile": "full"}, "machine": machine}}))
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n\nProse before.\n\n<!-- kdlib report runs/full --out docs/full -->\n"
                      "| stale | table |\n<!-- end of kdlib report -->\n\nProse after.\n")
    assert main(["report", "--readme", str(readme)]) == 0
    assert "regenerated the report of runs/full --out docs/full" in capsys.readouterr().out
    text = readme.read_text()
    assert text.startswith("# Title\n\nProse before.\n\n") and text.endswith("<!-- end of kdlib report -->\n\nProse after.\n")
    assert "stale" not in text
    assert "#### Notebook 01: teacher and students" in text and "| teacher | 108 | 2,000 | 6.5 |" in text
    assert "All rows: run full, profile full, dataset mnist, device cpu, threads 2, model distilled student, alpha 0.5, epochs 8." in text
    assert "| T | test errors |\n|---|---|\n| 1 | 153 |\n| 4 | 134 |" in text
    assert "latency (ms) 1, precision 0.5," in text and "| GAN 1/8 output | 10 | 37.5 |" in text
    assert "| GAN 1/8 output | 10.0x | 1.25x | 0.50x | 4.0x | no |" in text
    assert "| 05_evaluation | 12.5 | 900 | Some CPU, 2 CPUs, cpu, torch 2.x |" in text
    assert "](docs/full/quality_vs_size.png)" in text and (tmp_path / "docs" / "full" / "quality_vs_size.png").is_file()
    assert (tmp_path / "docs" / "full" / "report.csv").is_file()
    update_readme(readme)
    assert readme.read_text() == text  # regenerating changes nothing
    readme.write_text("<!-- kdlib report runs/full -->\n<!-- end of kdlib report -->\n")
    with pytest.raises(ValueError, match=r"must read '<!-- kdlib report RUN\.\.\. --out FOLDER -->'"):
        update_readme(readme)
    readme.write_text("no block here\n")
    with pytest.raises(ValueError, match="has no '<!-- kdlib report"):
        update_readme(readme)
    assert main(["report"]) == 1 and "give run folders or --readme FILE" in capsys.readouterr().err


def test_a_section_says_shared_values_once():
    rows = [{"run": "a", "model": "teacher", "errors": 3}, {"run": "a", "model": "student", "errors": 4}]
    assert section("T", rows) == ("## T\n\nAll rows: run a.\n\n| model | errors |\n|---|---|\n"
                                  "| teacher | 3 |\n| student | 4 |")
    assert "All rows" not in section("T", rows[:1]) and "| a | teacher | 3 |" in section("T", rows[:1])
    assert "| teacher |" in section("T", rows, hidden={"errors"}) and "errors" not in section("T", rows, hidden={"errors"})


def test_compression_points_keep_each_family_and_objective_apart():
    rows = [{"notebook": "05", "run": "r", "family": family, "objective": objective, "width": width,
             "parameters": 10, "Fréchet distance": 1.0}
            for family in ("gan", "vae") for objective, width in (("teacher", 1.0), ("scratch", 0.125), ("scratch", 0.25))]
    points = compression_points(rows + [{"notebook": "01", "run": "r", "model": "teacher"}])
    assert [(p["family"], p["objective"], p["width"]) for p in points] == [
        (r["family"], r["objective"], r["width"]) for r in rows]
    other_run = [row | {"run": "s"} for row in rows]
    labels = {p["objective"] for p in compression_points(rows + other_run)}
    assert labels == {"teacher", "scratch [r]", "scratch [s]"}


def test_grid_points_names_and_bad_specs(tmp_path):
    assert grid_points({"temperature": [1, 4], "alpha": [0.5, 0.9]}) == [
        {"temperature": 1, "alpha": 0.5}, {"temperature": 1, "alpha": 0.9},
        {"temperature": 4, "alpha": 0.5}, {"temperature": 4, "alpha": 0.9}]
    assert point_name({"student_widths": [0.125, 0.25], "dataset": "mnist"}) == "student_widths=0.125+0.25,dataset=mnist"
    with pytest.raises(ValueError, match="non-empty list"):
        grid_points({"temperature": []})
    with pytest.raises(ValueError, match="grid is empty"):
        grid_points({})
    bad = tmp_path / "bad.yaml"
    bad.write_text("grid: {temperature: [1]}\nprofiles: quick\n")
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['profiles'\]"):
        read_spec(bad)
    with pytest.raises(ValueError, match="unknown parameter 'temprature'"):
        run_sweep(tmp_path / "out", {"temprature": [1.0]}, "smoke", only=["01_soft_labels"])
    assert not (tmp_path / "out").exists()
    with pytest.raises(FileNotFoundError, match="no metrics/ folder"):
        collect([tmp_path])
