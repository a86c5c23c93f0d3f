"""Profiles and parameters: defaults, overrides, and refusals before any work."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import pytest
import torch

from kdlib import OBJECTIVES, GANScratch, OutputAdversarial, VAEScratch
from kdlib.distill import OutputDistillation, PruneFinetune
from kdlib.course import configure
from kdlib.course.config import (DATASETS, DISTILLATION_SWEEPS, ON_DATASET, PROFILES, RECIPES, SETTINGS, check,
                                 profile_table, profile_values, resolve_device)
from kdlib.store import project_root


def test_none_takes_the_profile_value(tmp_path, monkeypatch):
    monkeypatch.delenv("KDLIB_PROFILE", raising=False)
    cfg = configure({"profile": "smoke", "dataset": None, "train_size": None, "run_dir": str(tmp_path)})
    assert cfg.profile == "smoke" and cfg.dataset == "fashion-mnist"
    assert cfg.train_size == PROFILES["smoke"]["train_size"] == 2_000
    assert configure({"profile": "quick", "train_size": None, "run_dir": str(tmp_path)}).train_size is None


def test_environment_sets_the_default_profile_and_overrides_win(tmp_path, monkeypatch):
    monkeypatch.setenv("KDLIB_PROFILE", "smoke")
    cfg = configure({"profile": None, "dataset": "mnist", "train_size": 500})
    assert cfg.profile == "smoke" and cfg.dataset == "mnist" and cfg.train_size == 500
    assert cfg.run.path == Path(__file__).resolve().parent.parent / "runs" / "smoke"
    assert cfg.device == torch.device("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize("namespace, message", [
    ({"profile": "fast"}, "unknown profile 'fast'"),
    ({"dataset": "cifar10"}, "not one of"),
    ({"train_size": 10}, "out of range"),
    ({"train_size": 1.5}, "must be of type int"),
    ({"seed": True}, "must be of type int"),
    ({"temprature": 3}, r"unknown parameter\(s\) \['temprature'\]"),
    ({"run_dir": 3}, "must be a path"),
    ({"run_dir": ""}, r"run_dir='' is empty"),
    ({"device": "gpu0"}, "is not a device"),
    ({"device": "meta"}, "runs on 'cpu' or 'cuda', not 'meta'"),
    ({"temperature": float("inf")}, "must be a finite number"),
    ({"temperature": float("nan")}, "must be a finite number"),
    ({"sweep_alphas": [0.5, float("nan")]}, "must be a finite number"),
    ({"student_widths": []}, r"student_widths=\[\] is empty"),
    ({"sweep_temperatures": [1.0, 4.0], "sweep_alphas": []}, "both lists or neither"),
    ({"train_size": 200, "batch_size": 256}, r"train_size=200 is smaller than \{'batch_size': 256\}"),
    ({"train_size": 58_000, "validation_size": 5_000}, r"overlap in the 60,000 training images: lower train_size to "
                                                       r"at most 55000"),
    ({"profile": "quick", "validation_size": 5_000, "student_train_size": 55_001},
     r"student_train_size=55001 is more than the 55,000 training images the teacher learns from .*lower "
     r"student_train_size to at most 55000"),
    ({"profile": "smoke", "student_train_size": 3_000}, r"more than the 2,000 training images .*train_size=2000"),
    ({"teachers": "downloaded"}, r"teachers='downloaded' is not one of \['shipped', 'run'\]"),
    ({"profile": "quick", "student_widths": [0.12, 0.25]},
     r"gan_output_learning_rate=\[0.001\] gives 1 rate\(s\) for the 2 width\(s\) of student_widths=\[0.12, 0.25\]: give one "
     r"rate per width"),
    ({"gan_output_adversarial_learning_rate": 1e-2}, "must be of type list"),
    ({"gan_output_adversarial_weight": -1.0}, r"out of range \[0.0, 100.0\]"),
    ({"adversarial_weight": 0.1}, r"unknown parameter\(s\) \['adversarial_weight'\]"),
    ({"profile": "quick", "vae_student_widths": [0.25, 0.5]},
     r"vae_distilled_learning_rate=\[0.02\] gives 1 rate\(s\) for the 2 width\(s\) of vae_student_widths=\[0.25, 0.5\]"),
])
def test_bad_parameters_raise_before_work(tmp_path, namespace, message):
    with pytest.raises(ValueError, match=message):
        configure({"run_dir": str(tmp_path), **namespace})


def test_validation_images_need_no_train_size(tmp_path):
    cfg = configure({"run_dir": str(tmp_path), "profile": "quick", "train_size": None, "validation_size": 5_000})
    assert cfg.train_size is None and cfg.validation_size == 5_000  # all the others train
    cfg = configure({"run_dir": str(tmp_path), "profile": "quick", "validation_size": 5_000,
                     "student_train_size": 55_000})  # the students may learn from every image the teacher does
    assert cfg.student_train_size == 55_000


def test_cuda_refused_when_absent():
    if torch.cuda.is_available():
        pytest.skip("CUDA is present here")
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda")


def test_rerun_in_same_kernel_ignores_later_variables(tmp_path):
    namespace = {"__name__": "__main__", "dataset": None, "run_dir": str(tmp_path), "torch": torch}
    configure(namespace)
    namespace["errors"] = 67  # a later cell's result
    assert configure(namespace).dataset == "fashion-mnist"


def test_seeding_repeats_random_draws(tmp_path):
    configure({"seed": 5, "run_dir": str(tmp_path)})
    first = torch.rand(3)
    configure({"seed": 5, "run_dir": str(tmp_path)})
    assert torch.equal(first, torch.rand(3))


def test_list_settings_are_checked_item_by_item(tmp_path):
    cfg = configure({"sweep_temperatures": [1, 4.5], "sweep_alphas": [0.5], "run_dir": str(tmp_path)})
    assert cfg.sweep_temperatures == [1.0, 4.5]
    with pytest.raises(ValueError, match="list of numbers"):
        configure({"sweep_temperatures": [1, "hot"], "run_dir": str(tmp_path)})
    with pytest.raises(ValueError, match="out of range"):
        configure({"sweep_alphas": [0.5, 1.5], "run_dir": str(tmp_path)})
    with pytest.raises(ValueError, match="must be of type list"):
        configure({"sweep_alphas": 0.5, "run_dir": str(tmp_path)})


def test_the_run_folder_is_shown_relative_to_the_project_and_repeats_the_run(tmp_path, monkeypatch):
    from kdlib.course import config as config_module
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    monkeypatch.setattr(config_module, "project_root", lambda: project)
    inside = configure({"profile": "smoke", "run_dir": str(project / "runs" / "some-run")})
    assert inside.as_dict()["run_dir"] == "runs/some-run"  # no absolute path of this machine in a notebook
    assert configure({"profile": "smoke", "run_dir": inside.as_dict()["run_dir"]}).run.path == inside.run.path
    assert configure({"profile": "smoke", "run_dir": str(elsewhere)}).as_dict()["run_dir"] == str(elsewhere)


def test_a_setting_not_given_takes_the_profile_value_and_only_given_ones_are_shown(tmp_path):
    cfg = configure({"profile": "smoke", "run_dir": str(tmp_path), "temperature": 4, "alpha": None})
    assert cfg.gan_learning_rate == profile_values("smoke")["gan_learning_rate"]  # never given
    assert cfg.alpha == profile_values("smoke")["alpha"] and cfg.temperature == 4.0
    assert cfg.given == ("temperature", "alpha")
    shown = cfg.parameters()
    assert list(shown) == ["profile", "device", "run_dir", "threads", "temperature", "alpha"]
    assert set(cfg.as_dict()) >= set(SETTINGS)  # the records keep every setting


def test_each_family_has_its_own_student_widths(tmp_path):
    cfg = configure({"profile": "quick", "run_dir": str(tmp_path), "vae_student_widths": [0.5]})
    assert cfg.widths("gan") == profile_values("quick")["student_widths"] and cfg.widths("vae") == [0.5]
    with pytest.raises(ValueError, match=r"family 'flow' has no students; expected one of \['gan', 'vae'\]"):
        cfg.widths("flow")


def test_each_vae_student_width_takes_its_own_learning_rate(tmp_path):
    cfg = configure({"profile": "quick", "run_dir": str(tmp_path), "vae_student_widths": [0.5, 0.12],
                     "vae_distilled_learning_rate": [1e-2, 3e-2], "vae_scratch_learning_rate": [5e-3, 2e-2],
                     "vae_anneal_to_elbo_learning_rate": [1e-2, 3e-2], "vae_scratch_kl_weight": 0.5})
    assert [cfg.objective("vae", "distilled", w).learning_rate for w in (0.12, 0.5)] == [3e-2, 1e-2]  # by place
    assert cfg.objective("vae", "scratch", 0.5) == VAEScratch(learning_rate=5e-3, kl_weight=0.5)
    with pytest.raises(ValueError, match=r"no vae objective 'output_adversarial'"):
        cfg.objective("vae", "output_adversarial", 0.12)


def test_each_gan_student_width_takes_its_own_learning_rate(tmp_path):
    cfg = configure({"profile": "full", "run_dir": str(tmp_path), "student_widths": [0.5, 0.12],
                     "gan_output_learning_rate": [2e-3, 1e-3], "gan_output_adversarial_learning_rate": [1e-3, 1e-2],
                     "gan_output_features_learning_rate": [3e-3, 4e-3], "gan_scratch_learning_rate": [5e-3, 6e-3],
                     "gan_prune_finetune_learning_rate": [7e-3, 8e-3], "gan_anneal_to_gan_learning_rate": [1e-3, 1e-3],
                     "gan_output_features_adversarial_learning_rate": [1e-3, 1e-3], "gan_output_adversarial_weight": 0.1})
    assert [cfg.objective("gan", "output_adversarial", w).learning_rate for w in (0.12, 0.5)] == [1e-2, 1e-3]
    assert cfg.objective("gan", "output_adversarial", 0.5) == OutputAdversarial(learning_rate=1e-3, weight=0.1)
    assert [o.name for o in cfg.objectives("gan", 0.12)] == cfg.gan_objectives == [
        "output", "output_adversarial", "output_features", "scratch"]  # the course's; the control joins when named
    assert cfg.objective("gan", "scratch", 0.12).learning_rate == 6e-3
    with pytest.raises(ValueError, match=r"width 0.25 is not one of student_widths \[0.5, 0.12\]"):
        cfg.objective("gan", "output_features", 0.25)
    with pytest.raises(ValueError, match=r"width 0.12 is not one of vae_student_widths \[0.25\]"):
        configure({"profile": "quick", "run_dir": str(tmp_path)}).objective("vae", "distilled", 0.12)


def test_the_objectives_are_named_once_each_the_lessons_own_stay_and_the_control_needs_the_cut_start(tmp_path):
    base = {"profile": "quick", "run_dir": str(tmp_path)}
    cfg = configure(base | {"gan_objectives": ["scratch", "output", "prune_finetune", "output_adversarial"],
                            "vae_objectives": ["scratch", "distilled"]})
    assert [type(o) for o in cfg.objectives("gan", 0.12)] == [GANScratch, OutputDistillation, PruneFinetune, OutputAdversarial]
    assert cfg.objective_names("vae") == ["scratch", "distilled"]
    assert cfg.objective("gan", "prune_finetune", 0.12) == PruneFinetune()
    for family, fewer, missing in (("gan", ["output", "scratch", "prune_finetune"], r"\['output_adversarial'\]"),
                                   ("vae", ["anneal_to_elbo"], r"\['distilled', 'scratch'\]")):
        with pytest.raises(ValueError, match=rf"{family}_objectives=.* leaves out {missing}, which notebooks 04 and 06 "
                                             rf"compare the other students with: add"):
            configure(base | {f"{family}_objectives": fewer})
    for wrong in (["output", "output_l1"], [], ["scratch", "scratch"], "scratch", [0.12]):
        with pytest.raises(ValueError, match=r"gan_objectives=.* must list one or more of \['output', "
                                             r"'output_adversarial', 'output_features', 'scratch', 'prune_finetune', "
                                             r"'output_features_adversarial', 'anneal_to_gan'\], each once"
                           if isinstance(wrong, list) else "must be of type list"):
            configure(base | {"gan_objectives": wrong})
    with pytest.raises(ValueError, match=r"holds \['prune_finetune'\], whose students start cut from the teacher, "
                                         r"but gan_student_init='random'"):
        configure(base | {"gan_objectives": ["output", "output_adversarial", "scratch", "prune_finetune"],
                          "gan_student_init": "random"})
    with pytest.raises(ValueError, match="family 'flow' has no students"):
        cfg.objective_names("flow")


def test_every_field_of_every_objective_is_a_setting_with_the_class_default():
    for family, objectives in OBJECTIVES.items():
        for name, objective in objectives.items():
            for field in dataclasses.fields(objective):
                default = SETTINGS[f"{family}_{name}_{field.name}"].default
                assert default == ([field.default] if field.name == "learning_rate" else field.default)
    full = profile_values("full")
    assert all(len(full[f"gan_{name}_learning_rate"]) == len(full["student_widths"]) for name in OBJECTIVES["gan"])
    assert all(len(full[f"vae_{name}_learning_rate"]) == len(full["vae_student_widths"]) for name in OBJECTIVES["vae"])


def test_a_value_chosen_on_one_data_set_is_that_data_sets_default_and_a_given_value_wins(tmp_path):
    full = {"profile": "full", "run_dir": str(tmp_path)}
    on_mnist = configure(full | {"dataset": "mnist"})
    assert (on_mnist.temperature, on_mnist.alpha) == (20.0, 0.5)  # sweeps/notebook01-full-mnist-clean.yaml
    on_fashion = configure(full | {"dataset": "fashion-mnist"})
    assert (on_fashion.temperature, on_fashion.alpha) == (1.0, 0.5)  # sweeps/notebook01-full-fashion-clean.yaml
    assert configure(full | {"dataset": "mnist", "temperature": 4}).temperature == 4.0
    assert "(mnist: 20.0)" in profile_table()


def test_every_value_a_profile_or_a_data_set_gives_names_a_setting_and_is_allowed():
    """A misspelt name in a profile's table would never apply: each names a setting, profile and data set."""
    for profile, values in PROFILES.items():
        assert set(values) <= set(SETTINGS), f"{profile}: {set(values) - set(SETTINGS)}"
        for dataset in DATASETS:
            resolved = profile_values(profile, dataset)
            assert all(check(name, value) == value for name, value in resolved.items())
    for (profile, dataset), values in ON_DATASET.items():
        assert profile in PROFILES and dataset in DATASETS and set(values) <= set(SETTINGS)


