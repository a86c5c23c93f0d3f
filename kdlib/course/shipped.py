"""Models shipped with the course under ``pretrained/``: made by ``python -m kdlib teachers``, loaded verified.

``pretrained/NAME.pt`` holds a model's weights and the recipe that trained it; ``NAME.json`` beside it is its
manifest: SHA-256, recipe, command, git commit, machine, training time and measured quality. Loading checks
the manifest against today's recipe (``kdlib.course.config.RECIPES``), the file against the manifest's
SHA-256 and the recipe stored inside it, and reads it with ``weights_only=True``: a corrupt, replaced,
foreign or out-of-date file is refused by name, with the command that makes it again.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from kdlib.batches import scale
from kdlib.classifiers import PIXELS, TEACHER_MLP, hard_labels, misclassified, train_classifier
from kdlib.data import load
from kdlib.diffusion import FlowMatching, LatentGenerator, Velocity, flow_space, train_latent
from kdlib.evaluate import (Measurement, Ruler, evaluate_generator, generated, generator_of, image_quality, ruler,
                            ruler_of, sampler, summary_row)
from kdlib.generative import GAN_LATENT, VAE_LATENT, train_gan, train_vae
from kdlib.metrics import recognisable_share
from kdlib.models import MLP, VAE, Generator
from kdlib.train import Trained
from kdlib.features import FeatureNet, feature_network
from kdlib.plots import image_grid
from kdlib.tables import markdown_table
from kdlib.store import apply_weights, file_sha256, load_checkpoint, project_root, save_checkpoint, write_json
from kdlib.course.config import RECIPES, Config, Recipe, machine, resolve_device
from kdlib.course.records import TEACHER_WRITERS, Artifact, Machine, Provenance, RecordError, from_json, run_teacher

SCHEMA = 2  # 2: a manifest is the file's Provenance (its source, file and SHA-256, training time and settings)
PRETRAINED = project_root() / "pretrained"
FLOW_STEPS = 32  # the Euler steps a flow teacher's manifest quality is measured at: the course's many-step sampler


def command(name: str) -> str:
    return f"python -m kdlib teachers --only {name}"


@dataclass(frozen=True)
class Manifest(Provenance):
    """What a shipped file is and how it was made (``pretrained/NAME.json``): the provenance every model of the
    course has (source, file and SHA-256, training time, the recipe's settings), and the recipe's name, kind and
    data set, the file's size and precision, the command, commit and machine that made it, its measured quality."""

    name: str
    kind: str
    dataset: str
    bytes: int
    precision: str
    command: str
    commit: str
    machine: Machine
    threads: int
    quality: dict[str, float]

    def recipe(self) -> dict[str, Any]:
        """The identity of the recipe that made the file (``Recipe.identity``)."""
        return Recipe(self.name, self.kind, self.dataset, self.settings).identity()

    def save(self, folder: Path) -> Path:
        target = folder / f"{self.name}.json"
        write_json(target, {"schema": SCHEMA, "type": "Manifest", "manifest": dataclasses.asdict(self)})
        return target

    @classmethod
    def read(cls, path: Path) -> Manifest:
        """The manifest in ``path``, refused by name when missing, unreadable or of another schema."""
        fix = f"run `{command(path.stem)}` to make it again"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: {fix}")
        try:
            envelope = json.loads(path.read_text())
            if envelope.get("type") != "Manifest" or envelope.get("schema") != SCHEMA:
                raise RecordError(f"{path} is not a schema-{SCHEMA} kdlib manifest (it says schema "
                                  f"{envelope.get('schema')}); {fix}")
            return from_json(cls, envelope["manifest"], str(path))
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, AttributeError) as err:
            raise RecordError(f"{path} is not a readable manifest ({type(err).__name__}: {err}); {fix}") from None


def _from_root(path: Path) -> str:
    """``path`` as git names it from the repository root (e.g. pretrained/gan-fashion-mnist.pt), when inside it."""
    resolved = path.resolve()
    return str(resolved.relative_to(project_root())) if resolved.is_relative_to(project_root()) else str(path)


