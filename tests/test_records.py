"""Typed run records: round trips, damaged files refused by name, stale and mixed results refused."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys

import pytest
import torch

from kdlib import OBJECTIVES, Generator, Student, VAE, train_student
from kdlib.distill import STUDENT_MODULE
from kdlib.store import save_checkpoint
from kdlib.course import (Artifact, ClassifierResult, Classifiers, Evaluation, RecordError, RulerRecord, RunDir,
                          StudentRecord, Teacher, TemperaturePoint, evaluation_rows, run_teacher, student_record)
from kdlib.course.records import writable_folder
from kdlib.evaluate import Measurement, Quality, Ruler, reference
from kdlib.features import FeatureNet

QUALITY = Quality(frechet_distance=1.0, precision=0.5, recall=0.5, density=1.0, coverage=0.5, class_shares=(0.5, 0.5),
                  class_kl_to_data=0.0, classes_covered=2, inception_score=2.0)
MEASUREMENT = Measurement(**vars(QUALITY), samples=10, parameters=10, macs_per_image=20, images_per_second=1.0,
                          latency_ms=1.0, threads=1, device="cpu", batch=4)


def tiny_ruler(run: RunDir, seed: int = 5) -> Ruler:
    """A feature network with random weights, saved so that records can name it, and its test-set reference."""
    torch.manual_seed(seed)
    net = FeatureNet().eval()
    path = run.checkpoints / f"feature_net_{seed}.pt"
    save_checkpoint(path, {"model": net.state_dict()})
    images = torch.randint(0, 256, (300, 1, 28, 28), generator=torch.Generator().manual_seed(6), dtype=torch.uint8)
    return Ruler(net, 0.5, reference(net, images, torch.arange(300) % 10), {}, path)


def save_teacher(run: RunDir, family: str, ruler: Ruler, seed: int = 0, dataset: str = "fashion-mnist") -> Teacher:
    """A tiny teacher with random weights, saved as notebooks 02 and 03 save theirs."""
    torch.manual_seed(seed)
    settings = {"latent_dim": 8, "width": 0.5} if family == "gan" else {"latent_dim": 4, "width": 0.5}
    model = (Generator if family == "gan" else VAE)(settings["latent_dim"], settings["width"])
    path = run.checkpoints / f"{family}_teacher_{seed}.pt"
    save_checkpoint(path, {"modules": {STUDENT_MODULE[family]: model.state_dict()}})
    record = Teacher(family, dataset, "smoke", {"profile": "smoke"}, settings, Artifact.of(path), 1.0,
                     RulerRecord.of(ruler), MEASUREMENT, {"real train": QUALITY})
    record.save(run)
    return record


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A run folder as notebooks 02-04 leave it, made once; each test works on its own copy (``make_run``)."""
    path = tmp_path_factory.mktemp("template") / "run"
    return path, *build_run(path)


@pytest.fixture
def make_run(trained_run):
    def copy(path):
        template, ruler, students = trained_run
        shutil.copytree(template, path, dirs_exist_ok=True)
        return RunDir(path), dataclasses.replace(ruler, checkpoint=path / "checkpoints" / ruler.checkpoint.name), students
    return copy


def build_run(path):
    """Two tiny teachers and one student of each objective, trained and recorded."""
    run = RunDir(path)
    ruler = tiny_ruler(run)
    images = torch.randint(0, 256, (64, 1, 28, 28), generator=torch.Generator().manual_seed(3), dtype=torch.uint8)
    students = []
    for family, objectives in OBJECTIVES.items():
        teacher = save_teacher(run, family, ruler)
        for objective in objectives.values():
            student = Student(objective(), 0.25, "subpixel" if objective.name == "output" else "transposed",
                              "teacher" if objective.starts_cut else "random")
            _, trained = train_student(student, teacher.model(run), images, torch.arange(64) % 10, 1, 16, 0,
                                       run.checkpoints, {"teacher": teacher.checkpoint.sha256})
            provenance = run_teacher(run, family, teacher.dataset)[1]
            assert provenance.checkpoint == teacher.checkpoint and provenance.settings == teacher.settings
            students.append(student_record(student, trained, provenance, teacher.dataset, "smoke"))
            students[-1].save(run)
    return ruler, students


