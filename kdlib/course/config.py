"""Profiles and notebook parameters, defined once for the whole course.

A notebook's first code cell (tagged ``parameters`` for papermill) assigns
``None`` to each setting it uses; ``configure(globals())`` in the next cell
fills every ``None`` from the profile (``smoke``, ``quick`` or ``full``),
validates every value, and refuses names that are not settings, before any
work starts. ``papermill -p name value`` overrides any one of them.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from kdlib.diffusion import ConsistencyDistillation, Halving, OneStepRegression
from kdlib.distill import (GANScratch, OutputAdversarial, OutputDistillation, OutputFeatures, Student,
                           VAEDistillation, VAEScratch)
from kdlib.store import project_root
from kdlib.train import seed_everything
from kdlib.course.records import RunDir

PROFILES = ("smoke", "quick", "full")
DATASETS = ("mnist", "fashion-mnist")
PROFILE_HELP = {
    "smoke": "CI: seconds per notebook, small subsets; numbers are not meaningful",
    "quick": "the whole course on 2 CPU cores, in the time the overview measures; results a reader can see",
    "full": "best results: hours on 2 CPU cores, teachers trained in the run (the overview prints each notebook's "
            "measured time); not timed on a GPU",
}


@dataclass(frozen=True)
class Setting:
    """One parameter: its value in each profile and what values are allowed."""

    help: str
    kind: type
    smoke: Any
    quick: Any
    full: Any
    choices: tuple[Any, ...] | None = None
    low: float | None = None  # inclusive; for a list, of each item
    high: float | None = None  # inclusive; for a list, of each item
    optional: bool = False  # may be None
    nonempty: bool = False  # a list that must hold at least one item
    # profile -> data set -> the value on that data set, where it differs from the profile's (chosen on it)
    by_dataset: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Refuse a per-data-set value that could never apply: an unknown profile or data set (a misspelling)."""
        for profile, values in self.by_dataset.items():
            if profile not in PROFILES:
                raise ValueError(f"Setting({self.help!r}).by_dataset names profile {profile!r}, which is not one of "
                                 f"{list(PROFILES)}: the value would never apply")
            unknown = sorted(set(values) - set(DATASETS))
            if unknown:
                raise ValueError(f"Setting({self.help!r}).by_dataset[{profile!r}] names data set(s) {unknown}, not "
                                 f"among {list(DATASETS)}: the value would never apply")
            for dataset, value in values.items():
                self.check(f"by_dataset[{profile!r}][{dataset!r}]", value)

    def default(self, profile: str, dataset: str | None = None) -> Any:
        """The value in ``profile``; on ``dataset``, that data set's own value where the profile has one."""
        return self.by_dataset.get(profile, {}).get(dataset, getattr(self, profile))

    def check(self, name: str, value: Any) -> Any:
        """``value`` if allowed (ints widened to float for float settings), else ValueError."""
        if value is None and self.optional:
            return None
        ok_type = isinstance(value, self.kind) and not (self.kind is not bool and isinstance(value, bool))
        if self.kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok_type = float(value), True
        if not ok_type:
            raise ValueError(f"parameter {name}={value!r} must be of type {self.kind.__name__}: {self.help}")
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"parameter {name}={value!r} is not one of {list(self.choices)}")
        items = value if self.kind is list else [value]
        if self.kind is list and not all(isinstance(v, int | float) and not isinstance(v, bool) for v in items):
            raise ValueError(f"parameter {name}={value!r} must be a list of numbers: {self.help}")
        if self.nonempty and not items:
            raise ValueError(f"parameter {name}=[] is empty: give at least one value ({self.help})")
        if any(isinstance(v, float) and not math.isfinite(v) for v in items):
            raise ValueError(f"parameter {name}={value!r} must be a finite number: {self.help}")
        if any((self.low is not None and v < self.low) or (self.high is not None and v > self.high)
               for v in items):
            raise ValueError(f"parameter {name}={value!r} is out of range "
                             f"[{self.low}, {self.high}]: {self.help}")
        return [float(v) for v in value] if self.kind is list else value


