"""The code blocks of the documentation, found and run the way the tests run them.

Every fenced Python block (```` ```python ````, ```` ```py ````, ```` ```pycon ````)
of ``README.md``, ``docs/*.md``, ``examples/README.md`` and
``packages/*/README.md`` is executed by ``integration/docs/`` as root against
the real kernel, the blocks of one page in order and in one namespace, as a
reader types them: a later block may use what an earlier one defined. Blocks
written as an interactive session (``>>>`` lines) are run as doctests, so the
output they show is checked too.

What a page shows as a file is there when its code runs: a fenced block of
any language with a ``title="NAME"`` attribute (```` ```c title="minimal.bpf.c" ````,
which MkDocs renders as a file name above the code) is written to ``NAME`` in
the page's scratch directory first.

A block that is deliberately incomplete says so on its first line, visibly,
with the reason: ``# partial: <why it cannot run alone>``. Such blocks are
only compiled. ``tests/repo/test_doc_snippets.py`` keeps them rare.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: The fence languages that mean Python.
PYTHON_LANGUAGES = frozenset({"python", "py", "pycon", "python3"})

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_ATTRIBUTE = re.compile(r'(\w+)="([^"]*)"')
_PARTIAL = re.compile(r"#\s*partial:\s*(?P<why>.*\S)")


def documentation_pages() -> list[Path]:
    """Every Markdown page whose code blocks must run, relative to the repository root."""
    found = [ROOT / "README.md", ROOT / "examples" / "README.md"]
    found += sorted((ROOT / "docs").glob("*.md"))
    found += sorted((ROOT / "packages").glob("*/README.md"))
    return [path.relative_to(ROOT) for path in found if path.is_file()]


@dataclass(frozen=True)
class Block:
    """One fenced code block of a Markdown page."""

    page: Path  # relative to the repository root
    line: int  # the 1-based line of the block's first line of code
    language: str  # the first word of the info string, lower case ("" when none)
    attributes: dict[str, str]  # key="value" pairs of the info string
    code: str  # the contents, without the fence lines and the fence's indentation

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def is_python(self) -> bool:
        return self.language in PYTHON_LANGUAGES

    @property
    def is_doctest(self) -> bool:
        return self.code.lstrip().startswith(">>>")

    @cached_property
    def partial(self) -> str | None:
        """Why the block cannot run alone, from its ``# partial: ...`` first line; ``None`` if it can."""
        lines = self.code.strip().splitlines()
        match = _PARTIAL.fullmatch(lines[0].strip()) if lines else None
        return match.group("why") if match else None


def parse_blocks(text: str, page: Path) -> list[Block]:
    """The fenced code blocks of Markdown ``text`` (``page`` names it in the results).

    A fence closes with the same character, at least as many of them, and
    nothing else on the line (CommonMark); an unclosed block runs to the end.

    Raises:
        ValueError: a fenced block is never closed.
    """
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        indent, fence, info = opening["indent"], opening["fence"], opening["info"].strip()
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            closing = _FENCE.match(lines[j])
            if (
                closing is not None
                and closing["fence"][0] == fence[0]
                and len(closing["fence"]) >= len(fence)
                and not closing["info"].strip()
            ):
                break
            body.append(lines[j][len(indent) :] if lines[j].startswith(indent) else lines[j].lstrip())
            j += 1
        else:
            raise ValueError(f"{page}:{i + 1}: the code block opened here is never closed")
        language = info.split()[0].lower() if info.split() else ""
        code = "\n".join(body) + "\n"
        blocks.append(Block(page, i + 2, language, dict(_ATTRIBUTE.findall(info)), code))
        i = j + 1
    return blocks


def page_blocks(page: Path) -> list[Block]:
    """The fenced code blocks of ``page`` (relative to the repository root)."""
    return parse_blocks((ROOT / page).read_text(encoding="utf-8"), page)


def runnable_pages() -> list[Path]:
    """The pages with at least one Python block that is not partial."""
    return [
        page
        for page in documentation_pages()
        if any(block.is_python and block.partial is None for block in page_blocks(page))
    ]


def runner_input(page: Path) -> str:
    """What ``RUNNER`` reads on stdin to run ``page``: its files and Python blocks, as JSON."""
    blocks = page_blocks(page)
    return json.dumps(
        {
            "files": {b.attributes["title"]: b.code for b in blocks if "title" in b.attributes},
            "blocks": [
                {
                    "where": b.where,
                    "page": str(b.page),
                    "line": b.line,
                    "code": b.code,
                    "doctest": b.is_doctest,
                }
                for b in blocks
                if b.is_python and b.partial is None
            ],
        }
    )


#: The program that runs one page in a fresh interpreter, in its scratch directory (the working
#: directory): it writes the page's files, then runs its blocks in order in one namespace, code
#: compiled with the page's own name and line numbers so that a traceback points into the page.
RUNNER = r"""
import doctest, json, sys, traceback
from pathlib import Path

page = json.load(sys.stdin)
for name, text in page["files"].items():
    Path(name).write_text(text)
namespace = {"__name__": "__main__"}
for block in page["blocks"]:
    print(f"--- running {block['where']}", flush=True)
    if block["doctest"]:
        test = doctest.DocTestParser().get_doctest(
            block["code"], namespace, block["where"], block["page"], block["line"] - 1
        )
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        runner.run(test, out=sys.stdout.write, clear_globs=False)
        if runner.failures:
            sys.exit(f"{block['where']}: {runner.failures} doctest example(s) failed")
        continue
    try:
        exec(compile("\n" * (block["line"] - 1) + block["code"], block["page"], "exec"), namespace)
    except BaseException:
        traceback.print_exc()
        sys.exit(f"{block['where']}: the block raised")
print("--- every block ran", flush=True)
"""