def test_records_round_trip_with_their_nested_types(tmp_path):
    run = RunDir(tmp_path)
    ruler = tiny_ruler(run)
    teacher = save_teacher(run, "gan", ruler)
    loaded = Teacher.load(run, family="gan")
    assert loaded == teacher and isinstance(loaded.quality, Measurement) and loaded.quality.class_shares == (0.5, 0.5)
    assert isinstance(loaded.floors["real train"], Quality) and loaded.ruler.checkpoint.file == "feature_net_5.pt"
    classifiers = Classifiers("mnist", "full", {}, 10_000, (ClassifierResult("teacher", (0,), (67,), 10, (1.5,), (Artifact("t.pt", "0" * 64),),
                                                                "shipped: pretrained/t.pt"),),
                              (TemperaturePoint(4.0, 0.5, 8, 70),))
    assert classifiers.save(run) == tmp_path / "records" / "classifiers.json"
    assert Classifiers.load(run) == classifiers
    assert classifiers.models[0].mean_errors == 67 and classifiers.models[0].spread == 0
    saved = tmp_path / "records" / "classifiers.json"
    assert json.loads(saved.read_text())["schema"] == 2  # a result per seed since schema 2
    saved.write_text(saved.read_text().replace('"schema": 2', '"schema": 1'))
    with pytest.raises(RecordError, match=r"schema 1, this kdlib reads Classifiers records of schema 2.*01_soft_labels"):
        Classifiers.load(run)
    envelope = json.loads((tmp_path / "records" / "teacher-gan.json").read_text())
    assert envelope["schema"] == 1 and envelope["type"] == "Teacher" and envelope["writer"] == "02_gan_teacher"


def test_missing_damaged_or_foreign_records_are_refused_by_name(tmp_path):
    run = RunDir(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"teacher-vae.json is missing: run notebooks/03_vae_teacher.ipynb"):
        Teacher.load(run, family="vae")
    with pytest.raises(ValueError, match="family 'flow' is not one of"):
        Teacher.load(run, family="flow")
    teacher = save_teacher(run, "gan", tiny_ruler(run))
    path = tmp_path / "records" / "teacher-gan.json"
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(RecordError, match=r"teacher-gan.json is not valid JSON .* run notebooks/02_gan_teacher.ipynb"):
        Teacher.load(run, family="gan")
    envelope = json.loads(text)
    del envelope["record"]["ruler"]
    envelope["record"]["colour"] = "blue"
    path.write_text(json.dumps(envelope))
    with pytest.raises(RecordError, match=r"fields missing \['ruler'\], unexpected \['colour'\].*02_gan_teacher"):
        Teacher.load(run, family="gan")
    path.write_text(text.replace('"schema": 1', '"schema": 0'))
    with pytest.raises(RecordError, match="has schema 0, this kdlib reads Teacher records of schema 1"):
        Teacher.load(run, family="gan")
    path.write_text(text.replace('"type": "Teacher"', '"type": "Evaluation"'))
    with pytest.raises(RecordError, match="holds a Evaluation record, not a Teacher"):
        Teacher.load(run, family="gan")
    path.write_text(text)
    checkpoint = tmp_path / "checkpoints" / teacher.checkpoint.file
    checkpoint.write_bytes(checkpoint.read_bytes() + b"x")  # replaced or damaged since the record was written
    with pytest.raises(RecordError, match="is not the file recorded by 02_gan_teacher"):
        Teacher.load(run, family="gan").model(run)
    checkpoint.unlink()
    with pytest.raises(FileNotFoundError, match="gan_teacher_0.pt is missing: run notebooks/02_gan_teacher.ipynb"):
        Teacher.load(run, family="gan").model(run)


BOTH = {"gan": [0.25], "vae": [0.25]}  # the students make_run trains, per family: their widths
EVERY = {family: list(objectives) for family, objectives in OBJECTIVES.items()}  # and their objectives
GAN_STUDENTS = len(EVERY["gan"])


