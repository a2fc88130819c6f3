"""What the repository says about its distributions, read from the files themselves.

Shared by ``test_monorepo.py`` and ``test_wheels.py``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # mypy depends on tomli below 3.11, so the dev environment has it
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ROOT / "packages"
PREFIX = "ebpf-"


def canonical(name: str) -> str:
    """PEP 503 name normalisation: ``Ebpf_Syscall`` -> ``ebpf-syscall``."""
    return str(canonicalize_name(name))


@dataclass(frozen=True)
class Distribution:
    name: str  # "ebpf-maps"
    directory: Path  # packages/ebpf-maps
    project: dict[str, Any]  # the [project] table
    pyproject: dict[str, Any]  # the whole file

    @property
    def portion(self) -> str:
        """The import name's last part: ``ebpf-maps`` -> ``maps``."""
        return self.name.removeprefix(PREFIX)

    @property
    def import_name(self) -> str:
        return f"ebpf.{self.portion}"

    @property
    def version(self) -> str:
        return str(self.project.get("version"))

    @property
    def requirements(self) -> list[Requirement]:
        return [Requirement(text) for text in self.project.get("dependencies", [])]

    @property
    def source(self) -> Path:
        """``packages/ebpf-maps/src/ebpf/maps``."""
        return self.directory / "src" / "ebpf" / self.portion


def _load_toml(path: Path) -> dict[str, Any]:
    with path.open("rb") as file:
        data: dict[str, Any] = tomllib.load(file)
    return data


@cache
def distributions() -> dict[str, Distribution]:
    """Every ``packages/*/pyproject.toml``, by canonical distribution name."""
    found: dict[str, Distribution] = {}
    for pyproject_path in sorted(PACKAGES.glob("*/pyproject.toml")):
        pyproject = _load_toml(pyproject_path)
        project: dict[str, Any] = pyproject.get("project", {})
        name = canonical(str(project.get("name", pyproject_path.parent.name)))
        found[name] = Distribution(name, pyproject_path.parent, project, pyproject)
    return found


def ours(name: str) -> bool:
    return canonical(name).startswith(PREFIX)


def closure(name: str) -> set[str]:
    """``name`` and every distribution of ours it needs, directly or not."""
    dists = distributions()
    seen: set[str] = set()
    todo = [canonical(name)]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo.extend(canonical(req.name) for req in dists[current].requirements if ours(req.name))
    return seen
