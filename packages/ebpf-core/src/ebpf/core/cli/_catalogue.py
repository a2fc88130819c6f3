"""``ebpf catalogue list|show``: the example programs of ``ebpf.core.catalogue``."""

from __future__ import annotations

import argparse

from ._output import CliError, print_json, table, type_name

__all__ = ["cmd_catalogue_list", "cmd_catalogue_show"]


def cmd_catalogue_list(args: argparse.Namespace) -> int:
    from ebpf.core.catalogue import EXAMPLES

    rows = [{"name": e.name, "section": e.section, "summary": e.summary} for e in EXAMPLES.values()]
    if args.json:
        print_json(rows)
    else:
        print(table(("NAME", "SECTION", "SUMMARY"), [tuple(r.values()) for r in rows]))
    return 0


def cmd_catalogue_show(args: argparse.Namespace) -> int:
    from ebpf.core.catalogue import example

    try:
        ex = example(args.name)
    except KeyError as exc:
        raise CliError(str(exc.args[0])) from None
    listing = ex.disassemble()
    if args.json:
        print_json(
            {
                "name": ex.name,
                "section": ex.section,
                "summary": ex.summary,
                "behaviour": ex.behaviour,
                "maps": {name: repr(spec) for name, spec in ex.maps.items()},
                "insns": listing.splitlines(),
            }
        )
        return 0
    print(f"{ex.name} ({ex.section}): {ex.summary}")
    print(f"behaviour: {ex.behaviour}")
    for name, spec in ex.maps.items():
        sizes = f"key {spec.key_size} B, value {spec.value_size} B, {spec.max_entries} entries"
        print(f"map {name}: {type_name(spec.type)}, {sizes}")
    print(listing)
    return 0
