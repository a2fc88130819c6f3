"""``ebpf cgroup tree [ROOT]`` and ``ebpf cgroup show CGROUP``: programs attached to cgroups, as in bpftool.

Plain output is bpftool's::

    CgroupPath
    ID       AttachType      AttachFlags     Name
    /sys/fs/cgroup/unified/app
        42       cgroup_inet_ingress multi           count_pkts

``--json`` prints bpftool's fields: for ``tree`` an array of
``{"cgroup": PATH, "programs": [...]}``, for ``show`` the programs alone;
each program is ``id``, ``attach_type``, ``attach_flags`` (``multi``,
``override`` or ``""``), ``name``, and for LSM cgroup programs the hook:
``attach_btf_name`` (``""`` for others), ``attach_btf_obj_id``, ``attach_btf_id``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ._output import CliError, print_json
from ._words import Words

if TYPE_CHECKING:
    from ebpf.progs import CgroupAttachment

__all__ = ["cmd_cgroup_show", "cmd_cgroup_tree"]


def _flags_text(flags: int) -> str:
    """bpftool's words for attach flags."""
    from ebpf.syscall import AttachFlags

    if flags == AttachFlags.ALLOW_MULTI:
        return "multi"
    if flags == AttachFlags.ALLOW_OVERRIDE:
        return "override"
    return "" if flags == 0 else f"unknown({flags:x})"


def _attach_btf_name(btf_obj_id: int, btf_id: int) -> str:
    """The name of an LSM cgroup program's hook (its attach BTF type), ``""`` for other programs."""
    if not btf_id:
        return ""
    from ebpf.btf import load_kernel_object

    return load_kernel_object(btf_obj_id)[btf_id].name if btf_obj_id else ""


def _program_entry(attachment: CgroupAttachment) -> dict[str, object]:
    from ebpf.syscall import BpfSyscallError, commands, objects

    try:
        with commands.prog_get_fd_by_id(attachment.prog_id) as fd:
            info = objects.get_program_info(fd)
        name, btf_obj_id, btf_id = info.name, info.attach_btf_obj_id, info.attach_btf_id
    except BpfSyscallError:  # detached while we list
        name, btf_obj_id, btf_id = "", 0, 0
    btf_name = _attach_btf_name(btf_obj_id, btf_id)
    return {
        "id": attachment.prog_id,
        "attach_type": btf_name or attachment.attach_type.name.lower(),
        "attach_flags": _flags_text(attachment.attach_flags),
        "name": name,
        "attach_btf_name": btf_name,
        "attach_btf_obj_id": btf_obj_id,
        "attach_btf_id": btf_id,
    }


def _programs(path: str) -> list[dict[str, object]]:
    from ebpf.progs import cgroup_attachments

    return [_program_entry(a) for a in cgroup_attachments(path)]


def _program_line(entry: dict[str, object], nested: bool) -> str:
    return (
        f"{'    ' if nested else ''}{entry['id']:<8} {entry['attach_type']:<15}"
        f" {entry['attach_flags']:<15} {entry['name']:<15}"
    ).rstrip()


_HEADER = f"{'ID':<8} {'AttachType':<15} {'AttachFlags':<15} {'Name':<15}".rstrip()


def _walk(root: str) -> Iterator[tuple[str, int]]:
    """Every cgroup under ``root`` (itself first), parents before children, with its depth."""
    yield root, 0
    base = root.rstrip("/").count("/")
    for dirpath, dirnames, _ in os.walk(root):
        dirnames.sort()
        for name in dirnames:
            path = os.path.join(dirpath, name)
            yield path, path.count("/") - base


def _cgroup_root(words: Words) -> str:
    from ebpf.syscall import system

    root = words.take("cgroup") if words else None
    words.end()
    if root is None:
        mounted = system.cgroup2_path()
        if mounted is None:
            raise CliError("cgroup v2 is not mounted: give the cgroup to list (mount -t cgroup2 none DIR)")
        root = str(mounted)
    from ebpf.progs import cgroup_exists

    if not cgroup_exists(root):
        raise CliError(f"{root} is not a cgroup v2 directory")
    return root


def cmd_cgroup_tree(args: argparse.Namespace) -> int:
    """``cgroup tree [ROOT]``: the cgroups under ROOT (default: the cgroup v2 mount) with programs."""
    root = _cgroup_root(Words(args.words, "cgroup tree"))
    found = []
    for path, depth in _walk(root):
        try:
            programs = _programs(path)
        except FileNotFoundError:  # removed while we walk
            continue
        if programs:
            found.append((path, depth, programs))
    if args.json:
        print_json([{"cgroup": path, "programs": programs} for path, _, programs in found])
        return 0
    print("CgroupPath")
    print(_HEADER)
    for path, depth, programs in found:
        print(path)
        for entry in programs:
            print(_program_line(entry, depth > 0))
    return 0


def cmd_cgroup_show(args: argparse.Namespace) -> int:
    """``cgroup show CGROUP``: the programs attached to one cgroup."""
    words = Words(args.words, "cgroup show")
    if not words:
        words.usage("missing the cgroup")
    programs = _programs(_cgroup_root(words))
    if args.json:
        print_json(programs)
        return 0
    print(_HEADER)
    for entry in programs:
        print(_program_line(entry, False))
    return 0
