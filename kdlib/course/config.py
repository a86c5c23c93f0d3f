"""Profiles and notebook parameters, as plain values.

A notebook's first code cell (tagged ``parameters`` for papermill) assigns ``None`` to each setting it shows;
``configure(globals())`` in the next cell fills every ``None`` from the profile (``smoke``, ``quick`` or ``full``),
checks every value and refuses names that are not settings, before any work starts. ``papermill -p NAME VALUE``
(``python -m kdlib run -p``) gives any setting.

``SETTINGS`` says once what each setting means and its value unless a profile says otherwise: the ``quick``
profile's. ``PROFILES`` holds each profile's table of the values where it differs. The students' objectives bring
their own settings: each field of an objective in ``kdlib.OBJECTIVES`` is the setting ``<family>_<name>_<field>``,
its default the class's, and a ``learning_rate`` is a list of one rate per student width.
"""

from __future__ import annotations

import dataclasses
import math
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import torch

from kdlib.distill import OBJECTIVES, Objective, Student
from kdlib.store import project_root
from kdlib.train import seed_everything
from kdlib.course.records import Machine, RunDir

DATASETS = ("mnist", "fashion-mnist")
RATE, SHARE, COUNT = (1e-6, 1.0), (0.0, 1.0), (1, 1_000)  # ranges many settings share


class Setting(NamedTuple):
    """What a setting means, its value unless a profile says otherwise, and what it may be: ``allowed`` is a tuple of
    choices (strings) or an inclusive (low, high) range of numbers (of each item, for a list); ``kind`` is the type
    of a setting whose default is None."""

    default: Any
    meaning: str
    allowed: tuple[Any, ...] | None = None
    kind: type | None = None


