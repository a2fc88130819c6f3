"""``ebpf struct_ops list|dump``: registered struct_ops (their maps), as bpftool lists them.

Plain ``list`` is bpftool's ``ID: NAME KERNEL_STRUCT`` line::

    1134: ebpf_reno       tcp_congestion_ops

``--json`` prints bpftool's ``id``, ``name`` and ``kernel_struct_ops``.
``dump`` adds the map's value, decoded with the kernel's type of it
(``bpf_struct_ops_tcp_congestion_ops``), as ``{TYPE_NAME: value}``.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ._output import CliError, print_json
from ._words import Words

if TYPE_CHECKING:
    from ebpf.syscall.objects import MapInfo

__all__ = ["cmd_struct_ops_dump", "cmd_struct_ops_list"]

#: The kernel names the value type of struct_ops ``T`` ``bpf_struct_ops_T``.
_VALUE_PREFIX = "bpf_struct_ops_"


def _struct_ops_maps() -> list[MapInfo]:
    from ebpf.syscall import MapType, objects

    return [info for info in objects.list_maps() if info.type == MapType.STRUCT_OPS]


def _value_type_name(info: MapInfo) -> str:
    """The kernel's name of the map's value type (``bpf_struct_ops_tcp_congestion_ops``)."""
    from ebpf.btf import load_vmlinux

    return load_vmlinux()[info.btf_vmlinux_value_type_id].name


def _entry(info: MapInfo) -> dict[str, object]:
    return {
        "id": info.id,
        "name": info.name,
        "kernel_struct_ops": _value_type_name(info).removeprefix(_VALUE_PREFIX),
    }


def _chosen(args: argparse.Namespace, command: str) -> list[MapInfo]:
    """The struct_ops maps named by the words (``id N``, ``name NAME``, ``pinned PATH``), or all of them."""
    from ebpf.syscall import MapType, objects

    words = Words(args.words, command)
    if not words:
        return _struct_ops_maps()
    map_id = words.take_object("map", _struct_ops_maps)
    words.end()
    chosen = [info for info in objects.list_maps() if info.id == map_id]
    if not chosen or chosen[0].type != MapType.STRUCT_OPS:
        raise CliError(f"map {map_id} is not a struct_ops map (`ebpf struct_ops list` shows those that are)")
    return chosen


def cmd_struct_ops_list(args: argparse.Namespace) -> int:
    """``struct_ops list [STRUCT_OPS_MAP]``: the struct_ops maps with the kernel struct each implements."""
    entries = [_entry(info) for info in _chosen(args, "struct_ops list")]
    if args.json:
        print_json(entries)
    else:
        for e in entries:
            print(f"{e['id']}: {e['name']:<15} {e['kernel_struct_ops']:<32}".rstrip())
    return 0


def _value(info: MapInfo) -> object:
    """The map's one value (key 0), decoded with the kernel's type of it."""
    from ebpf.btf import load_vmlinux
    from ebpf.maps import BtfCodec
    from ebpf.syscall import commands

    raw = bytearray(info.value_size)
    with commands.map_get_fd_by_id(info.id) as fd:
        commands.map_lookup_elem(fd, bytes(4), raw)
    return BtfCodec(load_vmlinux(), info.btf_vmlinux_value_type_id).decode(bytes(raw))


def cmd_struct_ops_dump(args: argparse.Namespace) -> int:
    """``struct_ops dump [STRUCT_OPS_MAP]``: each struct_ops map's info and its value."""
    entries = [
        {**_entry(info), _value_type_name(info): _value(info)} for info in _chosen(args, "struct_ops dump")
    ]
    if args.json:
        print_json(entries)
        return 0
    import json

    for entry in entries:
        for key, value in entry.items():
            print(f"{key}: {json.dumps(value, default=str) if isinstance(value, dict | list) else value}")
        print()
    return 0