def git_commit() -> str:
    """The checkout's commit, with ``+dirty`` when the code that trains (``kdlib/``, ``pyproject.toml``) has
    uncommitted changes; outside a git checkout (a copy of the tree on another machine), ``$KDLIB_COMMIT``."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=project_root(), capture_output=True, text=True,
                              check=True).stdout.strip()
    try:
        dirty = git("status", "--porcelain", "--", "kdlib", "pyproject.toml")
        return git("rev-parse", "HEAD") + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):  # a copy of the tree: the commit it was copied from, if said
        return os.environ.get("KDLIB_COMMIT", "unknown (not a git checkout)")


def _train_ruler(recipe: Recipe, work: Path, device: torch.device) -> tuple[nn.Module, Path]:
    """Train (or load from ``work``) the data set's feature network."""
    net, _, checkpoint = feature_network(recipe.dataset, work, device=device, **recipe.settings)
    return net, checkpoint


def _ruler_quality(net: nn.Module, recipe: Recipe, shipped: Path) -> dict[str, float]:
    """The ruler's test accuracy, the real test images' recognisable share and the train-vs-test floor."""
    measure = ruler_of(net, recipe.dataset, shipped, samples=recipe.eval_samples)
    train_floor = measure.floors["real train"]
    return {"test_accuracy": measure.accuracy,
            "real_test_recognisable": measure.real.recognisable,
            "real_train_frechet_distance": train_floor.frechet_distance,
            "real_train_precision": train_floor.precision,
            "real_train_recall": train_floor.recall}


def _classifier(settings: dict[str, Any], dataset: str, images: torch.Tensor, labels: torch.Tensor, work: Path,
                device: torch.device, fresh: bool = False) -> tuple[nn.Module, Trained]:
    """Notebook 01's MLP teacher trained (or loaded from ``work``) on the hard labels with a recipe's settings."""
    return train_classifier("teacher", TEACHER_MLP, images, hard_labels(labels.to(device)), settings["epochs"], work,
                            dataset=dataset, batch_size=settings["batch_size"],
                            learning_rate=settings["learning_rate"], seed=settings["seed"],
                            jitter=settings["jitter"], device=device, fresh=fresh)


def _train_classifier(recipe: Recipe, work: Path, device: torch.device) -> tuple[nn.Module, Path]:
    train = load(recipe.dataset, "train")
    rows = slice(recipe.settings.get("train_size"))  # all, unless a test's tiny recipe says otherwise
    model, trained = _classifier(recipe.settings, recipe.dataset, train.images[rows], train.labels[rows], work, device)
    return model, trained.checkpoint


def _classifier_quality(model: nn.Module, recipe: Recipe, shipped: Path) -> dict[str, float]:
    """Test errors and accuracy of the classifier as shipped (its weights at the shipped precision)."""
    test = load(recipe.dataset, "test")
    errors = misclassified(model, scale(test.images, PIXELS).to(next(model.parameters()).device), test.labels)
    return {"test_errors": float(errors), "test_accuracy": 1 - errors / len(test)}


def _generative(recipe: Recipe, work: Path, device: torch.device) -> tuple[nn.Module, Path]:
    """The GAN's generator or the whole VAE of a recipe, trained (or loaded from ``work``) on the training set."""
    train = load(recipe.dataset, "train")
    settings = {key: value for key, value in recipe.settings.items() if key != "train_size"}
    images = train.images[slice(recipe.settings.get("train_size"))]  # all, unless a test's tiny recipe says otherwise
    if recipe.kind == "gan":
        generator, _, trained = train_gan(images, work, dataset=recipe.dataset, device=device, **settings)
        return generator, trained.checkpoint
    vae, trained = train_vae(images, work, dataset=recipe.dataset, device=device, **settings)
    return vae, trained.checkpoint


def _generative_quality(model: nn.Module, recipe: Recipe, shipped: Path) -> dict[str, float]:
    """Fréchet distance, precision, recall, recognisable share (also relative to the real test images') and the
    smallest and largest class share of ``eval_samples`` samples, on the data set's shipped ruler; a VAE sampled
    from its ex-post prior, as the course samples every VAE (``generator_of``)."""
    device = next(model.parameters()).device
    measure, _ = shipped_ruler(recipe.dataset, device=device, samples=recipe.eval_samples)
    generator = generator_of(model, recipe.dataset)  # a VAE from its ex-post prior, as the course samples it
    images = generated(sampler(generator, generator.latent_dim, device), recipe.eval_samples)
    quality = image_quality(images, measure.net, measure.real)
    recognisable = recognisable_share(measure.net.embed(images)[1])
    return {"frechet_distance": quality.frechet_distance, "precision": quality.precision, "recall": quality.recall,
            "recognisable": recognisable, "recognisable_vs_real": recognisable / measure.real.recognisable,
            "smallest_class_share": min(quality.class_shares), "largest_class_share": max(quality.class_shares)}


