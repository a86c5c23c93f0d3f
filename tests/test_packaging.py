"""pyproject.toml and environment.yml declare the same packages with the same ranges."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parent.parent
CONDA_NAMES = {"pytorch": "torch"}  # conda-forge name -> PyPI name


def pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    entries = project["dependencies"] + [d for group in project["optional-dependencies"].values() for d in group]
    return {Requirement(d).name: str(Requirement(d).specifier) for d in entries}


def conda_requirements() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    found = {}
    for entry in env["dependencies"]:
        if isinstance(entry, str) and not entry.startswith(("python", "pip")):
            requirement = Requirement(entry)
            found[CONDA_NAMES.get(requirement.name, requirement.name)] = str(requirement.specifier)
    return found


def test_environment_yml_matches_pyproject():
    assert conda_requirements() == pyproject_requirements()


def test_python_versions_agree():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert f"python{project['requires-python']}" in env["dependencies"]


def test_torch_range_admits_the_supported_release():
    requirements = pyproject_requirements()
    assert "2.14.1" in SpecifierSet(requirements["torch"])
    assert "0.29.1" in SpecifierSet(requirements["torchvision"])
