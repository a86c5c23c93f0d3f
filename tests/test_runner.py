"""The batch runner: overrides, a failing chain, resumable sweeps, reports (smoke profile, tiny notebooks)."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import nbformat
import pytest
import torch
from nbformat.v4 import new_code_cell, new_notebook

import kdlib.course.lessons as lessons
from lesson_chains import injected_temperature, tiny_chain
import kdlib.course.runner as notebooks
from kdlib.course.cli import main
from kdlib.course.records import (Artifact, ClassifierResult, Classifiers, Evaluation, EvaluationRow, Machine,
                                  NotebookRun, RulerRecord, RunDir, TemperaturePoint)
from kdlib.course.report import budget_points, collect, compression_points, expand, section, update_readme
from kdlib.course.runner import prepare_for_nbval, run_chain, select
from kdlib.course.sweep import grid_points, point_name, read_spec, run_sweep
from kdlib.noise import compare
from kdlib.targets import over_seeds, target_checks, target_rows
from kdlib.store import project_root


def test_overrides_reach_the_notebook_and_time_and_memory_are_recorded(tmp_path):
    run_chain("smoke", tmp_path, {"temperature": 4.0, "alpha": 0.5}, only=["01_soft_labels"])
    executed = nbformat.read(tmp_path / "01_soft_labels.ipynb", as_version=4)
    injected = next(c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert "temperature = 4.0" in injected.source and "alpha = 0.5" in injected.source
    resolved = next(c for c in executed.cells if "configure(globals())" in c.source)
    shown = "".join(o.get("data", {}).get("text/plain", "") for o in resolved.outputs)
    assert "'temperature': 4.0" in shown and "'alpha': 0.5" in shown and "'profile': 'smoke'" in shown
    entry = NotebookRun.load(RunDir(tmp_path), notebook="01_soft_labels")
    assert entry.seconds > 0 and entry.peak_memory_mib > 50  # a kernel with torch loaded
    assert entry.parameters["temperature"] == 4.0
    code = [i for i, c in enumerate(executed.cells) if c.cell_type == "code"]
    assert [c.index for c in entry.cells] == code and all(c.seconds >= 0 for c in entry.cells)
    slowest = entry.slowest(1)[0]
    assert slowest.seconds == max(c.seconds for c in entry.cells)
    assert slowest.first_line == next(line for line in executed.cells[slowest.index].source.splitlines() if line.strip())
    assert sum(c.seconds for c in entry.cells) <= entry.seconds  # the cells' times are part of the wall time
    assert entry.machine.cpus == os.cpu_count() and entry.machine.device == (
        torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu")
    results = Classifiers.load(RunDir(tmp_path))  # the notebook's own record, read back typed
    assert results.profile == "smoke" and [m.name for m in results.models] == [
        "teacher", "student (labels)", "distilled student"]


def test_unknown_parameter_or_notebook_is_refused_before_anything_runs(tmp_path, capsys):
    assert main(["run", "--profile", "smoke", "--run-dir", str(tmp_path), "-p", "temprature", "4"]) == 1
    assert "unknown parameter 'temprature'" in capsys.readouterr().err
    assert main(["run", "--profile", "smoke", "--run-dir", str(tmp_path), "--from", "09_nothing"]) == 1
    assert "unknown notebook(s) ['09_nothing']" in capsys.readouterr().err
    assert main(["run", "--profile", "smoke", "--run-dir", "", "--only", "00_overview"]) == 1
    assert "--run-dir is empty" in capsys.readouterr().err
    (tmp_path / "a-file").write_text("mine")
    assert main(["run", "--profile", "smoke", "--run-dir", str(tmp_path / "a-file"), "--only", "00_overview"]) == 1
    assert "a-file is a file, not a folder" in capsys.readouterr().err
    assert main(["run", "--profile", "smoke", "-p", "device", "meta", "--only", "00_overview"]) == 1
    assert "not 'meta'" in capsys.readouterr().err
    assert main(["run", "--profile", "smoke", "-p", "student_widths", "[]", "--only", "04_distilling_students"]) == 1
    assert "student_widths=[] is empty" in capsys.readouterr().err
    assert main(["run", "--profile", "quick", "-p", "train_size", "200", "--from", "03_vae_teacher"]) == 1
    assert "train_size=200 is smaller than {'batch_size': 256}" in capsys.readouterr().err
    assert main(["run", "--profile", "full", "-p", "sweep_alphas", "[]", "--only", "01_soft_labels"]) == 1
    assert "both lists or neither" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.ipynb"))
    with pytest.raises(ValueError, match="not both"):
        select(["01_soft_labels"], "02_gan_teacher")
    names = [p.stem for p in select(start="03_vae_teacher")]
    assert names[0] == "03_vae_teacher" and "02_gan_teacher" not in names and len(names) >= 3


def test_a_failing_or_killed_notebook_keeps_the_last_good_one(tmp_path, two_lessons):
    run_chain("smoke", tmp_path / "run", {"temperature": 1.0})
    good = tmp_path / "run" / "00_first.ipynb"
    assert injected_temperature(good) == "temperature = 1.0"
    tiny_chain(tmp_path / "nbs", fail_in="00_first")
    with pytest.raises(RuntimeError, match=r"00_first.ipynb failed in cell 3 .*this cell fails on purpose"):
        run_chain("smoke", tmp_path / "run", {"temperature": 2.0})
    assert injected_temperature(good) == "temperature = 1.0"  # the last good run, untouched
    assert injected_temperature(tmp_path / "run" / "00_first.failed.ipynb") == "temperature = 2.0"  # kept to inspect
    assert injected_temperature(tmp_path / "run" / "01_second.ipynb") == "temperature = 1.0"  # the chain stopped
    # A run killed in the middle of a notebook (a sleeping cell) leaves the good one in place too.
    tiny_chain(tmp_path / "nbs")
    script = (f"import pathlib, kdlib.course.lessons as lessons, kdlib.course.runner as r\nlessons.notebooks_dir = lambda: pathlib.Path({str(tmp_path / 'nbs')!r})\n"
              f"r.run_chain('smoke', {str(tmp_path / 'run')!r}, {{'temperature': 99}})")
    process = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    partial = tmp_path / "run" / "00_first.partial.ipynb"
    for _ in range(600):
        if partial.is_file() and "time.sleep" in partial.read_text():
            break
        time.sleep(0.1)
    time.sleep(2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert injected_temperature(good) == "temperature = 1.0"


def test_a_resumed_sweep_skips_finished_points_and_the_report_has_every_run(tmp_path, monkeypatch, capsys):
    tiny_chain(tmp_path / "nbs", names=("04_first", "05_second", "06_evaluation"))
    monkeypatch.setattr(lessons, "notebooks_dir", lambda: tmp_path / "nbs")
    spec = tmp_path / "sweep.yaml"
    spec.write_text("profile: smoke\nonly: [04_first, 06_evaluation]\ngrid:\n  temperature: [1.0, 4.0]\n")
    assert read_spec(spec)["grid"] == {"temperature": [1.0, 4.0]}
    base = tmp_path / "base"  # a finished run: its checkpoints and earlier notebooks' records seed every point
    for name, writer in (("checkpoints/teacher.pt", None), ("records/teacher-gan.json", "02_gan_teacher"),
                         ("records/diffusion.json", "05_second"), ("records/evaluation.json", "06_evaluation"),
                         ("records/later.json", "07_later"),
                         ("records/runner-04_first.json", "the runner (python -m kdlib run)")):
        (base / name).parent.mkdir(parents=True, exist_ok=True)
        (base / name).write_text(name if writer is None else json.dumps({"writer": writer}))  # a record names its writer
    spec.write_text(spec.read_text() + f"base: {base}\n")
    assert main(["sweep", str(spec), "--out", str(tmp_path / "sweep")]) == 0
    first = capsys.readouterr().out
    assert "[kdlib sweep] temperature=1: running on this process" in first
    assert "[kdlib sweep 1/2] temperature=1: done in" in first and "[kdlib sweep 2/2] temperature=4: done in" in first
    point = tmp_path / "sweep" / "temperature=4"
    assert Classifiers.load(RunDir(point)).models[0].test_errors == (40,)
    assert (point / "04_first.ipynb").exists() and not (point / "05_second.ipynb").exists()
    assert (point / "checkpoints" / "teacher.pt").read_text() == "checkpoints/teacher.pt"
    # The records of notebooks before the sweep's last that it does not run (02's, and 05's between its two) were
    # copied; those of the notebooks it runs (06's), of later ones (07's) and the runner's were not.
    assert sorted(p.name for p in (point / "records").iterdir()) == [
        "classifiers.json", "diffusion.json", "runner-04_first.json", "runner-06_evaluation.json", "sweep-point.json",
        "teacher-gan.json"]
    (point / "records" / "sweep-point.json").unlink()  # as if the sweep had been interrupted during its second point
    assert main(["sweep", str(spec), "--out", str(tmp_path / "sweep")]) == 0
    again = capsys.readouterr().out
    assert "[kdlib sweep] temperature=1: finished earlier, skipped" in again
    assert "[kdlib sweep] temperature=4: running" in again and "[kdlib sweep 2/2] temperature=4: done in" in again
    # The same sweep asked with another fixed parameter: the finished points are refused, nothing runs.
    spec.write_text(spec.read_text().replace("profile: smoke", "profile: quick"))
    assert main(["sweep", str(spec), "--out", str(tmp_path / "sweep")]) == 1
    error = capsys.readouterr()
    assert "temperature=1 finished earlier with other settings (then, now: {'profile': ('smoke', 'quick')})" in error.err
    assert "running" not in error.out
    # The evaluation's rows in both points, as notebook 06 would have written them (and no stand-in records).
    for fd, folder in ((300.0, "temperature=1"), (280.0, "temperature=4")):
        for name in ("teacher-gan.json", "diffusion.json"):  # (classifiers.json names notebook 01 as its writer)
            (tmp_path / "sweep" / folder / "records" / name).unlink()
        evaluation(fd).save(RunDir(tmp_path / "sweep" / folder))
    assert main(["report", str(tmp_path / "sweep" / "temperature=1"), "--out", str(tmp_path / "report")]) == 0
    assert (tmp_path / "report" / "quality_vs_size.png").stat().st_size > 1000  # one run: quality against size
    assert main(["report", str(tmp_path / "sweep"), "--out", str(tmp_path / "report")]) == 0
    with open(tmp_path / "report" / "report.csv") as handle:
        table = list(csv.DictReader(handle))
    models = [(r["run"], r["temperature"], r["model"], r["Fréchet distance"]) for r in table
              if r["section"] == "Notebook 06: teachers and students"]
    # A point's record of a notebook it did not run (notebook 01's, as if copied from its base) is left out.
    assert (tmp_path / "sweep" / "temperature=1" / "records" / "classifiers.json").is_file()
    assert not any(r["section"].startswith("Notebook 01") for r in table)
    assert models == [("temperature=1", "1.0", "GAN teacher", "300.0"), ("temperature=1", "1.0", "GAN 1/8 output", "37.5"),
                      ("temperature=1", "1.0", "GAN 1/8 scratch", "75.0"),
                      ("temperature=4", "4.0", "GAN teacher", "280.0"), ("temperature=4", "4.0", "GAN 1/8 output", "35.0"),
                      ("temperature=4", "4.0", "GAN 1/8 scratch", "70.0")]
    assert {r["run"] for r in table if r["section"].startswith("Wall time")} == {"temperature=1", "temperature=4"}
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "| temperature=4 | 4 | GAN 1/8 output | 1 | 10 | 35 |" in markdown and "peak memory (MiB)" in markdown
    # Quality against the swept parameter, one line per objective, not against size (the same at every point); no
    # second ruler measured, no figure for it. The one-run report's figure of size is gone: no page shows it now.
    assert not (tmp_path / "report" / "quality_vs_size.png").exists()
    assert (tmp_path / "report" / "quality_vs_temperature.png").stat().st_size > 1000
    assert not (tmp_path / "report" / "quality_vs_temperature_second.png").exists()
    rows, _ = collect(expand([tmp_path / "sweep"]))
    assert [(p["objective"], p["temperature"], p["frechet_distance"]) for p in budget_points(rows, "temperature")] == [
        ("teacher", 1.0, 300.0), ("output", 1.0, 37.5), ("scratch", 1.0, 75.0), ("teacher", 4.0, 280.0),
        ("output", 4.0, 35.0), ("scratch", 4.0, 70.0)]
    assert budget_points(rows, "temperature", second=True) == []


def test_a_sweep_refuses_grids_whose_points_share_a_folder_and_malformed_files(tmp_path):
    with pytest.raises(ValueError, match=r"\{'temperature': 1\} and \{'temperature': 1.0\} would share the folder "
                                         r"'temperature=1'"):
        grid_points({"temperature": [1, 1.0]})
    with pytest.raises(ValueError, match="would share the folder 'dataset=a_b'"):
        grid_points({"dataset": ["a/b", "a b"]})
    bad = tmp_path / "bad.yaml"
    bad.write_text("grid:\n  temperature: [1, 4\nprofile: quick\n")
    with pytest.raises(ValueError, match=r"bad.yaml, line 3, column 8: not valid YAML"):
        read_spec(bad)
    bad.write_text("grid: {temperature: [1]}\nonly: 01_soft_labels\n")
    with pytest.raises(ValueError, match=r"'only' must be a list, got '01_soft_labels' only: \[01_soft_labels\]"):
        read_spec(bad)
    bad.write_text("grid: {temperature: [1]}\nparameters: [epochs]\n")
    with pytest.raises(ValueError, match="'parameters' must be a dict"):
        read_spec(bad)


def test_prepare_never_deletes_what_it_did_not_write(tmp_path, two_lessons, monkeypatch):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("a year of work")
    with pytest.raises(ValueError, match=r"mine holds files that python -m kdlib prepare did not write \(thesis.tex\)"):
        prepare_for_nbval("smoke", mine)
    assert (mine / "thesis.tex").read_text() == "a year of work" and len(list(mine.iterdir())) == 1
    out = tmp_path / "nbval"
    assert [p.name for p in prepare_for_nbval("smoke", out)] == ["00_first.ipynb", "01_second.ipynb"]
    (out / "run" / "records").mkdir(parents=True)  # what the executed copies write
    assert [p.name for p in prepare_for_nbval("smoke", out)] == ["00_first.ipynb", "01_second.ipynb"]  # cleared, again
    assert list((out / "run").iterdir()) == []  # emptied for the next execution
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"holds files that python -m kdlib prepare did not write \(notes.txt\)"):
        prepare_for_nbval("smoke", out)
    assert (out / "notes.txt").is_file() and (out / "00_first.ipynb").is_file()
    monkeypatch.chdir(mine)
    assert main(["prepare", "--out", ""]) == 1
    assert (mine / "thesis.tex").is_file()


def row(name: str, objective: str, width: float, parameters: int, fd: float, seed: int | None = 0,
        images_per_second: float = 1.0, rounds: tuple[float, ...] | None = None, second: float | None = None
        ) -> EvaluationRow:
    return EvaluationRow(frechet_distance=fd, precision=0.5, recall=0.5, density=1.0, coverage=0.5, class_shares=(1.0,),
                         class_kl_to_data=0.0, classes_covered=1, inception_score=1.0, samples=10, parameters=parameters,
                         macs_per_image=1, images_per_second=images_per_second, latency_ms=1.0, threads=2, device="cpu",
                         batch=256, name=name, family="gan", objective=objective, width=width,
                         seed=None if objective == "teacher" else seed, training_seconds=1.0, fidelity=0.1,
                         images_per_second_rounds=rounds, frechet_distance_second=second)


def evaluation(fd: float, config: dict | None = None) -> Evaluation:
    """An evaluation of a teacher (Fréchet distance ``fd``) and one student (``fd / 8``)."""
    rows = (row("GAN teacher", "teacher", 1.0, 100, fd), row("GAN 1/8 output", "output", 0.125, 10, fd / 8),
            row("GAN 1/8 scratch", "scratch", 0.125, 10, fd / 4))
    return Evaluation("fashion-mnist", "smoke", config or {}, RulerRecord(Artifact("f.pt", "0" * 64), 0.9), rows, {}, 1.0)


def test_runs_of_the_same_sizes_get_no_size_figure_students_of_other_sizes_do(tmp_path):
    """Two runs of the same students (e.g. a check of their learning rates) would stack every point at one size;
    runs whose students differ in width spread along the size axis."""
    for fd, name in ((300.0, "a"), (280.0, "b")):
        evaluation(fd).save(RunDir(tmp_path / name))
    assert main(["report", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "same")]) == 0
    assert (tmp_path / "same" / "report.csv").is_file() and not (tmp_path / "same" / "quality_vs_size.png").exists()
    wider = evaluation(280.0)
    wider = dataclasses.replace(wider, rows=tuple(dataclasses.replace(r, width=0.25) if r.width == 0.125 else r
                                                  for r in wider.rows))
    wider.save(RunDir(tmp_path / "b"))
    assert main(["report", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "widths")]) == 0
    assert (tmp_path / "widths" / "quality_vs_size.png").stat().st_size > 1000


def test_the_readme_blocks_are_regenerated_from_the_runs_they_name(tmp_path, capsys):
    run = RunDir(tmp_path / "runs" / "full")
    config = {"profile": "full", "dataset": "mnist", "device": "cpu", "threads": 2}
    checkpoint = Artifact("c.pt", "0" * 64)
    Classifiers("mnist", "full", config, 10_000, (ClassifierResult("teacher", (0,), (108,), 2000, (6.5,), (checkpoint,), "run"),
                                                  ClassifierResult("student (labels)", (0, 1), (149, 141), 1000,
                                                                   (2.5, 2.7), (checkpoint,) * 2, "run", (60, 63))),
                (TemperaturePoint(1.0, 0.5, 8, 153), TemperaturePoint(4.0, 0.5, 8, 134))).save(run)
    evaluation(300.0, config).save(run)
    machine = Machine("Some CPU", 2, "cpu", "2.x")
    NotebookRun("06_evaluation", 12.5, 900.0, {"profile": "full"}, "2026-11-28T12:00:00", machine).save(run)
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n\nProse before.\n\n<!-- kdlib report runs/full --out docs/full -->\n"
                      "| stale | table |\n<!-- end of kdlib report -->\n\nProse after.\n")
    assert main(["report", "--readme", str(readme)]) == 0
    assert "regenerated the report of runs/full --out docs/full" in capsys.readouterr().out
    text = readme.read_text()
    assert text.startswith("# Title\n\nProse before.\n\n") and text.endswith("<!-- end of kdlib report -->\n\nProse after.\n")
    assert "stale" not in text
    assert "#### Notebook 01: teacher and students" in text and "| teacher | 108 | 1 | 0 | 2,000 | 6.5 |  |" in text
    assert "| student (labels) | 145 | 2 | 8 | 1,000 | 2.6 | 61.5 |" in text  # means and spread of two seeds
    assert "All rows: run full, profile full, dataset mnist, device cpu, threads 2, model distilled student, alpha 0.5, epochs 8." in text
    assert "| T | test errors |\n|---|---|\n| 1 | 153 |\n| 4 | 134 |" in text
    assert "latency (ms) 1, precision 0.5," in text and "| GAN 1/8 output | 1 | 10 | 37.5 |" in text
    assert "| GAN 1/8 output | 1 | 10.0x | 0.12x | scratch | 0.50x | - | - | 1.0x | - | no |" in text  # one seed: not beyond noise
    assert "| 06_evaluation | 12.5 | 900 | Some CPU, 2 CPUs, cpu, torch 2.x |" in text
    assert "](docs/full/quality_vs_size.png)" in text and (tmp_path / "docs" / "full" / "quality_vs_size.png").is_file()
    assert (tmp_path / "docs" / "full" / "report.csv").is_file()
    update_readme(readme)
    assert readme.read_text() == text  # regenerating changes nothing
    readme.write_text(text.replace("| GAN 1/8 output | 1 | 10 | 37.5 |", "| edited |"))
    assert main(["report", "--readme", str(readme), "--block", "runs/other"]) == 0
    assert "left as it was (not named by --block): runs/full --out docs/full" in capsys.readouterr().out
    assert "| edited |" in readme.read_text()  # a block not named is kept as it was
    assert update_readme(readme, only=["runs/full"]) == ["runs/full --out docs/full"] and readme.read_text() == text
    readme.write_text("<!-- kdlib report runs/full -->\n<!-- end of kdlib report -->\n")
    with pytest.raises(ValueError, match=r"must read '<!-- kdlib report RUN\.\.\. --out FOLDER -->'"):
        update_readme(readme)
    readme.write_text("no block here\n")
    with pytest.raises(ValueError, match="has no '<!-- kdlib report"):
        update_readme(readme)
    assert main(["report"]) == 1 and "give run folders or --readme FILE" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "runs" / "full"), "--out", str(readme)]) == 1
    assert "README.md is a file, not a folder" in capsys.readouterr().err
    cut = tmp_path / "runs" / "full" / "records" / "evaluation.json"
    cut.write_text(cut.read_text()[:80])  # cut off while written: the record's writer, written first, is still there
    assert main(["report", str(tmp_path / "runs" / "full")]) == 1
    error = capsys.readouterr().err
    assert "evaluation.json is not valid JSON" in error and "run notebooks/06_evaluation.ipynb again" in error


def test_seeds_of_a_model_are_summarised_by_mean_and_spread():
    rows = [row("GAN teacher", "teacher", 1.0, 100, 90.0)] + [
        row("GAN 1/8 output", "output", 0.125, 10, fd, seed) for seed, fd in enumerate((10.0, 12.0, 14.0))]
    teacher, student = over_seeds(rows)
    assert teacher.seeds == () and teacher.spread["frechet_distance"] == 0.0 and teacher.mean == rows[0]
    assert student.seeds == (0, 1, 2) and student.mean.frechet_distance == 12.0 and student.mean.seed is None
    assert student.spread["frechet_distance"] == pytest.approx(2.0) and student.text("frechet_distance") == "12.0 ± 2.0"
    with pytest.raises(ValueError, match="different names"):
        over_seeds(rows + [row("GAN 1/8 other", "output", 0.125, 10, 1.0, 3)])


def test_a_target_is_met_only_beyond_the_noise_over_three_seeds():
    def student(fds: tuple[float, ...], scratch_fds: tuple[float, ...]) -> list[EvaluationRow]:
        return ([row("GAN teacher", "teacher", 1.0, 100, 90.0)]
                + [row("GAN 1/8 output", "output", 0.125, 10, fd, s, 20.0) for s, fd in enumerate(fds)]
                + [row("GAN 1/8 scratch", "scratch", 0.125, 10, fd, s, 20.0) for s, fd in enumerate(scratch_fds)])
    clear, = target_checks(student((100.0, 102.0, 104.0), (200.0, 210.0, 220.0)))
    assert clear["versus_baseline"] == pytest.approx(102 / 210)
    assert clear["test"] == compare([100.0, 102.0, 104.0], [200.0, 210.0, 220.0])  # the course's one rule
    assert clear["beyond_noise"] and clear["met"] and clear["speedup"] == 20.0
    noisy, = target_checks(student((100.0, 102.0, 104.0), (110.0, 200.0, 290.0)))  # same means' ratio, sd 90
    assert noisy["versus_baseline"] == pytest.approx(102 / 200) and noisy["test"].p_value > 0.05
    assert not noisy["beyond_noise"] and not noisy["met"]
    single, = target_checks(student((100.0,), (200.0,)))
    assert single["seeds"] == 1 and single["test"].p_value is None and not single["met"]
    far_from_teacher, = target_checks(student((110.0, 112.5, 115.0), (300.0, 310.0, 320.0)))  # 1.25x the teacher's
    assert far_from_teacher["versus_teacher"] == pytest.approx(1.25) and far_from_teacher["beyond_noise"]
    assert not far_from_teacher["met"]  # issue 15's target: <= 1.2x the teacher's Fréchet distance


def test_a_student_is_held_against_the_better_baseline_and_on_the_second_ruler_where_measured():
    teacher = row("GAN teacher", "teacher", 1.0, 100, 90.0, images_per_second=1.0, second=5.0)

    def rows(control_fds: tuple[float, ...], second: tuple[float, float] | None = None) -> list[EvaluationRow]:
        mine, theirs = second or (None, None)
        return ([teacher]
                + [row("GAN 1/8 output", "output", 0.125, 10, fd, s, 20.0, second=mine and mine + s)
                   for s, fd in enumerate((100.0, 102.0, 104.0))]
                + [row("GAN 1/8 scratch", "scratch", 0.125, 10, fd, s, second=theirs and theirs + s)
                   for s, fd in enumerate((300.0, 310.0, 320.0))]
                + [row("GAN 1/8 prune_finetune (cut from teacher)", "prune_finetune", 0.125, 10, fd, s,
                       second=theirs and theirs + s) for s, fd in enumerate(control_fds)])
    against_control, = target_checks(rows((150.0, 160.0, 170.0)))  # the control beats scratch: it is the baseline
    assert against_control["baseline"] == "prune_finetune" and against_control["versus_baseline"] == pytest.approx(0.6375)
    assert not against_control["met"] and against_control["versus_baseline_second"] is None
    against_scratch, = target_checks(rows((400.0, 410.0, 420.0)))
    assert against_scratch["baseline"] == "scratch" and against_scratch["met"]
    assert [c["student"] for c in target_checks(rows((400.0, 410.0, 420.0)))] == ["GAN 1/8 output"]  # no baseline checked
    agree, = target_checks(rows((400.0, 410.0, 420.0), second=(10.0, 30.0)))  # both rulers: 11 against 31, sd 1
    assert agree["versus_baseline_second"] == pytest.approx(11 / 31) and agree["test_second"].beyond_noise
    assert agree["met"]
    disagree, = target_checks(rows((400.0, 410.0, 420.0), second=(30.0, 31.0)))  # the second ruler sees no lead
    assert disagree["versus_baseline_second"] == pytest.approx(31 / 32) and not disagree["beyond_noise"]
    second = compare([30.0, 31.0, 32.0], [31.0, 32.0, 33.0])  # within the noise: p = 0.29
    assert not disagree["met"] and target_rows([disagree])[0]["second ruler: FD / baseline's (95% interval), p"] == \
        f"{second.ratio_text()}, {second.p_value:.2g}"


def test_the_speed_ratio_is_also_given_round_by_round():
    """Round r's ratio is the students' mean images/s in round r over the teacher's in round r: a slow round that
    hits the teacher alone shows as a high ratio there, while the median ratio stays what the medians give."""
    teacher = row("GAN teacher", "teacher", 1.0, 100, 90.0, images_per_second=100.0, rounds=(100.0, 100.0, 50.0))
    students = [row("GAN 1/8 output", "output", 0.125, 10, 100.0, 0, 1000.0, (1000.0, 1200.0, 700.0)),
                row("GAN 1/8 output", "output", 0.125, 10, 100.0, 1, 1200.0, (1200.0, 1000.0, 500.0))]
    scratch = [row("GAN 1/8 scratch", "scratch", 0.125, 10, 200.0, seed) for seed in (0, 1)]
    check, = target_checks([teacher, *students, *scratch])
    assert check["speedup"] == pytest.approx(11.0) and check["speedup_by_round"] == pytest.approx((11.0, 11.0, 12.0))
    # both sides' distances equal over their seeds: Welch's test is undefined, so no finding and no crash
    assert check["test"].verdict() == "no spread: not tested" and not check["beyond_noise"] and not check["met"]
    assert target_rows([check])[0]["images/s / teacher's, lowest to highest round"] == "11.0x to 12.0x"
    unrecorded, = target_checks([row("GAN teacher", "teacher", 1.0, 100, 90.0, images_per_second=100.0),
                                 *students, *scratch])  # a record made before the rounds were kept
    assert unrecorded["speedup_by_round"] is None
    assert target_rows([unrecorded])[0]["images/s / teacher's, lowest to highest round"] == "-"
    other_timing, = target_checks([dataclasses.replace(teacher, images_per_second_rounds=(100.0, 100.0)),
                                   *students, *scratch])
    assert other_timing["speedup_by_round"] is None  # rounds of another timing are not paired


def test_a_section_says_shared_values_once():
    rows = [{"run": "a", "model": "teacher", "errors": 3}, {"run": "a", "model": "student", "errors": 4}]
    assert section("T", rows) == ("## T\n\nAll rows: run a.\n\n| model | errors |\n|---|---|\n"
                                  "| teacher | 3 |\n| student | 4 |")
    assert "All rows" not in section("T", rows[:1]) and "| a | teacher | 3 |" in section("T", rows[:1])
    assert "| teacher |" in section("T", rows, hidden={"errors"}) and "errors" not in section("T", rows, hidden={"errors"})


def test_compression_points_keep_each_family_and_objective_apart():
    models = "Notebook 06: teachers and students"
    rows = [{"section": models, "run": "r", "family": family, "objective": objective, "width": width,
             "parameters": 10, "Fréchet distance": 1.0}
            for family in ("gan", "vae") for objective, width in (("teacher", 1.0), ("scratch", 0.125), ("scratch", 0.25))]
    points = compression_points(rows + [{"section": "Notebook 01", "run": "r", "model": "teacher"}])
    assert [(p["family"], p["objective"], p["width"]) for p in points] == [
        (r["family"], r["objective"], r["width"]) for r in rows]
    other_run = [row | {"run": "s"} for row in rows]
    labels = {p["objective"] for p in compression_points(rows + other_run)}
    assert labels == {"teacher", "scratch [r]", "scratch [s]"}


def test_budget_points_of_one_familys_parameter_keep_that_family_only():
    models = "Notebook 06: teachers and students"
    rows = [{"section": models, "run": f"gan_student_epochs={epochs}", "gan_student_epochs": epochs, "family": family,
             "objective": "scratch", "width": 0.25, "Fréchet distance": 100.0 / epochs}
            for epochs in (1, 2) for family in ("gan", "vae")]
    assert [(p["family"], p["gan_student_epochs"], p["frechet_distance"])
            for p in budget_points(rows, "gan_student_epochs")] == [("gan", 1, 100.0), ("gan", 2, 50.0)]
    # A parameter of both families (or of none) keeps every family.
    shared = [row | {"student_epochs": row["gan_student_epochs"]} for row in rows]
    assert {p["family"] for p in budget_points(shared, "student_epochs")} == {"gan", "vae"}


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
    with pytest.raises(FileNotFoundError, match="no records/ folder"):
        collect([tmp_path])


def test_timings_are_recorded_only_for_runs_that_train(tmp_path):
    """A run folder that already holds checkpoints would load them instead of training: timing it is refused, before
    any notebook runs and before notebooks/timings.json is touched."""
    from kdlib.course.lessons import notebooks_dir

    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "student_gan_output_0123.pt").write_bytes(b"x")
    committed = (notebooks_dir() / "timings.json").read_text()
    with pytest.raises(ValueError, match=r"already holds 1 checkpoint\(s\) from an earlier run .*student_gan_output"):
        run_chain("smoke", tmp_path, record=True, only=["00_overview"])
    assert (notebooks_dir() / "timings.json").read_text() == committed
    assert not (tmp_path / "00_overview.ipynb").exists()


@pytest.mark.parametrize("ci, setting, shown", [(None, None, True), ("1", None, False), (None, "0", False)])
def test_the_runner_shows_each_notebooks_cells_unless_quiet(tmp_path, monkeypatch, ci, setting, shown):
    """`make run` is not silent for the whole of a notebook on a terminal; CI and KDLIB_PROGRESS=0 keep it quiet, and
    the notebooks' own progress widgets stay out of the outputs either way."""
    for name, value in (("CI", ci), ("KDLIB_PROGRESS", setting)):
        monkeypatch.delenv(name, raising=False) if value is None else monkeypatch.setenv(name, value)
    calls = []

    def execute(source, target, **kwargs):
        calls.append((kwargs["progress_bar"], os.environ["KDLIB_PROGRESS"]))
        nbformat.write(nbformat.read(source, as_version=4), target)
    monkeypatch.setattr(notebooks.papermill, "execute_notebook", execute)
    run_chain("smoke", tmp_path, only=["00_overview"])
    assert calls == [(shown, "0")]


