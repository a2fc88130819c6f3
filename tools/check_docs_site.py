"""Check the built documentation site for Sphinx roles that reached the pages as literal text.

mkdocstrings renders Markdown: a ``:class:`Name``` left in a docstring shows up on
the page as ``:class:`` followed by the name in code. ``hatch run docs:build`` runs
this after ``mkdocs build --strict``::

    python tools/check_docs_site.py site

Exits 1 and lists each page and role found, 0 when there is none.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

# A role as Markdown renders it (`:meth:<code>close</code>`) or as left verbatim
# (`:meth:`close``, in code blocks and the search index).
LITERAL_ROLE = re.compile(r":(?:class|meth|func|data|mod|attr|exc|obj|const):(?:<code>|`|&#x60;|&#96;)")


def literal_roles(text: str) -> list[str]:
    """The literal Sphinx roles in ``text``, with a little context each."""
    return [
        text[max(0, match.start() - 40) : match.end() + 40].replace("\n", " ")
        for match in LITERAL_ROLE.finditer(text)
    ]


def check(site: Path) -> dict[Path, list[str]]:
    """Every built page (``*.html``) and the search index under ``site``, with the roles found in each."""
    found: dict[Path, list[str]] = {}
    for path in sorted([*site.rglob("*.html"), *site.rglob("search_index.json")]):
        roles = literal_roles(path.read_text(encoding="utf-8", errors="replace"))
        if roles:
            found[path.relative_to(site)] = roles
    return found


def main(argv: list[str]) -> int:
    site = Path(argv[1] if len(argv) > 1 else "site")
    if not (site / "index.html").is_file():
        print(f"check_docs_site: {site} has no index.html; build the site first", file=sys.stderr)
        return 2
    found = check(site)
    for path, roles in found.items():
        for role in roles:
            print(f"{site / path}: literal Sphinx role: ...{role}...", file=sys.stderr)
    if found:
        count = sum(len(roles) for roles in found.values())
        print(
            f"check_docs_site: {count} literal Sphinx roles in {len(found)} files; "
            "write [`Name`][ebpf.pkg.Name] or `Name` in docstrings instead",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