SETTINGS: dict[str, Setting] = {
    "dataset": Setting("fashion-mnist", "data set to train and evaluate on", DATASETS),
    "seed": Setting(0, "seed for every random number generator", (0, 2**31 - 1)),
    "train_size": Setting(None, "training images used (None: all 60,000)", (100, 60_000), int),
    "batch_size": Setting(256, "images per training step", (1, 8192)),
    "learning_rate": Setting(1e-3, "Adam's learning rate (cosine-annealed to 0)", RATE),
    "ruler_source": Setting("shipped", "the feature network every quality number is measured with: 'shipped' "
                            "(pretrained/ruler-<dataset>.pt: one scale for every run) or 'run' (trained in the run "
                            "folder for feature_epochs)", ("shipped", "run")),
    "feature_epochs": Setting(4, "epochs of the run's own feature network (ruler_source 'run')", (1, 100)),
    "eval_samples": Setting(10_000, "generated images each quality measurement uses", (500, 100_000)),
    "retrain": Setting(False, "train again even when a finished checkpoint exists in the run folder"),
    # Notebook 01: Hinton et al.'s classifier experiment.
    "teachers": Setting("shipped", "where the teachers come from: 'shipped' (pretrained/, made by `python -m kdlib "
                        "teachers` from kdlib.course.config.RECIPES) or 'run' (trained in the run folder from the "
                        "same recipe)", ("shipped", "run")),
    "teacher_epochs": Setting(None, "epochs of a classifier teacher trained in the run; None: its recipe's", COUNT,
                              int),
    "teacher_jitter": Setting(None, "random shift of a run-trained classifier teacher's images, in pixels (the "
                              "paper: 2); None: its recipe's", (0, 4), int),
    "validation_size": Setting(0, "the last training images, held out from every classifier student to choose T "
                               "and alpha on (0: none)", (0, 30_000)),
    "student_seeds": Setting(3, "seeds each classifier student is trained with (seed, seed + 1, ...): the spread "
                             "tells a real difference from noise", (1, 20)),
    # A tenth of the images: soft labels act as a regulariser (Hinton et al. 2015, section 6); with every image in
    # as many steps the gain was within noise (docs/results/settings.md).
    "student_train_size": Setting(6_000, "the first training images each classifier student learns from (None: "
                                  "all the teacher's)", (100, 60_000), int),
    "student_epochs": Setting(50, "epochs of each classifier student", COUNT),
    # T and alpha: each chosen on held-out images by the sweep DISTILLATION_SWEEPS names.
    "temperature": Setting(1.0, "distillation temperature T", (0.01, 1000.0)),
    "alpha": Setting(0.9, "weight of the soft (teacher) term; 1 - alpha weighs the hard labels", SHARE),
    "sweep_temperatures": Setting([], "temperatures of the T x alpha sweep (empty: no sweep)", (0.01, 1000.0)),
    "sweep_alphas": Setting([], "soft-term weights of the T x alpha sweep", SHARE),
    "sweep_epochs": Setting(2, "epochs of each student in the sweep", COUNT),
    # Notebooks 02 and 03: the generative teachers.
    "gan_epochs": Setting(2, "epochs of the GAN teacher", COUNT),
    "gan_batch_size": Setting(64, "images per GAN step (DCGAN: 128; smaller means more steps per epoch)", (2, 8192)),
    "gan_learning_rate": Setting(2e-4, "Adam's learning rate for both players of the GAN teacher (DCGAN's, "
                                 "beta1 = 0.5)", RATE),
    "vae_epochs": Setting(4, "epochs of the VAE teacher", COUNT),
    "vae_learning_rate": Setting(1e-3, "Adam's learning rate for the VAE teacher", RATE),
    "vae_kl_weight": Setting(1.0, "beta, the KL term's weight, of the VAE teacher trained in the run (1: the ELBO; "
                             "the shipped teacher's recipe: 0.06)", (1e-3, 100.0)),
    # Notebooks 04 and 06: students of the generative teachers.
    "student_widths": Setting([0.12], "widths of the GAN students (the teacher has width 1)", (0.01, 0.99)),
    # 0.25: the widest VAE student with >= 5x fewer parameters than its teacher (5.1x).
    "vae_student_widths": Setting([0.25], "widths of the VAE students (the teacher has width 1)", (0.01, 0.99)),
    # The control prune_finetune (kdlib.distill.PruneFinetune) and later objectives join by their name here.
    "gan_objectives": Setting(["output", "output_adversarial", "output_features", "scratch"], "the GAN objectives "
                              "(kdlib.OBJECTIVES['gan']) notebook 04 trains and notebook 06 evaluates",
                              tuple(OBJECTIVES["gan"])),
    "vae_objectives": Setting(["distilled", "scratch"], "the VAE objectives (kdlib.OBJECTIVES['vae']) notebook 04 "
                              "trains and notebook 06 evaluates", tuple(OBJECTIVES["vae"])),
    "gan_student_upsampling": Setting("subpixel", "how a GAN student doubles its maps' resolution: 'subpixel' (3x3 "
                                      "convolution + pixel shuffle, designed for the CPU) or 'transposed' (the "
                                      "teacher's)", ("subpixel", "transposed")),
    "generative_student_seeds": Setting(3, "seeds each student of notebook 04 is trained with: notebook 06 reports "
                                        "the mean and spread over them", (1, 20)),
    "gan_student_epochs": Setting(1, "epochs of every GAN student (distilled or from scratch: same steps)", COUNT),
    "vae_student_epochs": Setting(2, "epochs of every VAE student (distilled or from scratch: same steps)", COUNT),
    "gan_student_init": Setting("teacher", "where a distilled GAN student's weights start: 'teacher' (cut from the "
                                "teacher: its most important channels, kdlib.pruning) or 'random'; scratch students "
                                "start from random weights", Student.INITS),
    # Notebook 05: distilling a latent flow teacher from many sampling steps to few.
    "flow_steps": Setting(None, "optimiser steps of a flow teacher trained in the run; None: its recipe's",
                          (4, 1_000_000), int),
    "latent_student_steps": Setting(1_000, "optimiser steps of every latent student (progressive distillation: "
                                    "over all its rounds together)", (20, 1_000_000)),
    # Each latent student's rate: one search per objective on the same grid (bench/diffusion_distillation.py).
    "regression_learning_rate": Setting(3e-3, "Adam's learning rate for the one-step regression students", RATE),
    "progressive_learning_rate": Setting(3e-3, "Adam's learning rate for every round of progressive distillation",
                                         RATE),
    "consistency_learning_rate": Setting(1e-3, "Adam's learning rate for the consistency-distilled students", RATE),
    "regression_pairs": Setting(40_000, "(noise, teacher sample) pairs the one-step regression student learns from",
                                (16, 10_000_000)),
    "latent_student_seeds": Setting(3, "seeds each latent student is trained with", (1, 20)),
}
# What an objective's field may be, by the field's name (a field not named here takes any value of its type).
FIELD_RANGES = {"learning_rate": RATE, "discriminator_learning_rate": RATE, "discriminator_width": (0.01, 4.0),
                "weight": (0.0, 100.0), "features_weight": (0.0, 100.0), "posterior_fraction": SHARE,
                "kl_weight": (1e-3, 100.0), "handover": (0.01, 1.0), "max_grad_norm": (1e-3, 1e9)}