def test_a_notebooks_study_time_is_its_words_and_its_measured_runs(tmp_path, monkeypatch):
    from kdlib.course import study_time

    folder = tmp_path / "nbs"
    folder.mkdir()
    nb = new_notebook(cells=[nbformat.v4.new_markdown_cell("word " * 300), new_code_cell("x = 1  " * 50)])
    nbformat.write(nb, folder / "07_demo.ipynb")
    (folder / "timings.json").write_text(
        '{"quick": {"seconds": {"07_demo": 90}, "machine": {"cpus": 2, "cpu": "Some CPU", "device": "cpu"}},'
        ' "smoke": {"seconds": {"07_demo": 5}}}')
    monkeypatch.setattr(lessons, "notebooks_dir", lambda: folder)
    text = study_time("07_demo")  # 300 words of Markdown (code does not count) at 60 a minute, no exercises
    assert "about 5 min, estimated as 300 words of text at 60 a minute." in text
    assert "1.5 min in `quick` on 2 cores of Some CPU," in text
    nb.cells.append(nbformat.v4.new_markdown_cell("## Exercises\n\n1. **One.** Do it.\n2. **Two.** Do it too."))
    nbformat.write(nb, folder / "07_demo.ipynb")  # 311 words and two exercises: 5.3 + 20 minutes, to the nearest 5
    assert "about 25 min, estimated as 311 words of text at 60 a minute and 2 exercises at 10 minutes each" in \
        study_time("07_demo")
    assert "smoke" not in text and "full" not in text  # smoke's times mean nothing; full was not timed
    (folder / "timings.json").write_text(  # each profile's time beside the machine that measured it, in order
        '{"quick": {"seconds": {"07_demo": 90}, "machine": {"cpus": 2, "cpu": "CPU B", "kernels": "AVX512"}},'
        ' "full": {"seconds": {"07_demo": 600}, "machine": {"cpus": 2, "cpu": "CPU A", "kernels": "AVX2"}}}')
    assert ("1.5 min in `quick` on 2 cores of CPU B (AVX512 kernels) and 10.0 min in `full` on 2 cores of CPU A "
            "(AVX2 kernels)") in study_time("07_demo")
    (folder / "timings.json").unlink()
    assert "not timed yet" in study_time("07_demo")
    with pytest.raises(ValueError, match="no notebook '08_missing'"):
        study_time("08_missing")