def test_evaluation_refuses_a_retrained_teacher_another_data_set_or_another_ruler(tmp_path, make_run):
    run, ruler, students = make_run(tmp_path)
    rows = evaluation_rows(run, ruler, "fashion-mnist", BOTH, EVERY, samples=200, seed=1)
    assert [row.name for row in rows] == (["GAN teacher (run)"] + [s.name for s in students if s.family == "gan"]
                                          + ["VAE teacher (run)"] + [s.name for s in students if s.family == "vae"])
    assert rows[0].fidelity == 0.0 and all(row.fidelity > 0 for row in rows[1:1 + GAN_STUDENTS])
    assert [row.seed for row in rows] == [None] + [0] * GAN_STUDENTS + [None] + [0] * len(EVERY["vae"])
    assert students[0].label == f"{students[0].name} (seed 0)"
    assert rows[0].parameters == sum(p.numel() for p in Generator(8, 0.5).parameters())
    # The data set switched: notebook 06 run on MNIST over a Fashion-MNIST run.
    with pytest.raises(RecordError, match=r"teacher-gan.json has dataset 'fashion-mnist', but this notebook has "
                                          r"'mnist'.*run notebooks/02_gan_teacher.ipynb again"):
        evaluation_rows(run, ruler, "mnist", BOTH, EVERY, samples=200)
    # Another feature network (e.g. other feature_epochs) than the one the teachers were measured with.
    with pytest.raises(RecordError, match=r"teacher-gan.json has ruler feature_net_5.pt .* this evaluation's feature "
                                          r"network has feature_net_9.pt"):
        evaluation_rows(run, tiny_ruler(run, seed=9), "fashion-mnist", BOTH, EVERY, samples=200)
    # Students of a width notebook 04 did not train.
    with pytest.raises(FileNotFoundError, match="student-gan-output-0.5-seed0.json is missing: run notebooks/04"):
        evaluation_rows(run, ruler, "fashion-mnist", {"gan": [0.5], "vae": [0.25]}, EVERY, samples=200)
    with pytest.raises(FileNotFoundError, match="student-vae-distilled-0.5-seed0.json is missing: run notebooks/04"):
        evaluation_rows(run, ruler, "fashion-mnist", {"gan": [0.25], "vae": [0.5]}, EVERY, samples=200)
    # Seeds notebook 04 did not train.
    with pytest.raises(FileNotFoundError, match="student-gan-output-0.25-seed1.json is missing: run notebooks/04"):
        evaluation_rows(run, ruler, "fashion-mnist", BOTH, EVERY, samples=200, student_seeds=[0, 1])
    # The GAN teacher retrained (notebook 02 run again with other settings), the students not.
    save_teacher(run, "gan", ruler, seed=1)
    with pytest.raises(RecordError, match=r"student-gan-output-0.25-seed0.json has teacher gan_teacher_0.pt .* but the "
                                          r"teacher \(trained in the run \(smoke profile\)\) has gan_teacher_1.pt .*"
                                          r"run notebooks/04_distilling_students.ipynb again"):
        evaluation_rows(run, ruler, "fashion-mnist", BOTH, EVERY, samples=200)


RULER = """
import torch
from pathlib import Path
from kdlib.evaluate import Ruler, reference
from kdlib.features import FeatureNet
torch.manual_seed(5)
net = FeatureNet().eval()
images = torch.randint(0, 256, (300, 1, 28, 28), generator=torch.Generator().manual_seed(6), dtype=torch.uint8)
measure = Ruler(net, 0.5, reference(net, images, torch.arange(300) % 10), {{}}, Path({path!r}))
"""