WIDTHS = {"gan": "student_widths", "vae": "vae_student_widths"}  # each family's students' widths
CHOSEN = {family: f"{family}_objectives" for family in OBJECTIVES}  # each family's objectives the course trains
# The students notebooks 04 and 06 compare with by name (exercise solutions, figures): every run trains them.
LESSONS_COMPARE = {"gan": ("output", "output_adversarial", "scratch"), "vae": ("distilled", "scratch")}
RATES_OF_WIDTHS = {f"{family}_{name}_learning_rate": WIDTHS[family]  # a rate per width of the family's students
                   for family, objectives in OBJECTIVES.items() for name in objectives}


def objective_settings() -> dict[str, Setting]:
    """A setting ``<family>_<name>_<field>`` for each field of each objective in ``kdlib.OBJECTIVES``, its default the
    class's (a learning rate: a list of one rate per student width)."""
    settings = {}
    for family, objectives in OBJECTIVES.items():
        for name, objective in objectives.items():
            for attribute in dataclasses.fields(objective):
                rate = attribute.name == "learning_rate"
                tied = attribute.default is None  # None: as another field (kdlib.distill.TIED_WHEN_NONE)
                settings[objective.setting(attribute.name)] = Setting(
                    [attribute.default] if rate else attribute.default,
                    f"{attribute.name.replace('_', ' ')} of the {family.upper()} {name} students"
                    + (f", one per width of {WIDTHS[family]}" if rate else "")
                    + ("; None: the generator's learning rate" if tied else ""), FIELD_RANGES.get(attribute.name),
                    float if tied else None)
    return settings


SETTINGS |= objective_settings()