def _flow_vae(recipe: Recipe, device: torch.device | str) -> VAE:
    """The shipped VAE a flow recipe is fitted to, refused when it is not the file the recipe names."""
    vae, manifest = load_shipped(f"vae-{recipe.dataset}", device=device)
    if manifest.checkpoint.sha256 != recipe.settings["vae_sha256"]:
        raise RecordError(f"{recipe.name} is fitted to the VAE with SHA-256 {recipe.settings['vae_sha256'][:12]}..., "
                          f"but pretrained/{manifest.checkpoint.file} is {manifest.checkpoint.sha256[:12]}...: set "
                          f"vae_sha256 in its "
                          f"recipe (kdlib.course.config.RECIPES) to the new VAE's and run `{command(recipe.name)} "
                          f"--replace`")
    return vae


def _fit_flow(settings: dict[str, Any], codes: torch.Tensor, work: Path, fresh: bool = False
              ) -> tuple[nn.Module, Trained]:
    """A flow-matching teacher (``kdlib.diffusion.FlowMatching``) trained on ``codes`` by a flow recipe's settings,
    its checkpoint named by them and by the SHA-256 of the VAE whose codes they are (``vae_sha256``)."""
    return train_latent(FlowMatching(settings["learning_rate"]), codes, settings["steps"], settings["batch_size"],
                        settings["seed"], work, identity={"vae_sha256": settings["vae_sha256"]}, fresh=fresh)


def _train_flow(recipe: Recipe, work: Path, device: torch.device) -> tuple[nn.Module, Path]:
    """The flow teacher of a recipe, in the latent space of the shipped VAE it names."""
    velocity, trained = _fit_flow(recipe.settings, flow_space(_flow_vae(recipe, device), recipe.dataset)[0], work)
    return velocity, trained.checkpoint


def _flow_quality(model: nn.Module, recipe: Recipe, shipped: Path) -> dict[str, float]:
    """``_generative_quality`` of the flow teacher's samples at ``FLOW_STEPS`` Euler steps, decoded by its VAE."""
    vae = _flow_vae(recipe, next(model.parameters()).device)
    return _generative_quality(LatentGenerator(model, vae, flow_space(vae, recipe.dataset)[1], FLOW_STEPS),
                               recipe, shipped)


@dataclass(frozen=True)
class Kind:
    """What a kind of recipe trains, the empty model its weights load into, the precision it is shipped in and
    how its quality is measured (on the model as shipped)."""

    train: Callable[[Recipe, Path, torch.device], tuple[nn.Module, Path]]
    empty: Callable[[Recipe], nn.Module]
    precision: torch.dtype
    quality: Callable[[nn.Module, Recipe, Path], dict[str, float]]


KINDS = {"ruler": Kind(_train_ruler, lambda recipe: FeatureNet(10), torch.float32, _ruler_quality),
         "classifier": Kind(_train_classifier, lambda recipe: MLP(**TEACHER_MLP), torch.float16,
                            _classifier_quality),
         "gan": Kind(_generative, lambda recipe: Generator(GAN_LATENT, recipe.settings.get("width", 1.0)), torch.float32,
                     _generative_quality),
         "vae": Kind(_generative, lambda recipe: VAE(VAE_LATENT, 1.0), torch.float32, _generative_quality),
         "flow": Kind(_train_flow, lambda recipe: Velocity(VAE_LATENT), torch.float32, _flow_quality)}


def _recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise ValueError(f"no shipped model {name!r}; known: {sorted(RECIPES)}")
    return RECIPES[name]


def verify(name: str, folder: Path = PRETRAINED) -> tuple[Path, Manifest]:
    """The shipped file of ``name`` and its manifest, refused unless both fit today's recipe and each other."""
    recipe = _recipe(name)
    manifest = Manifest.read(folder / f"{name}.json")
    fix = f"run `{command(name)} --replace` to make it again"
    if manifest.recipe() != recipe.identity():
        raise RecordError(f"{folder / manifest.checkpoint.file} was made by the recipe {manifest.recipe()}, but "
                          f"kdlib.course.config.RECIPES now says {recipe.identity()}: {fix}")
    path = folder / manifest.checkpoint.file
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing (its manifest {name}.json is there): {fix}")
    found = file_sha256(path)
    if found != manifest.checkpoint.sha256:
        raise RecordError(f"{path} has SHA-256 {found[:12]}..., its manifest says {manifest.checkpoint.sha256[:12]}"
                          f"...: the "
                          f"file is damaged or was replaced; restore it from git (git checkout -- {_from_root(path)}) "
                          f"or {fix}")
    return path, manifest