# Each family's objectives with a learning rate per student width: the setting "<prefix><objective>_learning_rate"
# holds one rate per entry of the family's widths setting, in its order.
STUDENT_RATES = {"gan": ("", "student_widths", ("distill", "adversarial", "features", "scratch")),
                 "vae": ("vae_", "vae_student_widths", ("distill", "scratch"))}
PER_WIDTH = "one per width of student_widths, in its order"
PER_VAE_WIDTH = "one per width of vae_student_widths, in its order"
# The full profile's GAN students (widths 0.12, 0.25, 0.5): each objective's best rate at each width, one epoch
# (bench/student_tuning.py --init teacher [--width W]; the scratch GAN's: --width W, docs/results/student-tuning).
FULL_RATES = {"distill": [1e-3, 1e-3, 1e-3], "adversarial": [1e-2, 1e-3, 1e-3], "features": [3e-3, 3e-3, 1e-3],
              "scratch": [1e-2, 1e-2, 1e-2]}
# The full profile's VAE students (widths 0.12, 0.25, 0.5): each objective's best rate at each width in the full
# profile's 10 epochs (bench/student_tuning.py --family vae --epochs 10 [--width W], docs/results/student-tuning/
# tuning-vae*-epochs-10*): rates chosen in two epochs can diverge in ten (the distilled student of width 0.25 at 2e-2).
FULL_VAE_RATES = {"distill": [3e-2, 1e-2, 5e-3], "scratch": [3e-2, 2e-2, 1e-2]}
# The committed sweep that chose notebook 01's T and alpha for a profile on a data set (docs/results/<name>/
# report.csv: the point whose distilled student made the fewest errors on the held-out training images).
# Each sweep's teacher never saw the held-out images (the *-clean.yaml sweeps; a teacher that did flatters the
# distilled students there).
DISTILLATION_SWEEPS = {("quick", "fashion-mnist"): "sweep-01-quick-few-clean",
                       ("full", "fashion-mnist"): "sweep-01-full-fashion-clean",
                       ("full", "mnist"): "sweep-01-mnist-clean"}