# Each profile: the values where it differs from the settings' defaults above (quick's).
PROFILES: dict[str, dict[str, Any]] = {
    "smoke": {  # CI: seconds per notebook, small subsets; numbers are not meaningful
        "train_size": 2_000, "feature_epochs": 1, "eval_samples": 2_000, "student_seeds": 1,
        "student_train_size": None, "student_epochs": 1, "sweep_epochs": 1, "gan_epochs": 1, "vae_epochs": 1,
        "generative_student_seeds": 1, "vae_student_epochs": 1, "flow_steps": 40, "latent_student_steps": 20,
        "regression_pairs": 256, "latent_student_seeds": 1},
    "quick": {},  # the whole course on 2 CPU cores in about 20 minutes; results a reader can see
    "full": {  # hours on 2 CPU cores, teachers trained in the run (not timed on a GPU)
        "teachers": "run", "feature_epochs": 6, "student_train_size": None, "student_epochs": 30, "alpha": 0.5,
        "sweep_temperatures": [1.0, 4.0, 20.0], "sweep_alphas": [0.5, 0.9], "sweep_epochs": 8, "gan_epochs": 8,
        "vae_epochs": 20, "vae_kl_weight": 0.06,  # the shipped recipe's beta: full distils the teacher it trains
        "student_widths": [0.12, 0.25, 0.5], "vae_student_widths": [0.12, 0.25, 0.5], "gan_student_epochs": 4,
        "vae_student_epochs": 10, "latent_student_steps": 4_000, "regression_pairs": 100_000,
        # Each objective's rate searched at each width (docs/results/settings.md, "Equal tuning for the students");
        # the VAE's in the profile's 10 epochs, where rates chosen in two can diverge.
        "gan_output_learning_rate": [1e-3, 1e-3, 1e-3], "gan_output_adversarial_learning_rate": [1e-2, 1e-3, 1e-3],
        "gan_output_features_learning_rate": [3e-3, 3e-3, 1e-3], "gan_scratch_learning_rate": [1e-2, 1e-2, 1e-2],
        # The control and the remedies: searched at width 0.12 only, scratch's and output_adversarial's rates elsewhere.
        "gan_prune_finetune_learning_rate": [3e-2, 1e-2, 1e-2],
        "gan_output_features_adversarial_learning_rate": [1e-2, 1e-3, 1e-3],
        "gan_anneal_to_gan_learning_rate": [3e-3, 1e-3, 1e-3],
        "vae_anneal_to_elbo_learning_rate": [1e-2, 1e-2, 5e-3],  # searched at 0.25 in 2 epochs; distilled's at 0.5
        "vae_distilled_learning_rate": [3e-2, 1e-2, 5e-3], "vae_scratch_learning_rate": [3e-2, 2e-2, 1e-2],
        "vae_scratch_kl_weight": 0.06},
}
# A profile's value on one data set, where it was chosen on that data set.
ON_DATASET: dict[tuple[str, str], dict[str, Any]] = {("full", "mnist"): {"temperature": 20.0}}
# The committed sweep that chose notebook 01's T and alpha for a profile on a data set (docs/results/<name>/
# report.csv: the point whose distilled student made the fewest errors on held-out training images no model saw).
DISTILLATION_SWEEPS = {("quick", "fashion-mnist"): "sweep-01-quick-few-clean",
                       ("full", "fashion-mnist"): "sweep-01-full-fashion-clean",
                       ("full", "mnist"): "sweep-01-mnist-clean"}


def profile_values(profile: str, dataset: str | None = None) -> dict[str, Any]:
    """Every setting's value in ``profile`` (on ``dataset``, or the profile's own data set)."""
    profile = resolve_profile(profile)
    values = {name: setting.default for name, setting in SETTINGS.items()} | PROFILES[profile]
    return values | ON_DATASET.get((profile, dataset or values["dataset"]), {})


def check(name: str, value: Any) -> Any:
    """``value`` if ``name`` may take it (an int widened to float where the setting is a float), else a ValueError that
    names the setting and what it may be."""
    setting = SETTINGS.get(name)
    if setting is None:
        raise ValueError(f"unknown parameter {name!r}; known: {sorted(SETTINGS)}")
    kind = setting.kind or type(setting.default)
    if value is None and setting.kind is not None:  # a setting whose type is named may be None
        return None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ValueError(f"parameter {name}={value!r} must be of type {kind.__name__}: {setting.meaning}")
    items = value if kind is list else [value]
    allowed = setting.allowed
    if kind is list and allowed and isinstance(allowed[0], str):  # a list of choices, e.g. the objectives
        if not items or not all(isinstance(v, str) for v in items) or set(items) - set(allowed) \
                or len(set(items)) < len(items):
            raise ValueError(f"parameter {name}={value!r} must list one or more of {list(allowed)}, each once: "
                             f"{setting.meaning}")
        return list(value)
    if kind is list and not all(isinstance(v, int | float) and not isinstance(v, bool) for v in items):
        raise ValueError(f"parameter {name}={value!r} must be a list of numbers: {setting.meaning}")
    if kind is list and not items and name in (*WIDTHS.values(), *RATES_OF_WIDTHS):
        raise ValueError(f"parameter {name}=[] is empty: give at least one value ({setting.meaning})")
    if any(isinstance(v, float) and not math.isfinite(v) for v in items):
        raise ValueError(f"parameter {name}={value!r} must be a finite number: {setting.meaning}")
    if allowed and isinstance(allowed[0], str) and value not in allowed:
        raise ValueError(f"parameter {name}={value!r} is not one of {list(allowed)}")
    if allowed and not isinstance(allowed[0], str) and any(not allowed[0] <= v <= allowed[1] for v in items):
        raise ValueError(f"parameter {name}={value!r} is out of range [{allowed[0]}, {allowed[1]}]: {setting.meaning}")
    return [float(v) for v in value] if kind is list else value