def load_shipped(name: str, folder: Path = PRETRAINED, device: torch.device | str = "cpu"
                 ) -> tuple[nn.Module, Manifest]:
    """The shipped model ``name`` (float32, evaluation mode) and its manifest, verified (``verify``)."""
    path, manifest = verify(name, folder)
    state = load_checkpoint(path, f"Restore it from git or run `{command(name)} --replace`.")
    if state.get("recipe") != manifest.recipe():
        raise RecordError(f"{path} holds the model of recipe {state.get('recipe')}, not {manifest.recipe()} that "
                          f"its manifest names: a foreign file; run `{command(name)} --replace`")
    model = KINDS[manifest.kind].empty(_recipe(name))
    apply_weights(model, {"model": {k: v.float() for k, v in state["model"].items()}}, path)
    return model.to(device).eval(), manifest


def shipped_ruler(dataset: str, folder: Path = PRETRAINED, device: torch.device | str = "cpu", seed: int = 0,
                  samples: int = 10_000) -> tuple[Ruler, Manifest]:
    """The data set's shipped feature network as a ruler (references and floors computed here)."""
    net, manifest = load_shipped(f"ruler-{dataset}", folder, device)
    return ruler_of(net, dataset, folder / manifest.checkpoint.file, seed=seed, samples=samples), manifest


def ruler_for(cfg: Config) -> Ruler:
    """The ruler a notebook measures with: the data set's shipped one (``ruler_source='shipped'``), else a
    feature network trained in the run folder for ``feature_epochs`` epochs on ``train_size`` images."""
    if cfg.ruler_source == "shipped":
        if f"ruler-{cfg.dataset}" not in RECIPES:
            raise ValueError(f"no shipped ruler for the data set {cfg.dataset!r} (there are "
                             f"{sorted(RECIPES)}): set ruler_source='run' to train one in the run folder")
        return shipped_ruler(cfg.dataset, device=cfg.device, seed=cfg.seed, samples=cfg.eval_samples)[0]
    return ruler(cfg.dataset, cfg.run.checkpoints, cfg.feature_epochs, cfg.device, cfg.seed, cfg.eval_samples,
                 cfg.train_size)


def classifier_teacher(cfg: Config, images: torch.Tensor, labels: torch.Tensor) -> tuple[nn.Module, Provenance]:
    """Notebook 01's teacher for ``cfg.dataset``: the shipped one (``teachers='shipped'``), else trained in the run
    folder on ``images``/``labels`` from the same recipe (``teacher_epochs``/``teacher_jitter`` override it)."""
    name = f"classifier-{cfg.dataset}"
    if cfg.teachers == "shipped":
        return load_shipped(name, device=cfg.device)
    settings = _recipe(name).settings | {"seed": cfg.seed} | {
        key: value for key, value in (("epochs", cfg.teacher_epochs), ("jitter", cfg.teacher_jitter))
        if value is not None}
    model, trained = _classifier(settings, cfg.dataset, images, labels, cfg.run.checkpoints, cfg.device, cfg.retrain)
    return model, Provenance("trained in this run", Artifact.of(trained.checkpoint), trained.history["seconds"],
                             trained.settings)


def shipped_teacher(family: str, dataset: str, device: torch.device | str = "cpu"
                    ) -> tuple[nn.Module, Provenance] | None:
    """The shipped teacher of ``family`` ("gan": its generator; "vae": the whole VAE) for ``dataset``, verified,
    and its provenance; None when the course ships none for that data set."""
    name = f"{family}-{dataset}"
    if name not in RECIPES:
        return None
    return load_shipped(name, device=device)


def generative_teacher(cfg: Config, family: str) -> tuple[nn.Module, Provenance]:
    """Notebooks 04 and 06's teacher of ``family``: the shipped one for ``cfg.dataset`` (``teachers='shipped'``),
    else the one notebook 02 or 03 trained in the run folder (``run_teacher``)."""
    if cfg.teachers == "run":
        return run_teacher(cfg.run, family, cfg.dataset, cfg.device)
    shipped = shipped_teacher(family, cfg.dataset, cfg.device)
    if shipped is None:
        raise ValueError(f"no shipped {family.upper()} teacher for the data set {cfg.dataset!r} (there are "
                         f"{sorted(RECIPES)}): set teachers='run' to use the one notebook "
                         f"{TEACHER_WRITERS[family]} trains in the run folder")
    return shipped


