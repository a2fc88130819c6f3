"""Ready to publish on PyPI: what every distribution says about itself, read from the source tree.

One MIT ``LICENSE`` (each distribution ships a copy, byte for byte the
repository's), the same project URLs everywhere, valid trove classifiers that
claim only what is tested, READMEs whose links work on PyPI (absolute, and
pointing at pages and files that exist), ``ebpf.<pkg>.__version__`` from the
one version of the ``pyproject.toml`` files, and a getting-started page that
says what installing each distribution brings along. ``test_wheels.py`` checks
the built wheels and sdists themselves (``twine check --strict``, the licence
inside them, what really gets installed).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import re

import pytest
import trove_classifiers
from packaging.specifiers import SpecifierSet

from tests.repo._monorepo import (
    DOCUMENTATION_URL,
    ISSUES_URL,
    REPOSITORY_DIRECTORY_URL,
    REPOSITORY_FILE_URL,
    REPOSITORY_URL,
    ROOT,
    Distribution,
    canonical,
    closure,
    distributions,
    documented_installs,
    documented_pulls,
    ours,
)

DISTRIBUTIONS = sorted(distributions())
LICENSE = ROOT / "LICENSE"

# The Python versions the suites run on (here and in the kernel VMs: CPython 3.11).
# The classifiers claim these and no others; requires-python may be wider.
TESTED_PYTHONS = ("3.11",)
# What every distribution says alike.
COMMON_CLASSIFIERS = {
    "Intended Audience :: Developers",
    "Intended Audience :: System Administrators",
    "Operating System :: POSIX :: Linux",
    "Programming Language :: Python :: 3",
    "Programming Language :: Python :: 3 :: Only",
    "Programming Language :: Python :: Implementation :: CPython",
    "Topic :: Software Development :: Libraries",
    "Topic :: System :: Operating System Kernels :: Linux",
    "Typing :: Typed",
    *(f"Programming Language :: Python :: {version}" for version in TESTED_PYTHONS),
}


def _dist(name: str) -> Distribution:
    return distributions()[name]


# --- the licence ---------------------------------------------------------------------


def test_the_repository_license_is_mit_by_the_ebpf_developers() -> None:
    text = LICENSE.read_text(encoding="utf-8")
    assert text.startswith("MIT License\n")
    assert "Copyright (c) 2026 The ebpf developers\n" in text
    assert "Permission is hereby granted, free of charge, to any person obtaining a copy" in text
    assert 'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND' in text


@pytest.mark.parametrize("name", DISTRIBUTIONS)
def test_each_distribution_ships_the_repository_license(name: str) -> None:
    dist = _dist(name)
    assert dist.project.get("license") == "MIT"
    assert dist.project.get("license-files") == ["LICENSE"]
    copy = dist.directory / "LICENSE"
    # A symlink would be archived as a link to ../../LICENSE, dangling in the sdist.
    assert copy.is_file(), f"{copy.relative_to(ROOT)} is missing: cp LICENSE {copy.relative_to(ROOT)}"
    assert not copy.is_symlink(), f"{copy.relative_to(ROOT)} must be a regular file"
    assert copy.read_bytes() == LICENSE.read_bytes(), (
        f"{copy.relative_to(ROOT)} differs from LICENSE: cp LICENSE {copy.relative_to(ROOT)}"
    )


# --- URLs, classifiers, keywords --------------------------------------------------------


@pytest.mark.parametrize("name", DISTRIBUTIONS)
def test_project_urls_are_the_repository_issues_and_documentation(name: str) -> None:
    assert _dist(name).project.get("urls") == {
        "Documentation": DOCUMENTATION_URL,
        "Source": REPOSITORY_URL,
        "Issues": ISSUES_URL,
    }


@pytest.mark.parametrize("name", DISTRIBUTIONS)
def test_classifiers_are_valid_and_current(name: str) -> None:
    classifiers: list[str] = _dist(name).project.get("classifiers", [])
    unknown = [c for c in classifiers if c not in trove_classifiers.classifiers]
    deprecated = [c for c in classifiers if c in trove_classifiers.deprecated_classifiers]
    assert not unknown, f"{name}: not trove classifiers: {unknown}"
    assert not deprecated, f"{name}: deprecated classifiers: {deprecated}"
    assert classifiers == sorted(set(classifiers)), f"{name}: keep the classifiers sorted and unique"


@pytest.mark.parametrize("name", DISTRIBUTIONS)
def test_classifiers_claim_what_is_tested(name: str) -> None:
    dist = _dist(name)
    classifiers = set(dist.project.get("classifiers", []))
    assert classifiers >= COMMON_CLASSIFIERS, f"{name} lacks {sorted(COMMON_CLASSIFIERS - classifiers)}"
    versions = {
        c.rpartition(" :: ")[2]
        for c in classifiers
        if re.fullmatch(r"Programming Language :: Python :: \d+\.\d+", c)
    }
    assert versions == set(TESTED_PYTHONS), (
        f"{name} claims Python {sorted(versions)}, tested: {TESTED_PYTHONS}"
    )
    requires = SpecifierSet(dist.project["requires-python"])
    assert requires == SpecifierSet(">=3.10")
    assert all(requires.contains(version) for version in versions)
    statuses = [c for c in classifiers if c.startswith("Development Status :: ")]
    assert len(statuses) == 1, f"{name}: one development status, got {statuses}"
    # py.typed is shipped (test_monorepo), so Typing :: Typed is true.
    assert (dist.source / "py.typed").is_file()


def test_every_distribution_has_the_same_status_and_audience() -> None:
    def shared(name: str) -> set[str]:
        return {
            c
            for c in _dist(name).project.get("classifiers", [])
            if c.split(" :: ")[0] in ("Development Status", "Intended Audience", "Programming Language")
        }

    assert len({frozenset(shared(name)) for name in DISTRIBUTIONS}) == 1


@pytest.mark.parametrize("name", DISTRIBUTIONS)
def test_keywords_name_the_toolkit_and_the_package(name: str) -> None:
    keywords: list[str] = _dist(name).project.get("keywords", [])
    assert {"ebpf", "bpf", "linux"} <= set(keywords)
    assert len(keywords) == len(set(keywords)) > 4, f"{name}: a few keywords of its own, no repeats"


# --- READMEs that render on PyPI -----------------------------------------------------------

_FENCED = re.compile(r"^(```|~~~)[^\n]*\n.*?^\1[ \t]*$", re.M | re.S)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_INLINE = re.compile(r"\]\(\s*<?([^)\s>]*)")  # [text](target) and ![alt](target)
_REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)", re.M)  # [label]: target
_HTML = re.compile(r"""\b(?:href|src)\s*=\s*["']([^"']*)""", re.I)


def readme_links(text: str) -> list[str]:
    """Every link target of a Markdown text, outside code blocks and code spans."""
    prose = _CODE_SPAN.sub("", _FENCED.sub("", text))
    return [m.group(1) for pattern in (_INLINE, _REFERENCE, _HTML) for m in pattern.finditer(prose)]


def broken_link(target: str) -> str | None:
    """Why ``target`` will not work on PyPI, or ``None``.

    Relative targets point nowhere on PyPI. Links into the documentation
    site and the repository must name a page or file that exists here.
    """
    if not target.startswith("https://"):
        return "not an absolute https:// URL (relative links point nowhere on PyPI)"
    url = target.partition("#")[0]
    if url.startswith(DOCUMENTATION_URL):
        page = url.removeprefix(DOCUMENTATION_URL).strip("/")
        candidates = [ROOT / "docs" / "index.md"] if not page else []
        candidates += [ROOT / "docs" / f"{page}.md", ROOT / "docs" / page / "index.md"] if page else []
        if not any(path.is_file() for path in candidates):
            return f"no docs page for it (docs/{page or 'index'}.md)"
    elif url.startswith(REPOSITORY_FILE_URL):
        if not (ROOT / url.removeprefix(REPOSITORY_FILE_URL)).is_file():
            return "no such file in the repository"
    elif url.startswith(REPOSITORY_DIRECTORY_URL):
        if not (ROOT / url.removeprefix(REPOSITORY_DIRECTORY_URL)).is_dir():
            return "no such directory in the repository"
    elif url.startswith(REPOSITORY_URL) and url.rstrip("/") not in (REPOSITORY_URL, ISSUES_URL):
        return f"in the repository but neither {REPOSITORY_FILE_URL}... nor {REPOSITORY_DIRECTORY_URL}..."
    return None


def test_the_link_checker_rejects_what_pypi_cannot_follow() -> None:
    text = (
        "[a](../../README.md) [b](docs/x.md) ![c](img.png)\n[d]: ../e.md\n"
        '<a href="../f.md">f</a> [g](#section) [h](https://ebpf-py.github.io/ebpf/nope/)\n'
        "[i](https://github.com/ebpf-py/ebpf/blob/main/no-such-file) [ok](https://ebpf-py.github.io/ebpf/maps/)\n"
        "`[not](a-link)`\n```python\nx = d[k](v)\n```\n"
    )
    links = readme_links(text)
    assert links == [
        "../../README.md",
        "docs/x.md",
        "img.png",
        "#section",
        "https://ebpf-py.github.io/ebpf/nope/",
        "https://github.com/ebpf-py/ebpf/blob/main/no-such-file",
        "https://ebpf-py.github.io/ebpf/maps/",
        "../e.md",
        "../f.md",
    ]
    assert [target for target in links if broken_link(target) is None] == [
        "https://ebpf-py.github.io/ebpf/maps/"
    ]


@pytest.mark.parametrize("name", DISTRIBUTIONS)
def test_readme_links_work_on_pypi(name: str) -> None:
    dist = _dist(name)
    assert dist.project.get("readme") == "README.md"
    readme = dist.directory / "README.md"
    links = readme_links(readme.read_text(encoding="utf-8"))
    broken = {link: why for link in links if (why := broken_link(link)) is not None}
    assert not broken, f"{readme.relative_to(ROOT)}: " + "; ".join(f"{k}: {v}" for k, v in broken.items())


# --- one version ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", DISTRIBUTIONS)
def test_version_attribute_is_the_distribution_version(name: str) -> None:
    dist = _dist(name)
    module = importlib.import_module(dist.import_name)
    assert "__version__" in module.__all__
    assert module.__version__ == dist.version == importlib.metadata.version(name), (
        f"{dist.import_name}.__version__ is not the version of {name}'s pyproject.toml "
        "(a stale install: run 'hatch run true' to sync the environment)"
    )
    with pytest.raises(AttributeError, match="no attribute"):
        _ = module.__no_such_attribute__


# --- docs/getting-started.md ----------------------------------------------------------------


def _installs_by_the_pyprojects(name: str) -> set[str]:
    """Our distributions ``name`` pulls in, and the third-party ones they declare (not theirs)."""
    ours_ = closure(name)
    third_party = {
        canonical(req.name)
        for dep in ours_
        for req in distributions()[dep].requirements
        if not ours(req.name) and req.marker is None
    }
    return (ours_ - {name}) | third_party


def test_getting_started_says_what_each_distribution_pulls_in() -> None:
    table = documented_installs()
    assert sorted(table) == DISTRIBUTIONS
    wrong = {
        name: (sorted(table[name]), sorted(_installs_by_the_pyprojects(name)))
        for name in DISTRIBUTIONS
        if table[name] != _installs_by_the_pyprojects(name)
    }
    assert not wrong, f"docs/getting-started.md says (table, pyproject.toml files): {wrong}"
    prose = documented_pulls()
    assert prose, "the text says what ebpf-maps pulls in"
    assert all(prose[name] == table[name] for name in prose), f"the text and the table disagree: {prose}"