def check_together(values: dict[str, Any]) -> None:
    """Refuse settings that are each allowed but together would silently do nothing or mislead."""
    too_big = {k: values[k] for k in ("batch_size", "gan_batch_size")
               if values.get("train_size") and values[k] > values["train_size"]}
    if too_big:
        raise ValueError(f"train_size={values['train_size']} is smaller than {too_big}: training would take no "
                         f"step; raise train_size or lower the batch size")
    if values["validation_size"] and (values["train_size"] or 0) + values["validation_size"] > 60_000:
        raise ValueError(f"train_size={values['train_size']} and validation_size={values['validation_size']} "
                         f"overlap in the 60,000 training images: lower train_size to at most "
                         f"{60_000 - values['validation_size']}")
    available = values["train_size"] or 60_000 - values["validation_size"]
    if (values["student_train_size"] or 0) > available:
        raise ValueError(f"student_train_size={values['student_train_size']} is more than the {available:,} training "
                         f"images the teacher learns from (train_size={values['train_size']}, validation_size="
                         f"{values['validation_size']}): lower student_train_size to at most {available}")
    for widths_name in WIDTHS.values():
        names = [f"{width:g}" for width in values[widths_name]]  # how a width reads in its record files' names
        alike = sorted({name for name in names if names.count(name) > 1})
        if alike:
            raise ValueError(f"parameter {widths_name}={values[widths_name]} holds widths that all read {alike[0]} in "
                             f"the record files' names, so their students would share one file: give widths that "
                             f"differ in their first six significant digits")
    for name, widths_name in RATES_OF_WIDTHS.items():
        if len(values[name]) != len(values[widths_name]):
            raise ValueError(f"parameter {name}={values[name]} gives {len(values[name])} rate(s) for the "
                             f"{len(values[widths_name])} width(s) of {widths_name}={values[widths_name]}: give one "
                             f"rate per width, in the same order")
    for family, needed in LESSONS_COMPARE.items():
        missing = [name for name in needed if name not in values[CHOSEN[family]]]
        if missing:
            raise ValueError(f"{CHOSEN[family]}={values[CHOSEN[family]]} leaves out {missing}, which "
                             f"notebooks 04 and 06 compare the other students with: add {missing}")
    cut = [name for name in values["gan_objectives"] if OBJECTIVES["gan"][name].starts_cut]
    if cut and values["gan_student_init"] == "random":
        raise ValueError(f"gan_objectives={values['gan_objectives']} holds {cut}, whose students start cut from the "
                         f"teacher, but gan_student_init='random': set gan_student_init='teacher', or leave {cut} out")
    if bool(values["sweep_temperatures"]) != bool(values["sweep_alphas"]):
        raise ValueError(f"the T x alpha sweep needs both lists or neither, got sweep_temperatures="
                         f"{values['sweep_temperatures']} and sweep_alphas={values['sweep_alphas']}: one empty list "
                         f"makes an empty grid")