def flow_teacher(cfg: Config, vae: VAE, vae_source: Provenance, codes: torch.Tensor) -> tuple[Velocity, Provenance]:
    """Notebook 05's teacher: the shipped flow for ``cfg.dataset`` (``teachers='shipped'``), refused unless ``vae``
    is the shipped VAE it was fitted to; else one trained in the run folder from the same recipe on ``codes`` (the
    standardised codes of ``vae``, the run's VAE), ``flow_steps`` overriding the recipe's steps."""
    name = f"flow-{cfg.dataset}"
    if name not in RECIPES:
        raise ValueError(f"no shipped flow teacher for the data set {cfg.dataset!r} (there are {sorted(RECIPES)}): "
                         f"set teachers='run' to train one in the run folder")
    recipe = RECIPES[name]
    if cfg.teachers == "shipped":
        if vae_source.checkpoint.sha256 != recipe.settings["vae_sha256"]:
            raise RecordError(f"pretrained/{name}.pt was fitted to the VAE of SHA-256 "
                              f"{recipe.settings['vae_sha256'][:12]}..., not to {vae_source.checkpoint.file} "
                              f"({vae_source.checkpoint.sha256[:12]}...): use teachers='shipped' for both")
        return load_shipped(name, device=cfg.device)
    settings = recipe.settings | {"seed": cfg.seed, "vae_sha256": vae_source.checkpoint.sha256} | (
        {} if cfg.flow_steps is None else {"steps": cfg.flow_steps})
    velocity, trained = _fit_flow(settings, codes, cfg.run.checkpoints, cfg.retrain)
    return velocity, Provenance("trained in this run", Artifact.of(trained.checkpoint), trained.history["seconds"],
                                trained.settings)


# The settings that tell a run's teacher recipe from the shipped one, per family: each recipe setting's Config
# setting (a VAE recipe may also weigh the KL term differently).
RUN_RECIPE_SETTINGS = {"gan": {"epochs": "gan_epochs"}, "vae": {"epochs": "vae_epochs", "kl_weight": "vae_kl_weight"}}


def recipe_words(settings: dict[str, Any]) -> str:
    """A teacher recipe's ``settings`` (of ``RUN_RECIPE_SETTINGS``) in a few words, e.g. "4 epochs, β = 0.06"."""
    epochs = settings["epochs"]
    words = [f"{epochs} epoch{'' if epochs == 1 else 's'}"]
    if "kl_weight" in settings:
        words.append(f"β = {settings['kl_weight']:g}")
    return ", ".join(words)


def beside_shipped(cfg: Config, family: str, generator: nn.Module, quality: Measurement, measure: Ruler,
                   figure_name: str) -> str:
    """Notebooks 02 and 03's run teacher of ``family`` (``generator``, z -> image, measured as ``quality`` on
    ``measure``) beside the shipped one, measured the same way: a Markdown table of both, and 16 samples of each
    (each from its own sampler, ``generator_of``, with the run's seed) in the figure ``figure_name``; a sentence
    saying so when the course ships no such teacher for the data set."""
    shipped = shipped_teacher(family, cfg.dataset, cfg.device)
    label = family.upper()
    if shipped is None:
        return (f"The course ships no {label} teacher for {cfg.dataset} (only for the data sets of "
                f"`kdlib.course.config.RECIPES`).")
    model, source = shipped
    shipped_generator = generator_of(model, cfg.dataset)
    latent = shipped_generator.latent_dim
    shipped_quality = evaluate_generator(sampler(shipped_generator, latent, cfg.device, seed=cfg.seed),
                                         shipped_generator, torch.zeros(1, latent, device=cfg.device), measure.net,
                                         measure.real, samples=cfg.eval_samples)
    run_settings = {name: getattr(cfg, setting) for name, setting in RUN_RECIPE_SETTINGS[family].items()}
    which = [f"this run: {recipe_words(run_settings)}",
             f"shipped: {recipe_words({name: source.settings[name] for name in run_settings})}"]
    with torch.no_grad():
        images = torch.cat([sampler(g, latent, cfg.device, cfg.seed)(16) for g in (generator, shipped_generator)])
    cfg.run.save_figure(image_grid(images, ncols=16, row_labels=which, cell_inches=0.6), figure_name)
    return markdown_table([summary_row(f"{label} teacher, {name}", measured)
                           for name, measured in zip(which, (quality, shipped_quality))])


