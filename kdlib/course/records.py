"""The run folder and the typed records that notebooks hand on through it.

A record is a frozen dataclass, saved as JSON under ``records/`` with a schema
version; ``save`` and ``load`` are the only place that maps a record to its
file. Every record says which notebook writes it (``writer``), so a missing,
truncated, foreign or out-of-date file is refused by name with the notebook to
run. Records carry their provenance: data set, profile, the settings and
SHA-256 of every checkpoint they stand for, and for a student its teacher's.
"""

from __future__ import annotations

import dataclasses
import json
import re
import typing
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import UnionType
from typing import Any, ClassVar, TypeVar

import torch
from torch import nn

from kdlib.distill import OBJECTIVES, STUDENT_MODULE, Student
from kdlib.evaluate import EvaluationRow, Measurement, Quality, Ruler, SecondRuler, compare, generator_of
from kdlib.models import build
from kdlib.course.folders import output_folder, writable_folder
from kdlib.store import atomic_write, file_sha256, load_module
from kdlib.train import Trained

SCHEMA = 1
TEACHER_WRITERS = {"gan": "02_gan_teacher", "vae": "03_vae_teacher"}
FIGURE_MARK = "kdlib.course.RunDir.save_figure"  # in every figure a run draws (its PNG text): refilled, never a user's
R = TypeVar("R", bound="Record")


NOTEBOOK = re.compile(r"\d\d_\w+")  # a writer that is a notebook (e.g. 04_distilling_students), not a command


def rerun(writer: str) -> str:
    """How to write a record again: "run notebooks/NN_name.ipynb", or "run" the command that writes it."""
    return f"run notebooks/{writer}.ipynb" if NOTEBOOK.fullmatch(writer) else f"run {writer}"


class RecordError(ValueError):
    """A record is unreadable, out of date, or does not fit the records it is used with."""


class RunDir:
    """A run folder: ``checkpoints/``, ``records/`` and ``figures/`` under one path."""

    def __init__(self, path: str | Path) -> None:
        self.path = output_folder(path, "run folder")

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    @property
    def checkpoints(self) -> Path:
        return writable_folder(self.path / "checkpoints", "checkpoint folder")

    @property
    def records(self) -> Path:
        return writable_folder(self.path / "records", "records folder")

    @staticmethod
    def writes(path: PurePosixPath) -> bool:
        """Whether ``path``, relative to a run folder, is of what a run writes there: its notebooks,
        ``timings.json``, and what is under ``checkpoints/``, ``records/`` and ``figures/``."""
        return path.parts[0] in ("checkpoints", "records", "figures") or len(path.parts) == 1 and (
            path.suffix == ".ipynb" or path.name == "timings.json")

    def file(self, *parts: str) -> Path:
        """A path inside the run folder, its parent folder created."""
        target = self.path.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def save_figure(self, figure: Any, name: str) -> Path:
        """Save a matplotlib figure as ``figures/<name>.png``, marked as the course's (``FIGURE_MARK`` in the PNG's
        text), so that a figure of that name the course did not draw is refused, not overwritten."""
        target = self.file("figures", f"{name}.png")
        if target.is_symlink() or target.exists() and FIGURE_MARK.encode() not in target.read_bytes()[:4096]:
            raise ValueError(f"{target} is not a figure the course drew (or one an older kdlib drew, before it marked "
                             f"its figures), and saving {name} would replace it: move it away, or give the run "
                             f"another --run-dir")
        atomic_write(target, lambda tmp: figure.savefig(tmp, format="png", dpi=120, bbox_inches="tight",
                                                        metadata={"Source": FIGURE_MARK}))
        return target