def test_the_report_gathers_notebook_05s_samplers_over_seeds(tmp_path):
    from kdlib.course.records import DiffusionResult, LatentRow
    quality = dict(precision=0.9, recall=0.3, density=1.0, coverage=0.3, class_shares=(0.1,) * 10,
                   class_kl_to_data=0.0, classes_covered=10, inception_score=7.0)
    rows = (LatentRow(frechet_distance=300.0, **quality, method="VAE, prior N(0, I)", steps=None, seed=None, samples=10),
            LatentRow(frechet_distance=80.0, **quality, method="teacher (Euler)", steps=32, seed=None, samples=10),
            LatentRow(frechet_distance=90.0, **quality, method="one-step regression", steps=1, seed=0, samples=10),
            LatentRow(frechet_distance=94.0, **quality, method="one-step regression", steps=1, seed=1, samples=10))
    run = RunDir(tmp_path / "run")
    DiffusionResult("fashion-mnist", "quick", {"profile": "quick"}, RulerRecord(Artifact("f.pt", "0" * 64), 0.9),
                    Artifact("v.pt", "1" * 64), Artifact("t.pt", "2" * 64), rows, {"one-step regression": 30.0},
                    {"teacher, 32 steps + decoder": 0.2, "student, 1 step + decoder": 0.04}).save(run)
    found, _ = collect([run.path])
    table = [r for r in found if r["section"].startswith("Notebook 05: a latent flow")]
    assert [(r["sampler"], r["steps"], r["seeds"]) for r in table] == [
        ("VAE, prior N(0, I)", "", ""), ("teacher (Euler)", 32, ""), ("one-step regression", 1, 2)]
    regression = table[-1]
    assert regression["Fréchet distance"] == 92.0 and regression["Fréchet distance, sd over seeds"] == 2.8  # sd of 90 and 94, rounded
    assert regression["training (s)"] == 30.0 and table[0]["training (s)"] == ""
    speeds = [r for r in found if r["section"] == "Notebook 05: time per image"]
    assert {r["sampler"]: r["ms per image (batch 256)"] for r in speeds} == {
        "teacher, 32 steps + decoder": 0.2, "student, 1 step + decoder": 0.04}