@dataclass(frozen=True)
class Recipe:
    """How one model shipped under ``pretrained/`` is trained: ``python -m kdlib teachers --only NAME``.
    ``settings`` are the trainer's keyword arguments, all of which name its checkpoint."""

    name: str
    kind: str  # "ruler": kdlib.features.feature_network; "classifier": notebook 01's teacher; "gan"/"vae": notebooks 02/03's;
    # "flow": notebook 05's latent flow teacher
    dataset: str
    settings: dict[str, Any]
    eval_samples: int = 10_000  # images behind each quality number of the manifest

    def identity(self) -> dict[str, Any]:
        """What a shipped file and its manifest must match: the name, kind, data set and settings."""
        return {"name": self.name, "kind": self.kind, "dataset": self.dataset, "settings": self.settings}


RECIPES = {recipe.name: recipe for recipe in (
    Recipe("ruler-mnist", "ruler", "mnist", {"epochs": 10, "jitter": 2, "batch_size": 128, "seed": 0}),
    Recipe("ruler-fashion-mnist", "ruler", "fashion-mnist", {"epochs": 15, "jitter": 2, "batch_size": 128, "seed": 0}),
    # Hinton et al.'s MLP teacher (kdlib.TEACHER_MLP), trained longer than a notebook can afford. On Fashion-MNIST
    # 2-pixel shifts left it under-fitted (50 epochs: 11.3% training errors, 1,243 test errors, worse than a
    # 5-epoch student on labels), so it learns from the unshifted images there. It keeps Hinton et al.'s dropout:
    # lighter dropout (30% / 10%) made a better teacher (937 test errors against 1,021 on 55,000 images) but no
    # better student (docs/results/experiments.md, "Lighter dropout teacher").
    Recipe("classifier-mnist", "classifier", "mnist",
           {"epochs": 100, "jitter": 2, "batch_size": 128, "learning_rate": 1e-3, "seed": 0}),
    Recipe("classifier-fashion-mnist", "classifier", "fashion-mnist",
           {"epochs": 50, "jitter": 0, "batch_size": 128, "learning_rate": 1e-3, "seed": 0}),
    # Notebook 02's DCGAN (kdlib.train_gan) trained 30 epochs, the learning rate held for 15 epochs, then decayed
    # linearly to 0: 50.1 on the shipped ruler, precision 0.75, recall 0.76.
    Recipe("gan-fashion-mnist", "gan", "fashion-mnist",
           {"epochs": 30, "batch_size": 64, "learning_rate": 2e-4, "seed": 0}),
    # Notebook 03's VAE (kdlib.train_vae) trained 50 epochs, the learning rate cosine-annealed to 0, its KL term
    # weighed by beta = 0.06: the best of 1, 0.25, 0.125, 0.06 and 0.03 on held-out training images
    # (the retired bench/vae_distillation_study.py --part teacher, docs/results/experiments.md). From its ex-post prior, as the course samples every VAE, it
    # scores 94.8 on the shipped ruler; from N(0, I), 287.6: a lighter KL term buys sharper codes, not a better
    # N(0, I) prior (docs/results/experiments.md, "VAE prior gap").
    Recipe("vae-fashion-mnist", "vae", "fashion-mnist",
           {"epochs": 50, "batch_size": 256, "learning_rate": 1e-3, "kl_weight": 0.06, "seed": 0}),
    # Notebook 05's teacher: a flow-matching velocity network (kdlib.diffusion.Velocity, 0.46M parameters) on the
    # standardised posterior means of the shipped VAE above (the file of SHA-256 vae_sha256), 30,000 steps of 512
    # codes, the learning rate cosine-annealed to 0 (its quality against the steps: bench/diffusion_distillation.py
    # --part teacher).
    Recipe("flow-fashion-mnist", "flow", "fashion-mnist",
           {"steps": 30_000, "batch_size": 512, "learning_rate": 1e-3, "seed": 0,
            "vae_sha256": "433b34f111a597eeada4654fdbf68b8f0ac6075e71bb5d02b93fe7a93d2048a9"}),
)}