def _typed(hint: Any, value: Any) -> Any:
    """A JSON value as the dataclass field type ``hint`` wants it: dataclasses, tuples and dicts of them."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint) and isinstance(value, dict):
        return from_json(hint, value, str(hint))
    if origin is tuple and isinstance(value, list):
        return tuple(_typed(args[0], item) for item in value)
    if origin is dict and isinstance(value, dict):
        return {key: _typed(args[1], item) for key, item in value.items()}
    if origin in (typing.Union, UnionType) and value is not None:
        return _typed(next(a for a in args if a is not type(None)), value)
    return value


def from_json(cls: type, data: dict[str, Any], where: str) -> Any:
    """``cls(**data)``, refusing missing or unexpected fields with their names; a field with a default (one added
    to a record type later, e.g. a speed's range) may be missing from an older file and takes its default."""
    fields = dataclasses.fields(cls)
    names = {f.name for f in fields}
    optional = {f.name for f in fields if f.default is not dataclasses.MISSING}
    if not names - optional <= set(data) or not set(data) <= names:
        raise RecordError(f"{where}: fields missing {sorted(names - optional - set(data))}, unexpected "
                          f"{sorted(set(data) - names)}")
    hints = typing.get_type_hints(cls)
    return cls(**{name: _typed(hints[name], value) for name, value in data.items()})


@dataclass(frozen=True)
class Artifact:
    """A file in the run folder's ``checkpoints/`` and its SHA-256."""

    file: str
    sha256: str

    @classmethod
    def of(cls, path: Path) -> Artifact:
        return cls(path.name, file_sha256(path))

    def path(self, run: RunDir, writer: str) -> Path:
        """The file, refused when missing or not the one recorded (replaced, retrained, damaged)."""
        path = run.path / "checkpoints" / self.file
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: {rerun(writer)} with run_dir={str(run.path)!r}")
        if file_sha256(path) != self.sha256:
            raise RecordError(f"{path} is not the file recorded by {writer} (SHA-256 {file_sha256(path)[:12]}..., "
                              f"recorded {self.sha256[:12]}...): {rerun(writer)} again")
        return path


RECORDS: dict[str, type[Record]] = {}  # every record type by name


class Record:
    """Base of the records: saved as ``records/FILE`` (its ``KEY`` fields filled in), written by ``WRITER``."""

    FILE: ClassVar[str]
    WRITER: ClassVar[str]
    KEY: ClassVar[tuple[str, ...]] = ()
    VERSION: ClassVar[int] = SCHEMA  # a record type whose fields change raises its own

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        RECORDS[cls.__name__] = cls

    @classmethod
    def file_name(cls, **key: Any) -> str:
        return cls.FILE.format(**key)

    @classmethod
    def writer(cls, **key: Any) -> str:
        return cls.WRITER

    def key(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.KEY}

    def save(self, run: RunDir) -> Path:
        """Write the record atomically, its writer first (``written_by`` finds it in a file cut off later); return
        its path."""
        target = run.file("records", self.file_name(**self.key()))
        text = json.dumps({"writer": self.writer(**self.key()), "type": type(self).__name__, "schema": self.VERSION,
                           "record": dataclasses.asdict(self)}, indent=2) + "\n"
        atomic_write(target, lambda tmp: tmp.write_text(text))
        return target

    @classmethod
    def load(cls: type[R], run: RunDir, **key: Any) -> R:
        """The record, or an error that names its file and the notebook that writes it."""
        path = run.path / "records" / cls.file_name(**key)
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: {rerun(cls.writer(**key))} with run_dir="
                                    f"{str(run.path)!r} first (or `make run`, which runs the notebooks in order)")
        return read_record(path, cls, cls.writer(**key))

    def require(self, field: str, expected: Any, why: str) -> None:
        """Refuse this record when its ``field`` is not ``expected``, naming both and the notebook to re-run."""
        found = getattr(self, field)
        if found != expected:
            raise RecordError(f"{self.file_name(**self.key())} has {field} {_short(found)}, but {why} has "
                              f"{_short(expected)}: the results would mix; {rerun(self.writer(**self.key()))} again "
                              f"with the same run folder and settings")


def _short(value: Any) -> str:
    value = getattr(value, "checkpoint", value)  # a ruler is named by its feature network's checkpoint
    return f"{value.file} (SHA-256 {value.sha256[:12]}...)" if isinstance(value, Artifact) else repr(value)


WRITER_FIELD = re.compile(r'"writer": "([^"\\]*)"')  # written first: it survives a file cut off in the middle


def written_by(path: Path) -> str | None:
    """The notebook (or command) that wrote the record file ``path``, as its ``writer`` field says; None when there
    is none."""
    try:
        found = WRITER_FIELD.search(path.read_text(errors="replace"))
    except OSError:
        return None
    return found[1] if found else None


