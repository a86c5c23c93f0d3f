"""The students' learning rates stay stable: bench/stability.py runs at smoke sizes, and the committed grid covers
every rate the profiles give (a rate changed without running the grid again fails here)."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from kdlib.store import project_root

sys.path.insert(0, str(project_root() / "bench"))
from stability import cases  # noqa: E402

COMMITTED = project_root() / "docs" / "results" / "stability" / "stability.csv"
SEEDS, THREADS = 10, "1 2"  # what every rate of the committed grid finished
MARGIN = 1.5  # the factor every rate of the families that can diverge also finished at
# Every kind of student: the quick grid of all of them is committed (440 runs on a 2-core AMD EPYC, AVX2 kernels).
GRID_KINDS = ("gan", "vae", "classifier", "flow")


def committed_rows() -> dict[tuple[str, str, str, str], dict[str, str]]:
    with COMMITTED.open() as file:
        return {(row["profile"], row["student"], row["width"], row["learning rate"]): row for row in csv.DictReader(file)}


def row_key(case, factor: float = 1.0) -> tuple[str, str, str, str]:
    rate = f"{case.rate * factor:g}" + (f" (x{factor:g})" if factor != 1 else "")
    return case.profile, case.title, "" if case.width is None else f"{case.width:g}", rate


def test_the_grid_trains_every_smoke_student_at_one_and_two_threads_and_tables_each(tmp_path):
    subprocess.run([sys.executable, str(project_root() / "bench" / "stability.py"), "--profile", "smoke", "--seeds", "1",
                    "--out", str(tmp_path)], check=True, capture_output=True, text=True)
    with (tmp_path / "stability.csv").open() as file:
        rows = list(csv.DictReader(file))
    assert [(row["profile"], row["student"]) for row in rows] == [row_key(case)[:2] for case in cases("smoke")]
    for row in rows:  # each smoke student once at 1 and once at 2 threads, and none diverged at these sizes
        assert (row["runs"], row["threads"], row["finished"]) == ("2", "1 2", "2"), row
    assert len(list((tmp_path / "runs").glob("*.jsonl"))) == 3  # two workers at 1 thread, one at 2


@pytest.mark.parametrize("profile", ["quick"])
def test_every_rate_of_the_profile_finished_ten_seeds_at_one_and_two_threads_in_the_committed_grid(profile):
    rows = committed_rows()
    for case in cases(profile, GRID_KINDS):
        row = rows.get(row_key(case))
        assert row is not None, (f"{case.label}: no row in {COMMITTED.name}; run bench/stability.py --profile "
                                 f"{profile} --out docs/results/stability")
        assert int(row["seeds"]) >= SEEDS and row["threads"] == THREADS, row
        assert row["finished"] == row["runs"], f"{case.label} diverged: {row}"


@pytest.mark.parametrize("profile", ["quick"])
def test_every_vae_rate_keeps_a_margin_in_the_committed_grid(profile):
    rows = committed_rows()
    for case in cases(profile, ("vae",)):
        row = rows.get(row_key(case, MARGIN))
        assert row is not None and int(row["seeds"]) >= SEEDS, f"{case.label}: no margin check at x{MARGIN:g}"
        assert row["finished"] == row["runs"], f"{case.label} diverged at x{MARGIN:g}: {row}"