SETTINGS: dict[str, Setting] = {
    "dataset": Setting("data set to train and evaluate on", str,
                       "fashion-mnist", "fashion-mnist", "fashion-mnist",
                       choices=DATASETS),
    "seed": Setting("seed for every random number generator", int, 0, 0, 0, low=0, high=2**31 - 1),
    "train_size": Setting("training images used (None: all 60,000)", int, 2_000, None, None,
                          low=100, high=60_000, optional=True),
    "batch_size": Setting("images per training step", int, 256, 256, 256, low=1, high=8192),
    "learning_rate": Setting("Adam's learning rate (cosine-annealed to 0)", float, 1e-3, 1e-3, 1e-3,
                             low=1e-6, high=1.0),
    # The evaluation toolkit: the feature network every quality metric is measured with.
    "ruler_source": Setting("the feature network every quality number is measured with: 'shipped' "
                            "(pretrained/ruler-<dataset>.pt: one scale for every run) or 'run' (trained in the run "
                            "folder for feature_epochs)", str, "shipped", "shipped", "shipped",
                            choices=("shipped", "run")),
    "feature_epochs": Setting("epochs of the run's own feature network (used when ruler_source is 'run')", int,
                              1, 4, 6, low=1, high=100),
    "eval_samples": Setting("generated images each quality measurement uses", int, 2_000, 10_000, 10_000,
                            low=500, high=100_000),
    "retrain": Setting("train again even when a finished checkpoint exists in the run folder", bool,
                       False, False, False),
    # Notebook 01: Hinton et al.'s classifier experiment.
    "teachers": Setting("where the teachers come from: 'shipped' (pretrained/, made by `python -m kdlib teachers` "
                        "from kdlib.course.config.RECIPES) or 'run' (trained in the run folder from the same recipe)",
                        str, "shipped", "shipped", "run", choices=("shipped", "run")),
    "teacher_epochs": Setting("epochs of a classifier teacher trained in the run (teachers='run'); None: its "
                              "recipe's", int, None, None, None, low=1, high=1000, optional=True),
    "teacher_jitter": Setting("random shift of a run-trained classifier teacher's images, in pixels (the paper: 2); "
                              "None: its recipe's", int, None, None, None, low=0, high=4, optional=True),
    "validation_size": Setting("the last training images, held out from every classifier student to choose T and "
                               "alpha on (0: none)", int, 0, 0, 0,
                               low=0, high=30_000),
    "student_seeds": Setting("seeds each classifier student is trained with (seed, seed + 1, ...): the spread "
                             "tells a real difference from noise", int, 1, 3, 3, low=1, high=20),
    # quick: a tenth of Fashion-MNIST, where soft labels act as a regulariser (Hinton et al. 2015, section 6) in the
    # same ~1,200 steps that all 60,000 images take in 5 epochs (there the gain was within noise: docs/results/
    # nb01-epochs, docs/results/settings.md); full: every image, as in the paper's section 3.
    "student_train_size": Setting("the first training images each classifier student learns from (None: all the "
                                  "teacher's)", int, None, 6_000, None, low=100, high=60_000, optional=True),
    "student_epochs": Setting("epochs of each classifier student", int, 1, 50, 30, low=1, high=1000),
    # Each chosen on 5,000 held-out training images by the sweep DISTILLATION_SWEEPS names, whose teacher never saw
    # them. quick (Fashion-MNIST): sweeps/notebook01-quick-few-clean.yaml: a higher T did worse at every alpha,
    # alpha = 1 tied 0.9. full, one seed per point: on Fashion-MNIST sweeps/notebook01-full-fashion-clean.yaml chose
    # T = 1 and alpha = 0.5, within noise of the student on labels; on MNIST sweeps/notebook01-full-mnist-clean.yaml
    # chose T = 20, as in the paper, and alpha = 0.5.
    "temperature": Setting("distillation temperature T", float, 1.0, 1.0, 1.0, low=0.01, high=1000.0,
                           by_dataset={"full": {"mnist": 20.0}}),
    "alpha": Setting("weight of the soft (teacher) term; 1 - alpha weighs the hard labels", float,
                     0.9, 0.9, 0.5, low=0.0, high=1.0),
    "sweep_temperatures": Setting("temperatures of the T x alpha sweep (empty: no sweep)", list,
                                  [], [], [1.0, 4.0, 20.0], low=0.01, high=1000.0),
    "sweep_alphas": Setting("soft-term weights of the T x alpha sweep", list, [], [], [0.5, 0.9],
                            low=0.0, high=1.0),
    "sweep_epochs": Setting("epochs of each student in the sweep", int, 1, 2, 8, low=1, high=1000),
    # Notebooks 02 and 03: the generative teachers.
    "gan_epochs": Setting("epochs of the GAN teacher", int, 1, 2, 8, low=1, high=1000),
    "gan_batch_size": Setting("images per GAN step (DCGAN: 128; smaller means more steps per epoch)", int,
                              64, 64, 64, low=2, high=8192),
    "gan_learning_rate": Setting("Adam's learning rate for both players of the GAN teacher (DCGAN's, beta1 = 0.5); "
                                 "also the output+adversarial students' discriminator", float,
                                 2e-4, 2e-4, 2e-4, low=1e-6, high=1.0),
    "vae_epochs": Setting("epochs of the VAE teacher", int, 1, 4, 20, low=1, high=1000),
    "vae_learning_rate": Setting("Adam's learning rate for the VAE teacher", float, 1e-3, 1e-3, 1e-3,
                                 low=1e-6, high=1.0),
    # full: the shipped recipe's beta (RECIPES below), since full distils the teacher it trains. On the ELBO (beta = 1)
    # its 20-epoch teacher scored 176.8 on the shipped ruler, worse than the profile's scratch students (135.4 +- 2.5
    # at width 0.25, beta 0.06), and its distilled students 198.3 +- 3.0; with beta = 0.06, 120.7 and 142.8 +- 1.1
    # (docs/results/full.md, "Notebooks 02 to 06 at the target widths"). smoke and quick keep the ELBO that notebook 03 derives: they
    # distil the shipped teacher, and notebook 03 shows it beside theirs.
    "vae_kl_weight": Setting("beta, the KL term's weight, of the VAE teacher trained in the run (1: the ELBO; the "
                             "shipped teacher's recipe: 0.06)", float, 1.0, 1.0, 0.06, low=1e-3, high=100.0),
    # Notebooks 04 and 06: students of the generative teachers.
    "student_widths": Setting("widths of the GAN students (the teacher has width 1)", list,
                              [0.12], [0.12], [0.12, 0.25, 0.5], low=0.01, high=0.99, nonempty=True),
    # 0.25: the widest VAE student with >= 5x fewer parameters than its teacher (5.1x); the VAE target's width.
    "vae_student_widths": Setting("widths of the VAE students (the teacher has width 1)", list,
                                  [0.25], [0.25], [0.12, 0.25, 0.5], low=0.01, high=0.99, nonempty=True),
    "gan_student_upsampling": Setting("how a GAN student doubles its maps' resolution: 'subpixel' (3x3 convolution "
                                      "+ pixel shuffle, designed for the CPU) or 'transposed' (the teacher's "
                                      "transposed convolution)", str,
                                      "subpixel", "subpixel", "subpixel", choices=("subpixel", "transposed")),
    "generative_student_seeds": Setting("seeds each student of notebook 04 is trained with (seed, seed + 1, ...): "
                                        "notebook 06 reports the mean and spread over them", int, 1, 3, 3,
                                        low=1, high=20),
    "gan_student_epochs": Setting("epochs of every GAN student (distilled or from scratch: same steps)", int,
                                  1, 1, 4, low=1, high=1000),
    "vae_student_epochs": Setting("epochs of every VAE student (distilled or from scratch: same steps)", int,
                                  1, 2, 10, low=1, high=1000),
    # Distilled GAN students start from their teacher's most important channels (kdlib.pruning): at one epoch of the
    # quick recipe, each objective's best configuration did better than from random weights (docs/results/
    # student-tuning/tuning-init-teacher*), the scratch students never see the teacher.
    "gan_student_init": Setting("where a distilled GAN student's weights start: 'teacher' (cut from the teacher: its "
                                "most important channels, kdlib.pruning) or 'random'; scratch students start from "
                                "random weights", str, "teacher", "teacher", "teacher", choices=Student.INITS),
    # The GAN students' learning rates, one per width of student_widths, each cosine-annealed to 0: one search per
    # objective and width on the same grid (bench/student_tuning.py [--width W], quick recipe, scored on held-out
    # training images; docs/results/student-tuning): the distilled students' with the initial weights above (--init
    # teacher), the scratch students' from random weights. FULL_RATES holds the full profile's widths.
    "distill_learning_rate": Setting(f"Adam's learning rate for output-distilled GAN students, {PER_WIDTH}", list,
                                     [1e-3], [1e-3], FULL_RATES["distill"], low=1e-6, high=1.0, nonempty=True),
    "adversarial_learning_rate": Setting("Adam's learning rate for output+adversarial GAN students' generator, "
                                         f"{PER_WIDTH}", list, [1e-2], [1e-2], FULL_RATES["adversarial"],
                                         low=1e-6, high=1.0, nonempty=True),
    "features_learning_rate": Setting(f"Adam's learning rate for output+features GAN students, {PER_WIDTH}", list,
                                      [3e-3], [3e-3], FULL_RATES["features"], low=1e-6, high=1.0, nonempty=True),
    "scratch_learning_rate": Setting(f"Adam's learning rate for both players of the scratch GAN students, {PER_WIDTH}",
                                     list, [GANScratch.learning_rate], [GANScratch.learning_rate],
                                     FULL_RATES["scratch"], low=1e-6, high=1.0, nonempty=True),
    # The VAE students' learning rates, one per width of vae_student_widths, each cosine-annealed to 0: one search per
    # objective and width on the same grid, with the posterior fraction and beta below (bench/student_tuning.py
    # --family vae --width 0.25: 2e-2 for both, neither at an edge of its grid). FULL_VAE_RATES holds the full profile's.
    "vae_distill_learning_rate": Setting(f"Adam's learning rate for the distilled VAE students, {PER_VAE_WIDTH}", list,
                                         [2e-2], [2e-2], FULL_VAE_RATES["distill"], low=1e-6, high=1.0,
                                         nonempty=True),
    "vae_scratch_learning_rate": Setting(f"Adam's learning rate for the scratch VAE students, {PER_VAE_WIDTH}", list,
                                         [2e-2], [2e-2], FULL_VAE_RATES["scratch"], low=1e-6, high=1.0,
                                         nonempty=True),
    "vae_posterior_fraction": Setting("share of a distilled VAE student's decoder batch drawn from the teacher's "
                                      "posteriors (the rest from N(0, I))", float,
                                      *[VAEDistillation.posterior_fraction] * 3, low=0.0, high=1.0),
    # full: in ten epochs beta = 0.06 did at least as well as 0.125 at every width, and better at 0.5 (the same
    # searches as FULL_VAE_RATES); 0.03 was no better over three seeds (--kl-weights 0.03 0.06 0.125 0.25 1).
    "vae_scratch_kl_weight": Setting("beta, the KL term's weight, of the scratch VAE students (1: the ELBO)", float,
                                     VAEScratch.kl_weight, VAEScratch.kl_weight, 0.06, low=1e-3, high=100.0),
    "adversarial_weight": Setting("weight of the adversarial term in output+adversarial distillation", float,
                                  *[OutputAdversarial.adversarial_weight] * 3, low=0.0, high=100.0),
    "feature_weight": Setting("weight of the feature-map term in output+features distillation", float,
                              *[OutputFeatures.feature_weight] * 3, low=0.0, high=100.0),
    # Notebook 05: distilling a latent flow teacher from many sampling steps to few.
    "flow_steps": Setting("optimiser steps of a flow teacher trained in the run (teachers='run'); None: its "
                          "recipe's", int, 40, None, None, low=4, high=1_000_000, optional=True),
    "latent_student_steps": Setting("optimiser steps of every latent student (progressive distillation: over all "
                                    "its rounds together)", int, 20, 1_000, 4_000, low=20, high=1_000_000),
    # Each latent student's learning rate, cosine-annealed to 0: one search per objective on the same grid
    # (bench/diffusion_distillation.py --part tuning, quick recipe, scored on held-out training images).
    "regression_learning_rate": Setting("Adam's learning rate for the one-step regression students", float,
                                        *[OneStepRegression.learning_rate] * 3, low=1e-6, high=1.0),
    "progressive_learning_rate": Setting("Adam's learning rate for every round of progressive distillation", float,
                                         *[Halving.learning_rate] * 3, low=1e-6, high=1.0),
    "consistency_learning_rate": Setting("Adam's learning rate for the consistency-distilled students", float,
                                         *[ConsistencyDistillation.learning_rate] * 3, low=1e-6, high=1.0),
    "regression_pairs": Setting("(noise, teacher sample) pairs the one-step regression student learns from", int,
                                256, 40_000, 100_000, low=16, high=10_000_000),
    "latent_student_seeds": Setting("seeds each latent student is trained with (seed, seed + 1, ...)", int, 1, 3, 3,
                                    low=1, high=20),
}