@pytest.mark.parametrize("profile, dataset, sweep", [(*pair, DISTILLATION_SWEEPS[pair])
                                                     for pair in sorted(DISTILLATION_SWEEPS)])
def test_each_profiles_t_and_alpha_are_the_best_point_of_the_sweep_that_chose_them(profile, dataset, sweep):
    report = project_root() / "docs" / "results" / sweep / "report.csv"
    with report.open() as file:
        points = [row for row in csv.DictReader(file) if row["model"] == "distilled student"
                  and row["section"].startswith("Notebook 01: teacher and students")]
    assert {(row["profile"], row["dataset"]) for row in points} == {(profile, dataset)}
    best = min(points, key=lambda row: float(row["validation errors"]))
    values = profile_values(profile, dataset)
    assert (float(best["temperature"]), float(best["alpha"])) == (values["temperature"], values["alpha"])


def test_the_full_profile_trains_its_vae_teacher_with_the_shipped_recipes_beta_and_the_others_on_the_elbo():
    beta = {profile: profile_values(profile)["vae_kl_weight"] for profile in PROFILES}
    assert beta["full"] == RECIPES["vae-fashion-mnist"].settings["kl_weight"]  # full distils the teacher it trains
    assert beta["smoke"] == beta["quick"] == 1.0  # notebook 03 derives the ELBO; these distil the shipped teacher


def test_the_profiles_page_shows_the_settings_of_each_profile_as_they_are():
    from kdlib.course.config import profile_table
    from kdlib.store import project_root

    page = (project_root() / "docs" / "profiles.md").read_text()
    assert page.endswith(profile_table() + "\n"), ("docs/profiles.md is out of step with kdlib/course/config.py: "
                                                  "regenerate its table with kdlib.course.profile_table()")
