"""What the repository says about its distributions, read from the files themselves.

Shared by ``test_monorepo.py`` and ``test_wheels.py``.
"""

from __future__ import annotations

import re
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

# Where the project lives once published: the one place the tests take these
# from (every pyproject.toml's [project.urls] and the package READMEs must agree).
REPOSITORY_URL = "https://github.com/ebpf-py/ebpf"
ISSUES_URL = f"{REPOSITORY_URL}/issues"
DOCUMENTATION_URL = "https://ebpf-py.github.io/ebpf/"  # docs/maps.md is published as <this>maps/
# What the repository's files are published as (a file, a directory) on the main branch.
REPOSITORY_FILE_URL = f"{REPOSITORY_URL}/blob/main/"
REPOSITORY_DIRECTORY_URL = f"{REPOSITORY_URL}/tree/main/"
GETTING_STARTED = ROOT / "docs" / "getting-started.md"


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
        """The version hatch builds: ``__version__`` in the file ``[tool.hatch.version]`` names."""
        if "version" in self.project:
            return str(self.project["version"])
        path = self.directory / self.pyproject["tool"]["hatch"]["version"]["path"]
        match = _VERSION_LINE.search(path.read_text(encoding="utf-8"))
        assert match is not None, f"{path}: no __version__ = '...' line for hatch to read"
        return match.group(1)

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


_VERSION_LINE = re.compile(r'^__version__ = "([^"]+)"$', re.MULTILINE)
_BACKTICKED = re.compile(r"`([A-Za-z0-9][A-Za-z0-9._-]*)`")


def _named(text: str) -> set[str]:
    """The distribution names written in backticks in ``text``, canonical."""
    return {canonical(name) for name in _BACKTICKED.findall(text)}


def documented_installs() -> dict[str, set[str]]:
    """What docs/getting-started.md says installing each distribution brings along.

    From its table (``| you want to | install | which also installs |``): the
    distribution in the "install" column, mapped to the distributions named
    in backticks in the last column; "every package above" there stands for
    the distributions of the rows above. Raises ``AssertionError`` when the
    table is missing or a row is not of that shape.
    """
    text = GETTING_STARTED.read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("|")]
    assert rows, f"{GETTING_STARTED}: no install table"
    assert "which also installs" in rows[0], f"{GETTING_STARTED}: the table's last column is gone"
    documented: dict[str, set[str]] = {}
    for row in rows[2:]:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert len(cells) == 3, f"{GETTING_STARTED}: a row of three cells expected: {row}"
        installed = _named(cells[1])
        assert len(installed) == 1, f"{GETTING_STARTED}: one distribution to install per row: {row}"
        also = _named(cells[2])
        if "every package above" in cells[2]:
            also |= set(documented)
        documented[installed.pop()] = also
    return documented


def documented_pulls() -> dict[str, set[str]]:
    """The prose of docs/getting-started.md: "`ebpf-x` (which pulls in `a`, `b` and `c`)", per name."""
    text = " ".join(GETTING_STARTED.read_text(encoding="utf-8").split())
    return {
        canonical(name): _named(pulled)
        for name, pulled in re.findall(r"`(ebpf-[a-z]+)` \(which pulls in ([^)]*)\)", text)
    }