@dataclass(frozen=True)
class Recipe:
    """How one model shipped under ``pretrained/`` is trained: ``python -m kdlib teachers --only NAME``.
    ``settings`` are the trainer's keyword arguments, all of which name its checkpoint."""

    name: str
    kind: str  # "ruler": kdlib.feature_network; "classifier": notebook 01's teacher; "gan"/"vae": notebooks 02/03's;
    # "flow": notebook 05's latent flow teacher
    dataset: str
    settings: dict[str, Any]
    eval_samples: int = 10_000  # images behind each quality number of the manifest


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
    # Notebook 02's DCGAN (kdlib.train_gan) trained 30 epochs instead of the full profile's 8 (whose teacher, at a
    # constant rate, scored 126.5 on the shipped ruler), the learning rate held for 15 epochs, then decayed
    # linearly to 0: 50.1, precision 0.75, recall 0.76.
    Recipe("gan-fashion-mnist", "gan", "fashion-mnist",
           {"epochs": 30, "batch_size": 64, "learning_rate": 2e-4, "seed": 0}),
    # Notebook 03's VAE (kdlib.train_vae) trained 50 epochs instead of the full profile's 20, the learning rate
    # cosine-annealed to 0, its KL term weighed by beta = 0.06: the best of 1, 0.25, 0.125, 0.06 and 0.03 on held-out
    # training images (bench/vae_distillation_study.py --part teacher). From its ex-post prior, as the course samples
    # every VAE, it scores 94.8 on the shipped ruler (the full profile's ELBO teacher: 161.1; this recipe on the ELBO,
    # beta = 1: 148.4); from N(0, I), 287.6, worse than the ELBO's 252.1: a lighter KL term buys sharper codes, not a
    # better N(0, I) prior (docs/results/experiments.md, "VAE prior gap").
    Recipe("vae-fashion-mnist", "vae", "fashion-mnist",
           {"epochs": 50, "batch_size": 256, "learning_rate": 1e-3, "kl_weight": 0.06, "seed": 0}),
    # Notebook 05's teacher: a flow-matching velocity network (kdlib.diffusion.Velocity, 0.46M parameters) on the
    # standardised posterior means of the shipped VAE above (the file of SHA-256 vae_sha256), 30,000 steps of 512
    # codes, the learning rate cosine-annealed to 0: more steps than a notebook can afford (its quality against
    # the training steps: bench/diffusion_distillation.py --part teacher).
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
        if family not in ("gan", "vae"):
            raise ValueError(f"family {family!r} has no students; expected 'gan' or 'vae'")
        return self.student_widths if family == "gan" else self.vae_student_widths

    def gan_rate(self, objective: str, width: float) -> float:
        """The learning rate of the GAN students of ``objective`` ("distill", "adversarial", "features" or
        "scratch") at ``width``: the entry of ``<objective>_learning_rate`` at the place of ``width`` in
        ``student_widths``."""
        return self._rate("gan", objective, width)

    def vae_rate(self, objective: str, width: float) -> float:
        """The learning rate of the VAE students of ``objective`` ("distill" or "scratch") at ``width``: the entry of
        ``vae_<objective>_learning_rate`` at the place of ``width`` in ``vae_student_widths``."""
        return self._rate("vae", objective, width)

    def _rate(self, family: str, objective: str, width: float) -> float:
        prefix, widths_name, objectives = STUDENT_RATES[family]
        if objective not in objectives:
            raise ValueError(f"objective {objective!r} has no {family.upper()} learning rate; expected one of "
                             f"{objectives}")
        widths = self.values[widths_name]
        if width not in widths:
            raise ValueError(f"width {width} is not one of {widths_name} {widths}: the profile gives learning rates "
                             f"for those widths only")
        return self.values[f"{prefix}{objective}_learning_rate"][widths.index(width)]

    def parameters(self) -> dict[str, Any]:
        """What a reader sees at the top of a notebook: the profile, device and run folder, and the values of the
        settings the notebook was given (its parameters cell, or papermill's ``-p``); every other setting is
        its profile's (``profile_table``), and all of them go into the run's records (``as_dict``)."""
        everything = self.as_dict()
        return {key: everything[key] for key in ("profile", "device", "run_dir", "threads", *self.given)}