def read_record(path: Path, cls: type[R] | None = None, writer: str | None = None) -> R:
    """The record in ``path`` (of type ``cls``, when given), refused by name when unreadable or out of date, with
    the notebook to run again: the one the record names, else ``writer``."""
    raw = path.read_bytes()
    found = WRITER_FIELD.search(raw.decode(errors="replace"))
    writer = found[1] if found else writer
    fix = f"{rerun(writer)} again" if writer else "run the notebook that writes it again"
    try:
        envelope = json.loads(raw)
        if not isinstance(envelope, dict):
            raise RecordError(f"{path} holds a JSON {type(envelope).__name__}, not a kdlib record (an object with "
                              f"type, schema and record)")
        cls = cls or RECORDS[envelope["type"]]
        if envelope["type"] != cls.__name__:
            raise RecordError(f"{path} holds a {envelope['type']} record, not a {cls.__name__}")
        if envelope["schema"] != cls.VERSION:
            raise RecordError(f"{path} has schema {envelope['schema']}, this kdlib reads {cls.__name__} records "
                              f"of schema {cls.VERSION}")
        return from_json(cls, envelope["record"], str(path))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RecordError(f"{path} is not valid JSON ({err}): it was cut off or edited; {fix}") from None
    except (KeyError, TypeError) as err:
        raise RecordError(f"{path} is not a kdlib record (no {err}); {fix}") from None
    except (RecordError, ValueError) as err:
        raise RecordError(f"{err}; {fix}") from None


@dataclass(frozen=True)
class ClassifierResult:
    """One classifier of Hinton et al.'s experiment, trained with one or more seeds: its test errors, training
    time and checkpoint per seed, its size, and where it came from (trained in the run, or a shipped file)."""

    name: str
    seeds: tuple[int, ...]
    test_errors: tuple[int, ...]
    parameters: int
    training_seconds: tuple[float, ...]
    checkpoints: tuple[Artifact, ...]
    source: str
    validation_errors: tuple[int, ...] = ()  # per seed, on the held-out training images (validation_size)

    @property
    def mean_errors(self) -> float:
        return sum(self.test_errors) / len(self.test_errors)

    @property
    def mean_validation_errors(self) -> float | None:
        return sum(self.validation_errors) / len(self.validation_errors) if self.validation_errors else None

    @property
    def spread(self) -> int:
        """Largest minus smallest test errors over the seeds (0 for one seed)."""
        return max(self.test_errors) - min(self.test_errors)


@dataclass(frozen=True)
class TemperaturePoint:
    """One distilled student of the temperature x alpha sweep (the run's first seed)."""

    temperature: float
    alpha: float
    epochs: int
    test_errors: int


@dataclass(frozen=True)
class Result(Record):
    """What a notebook measured, with where: the data set, the profile and every setting (``Config.as_dict``)."""

    dataset: str
    profile: str
    config: dict[str, Any]


@dataclass(frozen=True)
class Classifiers(Result):
    """Notebook 01's teacher and students on the test set, and its sweep."""

    test_images: int
    models: tuple[ClassifierResult, ...]
    sweep: tuple[TemperaturePoint, ...]
    FILE, WRITER = "classifiers.json", "01_soft_labels"
    VERSION = 2  # 2: a result per seed, and where each model came from


@dataclass(frozen=True)
class RulerRecord:
    """The feature network every quality number of a record was measured with."""

    checkpoint: Artifact
    accuracy: float

    @classmethod
    def of(cls, ruler: Ruler) -> RulerRecord:
        return cls(Artifact.of(ruler.checkpoint), ruler.accuracy)


@dataclass(frozen=True)
class Teacher(Record):
    """A trained generative teacher (GAN or VAE), how it was trained, and its measured quality."""

    family: str
    dataset: str
    profile: str
    config: dict[str, Any]
    settings: dict[str, Any]
    checkpoint: Artifact
    training_seconds: float
    ruler: RulerRecord
    quality: Measurement
    floors: dict[str, Quality]
    FILE, KEY = "teacher-{family}.json", ("family",)

    @classmethod
    def writer(cls, family: str) -> str:
        if family not in TEACHER_WRITERS:
            raise ValueError(f"family {family!r} is not one of {list(TEACHER_WRITERS)}")
        return TEACHER_WRITERS[family]

    def model(self, run: RunDir, device: torch.device | str = "cpu") -> nn.Module:
        """The teacher, rebuilt from its settings and its verified checkpoint (evaluation mode)."""
        model = build(self.family, self.settings["latent_dim"], self.settings["width"])
        path = self.checkpoint.path(run, self.writer(self.family))
        return load_module(model, path, STUDENT_MODULE[self.family]).to(device)


