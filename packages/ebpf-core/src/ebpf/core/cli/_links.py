"""``ebpf link list|show``: bpf_links."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ._objects import open_by_id, pinned_id
from ._output import print_json, show, table, type_name

if TYPE_CHECKING:
    from ebpf.syscall.objects import LinkInfo

__all__ = ["cmd_link_list", "cmd_link_show"]


def _link_row(info: LinkInfo) -> dict[str, object]:
    return {"id": info.id, "type": type_name(info.type), "prog_id": info.prog_id}


def cmd_link_list(args: argparse.Namespace) -> int:
    from ebpf.syscall import objects

    rows = [_link_row(info) for info in objects.list_links()]
    if args.json:
        print_json(rows)
    else:
        print(table(("ID", "TYPE", "PROG"), [(r["id"], r["type"], r["prog_id"]) for r in rows]))
    return 0


def cmd_link_show(args: argparse.Namespace) -> int:
    from ebpf.syscall import objects

    link_id = int(args.link) if args.link.isdigit() else pinned_id("link", args.link)
    with open_by_id("link", link_id) as fd:
        return show(_link_row(objects.get_link_info(fd)), args.json)
