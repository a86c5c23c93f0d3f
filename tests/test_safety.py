"""Nothing a user made is lost, no wrong input is scored silently, no command waits forever (issue 39).

Each test reproduces one case and compares the user's bytes before and after.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import matplotlib.pyplot as plt
import nbformat
import pytest
import torch

import kdlib.course.lessons as lessons
import kdlib.course.runner as notebooks
from kdlib import Batches
from kdlib.batches import scale
from kdlib.course import site
from kdlib.course.cli import main, split_values
from kdlib.course.config import check_together, profile_values
from kdlib.course.folders import LEDGER, Ledger
from kdlib.course.records import (Artifact, ClassifierResult, Classifiers, NotebookRun, RecordError, RunDir,
                                  StudentRecord, read_record)
from kdlib.course.report import expand, update_readme, write_report
from kdlib.course.lessons import notebook_paths
from kdlib.course.runner import IPCKernelManager, prepare_for_nbval, run_chain
from kdlib.course.shipped import PRETRAINED, _from_root
from kdlib.course.sweep import SweepPoint, read_spec, run_sweep
from kdlib.data import load
from kdlib.evaluate import check_images, generated, sampler
from kdlib.generative import hold_then_decay, train_gan
from kdlib.models import MLP
from kdlib.store import file_sha256, project_root
from kdlib.train import classifier_training, fit

from lesson_chains import injected_temperature, tiny_chain
from test_train import hard_loss, toy_problem


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (links not followed) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# Data loss


@pytest.mark.parametrize("marker, entry", [(LEDGER, "../victim"), (LEDGER, "ABSOLUTE"),
                                           (".kdlib-prepared", "../victim")])
def test_prepare_never_deletes_outside_its_folder_whatever_its_marker_names(tmp_path, marker, entry):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "thesis.tex").write_text("a year of work")
    out = tmp_path / "out"
    out.mkdir()
    name = str(victim) if entry == "ABSOLUTE" else entry
    text = json.dumps({"command": "python -m kdlib prepare", "files": {name: "folder"}}) if marker == LEDGER else name
    (out / marker).write_text(text)
    before = snapshot(tmp_path)
    assert main(["prepare", "--out", str(out)]) == 1
    assert snapshot(tmp_path) == before


def test_an_interrupted_retrain_keeps_the_finished_run(tmp_path):
    images, labels = toy_problem(64)

    def train(fresh: bool, stop_at_epoch: int | None = None):
        torch.manual_seed(0)
        model = MLP((16, 8, 2))
        batches = Batches(images, torch.arange(len(images)), 32, seed=1, value_range=(0.0, 1.0))
        loss = hard_loss(labels)
        epochs_seen = []

        def stopping(logits, inputs, rows):
            if stop_at_epoch is not None and len(epochs_seen) > stop_at_epoch * len(batches):
                raise KeyboardInterrupt  # as SIGINT would, in the middle of an epoch
            epochs_seen.append(1)
            return loss(logits, inputs, rows)
        return fit(classifier_training(model, batches, 3, 1e-2, stopping), 3, tmp_path, "toy", {"epochs": 3},
                   fresh=fresh)

    finished = train(fresh=False).checkpoint
    before = finished.read_bytes()
    with pytest.raises(KeyboardInterrupt):
        train(fresh=True, stop_at_epoch=2)  # two epochs of the retrain were saved, then it stopped
    assert finished.read_bytes() == before  # the finished run is still there, untouched
    again = train(fresh=True).checkpoint
    assert again == finished and sorted(p.name for p in tmp_path.iterdir()) == [finished.name]


@pytest.mark.parametrize("folder", ["notebooks", "", "kdlib", "docs"])
def test_a_run_folder_is_never_the_course_itself(folder):
    root = project_root()
    before = snapshot(root / "notebooks")
    assert main(["run", "--profile", "smoke", "--only", "00_overview", "--run-dir", str(root / folder)]) == 1
    assert snapshot(root / "notebooks") == before


def test_a_run_never_replaces_a_notebook_it_did_not_execute_there(tmp_path, two_lessons):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "00_first.ipynb").write_text('{"my": "notebook"}')
    with pytest.raises(ValueError, match=r"00_first.ipynb was not executed by python -m kdlib run.* move it away"):
        run_chain("smoke", mine, {"temperature": 1.0})
    assert snapshot(mine) == {"00_first.ipynb": b'{"my": "notebook"}'}


def a_run_with_records(folder: Path) -> Path:
    student = ClassifierResult("student", (0,), (12,), 5, (1.0,), (Artifact("x.pt", "0" * 64),), "run")
    Classifiers("fashion-mnist", "smoke", {}, 10, (student,), ()).save(RunDir(folder))
    return folder


def test_a_report_never_overwrites_a_file_it_did_not_write_or_that_was_edited(tmp_path):
    run = a_run_with_records(tmp_path / "run")
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.md").write_text("my own report")
    with pytest.raises(ValueError, match=r"report.md was not written by python -m kdlib report"):
        write_report([run], out)
    assert snapshot(out) == {"report.md": b"my own report"}
    # Through a README block whose --out names that folder.
    readme = tmp_path / "README.md"
    readme.write_text("<!-- kdlib report run --out report -->\n<!-- end of kdlib report -->\n")
    with pytest.raises(ValueError, match=r"report.md was not written"):
        update_readme(readme)
    assert snapshot(out) == {"report.md": b"my own report"}
    # A report it wrote is written again; one edited since is kept.
    ours = tmp_path / "ours"
    write_report([run], ours)
    write_report([run], ours)
    (ours / "report.md").write_text("edited by hand")
    before = snapshot(ours)
    with pytest.raises(ValueError, match=r"report.md changed since python -m kdlib report wrote it"):
        write_report([run], ours)
    assert snapshot(ours) == before


def test_a_second_student_edition_keeps_the_students_answers(tmp_path):
    out = tmp_path / "student"
    assert main(["student-edition", "--out", str(out)]) == 0
    lesson = out / notebook_paths()[1].name
    nb = nbformat.read(lesson, as_version=4)
    stub = next(c for c in nb.cells if c.source == "# Exercise 1: your code here")
    stub.source = "answer = 42  # my work"
    nbformat.write(nb, lesson)
    before = snapshot(out)
    assert main(["student-edition", "--out", str(out)]) == 1
    assert snapshot(out) == before


# Silent results


def test_images_in_zero_one_are_refused_and_the_same_images_in_minus_one_one_pass():
    test = load("fashion-mnist", "test").images[:500]
    in_range = scale(test)
    assert check_images(in_range, (1, 28, 28)) is in_range
    with pytest.raises(ValueError, match=r"look like images in \[0, 1\].*2 \* images - 1"):
        check_images((in_range + 1) / 2, (1, 28, 28))
    untrained = torch.tanh(torch.full((4, 1, 28, 28), 0.2))  # a dull generator, positive everywhere: not refused
    check_images(untrained, (1, 28, 28))


def test_widths_that_read_alike_in_record_names_are_refused():
    full = profile_values("full")  # three widths of each family, a rate for each
    with pytest.raises(ValueError, match=r"student_widths=\[0.12, 0.120000001, 0.5\] .* read 0.12"):
        check_together(full | {"student_widths": [0.12, 0.120000001, 0.5]})
    with pytest.raises(ValueError, match=r"vae_student_widths"):
        check_together(full | {"vae_student_widths": [0.25, 0.25, 0.5]})
    check_together(full | {"student_widths": [0.12, 0.1201, 0.5]})


def test_an_empty_out_is_refused_and_the_current_folder_untouched(tmp_path, monkeypatch):
    (tmp_path / "mine.txt").write_text("mine")
    monkeypatch.chdir(tmp_path)
    for command in ("student-edition", "prepare", "report"):
        extra = [str(tmp_path)] if command == "report" else []
        assert main([command, *extra, "--out", ""]) == 1
    assert snapshot(tmp_path) == {"mine.txt": b"mine"}


# No command waits forever


@pytest.mark.parametrize("script, expected", [
    ("sleep 600", r"had no answer from the npm registry in 2 s: offline.*put lib-1.0.0.tgz into"),
    ("echo 'npm error code ECONNREFUSED' >&2; exit 1", r"failed \(exit 1, npm error code ECONNREFUSED\): offline.*"
                                                        r"put lib-1.0.0.tgz into"),
])
def test_npm_that_hangs_or_fails_gives_the_offline_fix(tmp_path, monkeypatch, script, expected):
    bin_folder = tmp_path / "bin"
    bin_folder.mkdir()
    npm = bin_folder / "npm"
    npm.write_text(f"#!/bin/sh\n{script}\n")
    npm.chmod(npm.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(site, "NPM_TIMEOUT_S", 2)
    asset = site.WebAsset("lib", "1.0.0", "x", ("dist",))
    with pytest.raises(RuntimeError, match=expected):
        site.fetch_asset(asset, tmp_path / "cache")


# Errors that name the file or parameter and the fix


def test_a_damaged_sweep_point_says_to_move_its_folder(tmp_path):
    point = tmp_path / "sweep" / "temperature=1"
    (point / "records").mkdir(parents=True)
    (point / "records" / SweepPoint.file_name()).write_text("{not json")
    with pytest.raises(ValueError, match=r"move or delete the point's folder .*temperature=1"):
        run_sweep(tmp_path / "sweep", {"temperature": [1]}, "smoke", only=["00_overview"])


def test_a_full_disk_names_the_file_keeps_the_good_notebook_and_leaves_no_partial(tmp_path, two_lessons, monkeypatch, capfd):
    run = tmp_path / "run"
    run_chain("smoke", run, {"temperature": 1.0}, only=["00_first"])
    assert "without encryption" not in capfd.readouterr().err  # the kernel talks over IPC, not TCP
    before = snapshot(run)

    def full_disk(source, output, **kwargs):
        Path(output).write_text("x" * 1000)  # papermill had begun writing
        raise OSError(28, "No space left on device", output)
    monkeypatch.setattr(notebooks.papermill, "execute_notebook", full_disk)
    with pytest.raises(RuntimeError, match=r"00_first.partial.ipynb failed \(No space left on device\): free space"):
        run_chain("smoke", run, {"temperature": 2.0}, only=["00_first"])
    assert snapshot(run) == before


def test_a_record_that_cannot_be_written_keeps_the_old_notebook_with_the_old_record(tmp_path, two_lessons, monkeypatch):
    run = tmp_path / "run"
    run_chain("smoke", run, {"temperature": 1.0}, only=["00_first"])
    old_record = (run / "records" / NotebookRun.file_name(notebook="00_first")).read_bytes()

    def read_only(self, run_dir):
        raise PermissionError(13, "Permission denied", str(run_dir.path / "records"))
    monkeypatch.setattr(NotebookRun, "save", read_only)
    with pytest.raises(RuntimeError, match=r"records failed \(Permission denied\)"):
        run_chain("smoke", run, {"temperature": 5.0}, only=["00_first"])
    assert injected_temperature(run / "00_first.ipynb") == "temperature = 1.0"
    assert (run / "records" / NotebookRun.file_name(notebook="00_first")).read_bytes() == old_record
    assert not (run / "00_first.partial.ipynb").exists()


def test_a_records_path_that_is_a_file_is_refused_before_any_notebook_runs(tmp_path, two_lessons):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "records").write_text("not a folder")
    with pytest.raises(ValueError, match=r"records folder .*records is a file, not a folder"):
        run_chain("smoke", tmp_path / "run", {"temperature": 1.0})
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["records"]  # nothing ran, nothing was written


def test_no_training_or_sample_count_of_zero_gets_a_raw_error():
    with pytest.raises(ValueError, match=r"at least one epoch"):
        hold_then_decay(0)
    images = torch.zeros(64, 1, 28, 28, dtype=torch.uint8)
    with pytest.raises(ValueError, match=r"at least one epoch"):
        train_gan(images, Path("unused"), dataset="fashion-mnist", epochs=0, batch_size=32, learning_rate=1e-3, seed=0)
    with pytest.raises(ValueError, match=r"samples=0: a quality measurement needs at least 2"):
        generated(lambda n: torch.zeros(n, 1, 28, 28), 0)
    with pytest.raises(ValueError, match=r"torch.float64, the ruler measures torch.float32: .*images.float\(\)"):
        check_images(torch.full((2, 1, 28, 28), -1.0, dtype=torch.float64), (1, 28, 28))


def test_a_dangling_checkpoints_link_is_named(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "checkpoints").symlink_to(tmp_path / "gone")
    with pytest.raises(ValueError, match=r"checkpoints is a symbolic link to .*gone, which does not exist"):
        RunDir(tmp_path / "run").checkpoints


def test_a_linked_run_folder_inside_a_prepared_folder_is_named_and_its_target_kept(tmp_path, two_lessons):
    out = tmp_path / "nbval"
    prepare_for_nbval("smoke", out)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "data.bin").write_bytes(b"precious")
    (out / "run").rmdir()
    (out / "run").symlink_to(elsewhere)
    with pytest.raises(ValueError, match=r"nbval/run is a symbolic link, which python -m kdlib prepare did not make"):
        prepare_for_nbval("smoke", out)
    assert snapshot(elsewhere) == {"data.bin": b"precious"}


def test_a_ledger_names_only_paths_inside_its_folder(tmp_path):
    ledger = Ledger(tmp_path / "out", "python -m kdlib report")
    written = ledger.write("a.txt", lambda tmp: tmp.write_text("a"))
    assert Ledger(tmp_path / "out", "python -m kdlib report").files == {"a.txt": ledger.files["a.txt"]}
    with pytest.raises(ValueError, match=r"written by python -m kdlib report, not python -m kdlib site"):
        Ledger(tmp_path / "out", "python -m kdlib site")
    (tmp_path / "out" / LEDGER).write_text("{broken")
    with pytest.raises(ValueError, match=r"is damaged .* delete"):
        Ledger(tmp_path / "out", "python -m kdlib report")
    assert written.read_text() == "a"


@pytest.mark.parametrize("text, values", [
    ("1,4,20", ["1", "4", "20"]),
    ("[0.12,0.25]", ["[0.12,0.25]"]),
    ("[0.12],[0.12,0.25]", ["[0.12]", "[0.12,0.25]"]),
    ("'a,b',c", ["'a,b'", "c"]),
])
def test_grid_values_split_only_at_commas_outside_lists(text, values):
    assert split_values(text) == values


def test_grid_values_with_an_open_bracket_are_refused():
    with pytest.raises(ValueError, match=r"unclosed bracket"):
        split_values("[0.12,0.25")


def test_the_restore_hint_names_the_shipped_file_from_the_repository_root():
    assert _from_root(PRETRAINED / "gan-fashion-mnist.pt") == "pretrained/gan-fashion-mnist.pt"


def test_the_notebooks_kernel_uses_local_sockets():
    assert IPCKernelManager().transport == "ipc"


# What a bad-input probe of the course's commands found (issue 54, item 7): each case's bytes before and after.


@pytest.mark.parametrize("entry", ["sub/inner", "sub/file.txt"])
def test_a_ledger_entry_through_a_linked_sub_folder_deletes_nothing_outside(tmp_path, entry):
    outside = tmp_path / "outside"
    (outside / "inner").mkdir(parents=True)
    (outside / "inner" / "thesis.tex").write_text("a year of work")
    (outside / "file.txt").write_text("mine")
    out = tmp_path / "out"
    out.mkdir()
    (out / "sub").symlink_to(outside)
    recorded = "folder" if entry.endswith("inner") else file_sha256(outside / "file.txt")  # its true SHA-256
    (out / LEDGER).write_text(json.dumps({"command": "python -m kdlib prepare", "files": {entry: recorded}}))
    before = snapshot(outside)
    assert main(["prepare", "--out", str(out)]) == 1
    assert snapshot(outside) == before


def test_prepare_keeps_a_users_file_in_its_run_folder(tmp_path, two_lessons, capsys):
    out = tmp_path / "nbval"
    prepare_for_nbval("smoke", out)
    (out / "run" / "records").mkdir()
    (out / "run" / "records" / "classifiers.json").write_text("{}")  # what a run writes: emptied again
    prepare_for_nbval("smoke", out)
    assert not (out / "run" / "records").exists()
    (out / "run" / "notes.txt").write_text("my notes")
    with pytest.raises(ValueError, match=r"run holds files that python -m kdlib prepare .* do not write \(notes.txt\)"):
        prepare_for_nbval("smoke", out)
    assert (out / "run" / "notes.txt").read_text() == "my notes"


def test_a_relative_sweep_folder_is_sent_to_the_workers_as_an_absolute_path(tmp_path, monkeypatch):
    sent = []
    monkeypatch.setattr("kdlib.course.sweep._on_dask", lambda jobs, workers, scheduler: sent.extend(jobs) or iter(()))
    monkeypatch.chdir(tmp_path)
    run_sweep("relout", {"temperature": [1.0]}, "smoke", only=["01_soft_labels"], scheduler="tcp://127.0.0.1:1")
    assert [job.folder for job in sent] == [tmp_path / "relout" / "temperature=1"]


def test_a_sweep_file_with_a_key_given_twice_is_refused(tmp_path):
    spec = tmp_path / "sweep.yaml"
    spec.write_text("grid:\n  temperature: [1, 4]\n  temperature: [20]\n")
    with pytest.raises(ValueError, match=r"sweep.yaml, line 3, column 3: .*the key 'temperature' is given twice"):
        read_spec(spec)


@pytest.mark.parametrize("workers, points", [(999, 2), (3, 2)])
def test_more_workers_than_points_or_cores_are_refused_before_any_starts(tmp_path, workers, points):
    with pytest.raises(ValueError, match=rf"--workers {workers}: more workers than the sweep's {points} point"):
        run_sweep(tmp_path / "out", {"temperature": [1.0, 4.0][:points]}, "smoke", only=["01_soft_labels"],
                  workers=workers)
    assert not (tmp_path / "out").exists()


def test_the_teachers_command_loads_a_shipped_file_before_calling_it_up_to_date(tmp_path):
    for name in ("ruler-fashion-mnist.pt", "ruler-fashion-mnist.json"):
        (tmp_path / name).write_bytes((PRETRAINED / name).read_bytes())
    weights = tmp_path / "ruler-fashion-mnist.pt"
    weights.write_bytes(weights.read_bytes()[:4096])  # cut off, and its manifest edited to match
    manifest = json.loads((tmp_path / "ruler-fashion-mnist.json").read_text())
    manifest["manifest"]["checkpoint"]["sha256"] = file_sha256(weights)
    (tmp_path / "ruler-fashion-mnist.json").write_text(json.dumps(manifest))
    before = snapshot(tmp_path)
    assert main(["teachers", "--only", "ruler-fashion-mnist", "--out", str(tmp_path),
                 "--work", str(tmp_path / "work")]) == 1
    assert snapshot(tmp_path) == before


def test_a_generator_that_ends_in_a_sigmoid_is_refused_before_it_is_measured():
    with pytest.raises(ValueError, match=r"ends in a sigmoid, so its images lie in \[0, 1\]"):
        sampler(torch.nn.Sequential(torch.nn.Linear(4, 784), torch.nn.Sigmoid(), torch.nn.Unflatten(1, (1, 28, 28))),
                4)
    sampler(torch.nn.Sequential(torch.nn.Linear(4, 784), torch.nn.Tanh(), torch.nn.Unflatten(1, (1, 28, 28))), 4)


def test_a_student_record_width_its_file_name_cannot_tell_apart_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"width 0.120000001 has more than six significant digits, .* as 0.12"):
        StudentRecord.file_name(family="gan", objective="output", width=0.120000001, seed=0)
    assert StudentRecord.file_name(family="gan", objective="output", width=0.12, seed=0) == \
        "student-gan-output-0.12-seed0.json"


def test_a_record_that_is_a_json_list_is_named(tmp_path):
    (tmp_path / "records").mkdir()
    (tmp_path / "records" / "classifiers.json").write_text("[1, 2, 3]")
    with pytest.raises(RecordError, match=r"classifiers.json holds a JSON list, not a kdlib record"):
        read_record(tmp_path / "records" / "classifiers.json")


def test_a_report_into_a_runs_records_folder_is_refused_and_the_records_kept(tmp_path):
    run = tmp_path / "run"
    Classifiers("fashion-mnist", "smoke", {"profile": "smoke"}, 10, (ClassifierResult(
        "student", (0,), (10,), 5, (1.0,), (Artifact("x.pt", "0" * 64),), "run"),), ()).save(RunDir(run))
    before = snapshot(run)
    assert main(["report", str(run), "--out", str(run / "records")]) == 1
    assert snapshot(run) == before


def test_a_sweep_folder_whose_points_all_failed_says_so(tmp_path):
    (tmp_path / "sweep" / "temperature=1.0").mkdir(parents=True)
    (tmp_path / "sweep" / "temperature=1.0" / "01_soft_labels.failed.ipynb").write_text("{}")
    with pytest.raises(ValueError, match=r"sweep is a sweep folder with no finished point \(its points "
                                         r"temperature=1.0 failed or are still running"):
        expand([tmp_path / "sweep"])


@pytest.mark.parametrize("value", ["-inf", "nan", "inf"])
def test_a_non_finite_parameter_is_named_not_taken_for_an_option(tmp_path, value, capsys):
    assert main(["run", "--profile", "smoke", "--only", "01_soft_labels", "--run-dir", str(tmp_path / "run"),
                 "-p", "temperature", value]) == 1
    assert f"temperature={float(value)!r} must be a finite number" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_failed_site_rebuild_keeps_the_last_good_site(tmp_path, monkeypatch):
    def sphinx(command, **kwargs):  # writes a page where the build is told to
        (Path(command[-1]) / "index.html").write_text(f"built from {Path(command[-2]).name}")
        return subprocess.CompletedProcess(command, 0)
    monkeypatch.setattr(site, "stage", lambda source: None)
    monkeypatch.setattr(site.subprocess, "run", sphinx)
    front = site.build_site(tmp_path / "site")
    assert front == tmp_path / "site" / "html" / "index.html" and front.read_text() == "built from source"
    before = snapshot(tmp_path / "site" / "html")

    def unreachable(source):
        raise RuntimeError("npm had no answer from the registry")
    monkeypatch.setattr(site, "stage", unreachable)
    with pytest.raises(RuntimeError, match="no answer"):
        site.build_site(tmp_path / "site")
    assert snapshot(tmp_path / "site" / "html") == before
    monkeypatch.setattr(site, "stage", lambda source: None)
    assert site.build_site(tmp_path / "site").read_text() == "built from source"  # and a good rebuild swaps in
    assert sorted(p.name for p in (tmp_path / "site").iterdir()) == [LEDGER, "doctrees", "html", "source"]


def test_a_run_keeps_a_users_timings_and_figures_of_the_same_name(tmp_path, two_lessons):
    run = tmp_path / "run"
    run.mkdir()
    (run / "timings.json").write_text('{"my": "timings"}')
    with pytest.raises(ValueError, match=r"timings.json is not the runner's timings .* move it away"):
        run_chain("smoke", run, {"temperature": 1.0})
    assert snapshot(run) == {"timings.json": b'{"my": "timings"}'}
    (run / "timings.json").unlink()
    run_chain("smoke", run, {"temperature": 1.0}, only=["00_first"])
    run_chain("smoke", run, {"temperature": 1.0}, only=["01_second"])  # the earlier notebook's time is kept
    assert set(json.loads((run / "timings.json").read_text())) == {"00_first", "01_second"}
    figure = plt.figure()
    drawn = RunDir(run).save_figure(figure, "07_budget_curve")
    RunDir(run).save_figure(figure, "07_budget_curve")  # the course's own figure: drawn again
    drawn.write_bytes(b"my own picture")
    with pytest.raises(ValueError, match=r"07_budget_curve.png is not a figure the course drew"):
        RunDir(run).save_figure(figure, "07_budget_curve")
    assert drawn.read_bytes() == b"my own picture"
    plt.close(figure)


def test_a_renamed_run_folder_runs_its_own_notebooks_again(tmp_path, two_lessons):
    run_chain("smoke", tmp_path / "run", {"temperature": 1.0})
    (tmp_path / "run").rename(tmp_path / "renamed")
    run_chain("smoke", tmp_path / "renamed", {"temperature": 2.0})
    assert injected_temperature(tmp_path / "renamed" / "00_first.ipynb") == "temperature = 2.0"


def test_a_kernel_that_dies_names_its_notebook_its_cell_and_the_likely_cause(tmp_path, monkeypatch):
    tiny_chain(tmp_path / "nbs")
    nb = nbformat.read(tmp_path / "nbs" / "01_second.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"))
    nbformat.write(nb, tmp_path / "nbs" / "01_second.ipynb")
    monkeypatch.setattr(lessons, "notebooks_dir", lambda: tmp_path / "nbs")
    with pytest.raises(RuntimeError, match=r"01_second.ipynb: its kernel died in cell \d+ \(import os, signal\), with no "
                                           r"Python error: most often the machine ran out of memory.*kept at .*"
                                           r"01_second.failed.ipynb"):
        run_chain("smoke", tmp_path / "run", {"temperature": 1.0})
    assert (tmp_path / "run" / "00_first.ipynb").is_file() and not (tmp_path / "run" / "01_second.ipynb").exists()
