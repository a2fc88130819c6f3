"""Guards that keep the monorepo honest (docs/architecture.md, Distributions and Public and private).

One namespace without ``__init__.py``, one version, exact pins between our
distributions, the dependency table of docs/architecture.md (Distributions), no undeclared
imports between siblings (so no cycles), stdlib-only ``ebpf-syscall`` and
``ebpf-asm``, and a generated ABI module that matches its generator.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.repo._monorepo import ROOT, Distribution, canonical, distributions, ours

# docs/architecture.md, Distributions: the "depends on" column. Change that table with this one.
DESIGN_DEPENDENCIES: dict[str, set[str]] = {
    "ebpf-syscall": set(),
    "ebpf-asm": set(),
    "ebpf-btf": {"ebpf-syscall", "ebpf-asm", "construct"},
    "ebpf-maps": {"ebpf-syscall", "ebpf-btf"},
    "ebpf-progs": {"ebpf-syscall", "ebpf-asm", "ebpf-btf", "ebpf-maps"},
    "ebpf-elf": {"construct", "ebpf-asm", "ebpf-btf", "ebpf-maps", "ebpf-progs"},
    "ebpf-events": {"ebpf-syscall"},
    "ebpf-net": {"ebpf-progs", "pyroute2"},
    "ebpf-core": {
        "ebpf-syscall",
        "ebpf-asm",
        "ebpf-btf",
        "ebpf-maps",
        "ebpf-progs",
        "ebpf-elf",
        "ebpf-events",
        "ebpf-net",
    },
}
STDLIB_ONLY = ("ebpf-syscall", "ebpf-asm")
# docs/architecture.md, Where new code goes: construct schemas are "typed with construct-typing", but
# only at development time (its stubs, for mypy); at run time the schemas use
# construct alone, so construct-typing (and arrow, python-dateutil, tzdata, which
# it pulls in) is a dependency of no distribution. Nothing accompanies the
# third-party distributions of the table.
# Optional extras the issues ask for (ebpf-events: batch decoding into NumPy arrays;
# ebpf-core: maps served as Prometheus metrics, through prometheus-client).
EXTRAS: dict[str, set[str]] = {"ebpf-events": {"numpy"}, "ebpf-core": {"prometheus"}}
# Third-party distribution -> the top-level modules it provides.
IMPORT_NAMES: dict[str, set[str]] = {
    "construct": {"construct"},
    "pyroute2": {"pyroute2"},
}

DISTRIBUTIONS = sorted(distributions())


def _closure(name: str) -> set[str]:
    """Everything ``name`` depends on, directly or not, by the table of docs/architecture.md."""
    seen: set[str] = set()
    todo = list(DESIGN_DEPENDENCIES[name])
    while todo:
        dep = todo.pop()
        if dep not in seen:
            seen.add(dep)
            todo.extend(DESIGN_DEPENDENCIES.get(dep, ()))
    return seen


def _dist(name: str) -> Distribution:
    return distributions()[name]


def test_the_nine_distributions_of_the_design_exist() -> None:
    assert set(DISTRIBUTIONS) == set(DESIGN_DEPENDENCIES)


# --- one namespace -----------------------------------------------------------


def test_ebpf_is_a_namespace_package_everywhere() -> None:
    offenders = sorted(str(path.relative_to(ROOT)) for path in ROOT.glob("packages/*/src/ebpf/__init__.py*"))
    assert not offenders, f"src/ebpf must stay a PEP 420 namespace (no __init__.py): remove {offenders}"


@pytest.mark.parametrize("name", DISTRIBUTIONS)
def test_each_distribution_ships_exactly_its_portion(name: str) -> None:
    dist = _dist(name)
    portions = sorted(
        path.name for path in (dist.directory / "src" / "ebpf").iterdir() if path.name != "__pycache__"
    )
    assert portions == [dist.portion], f"{name} must ship exactly ebpf/{dist.portion}/, found {portions}"


def _declares_all(init: Path) -> bool:
    for node in ast.parse(init.read_text(encoding="utf-8"), str(init)).body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            targets = [node.target]
        if any(isinstance(target, ast.Name) and target.id == "__all__" for target in targets):
            return True
    return False


def _portions() -> list[Path]:
    return sorted(
        path for path in ROOT.glob("packages/*/src/ebpf/*") if path.is_dir() and path.name != "__pycache__"
    )


@pytest.mark.parametrize("portion", _portions(), ids=lambda path: f"ebpf.{path.name}")
def test_each_portion_is_typed_and_declares_its_public_names(portion: Path) -> None:
    assert (portion / "py.typed").is_file(), f"{portion.relative_to(ROOT)} lacks py.typed"
    init = portion / "__init__.py"
    assert init.is_file(), f"{portion.relative_to(ROOT)} lacks __init__.py"
    assert _declares_all(init), f"{init.relative_to(ROOT)} must list its public names in __all__"


# --- one version, exact pins -----------------------------------------------------


def test_one_version_everywhere() -> None:
    versions = {name: _dist(name).version for name in DISTRIBUTIONS}
    assert len(set(versions.values())) == 1, f"every distribution must have the same version: {versions}"


@pytest.mark.parametrize("name", DISTRIBUTIONS)
def test_dependencies_on_ours_are_exact_pins(name: str) -> None:
    version = _dist(name).version
    loose = [
        str(req)
        for req in _dist(name).requirements
        if ours(req.name) and str(req.specifier) != f"=={version}"
    ]
    assert not loose, f"{name}: pin our own distributions with =={version}: {loose}"


# --- the dependency table of docs/architecture.md ---------------------------------------------


@pytest.mark.parametrize("name", DISTRIBUTIONS)
def test_dependencies_match_the_design(name: str) -> None:
    declared = {canonical(req.name) for req in _dist(name).requirements}
    design = DESIGN_DEPENDENCIES[name]
    # A package that imports a distribution it gets transitively must declare
    # it too; that adds no edge to the graph, so it is allowed.
    allowed = _closure(name)
    assert design <= declared <= allowed, (
        f"{name} declares {sorted(declared)}; docs/architecture.md (Distributions) says {sorted(design)} "
        f"(plus, if imported directly, any of {sorted(allowed - design)})"
    )
    extras = set(_dist(name).project.get("optional-dependencies", {}))
    assert extras <= EXTRAS.get(name, set()), f"{name}: unexpected extras {sorted(extras)}"


@pytest.mark.parametrize("name", STDLIB_ONLY)
def test_stdlib_only_distributions_depend_on_nothing_else(name: str) -> None:
    foreign = [str(req) for req in _dist(name).requirements if not ours(req.name)]
    assert not foreign, f"{name} must need nothing outside the standard library: {foreign}"


def test_declared_dependencies_have_no_cycle() -> None:
    graph = {
        name: {canonical(req.name) for req in _dist(name).requirements if ours(req.name)}
        for name in DISTRIBUTIONS
    }
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            pytest.fail(f"dependency cycle: {' -> '.join((*path[path.index(name) :], name))}")
        if name in done:
            return
        for dep in sorted(graph[name]):
            visit(dep, (*path, name))
        done.add(name)

    for name in DISTRIBUTIONS:
        visit(name, ())


# --- what the code really imports -------------------------------------------------


@dataclass(frozen=True)
class Import:
    module: str  # absolute, dotted
    path: Path
    line: int
    type_checking: bool  # inside `if TYPE_CHECKING:`

    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _ImportCollector(ast.NodeVisitor):
    """Every import in a module: top level, in functions (lazy), relative, ``import_module("...")``."""

    def __init__(self, path: Path, module: str, is_package: bool) -> None:
        self.path = path
        self.package = module if is_package else module.rpartition(".")[0]
        self.type_checking = False
        self.found: list[Import] = []

    def _add(self, module: str, node: ast.AST) -> None:
        self.found.append(Import(module, self.path, getattr(node, "lineno", 0), self.type_checking))

    def visit_If(self, node: ast.If) -> None:
        if not _is_type_checking(node.test):
            self.generic_visit(node)
            return
        outer, self.type_checking = self.type_checking, True
        for child in node.body:
            self.visit(child)
        self.type_checking = outer
        for child in node.orelse:
            self.visit(child)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            parts = self.package.split(".")
            base = ".".join(parts[: len(parts) - (node.level - 1)])
            module = f"{base}.{node.module}" if node.module else base
        else:
            module = node.module or ""
        if module == "ebpf":  # `from ebpf import maps` imports the portion ebpf.maps
            for alias in node.names:
                self._add(f"ebpf.{alias.name}", node)
        else:
            self._add(module, node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if (
            name in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            self._add(node.args[0].value, node)
        self.generic_visit(node)


def _imports(dist: Distribution) -> list[Import]:
    src = dist.directory / "src"
    found: list[Import] = []
    for path in sorted(dist.source.rglob("*.py")):
        parts = path.relative_to(src).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        module = ".".join(parts[:-1] if is_package else parts)
        collector = _ImportCollector(path, module, is_package)
        collector.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        found.extend(collector.found)
    return found


@pytest.mark.parametrize("name", DISTRIBUTIONS)
def test_imports_of_siblings_are_declared(name: str) -> None:
    """No package imports a sibling it does not depend on (the declared graph is acyclic: no cycles)."""
    dist = _dist(name)
    declared = {canonical(req.name) for req in dist.requirements}
    problems = []
    for imp in _imports(dist):
        parts = imp.module.split(".")
        if parts[0] != "ebpf":
            continue
        if len(parts) == 1:
            problems.append(f"{imp.where()} imports the bare namespace 'ebpf'")
            continue
        target = f"ebpf-{parts[1]}"
        if target == name:
            continue
        if target not in distributions():
            problems.append(f"{imp.where()} imports {imp.module}, which no distribution provides")
        elif target not in declared:
            problems.append(f"{imp.where()} imports {imp.module}, but {name} does not depend on {target}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", DISTRIBUTIONS)
def test_third_party_imports_are_declared(name: str) -> None:
    """Each wheel must import with only its declared dependencies installed."""
    dist = _dist(name)
    allowed = set(sys.stdlib_module_names) | {"ebpf"}
    extras = [Requirement(r) for reqs in dist.project.get("optional-dependencies", {}).values() for r in reqs]
    # Imports of an extra's packages must be lazy; test_wheels imports every
    # module of every wheel without the extras, which catches eager ones.
    for req in [*dist.requirements, *extras]:
        if not ours(req.name):
            allowed |= IMPORT_NAMES.get(canonical(req.name), {canonical(req.name).replace("-", "_")})
    problems = [
        f"{imp.where()} imports {imp.module}, which is neither the standard library nor declared by {name}"
        for imp in _imports(dist)
        if not imp.type_checking and imp.module.split(".")[0] not in allowed
    ]
    assert not problems, "\n".join(problems)


# --- the test suites ------------------------------------------------------------


def test_test_file_basenames_are_unique() -> None:
    """docs/architecture.md, Tests: one name, one test file, across tests/ and integration/."""
    seen: dict[str, list[str]] = {}
    for suite in ("tests", "integration"):
        for path in sorted((ROOT / suite).rglob("test_*.py")):
            seen.setdefault(path.name, []).append(str(path.relative_to(ROOT)))
    duplicates = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert not duplicates, f"rename one of each: {duplicates}"


# --- generated code ---------------------------------------------------------------


def test_generated_abi_module_is_current() -> None:
    result = subprocess.run(
        [sys.executable, "tools/gen_abi.py", "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, (
        "packages/ebpf-syscall/src/ebpf/syscall/_generated.py is stale: run 'make regen' "
        f"(or 'python tools/gen_abi.py render')\n{result.stdout}{result.stderr}"
    )
