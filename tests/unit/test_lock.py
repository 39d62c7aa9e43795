"""requirements.lock pins every dependency the test extra pulls in, inside pyproject's ranges."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def locked_versions() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version.strip()
    return pins


def declared_requirements() -> list[Requirement]:
    """The runtime dependencies and every extra the test extra reaches, self-references
    (``carehub[daphne,bench]``) followed."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras, wanted, found = project["optional-dependencies"], ["test"], []
    requirements = [Requirement(text) for text in project["dependencies"]]
    while wanted:
        for text in extras[wanted.pop()]:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == "carehub":
                wanted += [extra for extra in requirement.extras if extra not in found]
                found += requirement.extras
            else:
                requirements.append(requirement)
    return requirements


def test_the_lock_pins_every_declared_dependency_within_its_range() -> None:
    pins = locked_versions()
    outside = []
    for requirement in declared_requirements():
        version = pins.get(canonicalize_name(requirement.name))
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            outside.append(f"{requirement} (locked: {version})")
    assert not outside, "refresh requirements.lock (docs/development.md): " + ", ".join(outside)


def test_the_lock_follows_the_extras_it_names() -> None:
    names = {canonicalize_name(r.name) for r in declared_requirements()}
    assert {"pytest", "daphne", "picows", "django"} <= names
