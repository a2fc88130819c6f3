"""``ebpf map list|show|dump|lookup|update|delete``: maps and their elements, decoded with BTF."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ._map_verbs import map_element_words
from ._objects import kernel_btf, open_by_id, resolve_id
from ._output import CliError, hex_bytes, print_json, print_json_stream, show, table, type_name

if TYPE_CHECKING:
    from ebpf.btf import TypeGraph
    from ebpf.maps import Map
    from ebpf.syscall.objects import MapInfo

__all__ = [
    "cmd_map_delete",
    "cmd_map_dump",
    "cmd_map_list",
    "cmd_map_lookup",
    "cmd_map_show",
    "cmd_map_update",
    "parse_bytes",
]


def _map_info(ref: str) -> MapInfo:
    from ebpf.syscall import objects

    with open_by_id("map", resolve_id("map", ref, objects.list_maps)) as fd:
        return objects.get_map_info(fd)


def _map_row(info: MapInfo) -> dict[str, object]:
    """The map as ``bpftool -j map show`` has it: its fields, names and presence rules.

    Differences (docs/cli.md): ``name`` is always there ("" for none).
    """
    from ebpf.syscall import MapType, ProgType, objects

    row: dict[str, object] = {"id": info.id, "type": type_name(info.type), "name": info.name}
    if info.ifindex:
        row["ifindex"] = info.ifindex
    row.update(
        flags=info.flags,
        bytes_key=info.key_size,
        bytes_value=info.value_size,
        max_entries=info.max_entries,
    )
    try:
        with open_by_id("map", info.id) as fd:
            fdinfo = objects.fd_info(fd)
    except (CliError, OSError):  # gone meanwhile
        fdinfo = {}
    if fdinfo.get("memlock", "").isdigit():
        row["bytes_memlock"] = int(fdinfo["memlock"])
    if info.type == MapType.PROG_ARRAY and fdinfo.get("owner_prog_type", "").isdigit():
        owner = int(fdinfo["owner_prog_type"])
        row["owner_prog_type"] = type_name(ProgType(owner)) if owner in ProgType._value2member_map_ else owner
        row["owner_jited"] = fdinfo.get("owner_jited") == "1"
    if fdinfo.get("frozen", "").isdigit():
        row["frozen"] = int(fdinfo["frozen"])
    if info.btf_id:
        row["btf_id"] = info.btf_id
    return row


def _map_label(info: MapInfo) -> str:
    return f"{info.id} ({info.name})" if info.name else str(info.id)


def cmd_map_list(args: argparse.Namespace) -> int:
    from ebpf.syscall import objects

    rows = [_map_row(info) for info in objects.list_maps()]
    if args.json:
        print_json(rows)
        return 0
    cells = [
        (
            r["id"],
            r["type"],
            r["name"] or "-",
            r["bytes_key"],
            r["bytes_value"],
            r["max_entries"],
            r.get("btf_id", "-"),
        )
        for r in rows
    ]
    print(table(("ID", "TYPE", "NAME", "KEY", "VALUE", "MAX_ENTRIES", "BTF"), cells))
    return 0


def cmd_map_show(args: argparse.Namespace) -> int:
    return show(_map_row(_map_info(args.map)), args.json)


class _Decoder:
    """Turns a map's raw keys and values into bpftool's ``map dump -j`` entries.

    Each entry has ``key`` and ``value`` (``values`` per CPU: ``[{"cpu": 0, "value": ...}]``)
    as lists of ``"0x.."`` bytes, and, when the map has BTF, ``formatted``: the same
    decoded with it. A data section's value (``.rodata``, ``.data``, ``.bss``) is formatted
    as bpftool does: ``{".rodata": [{"var": value}, ...]}``.
    """

    def __init__(self, info: MapInfo) -> None:
        self.info = info
        self.key_format: Callable[[bytes], object] | None = None
        self.value_format: Callable[[bytes], object] | None = None
        if info.btf_id and (info.btf_key_type_id or info.btf_value_type_id):
            graph = kernel_btf(info.btf_id)
            if info.btf_key_type_id:
                self.key_format = _btf_format(graph, info.btf_key_type_id)
            if info.btf_value_type_id:
                self.value_format = _btf_format(graph, info.btf_value_type_id)

    def entry(self, key: bytes, value: bytes | list[bytes]) -> dict[str, object]:
        """bpftool's JSON entry of one element."""
        entry: dict[str, object] = {"key": hex_bytes(key)}
        formatted: dict[str, object] = {}
        if self.key_format is not None:
            formatted["key"] = self.key_format(key)
        if isinstance(value, list):  # per-CPU
            entry["values"] = [{"cpu": cpu, "value": hex_bytes(v)} for cpu, v in enumerate(value)]
            if self.value_format is not None:
                fmt = self.value_format
                formatted["values"] = [{"cpu": cpu, "value": fmt(v)} for cpu, v in enumerate(value)]
        else:
            entry["value"] = hex_bytes(value)
            if self.value_format is not None:
                formatted["value"] = self.value_format(value)
        if formatted:
            entry["formatted"] = formatted
        return entry

    @staticmethod
    def text(entry: dict[str, object]) -> str:
        """One line of the text dump: the formatted key and value when there is BTF, else hex bytes."""
        shown = entry.get("formatted", entry)
        assert isinstance(shown, dict)
        parts = []
        for field in ("key", "value", "values"):
            if field in shown:
                parts.append(f"{field}: {_fmt(shown[field])}")
        return "  ".join(parts)