def profile_table() -> str:
    """A Markdown table of every setting's value in each profile."""
    rows = ["| setting | " + " | ".join(PROFILES) + " | meaning |", "|---" * (len(PROFILES) + 2) + "|"]
    rows += [f"| `{name}` | " + " | ".join(_profile_cell(s, p) for p in PROFILES) + f" | {s.help} |"
             for name, s in SETTINGS.items()]
    rows.append("| *purpose* | " + " | ".join(PROFILE_HELP[p] for p in PROFILES) + " | |")
    return "\n".join(rows)


def _profile_cell(setting: Setting, profile: str) -> str:
    """A setting's value in a profile, and in brackets the data sets that have their own."""
    own = setting.by_dataset.get(profile, {})
    return repr(setting.default(profile)) + "".join(f" ({dataset}: {value!r})" for dataset, value in own.items())


def resolve_profile(profile: str | None) -> str:
    """``profile``, else ``$KDLIB_PROFILE``, else ``quick``; must be a known profile."""
    chosen = profile if profile is not None else os.environ.get("KDLIB_PROFILE") or "quick"
    if chosen not in PROFILES:
        raise ValueError(f"unknown profile {chosen!r}; choose one of {list(PROFILES)}")
    return chosen


def resolve_device(device: str | None) -> torch.device:
    """``device``, else CUDA when available, else the CPU; refuses CUDA when there is none, and devices that compute nothing."""
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