def make_shipped(name: str, work: Path, folder: Path = PRETRAINED, device: str | None = None,
                 replace: bool = False, candidate: Recipe | None = None) -> Manifest:
    """Train recipe ``name`` in ``work`` (resumable) and ship it into ``folder`` with its manifest.

    A shipped file that verifies against today's recipe is kept and said so; any other existing file is
    replaced only with ``replace=True``. ``candidate``: another recipe of that name to try instead
    (docs/results/experiments.md, "Shipped teacher targets"); its file loads only once ``RECIPES`` says the same.
    """
    recipe = candidate or _recipe(name)
    if recipe.name != name:
        raise ValueError(f"the candidate recipe is named {recipe.name!r}, not {name!r}")
    target, manifest_path = folder / f"{name}.pt", folder / f"{name}.json"
    if not replace and (target.exists() or manifest_path.exists()):
        try:
            _, manifest = load_shipped(name, folder)  # loaded, not only its SHA-256 compared with the manifest's
        except (OSError, RecordError) as err:
            raise RecordError(f"{target} exists but does not verify ({err}); pass --replace to train it "
                              f"again and replace it") from None
        print(f"{target}: up to date with its recipe; not trained again (--replace to retrain)")
        return manifest
    chosen = resolve_device(device)
    kind = KINDS[recipe.kind]
    torch.manual_seed(recipe.settings.get("seed", 0))
    model, checkpoint = kind.train(recipe, work, chosen)
    weights = {k: (v.to(kind.precision) if v.is_floating_point() else v).cpu() for k, v in model.state_dict().items()}
    folder.mkdir(parents=True, exist_ok=True)
    save_checkpoint(target, {"model": weights, "recipe": recipe.identity()})
    apply_weights(model, {"model": {k: v.float() for k, v in weights.items()}}, target)  # measure it as shipped
    quality = kind.quality(model.eval(), recipe, target)
    manifest = Manifest(f"shipped: pretrained/{target.name}", Artifact.of(target),
                        float(load_checkpoint(checkpoint)["history"]["seconds"]), recipe.settings, name, recipe.kind,
                        recipe.dataset, target.stat().st_size, str(kind.precision).removeprefix("torch."),
                        command(name), git_commit(), machine(str(chosen)), torch.get_num_threads(), quality)
    manifest.save(folder)
    return manifest


def shipped_table(folder: Path = PRETRAINED) -> str:
    """A Markdown table of the manifests in ``folder``: what each file is, its quality and how it was made."""
    manifests = [Manifest.read(path) for path in sorted(folder.glob("*.json"))]
    found = {key for m in manifests for key in m.quality}  # every kind's, in one place
    measured = [key for key in QUALITY_LABELS if key in found] + sorted(found - set(QUALITY_LABELS))
    rows = [{"file": f"`{m.checkpoint.file}`", "data set": m.dataset,
             "recipe": ", ".join(f"{k} {v}" for k, v in m.settings.items()),
             **{QUALITY_LABELS.get(k, k): m.quality.get(k, "") for k in measured},
             "MiB": m.bytes / 2**20, "stored as": m.precision, "training (s)": m.training_seconds,
             "machine": f"{m.machine.cpu}, {m.threads} threads, {m.machine.device}",
             "commit": m.commit[:10] + ("+dirty" if m.commit.endswith("+dirty") else "")} for m in manifests]
    if not rows:
        raise FileNotFoundError(f"{folder} holds no manifest: run `python -m kdlib teachers`")
    return markdown_table(rows)


QUALITY_LABELS = {  # the manifests' quality keys, in the order of the shipped models page's columns
    "test_accuracy": "test accuracy", "test_errors": "test errors",
    "frechet_distance": "Fréchet distance", "precision": "precision (samples)", "recall": "recall (samples)",
    "recognisable": "recognisable (p >= 0.9)", "recognisable_vs_real": "recognisable / real's",
    "smallest_class_share": "smallest class", "largest_class_share": "largest class",
    "real_test_recognisable": "recognisable (real test, p >= 0.9)",
    "real_train_frechet_distance": "FD real train vs test (floor)",
    "real_train_precision": "precision (real train)", "real_train_recall": "recall (real train)"}