def _btf_format(graph: TypeGraph, type_id: int) -> Callable[[bytes], object]:
    """How bpftool formats bytes of BTF type ``type_id``: decoded, a data section as its variables."""
    from ebpf.btf import Datasec, Var
    from ebpf.maps import BtfCodec

    section = graph.resolve(type_id)
    if not isinstance(section, Datasec):
        return BtfCodec(graph, type_id).decode
    variables = []
    for place in section.vars:
        var = graph[place.type_id]
        name = var.name if isinstance(var, Var) else ""
        codec = BtfCodec(graph, var.type_id if isinstance(var, Var) else place.type_id)
        variables.append((name, place.offset, place.size, codec))

    def decode(raw: bytes) -> object:
        return {
            section.name: [
                {name: codec.decode(raw[offset : offset + size])} for name, offset, size, codec in variables
            ]
        }

    return decode


def _open_raw(info: MapInfo) -> Map:
    """The map with raw-bytes codecs for keys and values."""
    from ebpf.maps import BytesCodec, KeyValueMap, Map

    key = BytesCodec(info.key_size) if info.key_size else None
    value = BytesCodec(info.value_size) if info.value_size else None
    opened = Map.from_id(info.id, key=key, value=value)
    if not isinstance(opened, KeyValueMap):
        opened.close()
        raise CliError(
            f"map {_map_label(info)} is a {type_name(info.type)} map: "
            "it has no keys to list, look up or change"
        )
    return opened


def cmd_map_dump(args: argparse.Namespace) -> int:
    """Print every element as it is read (a chunk of keys at a time), so memory stays flat."""
    from ebpf.maps import KeyValueMap

    info = _map_info(args.map)
    decoder = _Decoder(info)
    with _open_raw(info) as m:
        assert isinstance(m, KeyValueMap)
        entries = (decoder.entry(k, v) for k, v in m.iter_items())
        if args.json:
            print_json_stream(entries)
            return 0
        count = 0
        for entry in entries:
            print(decoder.text(entry))
            count += 1
    print(f"Found {count} element{'s' if count != 1 else ''}")
    return 0


def _fmt(value: object) -> str:
    if isinstance(value, list) and all(isinstance(v, str) and v.startswith("0x") for v in value):
        return " ".join(v[2:] for v in value)  # raw bytes, as bpftool's text shows them
    return json.dumps(value, default=str)


def parse_bytes(tokens: Sequence[str], size: int, what: str) -> bytes:
    """``--key 5`` (an integer of the key's size, little-endian), or one token per byte (``1 0 0 0``)."""
    try:
        if len(tokens) == 1 and not tokens[0].startswith("hex:"):
            number = int(tokens[0], 0)
            signed = number < 0
            return number.to_bytes(size, "little", signed=signed)
        data = bytes.fromhex(tokens[0][4:]) if len(tokens) == 1 else bytes(int(t, 0) for t in tokens)
    except (ValueError, OverflowError) as exc:
        raise CliError(
            f"bad {what} {' '.join(tokens)!r} ({exc}): give an integer, hex:<digits>, or {size} byte values"
        ) from None
    if len(data) != size:
        raise CliError(f"the {what} is {size} bytes, got {len(data)}: {' '.join(tokens)}")
    return data


def _key_text(tokens: Sequence[str], key: bytes) -> str:
    """How a message names a key: as the user typed it, and its bytes when that differs."""
    typed = " ".join(tokens)
    return typed if typed == f"hex:{key.hex()}" else f"{typed} ({key.hex(' ')})"


def cmd_map_lookup(args: argparse.Namespace) -> int:
    from ebpf.maps import KeyValueMap
    from ebpf.syscall import KeyNotFoundError

    ref, key_words, _, _ = map_element_words(args, "map lookup", value=False)
    info = _map_info(ref)
    decoder = _Decoder(info)
    with _open_raw(info) as m:
        assert isinstance(m, KeyValueMap)
        key = parse_bytes(key_words, info.key_size, "key")
        try:
            value = m.lookup(key)
        except KeyNotFoundError:
            raise CliError(f"key {_key_text(key_words, key)} is not in map {_map_label(info)}") from None
    entry = decoder.entry(key, value)
    if args.json:
        print_json(entry)
    else:
        print(decoder.text(entry))
    return 0


def cmd_map_update(args: argparse.Namespace) -> int:
    from ebpf.maps import KeyValueMap
    from ebpf.syscall import UpdateFlags

    ref, key_words, value_words, flag = map_element_words(args, "map update", value=True)
    info = _map_info(ref)
    with _open_raw(info) as m:
        assert isinstance(m, KeyValueMap)
        key = parse_bytes(key_words, info.key_size, "key")
        assert value_words is not None
        value = parse_bytes(value_words, info.value_size, "value")
        m.update(key, value, flags=UpdateFlags[flag.upper()])
    return 0


def cmd_map_delete(args: argparse.Namespace) -> int:
    from ebpf.maps import KeyValueMap
    from ebpf.syscall import KeyNotFoundError

    ref, key_words, _, _ = map_element_words(args, "map delete", value=False)
    info = _map_info(ref)
    with _open_raw(info) as m:
        assert isinstance(m, KeyValueMap)
        key = parse_bytes(key_words, info.key_size, "key")
        try:
            m.delete(key)
        except KeyNotFoundError:
            raise CliError(f"key {_key_text(key_words, key)} is not in map {_map_label(info)}") from None
    return 0