def test_the_evaluation_is_rebuilt_from_records_and_checkpoints_alone_in_a_new_process(tmp_path, make_run):
    run, ruler, _ = make_run(tmp_path)
    rows = evaluation_rows(run, ruler, "fashion-mnist", BOTH, EVERY, samples=200, seed=1)
    script = RULER.format(path=str(ruler.checkpoint)) + (
        f"import dataclasses, json\nfrom kdlib.course import RunDir, evaluation_rows\n"
        f"rows = evaluation_rows(RunDir({str(tmp_path)!r}), measure, 'fashion-mnist', {BOTH!r}, {EVERY!r}, 200, 1)\n"
        f"print(json.dumps([dataclasses.asdict(row) for row in rows]))")
    rebuilt = json.loads(subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                                        text=True).stdout)
    assert [row["name"] for row in rebuilt] == [row.name for row in rows]
    compared = ("parameters", "macs_per_image", "frechet_distance", "precision", "recall", "fidelity")
    for again, row in zip(rebuilt, rows):
        assert [again[k] for k in compared] == pytest.approx([getattr(row, k) for k in compared], rel=1e-6)
    evaluation = Evaluation("fashion-mnist", "smoke", {}, RulerRecord.of(ruler), tuple(rows), {}, 1.0)
    evaluation.save(run)
    assert Evaluation.load(run) == evaluation


def test_a_record_made_before_speed_ranges_loads_without_them(tmp_path):
    run = RunDir(tmp_path)
    measured = dataclasses.replace(MEASUREMENT, images_per_second_range=(0.5, 2.0), latency_ms_range=(0.9, 1.1),
                                   rounds=5, warm_calls=1, images_per_second_rounds=(1.0, 0.5, 2.0, 1.0, 1.0))
    teacher = dataclasses.replace(save_teacher(run, "gan", tiny_ruler(run)), quality=measured)
    path = teacher.save(run)
    assert Teacher.load(run, family="gan").quality.images_per_second_range == (0.5, 2.0)  # a tuple again
    assert Teacher.load(run, family="gan").quality.images_per_second_rounds == (1.0, 0.5, 2.0, 1.0, 1.0)
    envelope = json.loads(path.read_text())
    assert Teacher.load(run, family="gan").quality.warm_calls == 1
    for key in ("images_per_second_range", "latency_ms_range", "rounds", "warm_calls", "images_per_second_rounds"):
        del envelope["record"]["quality"][key]
    path.write_text(json.dumps(envelope))
    older = Teacher.load(run, family="gan").quality
    assert older.images_per_second_range is None and older.rounds is None and older.frechet_distance == 1.0
    assert older.warm_calls is None and older.images_per_second_rounds is None  # timed cold, rounds not kept
    del envelope["record"]["quality"]["latency_ms"]  # a field without a default is still required
    path.write_text(json.dumps(envelope))
    with pytest.raises(RecordError, match=r"fields missing \['latency_ms'\]"):
        Teacher.load(run, family="gan")


def test_student_records_say_what_they_learned_from(tmp_path, make_run):
    run, _, students = make_run(tmp_path)
    record = StudentRecord.load(run, family="gan", objective="output_adversarial", width=0.25, seed=0)
    assert record == next(s for s in students if s.objective == "output_adversarial")
    assert record.teacher == Teacher.load(run, family="gan").checkpoint and record.steps == 4
    assert record.settings["weight"] == 0.01 and record.settings["teacher"] == record.teacher.sha256
    assert dataclasses.asdict(record)["name"] == "distilled: output + adversarial (GAN, width 1/4)"
    assert record.model(run).upsampling == "transposed"
    sub_pixel = StudentRecord.load(run, family="gan", objective="output", width=0.25, seed=0)
    assert sub_pixel.name == "distilled: output (GAN, width 1/4)" and sub_pixel.model(run).upsampling == "subpixel"
    # A record from before students had a choice of upsampling: the teacher's, the only one there was.
    older = dataclasses.replace(record, settings={k: v for k, v in record.settings.items() if k != "upsampling"})
    assert older.model(run).upsampling == "transposed"


def test_run_folders_that_cannot_be_written_are_refused(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(ValueError, match="run folder .*file is a file, not a folder"):
        RunDir(tmp_path / "file")
    with pytest.raises(ValueError, match="run folder is empty"):
        RunDir("")
    with pytest.raises(ValueError, match="cannot be written"):
        writable_folder("/proc/kdlib-cannot-write-here", "--out")
