"""``ebpf link list|show|pin|detach``: bpf_links."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ._objects import open_by_id, pinned_id
from ._output import CliError, print_json, show, table, type_name
from ._words import Words, check_new_pin

if TYPE_CHECKING:
    from ebpf.syscall.fd import FD
    from ebpf.syscall.objects import LinkInfo

__all__ = ["cmd_link_detach", "cmd_link_list", "cmd_link_pin", "cmd_link_show"]


def _attach_type(value: int) -> object:
    from ebpf.syscall import AttachType

    return type_name(AttachType(value)) if value in AttachType._value2member_map_ else value


def _link_row(info: LinkInfo, fd: FD) -> dict[str, object]:
    """The link as ``bpftool -j link show`` has it: ``id``, ``type``, ``prog_id`` and what its type adds.

    Those added: ``tp_name`` (raw_tracepoint); ``attach_type``, ``target_obj_id``,
    ``target_btf_id`` (tracing); ``cgroup_id``, ``attach_type`` (cgroup); ``netns_ino``,
    ``attach_type`` (netns); ``ifindex`` (xdp); ``ifindex``, ``attach_type`` (tcx).
    """
    from ebpf.syscall import LinkType, objects

    row: dict[str, object] = {"id": info.id, "type": type_name(info.type), "prog_id": info.prog_id}
    raw = info.raw
    if info.type == LinkType.RAW_TRACEPOINT:
        row["tp_name"] = objects.link_tracepoint_name(fd)
    elif info.type == LinkType.TRACING:
        row["attach_type"] = _attach_type(raw.tracing.attach_type)
        row["target_obj_id"] = raw.tracing.target_obj_id
        row["target_btf_id"] = raw.tracing.target_btf_id
    elif info.type == LinkType.CGROUP:
        row["cgroup_id"] = raw.cgroup.cgroup_id
        row["attach_type"] = _attach_type(raw.cgroup.attach_type)
    elif info.type == LinkType.NETNS:
        row["netns_ino"] = raw.netns.netns_ino
        row["attach_type"] = _attach_type(raw.netns.attach_type)
    elif info.type == LinkType.XDP:
        row["ifindex"] = raw.xdp.ifindex
    elif info.type == LinkType.TCX:
        row["ifindex"] = raw.tcx.ifindex
        row["attach_type"] = _attach_type(raw.tcx.attach_type)
    return row


def _link_rows() -> list[dict[str, object]]:
    from ebpf.syscall import objects

    rows = []
    for link_id in objects.link_ids():
        try:
            fd = open_by_id("link", link_id)
        except CliError:  # gone meanwhile
            continue
        with fd:
            rows.append(_link_row(objects.get_link_info(fd), fd))
    return rows


def cmd_link_list(args: argparse.Namespace) -> int:
    rows = _link_rows()
    if args.json:
        print_json(rows)
    else:
        print(table(("ID", "TYPE", "PROG"), [(r["id"], r["type"], r["prog_id"]) for r in rows]))
    return 0


def cmd_link_show(args: argparse.Namespace) -> int:
    from ebpf.syscall import objects

    link_id = int(args.link) if args.link.isdigit() else pinned_id("link", args.link)
    with open_by_id("link", link_id) as fd:
        return show(_link_row(objects.get_link_info(fd), fd), args.json)


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