# Parameters every notebook has; resolved specially rather than from SETTINGS.
SPECIAL = {
    "profile": "smoke | quick | full; None: $KDLIB_PROFILE, else quick",
    "device": "cpu | cuda | cuda:N; None: cuda when available, else cpu",
    "run_dir": "run folder; None: runs/<profile>; relative paths are under the project root",
}
_IPYTHON_NAMES = {"In", "Out", "exit", "quit", "get_ipython"}
_PLAIN = (type(None), bool, int, float, str, list, tuple, dict)


@dataclass(frozen=True)
class Config:
    """A notebook's resolved settings: ``cfg.profile``, ``cfg.device``, ``cfg.run``, ``cfg.<setting>`` for every
    setting (its profile's value unless the notebook was given one); ``given`` names the settings it was given."""

    profile: str
    device: torch.device
    run: RunDir
    values: dict[str, Any] = field(default_factory=dict)
    given: tuple[str, ...] = ()

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__.get("values", {})
        if name in values:
            return values[name]
        raise AttributeError(f"no setting {name!r}; known: {sorted(values)}")

    def as_dict(self) -> dict[str, Any]:
        """Everything needed to repeat the run, JSON-ready; the run folder relative to the project root when it lies
        under it (as ``run_dir`` takes it), so that no notebook or record shows the path of the machine that ran it."""
        path = self.run.path.resolve()
        run_dir = path.relative_to(project_root()) if path.is_relative_to(project_root()) else path
        return {"profile": self.profile, "device": str(self.device),
                "run_dir": str(run_dir), "threads": torch.get_num_threads(), **self.values}

    def widths(self, family: str) -> list[float]:
        """The widths of a family's students: ``student_widths`` for the GAN, ``vae_student_widths`` for the VAE."""
        if family not in WIDTHS:
            raise ValueError(f"family {family!r} has no students; expected one of {list(WIDTHS)}")
        return self.values[WIDTHS[family]]

    def objective(self, family: str, name: str, width: float) -> Objective:
        """The course's objective ``name`` of ``family`` for students of ``width``, with the profile's settings
        (``<family>_<name>_<field>``; the learning rate at the place of ``width`` in the family's widths)."""
        if name not in OBJECTIVES.get(family, {}):
            raise ValueError(f"no {family} objective {name!r}; the course's: "
                             f"{ {f: list(names) for f, names in OBJECTIVES.items()} }")
        widths = self.widths(family)
        if width not in widths:
            raise ValueError(f"width {width} is not one of {WIDTHS[family]} {widths}: the profile gives learning rates "
                             f"for those widths only")
        objective = OBJECTIVES[family][name]
        values = {f.name: self.values[f"{family}_{name}_{f.name}"] for f in dataclasses.fields(objective)}
        return objective(**values | {"learning_rate": values["learning_rate"][widths.index(width)]})

    def objective_names(self, family: str) -> list[str]:
        """The objectives of ``family`` the course trains and evaluates: ``gan_objectives`` or ``vae_objectives``."""
        if family not in CHOSEN:
            raise ValueError(f"family {family!r} has no students; expected one of {list(CHOSEN)}")
        return self.values[CHOSEN[family]]

    def objectives(self, family: str, width: float) -> list[Objective]:
        """The objectives of ``family`` the course trains (``objective_names``) for students of ``width``."""
        return [self.objective(family, name, width) for name in self.objective_names(family)]

    def parameters(self) -> dict[str, Any]:
        """What a reader sees at the top of a notebook: the profile, device and run folder, and the values of the
        settings the notebook was given (its parameters cell, or papermill's ``-p``); every other setting is
        its profile's (``profile_table``), and all of them go into the run's records (``as_dict``)."""
        everything = self.as_dict()
        return {key: everything[key] for key in ("profile", "device", "run_dir", "threads", *self.given)}