@dataclass(frozen=True)
class StudentRecord(Record):
    """A trained student: what it is, how it was trained, from which teacher."""

    family: str
    objective: str
    width: float
    seed: int
    name: str
    dataset: str
    profile: str
    settings: dict[str, Any]
    checkpoint: Artifact
    teacher: Artifact
    training_seconds: float
    steps: int
    final_losses: dict[str, float]
    FILE, WRITER, KEY = "student-{family}-{objective}-{width:g}-seed{seed}.json", "04_distilling_students", (
        "family", "objective", "width", "seed")
    VERSION = 2  # 2: one record per seed

    @classmethod
    def file_name(cls, **key: Any) -> str:
        """The record's file name, refused for a width its six significant digits do not say exactly (0.12 and
        0.120000001 would share one file)."""
        if float(f"{key['width']:g}") != key["width"]:
            raise ValueError(f"student width {key['width']!r} has more than six significant digits, so its record "
                             f"file would be the one of width {key['width']:g}: give the width as {key['width']:g}")
        return super().file_name(**key)

    @property
    def label(self) -> str:
        """The student's name and seed, e.g. "distilled: output (GAN, width 1/4) (seed 1)": unique among a run's students."""
        return f"{self.name} (seed {self.seed})"

    def model(self, run: RunDir, device: torch.device | str = "cpu") -> nn.Module:
        """The student, rebuilt from its record and its verified checkpoint alone (evaluation mode)."""
        upsampling = self.settings.get("upsampling", "transposed")  # older records: the teacher's, the only one
        model = build(self.family, self.settings["latent_dim"], self.width, upsampling)
        return load_module(model, self.checkpoint.path(run, self.writer()), STUDENT_MODULE[self.family]).to(device)


@dataclass(frozen=True)
class Provenance:
    """Where a model came from (a shipped file, whose manifest extends this, or a run), its file and what made it."""

    source: str
    checkpoint: Artifact
    training_seconds: float
    settings: dict[str, Any]


def run_teacher(run: RunDir, family: str, dataset: str, device: torch.device | str = "cpu"
                ) -> tuple[nn.Module, Provenance]:
    """The teacher of ``family`` that notebook 02 or 03 trained in ``run`` (from its record, checkpoint verified),
    refused when it was trained on another data set."""
    record = Teacher.load(run, family=family)
    record.require("dataset", dataset, "this notebook")
    return record.model(run, device), Provenance(f"trained in the run ({record.profile} profile)", record.checkpoint,
                                                 record.training_seconds, record.settings)


def student_record(student: Student, trained: Trained, teacher: Provenance, dataset: str, profile: str
                   ) -> StudentRecord:
    """The record of a student that ``kdlib.train_student`` trained on ``dataset`` from the ``teacher``."""
    history = trained.history
    return StudentRecord(student.family, student.objective.name, student.width, trained.settings["seed"],
                         student.name, dataset,
                         profile, trained.settings, Artifact.of(trained.checkpoint), teacher.checkpoint,
                         history["seconds"], len(next(iter(history["steps"].values()))), history["epochs"][-1])


def teacher_name(family: str, teacher: Provenance) -> str:
    """A teacher's name in tables and figures: its family and where it came from."""
    return f"{family.upper()} teacher ({'shipped' if teacher.source.startswith('shipped') else 'run'})"


def trained_models(run: RunDir, family: str, widths: list[float], objectives: list[str], dataset: str,
                   teacher: tuple[nn.Module, Provenance], device: torch.device | str = "cpu", seeds: list[int] = (0,)
                   ) -> tuple[list[StudentRecord], dict[str, nn.Module]]:
    """A family's students of ``widths`` and ``objectives`` (names in ``kdlib.OBJECTIVES``, e.g.
    ``Config.objective_names``), every seed of ``seeds``, as records, and the teacher and the students as generators
    (z -> image, ``generator_of``; a student under its ``label``), each checkpoint verified. Refused: a student from
    another data set, or of another teacher than ``teacher`` (``kdlib.course.generative_teacher`` or
    ``run_teacher``)."""
    model, provenance = teacher
    unknown = sorted(set(objectives) - set(OBJECTIVES[family]))
    if unknown:
        raise ValueError(f"no {family} objective {unknown}; kdlib.OBJECTIVES[{family!r}] has {list(OBJECTIVES[family])}")
    students = [StudentRecord.load(run, family=family, objective=objective, width=width, seed=seed)
                for width in widths for objective in objectives for seed in seeds]
    for student in students:
        student.require("dataset", dataset, "this notebook")
        student.require("teacher", provenance.checkpoint, f"the teacher ({provenance.source})")
    models = {teacher_name(family, provenance): generator_of(model, dataset)}
    models |= {student.label: generator_of(student.model(run, device), dataset) for student in students}
    return students, models


