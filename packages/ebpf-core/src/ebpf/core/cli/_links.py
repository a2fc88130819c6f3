"""``ebpf link list|show|pin|detach``: bpf_links."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ._objects import open_by_id, pinned_id
from ._output import print_json, show, table, type_name
from ._words import Words, check_new_pin

if TYPE_CHECKING:
    from ebpf.syscall.objects import LinkInfo

__all__ = ["cmd_link_detach", "cmd_link_list", "cmd_link_pin", "cmd_link_show"]


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


def _link_words(args: argparse.Namespace, command: str) -> tuple[int, Words]:
    """The link named by ``id N`` or ``pinned PATH`` (links have no names), and the words after it."""
    from ebpf.syscall import objects

    words = Words(args.words, command)
    if words.peek() == "name":
        words.usage("links have no names; give id N or pinned PATH")
    return words.take_object("link", objects.list_links), words


def cmd_link_pin(args: argparse.Namespace) -> int:
    """``link pin LINK PATH``: pin a bpf_link so the attachment outlives every process holding it."""
    from ebpf.progs import BpfLink

    link_id, words = _link_words(args, "link pin")
    path = check_new_pin(words.take("pin path"))
    words.end()
    with BpfLink.from_id(link_id) as link:  # closing this reference leaves the pinned link attached
        link.pin(path)
    return 0


def cmd_link_detach(args: argparse.Namespace) -> int:
    """``link detach LINK``: detach its program now (``BPF_LINK_DETACH``), even while pinned or held.

    Raises:
        BpfSyscallError: the link's type cannot be detached so (tracing links, kernels before 5.9).
    """
    from ebpf.syscall import commands

    link_id, words = _link_words(args, "link detach")
    words.end()
    with open_by_id("link", link_id) as fd:
        commands.link_detach(fd)
    return 0