def profile_table() -> str:
    """A Markdown table of every setting's value in each profile (and on a data set that has its own)."""
    def cell(profile: str, name: str) -> str:
        own = "".join(f" ({dataset}: {values[name]!r})" for (p, dataset), values in ON_DATASET.items()
                      if p == profile and name in values)
        return repr(profile_values(profile)[name]) + own
    rows = ["| setting | " + " | ".join(PROFILES) + " | meaning |", "|---" * (len(PROFILES) + 2) + "|"]
    rows += [f"| `{name}` | " + " | ".join(cell(p, name) for p in PROFILES) + f" | {setting.meaning} |"
             for name, setting in SETTINGS.items()]
    return "\n".join(rows)


def resolve_profile(profile: str | None) -> str:
    """``profile``, else ``$KDLIB_PROFILE``, else ``quick``; must be a known profile."""
    chosen = profile if profile is not None else os.environ.get("KDLIB_PROFILE") or "quick"
    if chosen not in PROFILES:
        raise ValueError(f"unknown profile {chosen!r}; choose one of {list(PROFILES)}")
    return chosen


def resolve_device(device: str | None) -> torch.device:
    """``device``, else CUDA when available, else the CPU; refuses CUDA when there is none, and devices that compute
    nothing."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"parameter device={device!r} is not a device (use 'cpu' or 'cuda')") from err
    if chosen.type not in ("cpu", "cuda"):
        raise ValueError(f"parameter device={device!r}: the course runs on 'cpu' or 'cuda', not {chosen.type!r}")
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"parameter device={device!r}: CUDA is not available here; "
                         f"use device='cpu' or leave device=None")
    return chosen


def configure(namespace: dict[str, Any]) -> Config:
    """Resolve a notebook's parameters (pass ``globals()``) into a checked ``Config``.

    Every plain value in ``namespace`` whose name does not start with ``_`` must be a known setting: a misspelt
    ``papermill -p`` name stops the notebook here. A setting given as None, and every setting not given at all,
    takes its profile's value. The names seen on the first call are remembered in ``namespace``, so that re-running
    the notebook in the same kernel ignores variables made by later cells.
    """
    names = namespace.setdefault("_kdlib_parameter_names", sorted(
        k for k, v in namespace.items()
        if not k.startswith("_") and k not in _IPYTHON_NAMES and isinstance(v, _PLAIN)))
    unknown = [k for k in names if k not in SETTINGS and k not in SPECIAL]
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown}; known: {sorted([*SPECIAL, *SETTINGS])}")
    profile = resolve_profile(namespace.get("profile"))
    device = resolve_device(namespace.get("device"))
    given = tuple(name for name in namespace if name in names and name in SETTINGS)  # in the order given
    chosen = {name: namespace[name] for name in given if namespace[name] is not None}
    values = {name: check(name, value) for name, value in
              (profile_values(profile, chosen.get("dataset")) | chosen).items()}
    check_together(values)
    run_dir = namespace.get("run_dir")
    if run_dir is not None and not isinstance(run_dir, str | Path):
        raise ValueError(f"parameter run_dir={run_dir!r} must be a path")
    if str(run_dir).strip() == "":
        raise ValueError("parameter run_dir='' is empty: name a folder, or leave run_dir=None for runs/<profile>")
    path = Path(run_dir) if run_dir is not None else Path("runs") / profile
    config = Config(profile, device, RunDir(path if path.is_absolute() else project_root() / path), values, given)
    seed_everything(values["seed"])
    return config


def machine(device: str | None = None) -> Machine:
    """What a measurement ran on: CPU model and count, the device a notebook resolves, torch's version."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                    if line.startswith("model name")), cpu)
    chosen = resolve_device(device)
    name = torch.cuda.get_device_name(chosen) if chosen.type == "cuda" else "cpu"
    return Machine(cpu, os.cpu_count() or 1, name, torch.__version__, torch.backends.cpu.get_cpu_capability())
