"""The students of notebooks 04 and 05: trained, recorded, and evaluated again from checkpoints alone."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from kdlib.evaluate import Ruler, reference
from kdlib.features import FeatureNet
from kdlib.models import VAE, Generator
from kdlib.runs import RunDir, save_checkpoint
from kdlib.students import OBJECTIVES, Student, evaluation_table, fidelity, generated, load_student, train_student

HYPER = {"epochs": 1, "batch_size": 16, "seed": 0, "learning_rate": 2e-4, "distill_learning_rate": 1e-2,
         "adversarial_weight": 0.01, "feature_weight": 1.0, "teacher": "tiny.pt"}


def test_student_names_and_bad_students():
    assert Student("gan", "output+adversarial", 0.125).name == "GAN 1/8 output+adversarial"
    assert Student("vae", "scratch", 0.25).name == "VAE 1/4 scratch"
    with pytest.raises(ValueError, match="family 'diffusion'"):
        Student("diffusion", "scratch", 0.5)
    with pytest.raises(ValueError, match="objective 'output' is not one of"):
        Student("vae", "output", 0.5)
    with pytest.raises(ValueError, match=r"width must be in \(0, 1\)"):
        Student("gan", "output", 1.0)


def tiny_data(n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    stream = torch.Generator().manual_seed(3)
    return torch.randint(0, 256, (n, 1, 28, 28), generator=stream, dtype=torch.uint8), torch.arange(n) % 10


def make_run(path) -> tuple[RunDir, dict[str, torch.nn.Module], list[dict]]:
    """A run folder as notebooks 02-04 leave it: two tiny teachers and one student of each kind."""
    run = RunDir(path)
    torch.manual_seed(0)
    teachers = {"gan": Generator(8, 0.5), "vae": VAE(4, 0.5)}
    for notebook, family, module in (("02_gan_teacher", "gan", "generator"), ("03_vae_teacher", "vae", "vae")):
        name = f"{notebook}_tiny.pt"
        save_checkpoint(run.file("checkpoints", name), {"modules": {module: teachers[family].state_dict()}})
        run.write_metrics(notebook, {"checkpoint": name, "training_seconds": 1.0,
                                     "settings": {"latent_dim": teachers[family].latent_dim, "width": 0.5}})
    images, labels = tiny_data()
    records = []
    for family, objectives in OBJECTIVES.items():
        for objective in objectives:
            _, history, record = train_student(Student(family, objective, 0.25), teachers[family].eval(),
                                               images, labels, HYPER, run)
            records.append(record)
    run.write_metrics("04_distilling_students", {"students": records})
    return run, teachers, records


def test_every_student_takes_the_same_steps_and_loads_from_its_record_alone(tmp_path):
    run, teachers, records = make_run(tmp_path)
    assert [(r["family"], r["objective"]) for r in records] == [(f, o) for f, objs in OBJECTIVES.items() for o in objs]
    assert {r["steps"] for r in records if r["family"] == "gan"} == {64 // 16}
    assert {r["steps"] for r in records if r["family"] == "vae"} == {64 // 16}
    for record in records:
        assert (tmp_path / "checkpoints" / record["checkpoint"]).is_file()
        assert record["settings"]["width"] == 0.25 and record["settings"]["latent_dim"] in (8, 4)
    # Trained again with the same settings: the checkpoint is loaded, not retrained (same weights).
    images, labels = tiny_data()
    model, _, again = train_student(Student("gan", "output", 0.25), teachers["gan"], images, labels, HYPER, run)
    loaded = load_student(run, records[0])
    assert again["checkpoint"] == records[0]["checkpoint"]
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))
    # Another teacher means another checkpoint.
    _, _, other = train_student(Student("gan", "output", 0.25), teachers["gan"], images, labels,
                                HYPER | {"teacher": "other.pt"}, run)
    assert other["checkpoint"] != records[0]["checkpoint"]
    (tmp_path / "checkpoints" / records[1]["checkpoint"]).unlink()
    with pytest.raises(FileNotFoundError, match="04_distilling_students"):
        load_student(run, records[1])


def test_a_student_does_not_depend_on_the_students_trained_before_it(tmp_path):
    images, labels = tiny_data()
    teacher = Generator(8, 0.5).eval()
    alone, _, _ = train_student(Student("gan", "output", 0.25), teacher, images, labels, HYPER, RunDir(tmp_path / "a"))
    torch.randn(1000)  # whatever ran before: other draws, another student
    train_student(Student("gan", "scratch", 0.25), teacher, images, labels, HYPER, RunDir(tmp_path / "b"))
    after, _, _ = train_student(Student("gan", "output", 0.25), teacher, images, labels, HYPER, RunDir(tmp_path / "b"))
    assert all(torch.equal(a, b) for a, b in zip(alone.state_dict().values(), after.state_dict().values()))


def test_fidelity_by_hand():
    class Constant(torch.nn.Module):
        def __init__(self, value: float) -> None:
            super().__init__()
            self.latent_dim, self.value = 3, value

        def forward(self, z: torch.Tensor) -> torch.Tensor:
            return torch.full((len(z), 1, 28, 28), self.value)

    assert fidelity(Constant(0.5), generated(Constant(-0.5), samples=10), batch=4) == pytest.approx(0.5)
    teacher = Generator(8, 0.25)
    assert fidelity(teacher, generated(teacher, samples=50), batch=16) == 0.0


RULER = """
import torch
from kdlib.evaluate import Ruler, reference
from kdlib.features import FeatureNet
torch.manual_seed(5)
net = FeatureNet().eval()
images = torch.randint(0, 256, (300, 1, 28, 28), generator=torch.Generator().manual_seed(6), dtype=torch.uint8)
measure = Ruler(net, 0.0, reference(net, images, torch.arange(300) % 10), {})
"""


def test_the_evaluation_table_is_rebuilt_from_checkpoints_alone_in_a_new_process(tmp_path):
    run, _, records = make_run(tmp_path)
    names = {}
    exec(RULER, names)  # the same ruler in both processes
    rows = evaluation_table(run, names["measure"], samples=200, seed=1)
    assert [row["name"] for row in rows] == (["GAN teacher"] + [r["name"] for r in records if r["family"] == "gan"]
                                             + ["VAE teacher"] + [r["name"] for r in records if r["family"] == "vae"])
    assert rows[0]["fidelity"] == 0.0 and all(row["fidelity"] > 0 for row in rows[1:5])
    assert rows[0]["parameters"] == sum(p.numel() for p in Generator(8, 0.5).parameters())
    script = RULER + (f"from kdlib.runs import RunDir\nfrom kdlib.students import evaluation_table\n"
                      f"import json\nprint(json.dumps(evaluation_table(RunDir({str(tmp_path)!r}), measure, 200, 1)))")
    rebuilt = json.loads(subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                                        text=True).stdout)
    assert [row["name"] for row in rebuilt] == [row["name"] for row in rows]
    compared = ("parameters", "macs_per_image", "frechet_distance", "precision", "recall", "fidelity")
    for again, row in zip(rebuilt, rows):
        assert [again[k] for k in compared] == pytest.approx([row[k] for k in compared], rel=1e-6)