@pytest.mark.parametrize("spec_path", sorted((project_root() / "sweeps").glob("*.yaml")), ids=lambda p: p.name)
def test_every_committed_sweep_file_is_valid_for_the_notebooks_and_settings_of_today(spec_path):
    """A sweep file whose commands the README gives must still run: its notebooks exist, and every point's values
    (with the fixed parameters, in its profile) pass the same checks as ``kdlib sweep`` makes before it starts."""
    spec = read_spec(spec_path)
    paths = select(spec.get("only"), spec.get("from"))
    points = grid_points(spec["grid"])
    assert points, f"{spec_path.name} has an empty grid"
    for point in points:
        notebooks.check_overrides(paths, spec.get("parameters", {}) | point, spec.get("profile"))


def test_a_sweep_file_that_no_longer_fits_the_settings_is_caught(tmp_path):
    spec_path = tmp_path / "stale.yaml"  # 56,000 students' images next to 5,000 held out: more than the 60,000
    spec_path.write_text("profile: quick\nonly: [01_soft_labels]\ngrid:\n  temperature: [1.0]\n"
                         "parameters:\n  validation_size: 5000\n  student_train_size: 56000\n")
    with pytest.raises(ValueError, match="student_train_size=56000 is more than the 55,000 training images"):
        test_every_committed_sweep_file_is_valid_for_the_notebooks_and_settings_of_today(spec_path)


