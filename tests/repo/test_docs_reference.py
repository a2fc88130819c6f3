"""Guards for the API reference (docs/reference/, rendered by mkdocstrings).

- No Sphinx role (``:class:`Name```...) in the sources' strings and comments:
  mkdocstrings renders Markdown, so a role reaches the page as literal text.
  Write ``[`Name`][ebpf.pkg.Name]`` (a cross-reference, for a name with a
  reference page) or ``` `Name` ``` instead.
- Every public module (no part of its path starts with ``_``; not
  ``__main__``) has a ``::: ebpf.pkg.module`` block on some reference page.
- A block that renders only some members (``members:`` in its options) leaves
  out only names the package re-exports, which its own page renders; so every
  public name of every public module is rendered somewhere.
- Every reference page is in the ``nav`` of mkdocs.yml.

What this cannot see: a member without a docstring is not rendered
(``show_if_no_docstring: false``), and ``mkdocs build --strict`` is what finds
cross-references that do not resolve. After the build,
``tools/check_docs_site.py`` (part of ``hatch run docs:build``) looks for roles
in the built pages; its detection is tested here.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from check_docs_site import check, literal_roles

from tests.repo._monorepo import ROOT, distributions

REFERENCE = ROOT / "docs" / "reference"
MKDOCS_YML = ROOT / "mkdocs.yml"

ROLE = re.compile(r"(?<![\w:]):(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|const|any|ref):`")


def _source_roots() -> dict[str, Path]:
    """``ebpf.maps`` -> ``packages/ebpf-maps/src/ebpf/maps``, for every distribution."""
    return {dist.import_name: dist.source for dist in distributions().values()}


def _sources() -> list[Path]:
    return sorted(path for root in _source_roots().values() for path in root.rglob("*.py"))


def _module_name(path: Path) -> str:
    """``packages/ebpf-maps/src/ebpf/maps/_map.py`` -> ``ebpf.maps._map`` (``__init__.py``: the package)."""
    parts = path.with_suffix("").parts
    parts = parts[len(parts) - parts[::-1].index("src") :]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_public(module: str) -> bool:
    return not any(part.startswith("_") for part in module.split("."))


def _module_file(module: str) -> Path | None:
    parts = module.split(".")
    root = _source_roots().get(".".join(parts[:2]))
    if root is None:
        return None
    base = root.joinpath(*parts[2:])
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


# ------------------------------------------------------------------ roles


def _roles(path: Path) -> list[str]:
    found = []
    source = path.read_text(encoding="utf-8")
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in (tokenize.STRING, tokenize.COMMENT) and ROLE.search(token.string):
            for offset, line in enumerate(token.string.splitlines()):
                for match in ROLE.finditer(line):
                    snippet = line[match.start() : match.start() + 60].strip()
                    found.append(f"{path.relative_to(ROOT)}:{token.start[0] + offset}: {snippet}")
    return found


def test_no_sphinx_roles_in_docstrings_or_comments() -> None:
    found = [role for path in _sources() for role in _roles(path)]
    assert not found, (
        "Sphinx roles print literally in the mkdocstrings reference; write [`Name`][ebpf.pkg.Name] "
        "(the name has a reference page) or `Name` instead:\n" + "\n".join(found)
    )


def test_the_role_pattern_matches_what_it_should() -> None:
    assert ROLE.search("see :class:`Map`")
    assert ROLE.search("see :meth:`~ebpf.maps.Map.create`")
    assert ROLE.search(":py:func:`f`")
    assert not ROLE.search("see [`Map`][ebpf.maps.Map]")
    assert not ROLE.search("``a:b:c``, a dict {'class': 1}")


# ------------------------------------------------------------------ reference pages


@dataclass(frozen=True)
class Block:
    page: Path
    identifier: str  # "ebpf.syscall.system"
    members: tuple[str, ...] | None  # None: every public member


def _blocks() -> list[Block]:
    """Every ``::: identifier`` block of docs/reference/*.md, with its ``members`` option."""
    blocks: list[Block] = []
    for page in sorted(REFERENCE.glob("*.md")):
        lines = page.read_text(encoding="utf-8").splitlines()
        for index, line in enumerate(lines):
            match = re.match(r":::\s+(\S+)\s*$", line)
            if not match:
                continue
            options: list[str] = []
            for following in lines[index + 1 :]:
                if not following.strip() or not following[0].isspace():
                    break
                options.append(following)
            blocks.append(Block(page, match.group(1), _members_option(options)))
    return blocks


def _members_option(options: list[str]) -> tuple[str, ...] | None:
    for index, line in enumerate(options):
        match = re.match(r"(\s*)members:\s*(.*?)\s*$", line)
        if not match:
            continue
        value = match.group(2)
        if value in ("false", "[]"):
            return ()
        if value.startswith("["):
            return tuple(name.strip() for name in value.strip("[]").split(",") if name.strip())
        assert not value, f"members: {value!r} is not understood by this test"
        names = []
        for item in options[index + 1 :]:
            item_match = re.match(r"\s*-\s*(\S+)\s*$", item)
            if not item_match:
                break
            names.append(item_match.group(1))
        return tuple(names)
    return None


def _public_modules() -> list[str]:
    return sorted(
        module
        for module in (_module_name(path) for path in _sources())
        if _is_public(module) and not module.endswith(".__main__")
    )


def test_the_module_list_is_not_empty() -> None:
    modules = _public_modules()
    assert "ebpf.syscall" in modules
    assert "ebpf.syscall.commands" in modules
    assert not [module for module in modules if "._" in module]


@pytest.mark.parametrize("module", _public_modules())
def test_public_module_has_a_reference_page(module: str) -> None:
    pages = [block.page.name for block in _blocks() if block.identifier == module]
    assert pages, (
        f"public module {module} has no reference page: add `::: {module}` to a page under "
        "docs/reference/ and the page to the nav of mkdocs.yml"
    )


def test_reference_blocks_name_existing_modules() -> None:
    unknown = [
        f"{block.page.name}: ::: {block.identifier}"
        for block in _blocks()
        if _module_file(block.identifier) is None
    ]
    assert not unknown, "blocks that name no module of ours:\n" + "\n".join(unknown)


def test_each_module_is_rendered_once() -> None:
    seen: dict[str, str] = {}
    twice = []
    for block in _blocks():
        if block.identifier in seen:
            twice.append(f"{block.identifier}: {seen[block.identifier]} and {block.page.name}")
        seen[block.identifier] = block.page.name
    assert not twice, "modules rendered on two pages (duplicate anchors):\n" + "\n".join(twice)


# Which object a module's public name is: followed through `from x import y`.


@cache
def _bindings(module: str) -> dict[str, tuple[str, str] | None]:
    """Top-level names of ``module``: ``None`` if defined there, else ``(source module, name)``."""
    path = _module_file(module)
    assert path is not None, module
    is_package = path.name == "__init__.py"
    bindings: dict[str, tuple[str, str] | None] = {}

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    package = module.split(".") if is_package else module.split(".")[:-1]
                    package = package[: len(package) - (node.level - 1)]
                    source = ".".join([*package, *([node.module] if node.module else [])])
                else:
                    source = node.module or ""
                for alias in node.names:
                    bindings[alias.asname or alias.name] = (source, alias.name)
            elif isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                bindings[node.name] = None
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for name in ast.walk(target):
                        if isinstance(name, ast.Name):
                            bindings[name.id] = None
            elif isinstance(node, (ast.If, ast.Try)):
                visit(node.body)
                visit(node.orelse)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return bindings


def _origin(module: str, name: str) -> str:
    """The dotted path where the object ``module.name`` is defined."""
    binding = _bindings(module).get(name)
    if binding is None:
        return f"{module}.{name}"
    source, source_name = binding
    if _module_file(f"{source}.{source_name}") is not None:  # a submodule
        return f"{source}.{source_name}"
    if _module_file(source) is None:  # not ours
        return f"{source}.{source_name}"
    return _origin(source, source_name)


@cache
def _public_names(module: str) -> tuple[str, ...]:
    """``__all__``, else the public names defined (not imported) in the module."""
    path = _module_file(module)
    assert path is not None, module
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
            and isinstance(node.value, (ast.List, ast.Tuple))
        ):
            return tuple(str(ast.literal_eval(element)) for element in node.value.elts)
    return tuple(
        name for name, binding in _bindings(module).items() if binding is None and not name.startswith("_")
    )


def _selective_blocks() -> list[Block]:
    return [block for block in _blocks() if block.members is not None]


@pytest.mark.parametrize("block", _selective_blocks(), ids=lambda block: block.identifier)
def test_a_selective_block_leaves_out_only_what_the_package_page_renders(block: Block) -> None:
    module = block.identifier
    package = ".".join(module.split(".")[:2])
    assert block.members is not None
    package_blocks = [b for b in _blocks() if b.identifier == package]
    assert package_blocks, f"{module} leaves names to the page of {package}, which has none"
    assert package_blocks[0].members is None, f"the page of {package} renders only some members"
    on_package_page = {_origin(package, name) for name in _public_names(package)}
    public = _public_names(module)
    missing = [
        name for name in public if name not in block.members and _origin(module, name) not in on_package_page
    ]
    assert not missing, (
        f"{block.page.name} renders {module} without these public names, "
        f"which the {package} page does not render either: {missing}; add them under `members:`"
    )
    stale = [name for name in block.members if name not in public]
    assert not stale, f"{block.page.name} lists names {module} does not export: {stale}"
    duplicated = [name for name in block.members if _origin(module, name) in on_package_page]
    assert not duplicated, (
        f"{block.page.name} renders names of {module} that the {package} page renders too "
        f"(one object, two pages): {duplicated}"
    )


def test_every_reference_page_is_in_the_nav() -> None:
    text = MKDOCS_YML.read_text(encoding="utf-8")
    nav = text[text.index("\nnav:") :]
    in_nav = set(re.findall(r"^\s+-\s+(?:[^\n]*?:\s+)?(reference/[\w.-]+\.md)\s*$", nav, re.MULTILINE))
    pages = {f"reference/{page.name}" for page in REFERENCE.glob("*.md")}
    assert pages, "no reference pages found"
    assert not pages - in_nav, f"reference pages missing from the nav of mkdocs.yml: {sorted(pages - in_nav)}"
    assert not in_nav - pages, f"nav entries without a page: {sorted(in_nav - pages)}"


# ------------------------------------------------------------------ the built-site check


def test_site_check_finds_literal_roles(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<p>See <a href='x'><code>Map</code></a>.</p>")
    (tmp_path / "reference").mkdir()
    (tmp_path / "reference" / "index.html").write_text("<p>Closed by :meth:<code>close</code>.</p>")
    (tmp_path / "search").mkdir()
    (tmp_path / "search" / "search_index.json").write_text('{"text": "a :class:`Map` here"}')
    found = check(tmp_path)
    assert sorted(found) == [Path("reference/index.html"), Path("search/search_index.json")]
    assert literal_roles("a :func:<code>f</code> b") == ["a :func:<code>f</code> b"]
    assert literal_roles("a [`f()`][ebpf.x.f] b, the class: `Map`") == []
