"""``ebpf struct_ops list|dump|register|unregister``: struct_ops (their maps), as bpftool has them.

Plain ``list`` is bpftool's ``ID: NAME KERNEL_STRUCT`` line::

    1134: ebpf_reno       tcp_congestion_ops

``--json`` prints bpftool's ``id``, ``name`` and ``kernel_struct_ops``.
``dump`` adds the map's value, decoded with the kernel's type of it
(``bpf_struct_ops_tcp_congestion_ops``), as ``{TYPE_NAME: value}``.

``register OBJ [LINK_DIR]`` loads a BPF object file and registers each of
its struct_ops maps: those of ``.struct_ops`` stay registered after
``ebpf`` exits (until ``unregister``), those of ``.struct_ops.link`` are
bpf_links pinned at ``LINK_DIR/<map name>`` (removing the pin
unregisters them), so LINK_DIR is required when the object has some.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ._output import CliError, print_json
from ._words import Words, check_new_pin

if TYPE_CHECKING:
    from ebpf.syscall.objects import MapInfo

__all__ = [
    "cmd_struct_ops_dump",
    "cmd_struct_ops_list",
    "cmd_struct_ops_register",
    "cmd_struct_ops_unregister",
]

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


def cmd_struct_ops_register(args: argparse.Namespace) -> int:
    """``struct_ops register OBJ [LINK_DIR]``: load the object and register its struct_ops maps."""
    import contextlib
    from pathlib import Path

    from ebpf.elf import Collection, CollectionSpec
    from ebpf.progs import BpfLink, Link, StructOpsLink

    words = Words(args.words, "struct_ops register")
    obj = Path(words.take("object file (OBJ)"))
    link_dir = Path(words.take("link directory")) if words else None
    words.end()
    if not obj.is_file():
        raise CliError(f"{obj}: no such file")
    spec = CollectionSpec.from_file(obj)
    if not spec.struct_ops:
        raise CliError(f"{obj} has no struct_ops maps (sections .struct_ops, .struct_ops.link)")
    linked = sorted(name for name, ops in spec.struct_ops.items() if ops.link)
    if linked and link_dir is None:
        raise CliError(
            f"{obj} registers {', '.join(linked)} through bpf_links, which end with ebpf: "
            "give a LINK_DIR on bpffs to pin them in"
        )
    if linked and link_dir is not None:
        for name in linked:
            check_new_pin(str(link_dir / name))
    registered: list[Link] = []
    pins: list[Path] = []
    with Collection.load(spec) as collection:
        try:
            for name in spec.struct_ops:
                link = collection.attach_struct_ops(name)
                registered.append(link)
                if isinstance(link, BpfLink):
                    assert link_dir is not None
                    link.pin(link_dir / name)
                    pins.append(link_dir / name)
        except BaseException:
            for pin in pins:
                with contextlib.suppress(FileNotFoundError):
                    pin.unlink()
            for link in registered:
                link.close()
            raise
        for name, link in zip(spec.struct_ops, registered, strict=True):
            info = collection.maps[name].info()
            what = f"Registered {_entry(info)['kernel_struct_ops']} {info.name}"
            if isinstance(link, StructOpsLink):
                link.keep_registered()
                print(f"{what} id {info.id}")
            else:
                link_id = link.info().id
                link.close()  # the pin keeps it
                print(f"{what} map id {info.id} link id {link_id}")
    return 0


def cmd_struct_ops_unregister(args: argparse.Namespace) -> int:
    """``struct_ops unregister STRUCT_OPS_MAP``: unregister ops that ``register`` left registered."""
    from ebpf.syscall import commands

    [info] = _chosen(args, "struct_ops unregister") if args.words else [None]
    if info is None:
        Words([], "struct_ops unregister").usage(
            "missing the struct_ops map (id N, name NAME or pinned PATH)"
        )
    with commands.map_get_fd_by_id(info.id) as fd:
        commands.map_delete_elem(fd, bytes(4))
    print(f"Unregistered {_entry(info)['kernel_struct_ops']} {info.name} id {info.id}")
    return 0
