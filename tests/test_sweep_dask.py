"""Sweep points on a real Dask ``LocalCluster`` (two worker processes): the same records as in turn, a failing or
killed point leaves the others finished and nothing marked finished that did not finish, and a resume skips what
finished (issue 43)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dask
import nbformat
import pytest
from distributed import LocalCluster
from nbformat.v4 import new_code_cell, new_notebook

import kdlib.course.lessons as lessons
from kdlib.course.cli import main
from kdlib.course.records import Classifiers, RunDir
from kdlib.course.sweep import SweepPoint, run_sweep


def point_chain(folder: Path, kill_switch: Path) -> None:
    """One notebook that records its temperature as a classifier's test errors. Temperature 3 fails; temperature 99
    kills the process that runs it (its kernel's parent: the Dask worker) while ``kill_switch`` exists."""
    folder.mkdir()
    cells = [new_code_cell("profile = None\nrun_dir = None\ntemperature = None"),
             new_code_cell("import os, pathlib, signal, time\n"
                           "from kdlib.course import Artifact, ClassifierResult, Classifiers, RunDir\n"
                           "if temperature == 3:\n    raise ValueError('point 3 fails on purpose')\n"
                           f"if temperature == 99 and pathlib.Path({str(kill_switch)!r}).exists():\n"
                           "    os.kill(os.getppid(), signal.SIGKILL)\n    time.sleep(60)\n"
                           "Classifiers('fashion-mnist', profile, {'profile': profile}, 10, (ClassifierResult("
                           "'student', (0,), (int(temperature * 10),), 5, (1.0,), (Artifact('x.pt', '0' * 64),), 'run'),),"
                           " ()).save(RunDir(run_dir))")]
    cells[0].metadata["tags"] = ["parameters"]
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "language": "python",
                                                                        "display_name": "Python 3"}}),
                   folder / "00_point.ipynb")


@pytest.fixture
def chain(tmp_path, monkeypatch):
    kill_switch = tmp_path / "kill-switch"
    point_chain(tmp_path / "nbs", kill_switch)
    monkeypatch.setattr(lessons, "notebooks_dir", lambda: tmp_path / "nbs")
    return kill_switch


def finished(sweep: Path) -> dict[str, bytes]:
    """Each finished point's notebook record, by point folder."""
    return {marker.parent.parent.name: (marker.parent / Classifiers.file_name()).read_bytes()
            for marker in sorted(sweep.glob(f"*/records/{SweepPoint.file_name()}"))}


def test_points_on_two_workers_write_the_records_they_write_in_turn(tmp_path, chain, capfd):
    grid = {"temperature": [1, 2, 4]}
    run_sweep(tmp_path / "in-turn", grid, "smoke")
    run_sweep(tmp_path / "dask", grid, "smoke", workers=2)
    assert finished(tmp_path / "dask") == finished(tmp_path / "in-turn")
    assert len(finished(tmp_path / "dask")) == 3
    out = capfd.readouterr().out
    assert "on 2 local Dask worker(s)" in out and out.count("running on worker") == 3
    assert all(f"[kdlib sweep {k}/3]" in out for k in (1, 2, 3)) and "done in" in out


@pytest.mark.parametrize("workers", [None, 2], ids=["in turn", "two workers"])
def test_a_failing_point_is_reported_with_its_folder_and_the_others_finish(tmp_path, chain, capfd, workers):
    with pytest.raises(RuntimeError, match=r"1 of 3 point\(s\) failed \(temperature=3; .*the others finished"):
        run_sweep(tmp_path / "sweep", {"temperature": [1, 3, 4]}, "smoke", workers=workers)
    assert sorted(finished(tmp_path / "sweep")) == ["temperature=1", "temperature=4"]
    out = capfd.readouterr().out
    assert "temperature=3: FAILED" in out and "point 3 fails on purpose" in out
    assert f"its folder: {tmp_path / 'sweep' / 'temperature=3'}" in out


def test_a_killed_worker_leaves_its_point_unfinished_and_the_sweep_resumes(tmp_path, chain, capfd):
    chain.touch()
    sweep, grid = tmp_path / "sweep", {"temperature": [1, 99]}
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):  # no retry on another worker
        with pytest.raises(RuntimeError, match=r"1 of 2 point\(s\) failed \(temperature=99"):
            run_sweep(sweep, grid, "smoke", workers=2)
    assert sorted(finished(sweep)) == ["temperature=1"]  # the killed point is not marked finished
    first = finished(sweep)
    chain.unlink()
    capfd.readouterr()
    run_sweep(sweep, grid, "smoke", workers=2)  # resumes: the finished point is skipped, the killed one runs
    out = capfd.readouterr().out
    assert "temperature=1: finished earlier, skipped" in out and out.count("running on worker") == 1
    assert finished(sweep)["temperature=1"] == first["temperature=1"] and len(finished(sweep)) == 2


def test_points_go_to_an_existing_cluster_by_its_scheduler_address(tmp_path, chain, capfd):
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        run_sweep(tmp_path / "sweep", {"temperature": [1, 2]}, "smoke", scheduler=cluster.scheduler_address)
    assert len(finished(tmp_path / "sweep")) == 2
    assert f"on the Dask cluster at {cluster.scheduler_address}" in capfd.readouterr().out


def test_workers_and_scheduler_are_refused_together_or_out_of_range(tmp_path, chain):
    with pytest.raises(ValueError, match="not both"):
        run_sweep(tmp_path / "s", {"temperature": [1]}, "smoke", workers=2, scheduler="tcp://127.0.0.1:1")
    with pytest.raises(ValueError, match="at least 1"):
        run_sweep(tmp_path / "s", {"temperature": [1]}, "smoke", workers=0)


def test_a_smoke_sweep_of_notebook_01_gives_the_same_results_on_workers(tmp_path, monkeypatch):
    """The course's own notebook, as the issue asks: the students' test errors agree point by point."""
    monkeypatch.setenv("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // 2)))  # what each of two workers gets
    grid = ["-g", "temperature", "1,4", "--profile", "smoke", "--only", "01_soft_labels"]
    assert main(["sweep", *grid, "--out", str(tmp_path / "in-turn")]) == 0
    assert main(["sweep", *grid, "--out", str(tmp_path / "dask"), "--workers", "2"]) == 0

    def errors(sweep: Path) -> dict[str, list]:
        return {point.name: [model["test_errors"] for model in json.loads(
            (point / "records" / Classifiers.file_name()).read_text())["record"]["models"]]
            for point in sorted(sweep.iterdir())}
    assert errors(tmp_path / "dask") == errors(tmp_path / "in-turn") and len(errors(tmp_path / "dask")) == 2
    assert all(RunDir(point).path.is_dir() for point in (tmp_path / "dask").iterdir())