def check_together(values: dict[str, Any]) -> None:
    """Refuse settings that are each allowed but together would silently do nothing."""
    batch_sizes = {k: values[k] for k in ("batch_size", "gan_batch_size") if k in values}
    too_big = {k: v for k, v in batch_sizes.items() if values.get("train_size") and v > values["train_size"]}
    if too_big:
        raise ValueError(f"train_size={values['train_size']} is smaller than {too_big}: training would take no "
                         f"step; raise train_size or lower the batch size")
    if values.get("validation_size") and (values.get("train_size") or 0) + values["validation_size"] > 60_000:
        raise ValueError(f"train_size={values.get('train_size')} and validation_size={values['validation_size']} "
                         f"overlap in the 60,000 training images: lower train_size to at most "
                         f"{60_000 - values['validation_size']}")
    available = values.get("train_size") or 60_000 - values.get("validation_size", 0)
    if (values.get("student_train_size") or 0) > available:
        raise ValueError(f"student_train_size={values['student_train_size']} is more than the {available:,} training "
                         f"images the teacher learns from (train_size={values.get('train_size')}, validation_size="
                         f"{values.get('validation_size')}): lower student_train_size to at most {available}")
    for prefix, widths_name, objectives in STUDENT_RATES.values():
        widths = values.get(widths_name)
        names = [f"{width:g}" for width in widths or []]  # how a width reads in its record files' names
        alike = sorted({name for name in names if names.count(name) > 1})
        if alike:
            raise ValueError(f"parameter {widths_name}={widths} holds widths that all read {alike[0]} in the record "
                             f"files' names, so their students would share one file: give widths that differ in "
                             f"their first six significant digits")
        for name in (f"{prefix}{objective}_learning_rate" for objective in objectives):
            if widths is not None and name in values and len(values[name]) != len(widths):
                raise ValueError(f"parameter {name}={values[name]} gives {len(values[name])} rate(s) for the "
                                 f"{len(widths)} width(s) of {widths_name}={widths}: give one rate per width, in "
                                 f"the same order")
    sweep = {k: values[k] for k in ("sweep_temperatures", "sweep_alphas") if k in values}
    if len(sweep) == 2 and bool(sweep["sweep_temperatures"]) != bool(sweep["sweep_alphas"]):
        raise ValueError(f"the T x alpha sweep needs both lists or neither, got {sweep}: one empty list "
                         f"makes an empty grid")


