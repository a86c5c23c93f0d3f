"""The models shipped under pretrained/: manifests that match their files, verified loading, refusals by name.

The slow test retrains a shipped model with the command in its manifest and compares; it is not run by
default (13 minutes on this 2-core CPU): ``KDLIB_SLOW=1 .venv/bin/python -m pytest tests/test_shipped.py``.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys

import pytest
import torch

from kdlib import PIXELS, load, misclassified, scale
from kdlib.data import DataNotFoundError
from kdlib.course import config, shipped
from kdlib.course.config import Recipe
from kdlib.course.records import Artifact, RecordError
from kdlib.store import file_sha256, load_checkpoint

TINY = Recipe("ruler-tiny", "ruler", "fashion-mnist", {"epochs": 1, "train_size": 300, "batch_size": 100, "seed": 0},
              eval_samples=500)


def available(dataset: str) -> bool:
    try:
        load(dataset, "test")
    except (DataNotFoundError, RuntimeError, OSError):
        return False
    return True


def test_every_recipe_is_shipped_and_every_file_matches_its_manifest():
    names = {path.stem for path in shipped.PRETRAINED.glob("*.json")}
    assert names == set(config.RECIPES), "pretrained/ and RECIPES disagree: run python -m kdlib teachers"
    assert {p.name for p in shipped.PRETRAINED.iterdir()} == {f"{n}.{e}" for n in names for e in ("pt", "json")}
    total = 0
    for name in sorted(names):
        path, manifest = shipped.verify(name)  # recipe, file and SHA-256
        assert manifest.bytes == path.stat().st_size
        assert manifest.command == f"python -m kdlib teachers --only {name}"
        assert len(manifest.commit.split("+")[0]) == 40 and not manifest.commit.endswith("+dirty")
        state = load_checkpoint(path)  # weights_only=True
        assert all(v.dtype == getattr(torch, manifest.precision) for v in state["model"].values()
                   if v.is_floating_point())
        total += manifest.bytes
    assert total <= 20 * 2**20


@pytest.mark.parametrize("name", sorted(n for n, r in config.RECIPES.items() if r.kind == "ruler"))
def test_a_shipped_ruler_measures_what_its_manifest_says(name):
    recipe = config.RECIPES[name]
    if not available(recipe.dataset):
        pytest.skip(f"{recipe.dataset} is not available here")
    measure, manifest = shipped.shipped_ruler(recipe.dataset)
    assert measure.accuracy == pytest.approx(manifest.quality["test_accuracy"], abs=1e-6)
    assert measure.real.recognisable == pytest.approx(manifest.quality["real_test_recognisable"], abs=1e-4)
    # Another thread count sums in another order: the floor (0.5 on Fashion-MNIST) moves in the 6th digit.
    assert measure.floors["real train"].frechet_distance == pytest.approx(
        manifest.quality["real_train_frechet_distance"], rel=1e-4)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """The tiny recipe trained and shipped once (work/ and pretrained/); each test gets a copy."""
    base = tmp_path_factory.mktemp("made")
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(config.RECIPES, TINY.name, TINY)
        shipped.make_shipped(TINY.name, base / "work", base / "pretrained", "cpu")
    return base


@pytest.fixture
def tiny(made, tmp_path, monkeypatch):
    monkeypatch.setitem(config.RECIPES, TINY.name, TINY)
    shutil.copytree(made, tmp_path, dirs_exist_ok=True)
    folder = tmp_path / "pretrained"
    return folder, shipped.Manifest.read(folder / f"{TINY.name}.json")


def test_a_shipped_model_loads_as_trained_and_is_not_made_twice(tiny, tmp_path, capsys):
    folder, manifest = tiny
    model, loaded = shipped.load_shipped(TINY.name, folder)
    assert loaded == manifest and manifest.checkpoint.sha256 == file_sha256(folder / manifest.checkpoint.file)
    trained = load_checkpoint(next((tmp_path / "work").glob("feature_net_*.pt")))["modules"]["model"]
    assert all(torch.equal(trained[k], v) for k, v in model.state_dict().items())
    assert 0.0 < manifest.quality["test_accuracy"] <= 1.0 and manifest.training_seconds > 0
    before = (folder / manifest.checkpoint.file).stat().st_mtime_ns
    assert shipped.make_shipped(TINY.name, tmp_path / "work", folder, "cpu") == manifest
    assert "up to date with its recipe; not trained again" in capsys.readouterr().out
    assert (folder / manifest.checkpoint.file).stat().st_mtime_ns == before


def test_a_damaged_file_is_refused_by_name_and_not_overwritten(tiny, tmp_path):
    folder, manifest = tiny
    path = folder / manifest.checkpoint.file
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(RecordError, match=r"ruler-tiny.pt has SHA-256 .* its manifest says .*damaged or was "
                                          r"replaced.*--replace"):
        shipped.load_shipped(TINY.name, folder)
    with pytest.raises(RecordError, match=r"exists but does not verify.*pass --replace"):
        shipped.make_shipped(TINY.name, tmp_path / "work", folder, "cpu")
    assert path.read_bytes() == bytes(data)
    repaired = shipped.make_shipped(TINY.name, tmp_path / "work", folder, "cpu", replace=True)
    assert repaired.checkpoint.sha256 == manifest.checkpoint.sha256  # the same weights, from the finished training checkpoint


def test_a_foreign_file_and_a_changed_recipe_are_refused(tiny, monkeypatch):
    folder, manifest = tiny
    state = load_checkpoint(folder / manifest.checkpoint.file)
    state["recipe"] = {**state["recipe"], "dataset": "mnist"}
    torch.save(state, folder / manifest.checkpoint.file)
    foreign = Artifact(manifest.checkpoint.file, file_sha256(folder / manifest.checkpoint.file))
    dataclasses.replace(manifest, checkpoint=foreign).save(folder)  # a manifest made to fit the foreign file
    with pytest.raises(RecordError, match=r"holds the model of recipe .*'mnist'.*a foreign file"):
        shipped.load_shipped(TINY.name, folder)
    monkeypatch.setitem(config.RECIPES, TINY.name, Recipe(TINY.name, "ruler", "fashion-mnist",
                                                           {**TINY.settings, "epochs": 2}))
    with pytest.raises(RecordError, match=r"made by the recipe .*'epochs': 1.*RECIPES now says.*'epochs': 2"):
        shipped.verify(TINY.name, folder)


def test_missing_or_unknown_files_name_the_command(tmp_path, monkeypatch):
    monkeypatch.setitem(config.RECIPES, TINY.name, TINY)
    with pytest.raises(FileNotFoundError, match=r"ruler-tiny.json is missing: run `python -m kdlib teachers "
                                                r"--only ruler-tiny`"):
        shipped.load_shipped(TINY.name, tmp_path)
    (tmp_path / "ruler-tiny.json").write_text('{"schema": 2, "type": "Manifest", "manifest": {"name": 1}}')
    with pytest.raises(RecordError, match=r"ruler-tiny.json: fields missing"):
        shipped.verify(TINY.name, tmp_path)
    (tmp_path / "ruler-tiny.json").write_text('{"schema": 1, "type": "Manifest", "manifest": {"name": 1}}')
    with pytest.raises(RecordError, match=r"ruler-tiny.json is not a schema-2 kdlib manifest \(it says schema 1\); "
                                          r"run `python -m kdlib teachers --only ruler-tiny`"):
        shipped.verify(TINY.name, tmp_path)
    with pytest.raises(ValueError, match=r"no shipped model 'nope'; known: .*ruler-mnist"):
        shipped.load_shipped("nope", tmp_path)


@pytest.mark.skipif(os.environ.get("KDLIB_SLOW") != "1", reason="slow (13 min on 2 cores): set KDLIB_SLOW=1")
def test_the_command_in_a_manifest_makes_the_shipped_file_again(tmp_path):
    name = "ruler-mnist"
    _, manifest = shipped.verify(name)
    threads = {"OMP_NUM_THREADS": str(manifest.threads)}  # the thread count it was trained with
    subprocess.run([sys.executable, "-m", "kdlib", "teachers", "--only", name, "--out", str(tmp_path / "out"),
                    "--work", str(tmp_path / "work"), "--device", "cpu"], check=True, env=os.environ | threads)
    again = shipped.Manifest.read(tmp_path / "out" / f"{name}.json")
    same_machine = (again.machine, again.threads) == (manifest.machine, manifest.threads)
    if same_machine:  # seeded training repeats bit for bit on the same machine and thread count
        assert again.checkpoint.sha256 == manifest.checkpoint.sha256
    assert again.quality["test_accuracy"] == pytest.approx(manifest.quality["test_accuracy"], abs=0.002)
    shutil.rmtree(tmp_path / "work")


def test_the_readme_table_of_shipped_models_comes_from_the_manifests(tiny, tmp_path):
    from kdlib.course.report import update_readme
    folder, manifest = tiny
    readme = tmp_path / "README.md"
    readme.write_text("before\n<!-- kdlib shipped pretrained -->\nstale\n<!-- end of kdlib shipped -->\nafter\n")
    assert update_readme(readme) == ["shipped pretrained"]
    text = readme.read_text()
    assert "stale" not in text and text.startswith("before\n") and text.endswith("after\n")
    row = next(line for line in text.splitlines() if "ruler-tiny.pt" in line)
    assert f"{manifest.quality['test_accuracy']:.4g}" in row and manifest.commit[:10] in row


def test_notebooks_measure_with_the_shipped_ruler_unless_asked_for_their_own(tmp_path, monkeypatch):
    if not available("fashion-mnist"):
        pytest.skip("fashion-mnist is not available here")
    from kdlib.course import configure
    namespace = {"profile": "smoke", "run_dir": str(tmp_path), "dataset": "fashion-mnist", "seed": None,
                 "ruler_source": None, "feature_epochs": None, "train_size": None, "eval_samples": 500}
    cfg = configure(namespace)
    assert cfg.ruler_source == "shipped"
    measure = shipped.ruler_for(cfg)
    assert measure.checkpoint == shipped.PRETRAINED / "ruler-fashion-mnist.pt"
    assert not (tmp_path / "checkpoints").exists() or not any((tmp_path / "checkpoints").iterdir())
    monkeypatch.delitem(config.RECIPES, "ruler-fashion-mnist")
    with pytest.raises(ValueError, match=r"no shipped ruler for the data set 'fashion-mnist'.*ruler_source='run'"):
        shipped.ruler_for(cfg)


@pytest.mark.parametrize("name", sorted(n for n, r in config.RECIPES.items() if r.kind == "classifier"))
def test_a_shipped_classifier_makes_the_errors_its_manifest_says(name):
    recipe = config.RECIPES[name]
    if not available(recipe.dataset):
        pytest.skip(f"{recipe.dataset} is not available here")
    model, manifest = shipped.load_shipped(name)
    test = load(recipe.dataset, "test")
    errors = misclassified(model, scale(test.images, PIXELS), test.labels)
    assert errors == manifest.quality["test_errors"] and manifest.precision == "float16"
    assert manifest.quality["test_accuracy"] == pytest.approx(1 - errors / len(test))


def test_notebook_01_takes_the_shipped_teacher_or_trains_one_from_its_recipe(tmp_path):
    if not available("fashion-mnist"):
        pytest.skip("fashion-mnist is not available here")
    from kdlib.course import configure
    train = load("fashion-mnist", "train")
    images, labels = train.images[:300], train.labels[:300]
    namespace = {"profile": "smoke", "run_dir": str(tmp_path), "dataset": "fashion-mnist", "seed": None,
                 "teachers": None, "teacher_epochs": None, "teacher_jitter": None, "retrain": None}
    cfg = configure(dict(namespace))
    assert cfg.teachers == "shipped"
    model, made = shipped.classifier_teacher(cfg, images, labels)
    _, manifest = shipped.verify("classifier-fashion-mnist")
    assert made.source == "shipped: pretrained/classifier-fashion-mnist.pt" and made.settings == manifest.settings
    assert made.checkpoint.sha256 == manifest.checkpoint.sha256 and not (tmp_path / "checkpoints").exists()
    cfg = configure(namespace | {"teachers": "run", "teacher_epochs": 1})
    model, made = shipped.classifier_teacher(cfg, images, labels)
    recipe = config.RECIPES["classifier-fashion-mnist"].settings
    assert made.source == "trained in this run" and made.settings["epochs"] == 1
    assert {k: made.settings[k] for k in ("jitter", "batch_size", "learning_rate")} == {
        k: recipe[k] for k in ("jitter", "batch_size", "learning_rate")}  # the rest of the recipe
    assert (tmp_path / "checkpoints" / made.checkpoint.file).is_file() and made.settings["train_size"] == 300


@pytest.mark.parametrize("kind", ["gan", "vae"])
def test_a_tiny_generative_recipe_ships_the_weights_it_trained_and_measures_them(kind, tmp_path, monkeypatch):
    if not available("fashion-mnist"):
        pytest.skip("fashion-mnist is not available here")
    beta = {"kl_weight": 0.5} if kind == "vae" else {}  # a recipe's beta reaches kdlib.train_vae
    recipe = Recipe(f"{kind}-tiny", kind, "fashion-mnist", {"epochs": 1, "batch_size": 64, "learning_rate": 1e-3,
                                                            "seed": 0, "train_size": 256, **beta}, eval_samples=500)
    monkeypatch.setitem(config.RECIPES, recipe.name, recipe)
    manifest = shipped.make_shipped(recipe.name, tmp_path / "work", tmp_path / "pretrained", "cpu")
    model, _ = shipped.load_shipped(recipe.name, tmp_path / "pretrained")
    module = "generator" if kind == "gan" else "vae"
    state = load_checkpoint(next((tmp_path / "work").glob(f"{kind}_teacher_*.pt")))
    trained = state["modules"][module]
    assert state["settings"].get("kl_weight") == beta.get("kl_weight")
    assert all(torch.equal(trained[k], v) for k, v in model.state_dict().items())
    assert set(manifest.quality) == {"frechet_distance", "precision", "recall", "recognisable", "recognisable_vs_real",
                                     "smallest_class_share", "largest_class_share"}
    measure, _ = shipped.shipped_ruler("fashion-mnist", samples=500)
    assert manifest.quality["recognisable_vs_real"] == pytest.approx(
        manifest.quality["recognisable"] / measure.real.recognisable)
    assert manifest.quality["smallest_class_share"] <= 0.1 <= manifest.quality["largest_class_share"]


def test_a_candidate_gan_recipe_of_another_width_trains_both_players_wider_and_loads_only_once_it_is_the_recipe(
        tmp_path, monkeypatch):
    if not available("fashion-mnist"):
        pytest.skip("fashion-mnist is not available here")
    today = Recipe("gan-tiny", "gan", "fashion-mnist", {"epochs": 1, "batch_size": 64, "learning_rate": 1e-3,
                                                        "seed": 0, "train_size": 128}, eval_samples=300)
    monkeypatch.setitem(config.RECIPES, today.name, today)
    wider = Recipe(today.name, "gan", "fashion-mnist", today.settings | {"width": 2.0}, eval_samples=300)
    with pytest.raises(ValueError, match="named 'gan-tiny', not 'gan-other'"):
        shipped.make_shipped("gan-other", tmp_path / "work", tmp_path / "candidate", "cpu", candidate=wider)
    manifest = shipped.make_shipped(today.name, tmp_path / "work", tmp_path / "candidate", "cpu", candidate=wider)
    assert manifest.settings["width"] == 2.0
    state = load_checkpoint(next((tmp_path / "work").glob("gan_teacher_*.pt")))
    assert state["settings"]["width"] == 2.0
    assert state["modules"]["generator"]["net.1.weight"].shape == (64, 256, 7, 7)  # 2 x 128 channels at 7 x 7
    assert state["modules"]["discriminator"]["features.0.weight"].shape[0] == 2 * 32  # the discriminator is wider too
    with pytest.raises(RecordError, match="gan-tiny"):  # today's recipe says width 1: the candidate is refused
        shipped.load_shipped(today.name, tmp_path / "candidate")
    monkeypatch.setitem(config.RECIPES, today.name, wider)  # once the recipe says so, it loads as a shipped file
    model, loaded = shipped.load_shipped(today.name, tmp_path / "candidate")
    assert loaded == manifest and model.width == 2.0
    assert all(torch.equal(state["modules"]["generator"][k], v) for k, v in model.state_dict().items())


def test_a_manifest_made_outside_a_git_checkout_takes_its_commit_from_kdlib_commit(monkeypatch):
    def no_git(*args, **kwargs):
        raise OSError("git: not found")
    monkeypatch.setattr(shipped.subprocess, "run", no_git)
    monkeypatch.delenv("KDLIB_COMMIT", raising=False)
    assert shipped.git_commit() == "unknown (not a git checkout)"
    monkeypatch.setenv("KDLIB_COMMIT", "a" * 40)
    assert shipped.git_commit() == "a" * 40


def test_a_tiny_flow_recipe_ships_its_velocity_network_and_names_its_vae(tmp_path, monkeypatch):
    if not available("fashion-mnist"):
        pytest.skip("fashion-mnist is not available here")
    vae_sha = shipped.Manifest.read(shipped.PRETRAINED / "vae-fashion-mnist.json").checkpoint.sha256
    recipe = Recipe("flow-tiny", "flow", "fashion-mnist", {"steps": 8, "batch_size": 64, "learning_rate": 1e-3,
                                                           "seed": 0, "vae_sha256": vae_sha}, eval_samples=500)
    monkeypatch.setitem(config.RECIPES, recipe.name, recipe)
    manifest = shipped.make_shipped(recipe.name, tmp_path / "work", tmp_path / "pretrained", "cpu")
    model, _ = shipped.load_shipped(recipe.name, tmp_path / "pretrained")
    state = load_checkpoint(next((tmp_path / "work").glob("latent_flow_matching_*.pt")))
    assert state["settings"]["vae_sha256"] == vae_sha and state["settings"]["steps"] == 8
    assert all(torch.equal(state["modules"]["velocity"][k], v) for k, v in model.state_dict().items())
    assert manifest.quality["frechet_distance"] > 0
    other = Recipe("flow-other", "flow", "fashion-mnist", recipe.settings | {"vae_sha256": "0" * 64})
    monkeypatch.setitem(config.RECIPES, other.name, other)
    with pytest.raises(RecordError, match=r"fitted to the VAE with SHA-256 000000000000.*set vae_sha256"):
        shipped.make_shipped(other.name, tmp_path / "work", tmp_path / "other", "cpu")


@pytest.mark.parametrize("name", sorted(n for n, r in config.RECIPES.items() if r.kind in ("gan", "vae", "flow")))
def test_a_shipped_generative_teacher_measures_what_its_manifest_says(name):
    recipe = config.RECIPES[name]
    if not available(recipe.dataset):
        pytest.skip(f"{recipe.dataset} is not available here")
    model, manifest = shipped.load_shipped(name)
    quality = shipped.KINDS[recipe.kind].quality(model, recipe, shipped.PRETRAINED / manifest.checkpoint.file)
    # Measured again here, perhaps with another thread count: the sums' order moves the last digits.
    assert quality == pytest.approx(manifest.quality, rel=1e-3)


def test_notebooks_04_and_06_take_the_shipped_teachers_or_the_runs(tmp_path):
    from kdlib import VAE, Generator
    from kdlib.course import configure
    namespace = {"profile": "smoke", "run_dir": str(tmp_path), "dataset": "fashion-mnist", "teachers": None}
    cfg = configure(dict(namespace))
    assert cfg.teachers == "shipped"
    for family, kind in (("gan", Generator), ("vae", VAE)):
        model, made = shipped.generative_teacher(cfg, family)
        _, manifest = shipped.verify(f"{family}-fashion-mnist")
        assert isinstance(model, kind) and made.source == f"shipped: pretrained/{family}-fashion-mnist.pt"
        assert made.checkpoint.sha256 == manifest.checkpoint.sha256 and made.settings == manifest.settings
    with pytest.raises(ValueError, match=r"no shipped GAN teacher for the data set 'mnist'.*teachers='run'.*02_gan"):
        shipped.generative_teacher(configure(namespace | {"dataset": "mnist"}), "gan")
    with pytest.raises(FileNotFoundError, match=r"teacher-vae.json is missing: run notebooks/03_vae_teacher"):
        shipped.generative_teacher(configure(namespace | {"teachers": "run"}), "vae")


def test_notebook_05_takes_the_shipped_flow_teacher_of_the_shipped_vae_or_trains_one(tmp_path):
    from kdlib.course import Artifact, Provenance, configure
    from kdlib.diffusion import Velocity
    namespace = {"profile": "smoke", "run_dir": str(tmp_path), "dataset": "fashion-mnist", "teachers": None,
                 "seed": 0, "flow_steps": None, "retrain": None}
    cfg = configure(dict(namespace))
    vae, vae_source = shipped.generative_teacher(cfg, "vae")
    codes = torch.randn(256, 16)  # stands in for the VAE's codes: only a run-trained teacher uses them
    model, made = shipped.flow_teacher(cfg, vae, vae_source, codes)
    _, manifest = shipped.verify("flow-fashion-mnist")
    assert isinstance(model, Velocity) and made.checkpoint.sha256 == manifest.checkpoint.sha256
    other = Provenance("trained in this run", Artifact("vae_teacher_x.pt", "f" * 64), 1.0, {})
    with pytest.raises(RecordError, match=r"fitted to the VAE of SHA-256 433b34f111a5.*not to vae_teacher_x.pt"):
        shipped.flow_teacher(cfg, vae, other, codes)
    run_cfg = configure(namespace | {"teachers": "run", "flow_steps": 8})
    trained, made = shipped.flow_teacher(run_cfg, vae, other, codes)
    state = load_checkpoint(tmp_path / "checkpoints" / made.checkpoint.file)
    assert made.source == "trained in this run" and state["settings"]["steps"] == 8
    assert state["settings"]["vae_sha256"] == "f" * 64  # named by the run's VAE, not the shipped one
    with pytest.raises(ValueError, match=r"no shipped flow teacher for the data set 'mnist'.*teachers='run'"):
        shipped.flow_teacher(configure(namespace | {"dataset": "mnist"}), vae, vae_source, codes)


def test_a_teacher_recipe_is_described_by_its_epochs_and_its_kl_weight_where_it_has_one():
    assert shipped.recipe_words({"epochs": 1}) == "1 epoch"
    assert shipped.recipe_words({"epochs": 30}) == "30 epochs"
    assert shipped.recipe_words({"epochs": 50, "kl_weight": 0.06}) == "50 epochs, β = 0.06"
    recipe = {recipe.kind: recipe.settings for recipe in config.RECIPES.values()}
    for family, settings in shipped.RUN_RECIPE_SETTINGS.items():  # every described setting is a shipped recipe's and
        assert set(settings) <= set(recipe[family])                # a profile's setting
        assert all(name in config.SETTINGS for name in settings.values())


def test_notebooks_02_and_03_show_the_shipped_teacher_beside_the_runs(tmp_path):
    if not available("fashion-mnist"):
        pytest.skip("fashion-mnist is not available here")
    from kdlib import VAE, evaluate_generator, sampler
    from kdlib.course import configure, generator_of
    cfg = configure({"profile": "smoke", "run_dir": str(tmp_path), "dataset": "fashion-mnist", "seed": 3,
                     "eval_samples": 500, "vae_epochs": None})
    measure, _ = shipped.shipped_ruler("fashion-mnist", samples=500)
    run_generator = generator_of(VAE(16, 1.0), "fashion-mnist")  # an untrained VAE stands in for the run's
    quality = evaluate_generator(sampler(run_generator, 16, seed=3), run_generator, torch.zeros(1, 16), measure.net,
                                 measure.real, samples=500)
    text = shipped.beside_shipped(cfg, "vae", run_generator, quality, measure, "03_run_and_shipped")
    model, manifest = shipped.load_shipped("vae-fashion-mnist")
    shipped_generator = generator_of(model, "fashion-mnist")
    again = evaluate_generator(sampler(shipped_generator, 16, seed=3), shipped_generator, torch.zeros(1, 16),
                               measure.net, measure.real, samples=500)
    assert cfg.vae_epochs == 1 and cfg.vae_kl_weight == 1.0  # smoke: one epoch, on the ELBO
    assert "| VAE teacher, this run: 1 epoch, β = 1 |" in text  # both recipes' beta
    assert f"| VAE teacher, shipped: 50 epochs, β = {manifest.settings['kl_weight']:g} |" in text
    shipped_row = next(line for line in text.splitlines() if "shipped: 50 epochs" in line)
    assert shipped_row.split(" | ")[1] == f"{again.frechet_distance:.4g}"  # measured as this run's teacher is
    assert (tmp_path / "figures" / "03_run_and_shipped.png").is_file()
    mnist = configure({"profile": "smoke", "run_dir": str(tmp_path), "dataset": "mnist"})
    assert shipped.beside_shipped(mnist, "gan", run_generator, quality, measure, "x") == (
        "The course ships no GAN teacher for mnist (only for the data sets of `kdlib.course.config.RECIPES`).")