@dataclass(frozen=True)
class Evaluation(Result):
    """Every teacher and student of a run on one ruler."""

    ruler: RulerRecord
    rows: tuple[EvaluationRow, ...]
    floors: dict[str, Quality]
    evaluation_seconds: float
    FILE, WRITER = "evaluation.json", "06_evaluation"
    VERSION = 2  # 2: a row per student and seed


def evaluation_rows(run: RunDir, measure: Ruler, dataset: str, widths: dict[str, list[float]],
                    objectives: dict[str, list[str]], samples: int,
                    seed: int = 0, device: torch.device | str = "cpu",
                    teachers: dict[str, tuple[nn.Module, Provenance]] | None = None,
                    student_seeds: list[int] = (0,), second: SecondRuler | None = None) -> list[EvaluationRow]:
    """Each teacher, then its students of ``widths[family]`` (``Config.widths``) trained with each of
    ``student_seeds``, measured on ``measure`` (sampling with ``seed``) from the run's records and checkpoints
    (``trained_models``). ``teachers`` maps each family to its teacher and provenance
    (``kdlib.course.generative_teacher``); None: the teachers notebooks 02 and 03 trained in ``run``, each
    refused when its record was measured on another ruler. ``objectives`` names each family's objectives
    (``Config.objective_names``). With ``second`` every model is measured on that ruler too
    (``EvaluationRow.frechet_distance_second``)."""
    rows = []
    for family in TEACHER_WRITERS:
        if teachers is None:
            Teacher.load(run, family=family).require("ruler", RulerRecord.of(measure), "this evaluation's feature network")
        teacher = run_teacher(run, family, dataset, device) if teachers is None else teachers[family]
        students, models = trained_models(run, family, widths[family], objectives[family], dataset, teacher, device,
                                          student_seeds)
        measured = compare(models, measure, samples, seed, device, second)
        for (name, (measurement, fidelity)), record in zip(measured.items(), [None, *students]):
            rows.append(EvaluationRow(**dataclasses.asdict(measurement), name=name if record is None else record.name,
                                      family=family, objective="teacher" if record is None else record.objective,
                                      width=1.0 if record is None else record.width,
                                      seed=None if record is None else record.seed,
                                      training_seconds=teacher[1].training_seconds if record is None
                                      else record.training_seconds, fidelity=fidelity))
    return rows


@dataclass(frozen=True)
class LatentRow(Quality):
    """One latent sampler measured on the ruler: the teacher or a student (``method``) at ``steps`` sampling steps
    and one training ``seed`` (None for the teacher), or a reference point of the VAE (``steps`` None)."""

    method: str
    steps: int | None
    seed: int | None
    samples: int


@dataclass(frozen=True)
class DiffusionResult(Result):
    """Notebook 05's measurements: the VAE's reference points, the flow teacher at every step count and each
    distilled student at the step counts it was made for, on one ruler; the students' training cost; the speeds."""

    ruler: RulerRecord
    vae: Artifact
    teacher: Artifact
    rows: tuple[LatentRow, ...]
    training_seconds: dict[str, float]  # method -> mean seconds over seeds (progressive: all its rounds)
    milliseconds_per_image: dict[str, float]  # sampler -> median over interleaved rounds, at batch 256
    FILE, WRITER = "diffusion.json", "05_diffusion_distillation"


@dataclass(frozen=True)
class Machine:
    """What a measurement ran on."""

    cpu: str
    cpus: int
    device: str
    torch: str
    kernels: str = ""  # the CPU kernels torch chose (torch.backends.cpu.get_cpu_capability()): "AVX2", "AVX512"; "" when
    # not recorded. Two CPUs of one name can differ here, and their runs with them (docs/running.md).


@dataclass(frozen=True)
class CellTime:
    """One code cell of an executed notebook: its index among the notebook's cells, its wall time (papermill's),
    and its first line, so that a reader finds it."""

    index: int
    seconds: float
    first_line: str


@dataclass(frozen=True)
class NotebookRun(Record):
    """One notebook executed by the runner: wall time, the kernel's peak memory, parameters, machine, and the time
    of every code cell (empty in records made before they were kept)."""

    notebook: str
    seconds: float
    peak_memory_mib: float
    parameters: dict[str, Any]
    finished: str
    machine: Machine
    cells: tuple[CellTime, ...] = ()

    def slowest(self, count: int = 3) -> list[CellTime]:
        """The ``count`` slowest code cells, slowest first."""
        return sorted(self.cells, key=lambda cell: -cell.seconds)[:count]

    FILE, WRITER, KEY = "runner-{notebook}.json", "the runner (python -m kdlib run)", ("notebook",)
