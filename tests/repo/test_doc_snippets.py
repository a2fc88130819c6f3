"""The rules the documentation's code blocks follow, checked without running them.

``integration/docs/test_docs_snippets_run.py`` runs them (as root, against the
kernel); this checks what can be checked without: every Python block compiles
(a doctest's examples too), partial blocks say why and stay rare, and the
block finder itself sees what a Markdown renderer sees.
"""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

from tests._snippets import Block, documentation_pages, page_blocks, parse_blocks, runnable_pages

#: How many blocks may be partial in the whole documentation: an exception, not a habit.
MAX_PARTIAL = 3

PYTHON_BLOCKS = [block for page in documentation_pages() for block in page_blocks(page) if block.is_python]


def test_the_documentation_pages_are_found() -> None:
    pages = {str(page) for page in documentation_pages()}
    assert {"README.md", "docs/index.md", "docs/getting-started.md", "packages/ebpf-maps/README.md"} <= pages
    assert len([p for p in pages if p.startswith("packages/")]) == 9
    assert len(PYTHON_BLOCKS) >= 20


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=lambda block: block.where)
def test_python_block_compiles(block: Block) -> None:
    if block.is_doctest:
        examples = doctest.DocTestParser().get_examples(block.code)
        assert examples, f"{block.where}: a '>>>' block with no examples"
        for example in examples:
            compile(example.source, block.where, "single")
    else:
        compile(block.code, block.where, "exec")


def test_partial_blocks_say_why_and_are_rare() -> None:
    partial = [block for block in PYTHON_BLOCKS if block.partial is not None]
    assert len(partial) <= MAX_PARTIAL, "too many partial blocks: " + ", ".join(b.where for b in partial)
    for block in partial:
        assert len(block.partial or "") >= 10, f"{block.where}: '# partial:' must say why"
    for block in PYTHON_BLOCKS:
        lines = block.code.splitlines()
        marked_later = [n for n, line in enumerate(lines[1:], 2) if line.lstrip().startswith("# partial:")]
        assert not marked_later, f"{block.where}: '# partial:' belongs on the block's first line"


def test_every_page_with_python_is_run() -> None:
    with_python = {block.page for block in PYTHON_BLOCKS if block.partial is None}
    assert with_python == set(runnable_pages())


def test_blocks_are_found_as_a_renderer_finds_them() -> None:
    text = (
        "Intro\n"
        "```python\nx = 1\n```\n"
        "- a list item:\n\n"
        "    ```py\n    if x:\n        y = 2\n    ```\n"
        '````c title="prog.bpf.c"\nint x;\n```\nstill inside\n````\n'
        "~~~\nplain\n~~~\n"
    )
    blocks = parse_blocks(text, Path("page.md"))
    assert [(b.language, b.line) for b in blocks] == [("python", 3), ("py", 8), ("c", 12), ("", 17)]
    assert blocks[1].code == "if x:\n    y = 2\n"
    assert blocks[2].attributes == {"title": "prog.bpf.c"}
    assert blocks[2].code == "int x;\n```\nstill inside\n"
    with pytest.raises(ValueError, match=r"page.md:1: .* never closed"):
        parse_blocks("```python\nx = 1\n", Path("page.md"))


def test_partial_marker_is_read_from_the_first_line() -> None:
    (block,) = parse_blocks(
        "```python\n# partial: needs a loaded program\nprog.attach()\n```\n", Path("p.md")
    )
    assert block.partial == "needs a loaded program"
    (block,) = parse_blocks("```python\nprog.attach()  # partial: no\n```\n", Path("p.md"))
    assert block.partial is None


def test_titled_files_stay_in_the_scratch_directory() -> None:
    # A block's title names a file the page's code may open: no path may escape the scratch directory.
    for page in documentation_pages():
        for block in page_blocks(page):
            title = block.attributes.get("title")
            if title is not None:
                assert "/" not in title, f"{block.where}: title {title!r} names a path"
                assert title not in ("", ".", ".."), f"{block.where}: title {title!r}"