def configure(namespace: dict[str, Any]) -> Config:
    """Resolve a notebook's parameters (pass ``globals()``) into a validated ``Config``.

    Every plain value in ``namespace`` whose name does not start with ``_`` must
    be a known setting: a misspelt ``papermill -p`` name stops the notebook here.
    A setting given as None, and every setting not given at all, takes its profile's
    value: a parameters cell lists what a reader would change, and any other setting
    can still be given (``-p``, or a line added to the cell).
    The names seen on the first call are remembered in ``namespace``, so that
    re-running the notebook in the same kernel ignores variables made by later cells.
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
    values = {}
    for name, setting in SETTINGS.items():  # "dataset" first: a setting's default may depend on it
        value = namespace[name] if name in given else None
        values[name] = setting.check(name, setting.default(profile, values.get("dataset")) if value is None
                                     else value)
    check_together(values)
    run_dir = namespace.get("run_dir")
    if run_dir is not None and not isinstance(run_dir, str | Path):
        raise ValueError(f"parameter run_dir={run_dir!r} must be a path")
    path = Path(run_dir) if run_dir is not None else Path("runs") / profile
    if str(run_dir).strip() == "":
        raise ValueError("parameter run_dir='' is empty: name a folder, or leave run_dir=None for runs/<profile>")
    config = Config(profile, device, RunDir(path if path.is_absolute() else project_root() / path), values, given)
    seed_everything(values.get("seed", 0))
    return config