def test_the_course_table_gives_each_profiles_minutes_and_names_the_machine_that_measured_them(tmp_path, monkeypatch):
    from kdlib.course.lessons import course_table

    folder = tmp_path / "nbs"
    folder.mkdir()
    nbformat.write(new_notebook(cells=[nbformat.v4.new_markdown_cell("# 07 · Demo\n\nWhat it teaches.")]),
                   folder / "07_demo.ipynb")
    (folder / "timings.json").write_text(
        '{"quick": {"seconds": {"07_demo": 90}, "machine": {"cpus": 2, "cpu": "CPU B", "kernels": "AVX512"}},'
        ' "smoke": {"seconds": {"07_demo": 6}, "machine": {"cpus": 2, "processor": "x86_64"}}}')
    monkeypatch.setattr(lessons, "notebooks_dir", lambda: folder)
    table = course_table()
    assert "| 07 · Demo | What it teaches. | 0.1 | 1.5 | not measured |" in table
    assert table.endswith("Measured with `python -m kdlib run --record-timings`: smoke on 2 cores of an unrecorded "
                          "CPU; quick on 2 cores of CPU B (AVX512 kernels).")


def test_a_swept_setting_is_named_in_words_on_its_figure():
    from kdlib.course.report import setting_in_words

    assert setting_in_words("vae_student_epochs") == "epochs of every VAE student"
    assert setting_in_words("train_size") == "training images used"  # its "(None: all 60,000)" left out
    assert setting_in_words("not_a_setting") == "not_a_setting"
