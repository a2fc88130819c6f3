"""``ebpf map list|show|dump|lookup|update|delete``: maps and their elements, decoded with BTF."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ._map_verbs import map_element_words
from ._objects import kernel_btf, open_by_id, resolve_id
from ._output import CliError, print_json, show, table, type_name

if TYPE_CHECKING:
    from ebpf.maps import BtfCodec, Map
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
    return {
        "id": info.id,
        "type": type_name(info.type),
        "name": info.name,
        "key_size": info.key_size,
        "value_size": info.value_size,
        "max_entries": info.max_entries,
        "flags": info.flags,
        "btf_id": info.btf_id,
    }


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
            r["key_size"],
            r["value_size"],
            r["max_entries"],
            r["btf_id"] or "-",
        )
        for r in rows
    ]
    print(table(("ID", "TYPE", "NAME", "KEY", "VALUE", "MAX_ENTRIES", "BTF"), cells))
    return 0


def cmd_map_show(args: argparse.Namespace) -> int:
    return show(_map_row(_map_info(args.map)), args.json)


class _Decoder:
    """Shows a map's raw keys and values: decoded with the map's BTF when it has some, else as hex."""

    def __init__(self, info: MapInfo) -> None:
        from ebpf.maps import BtfCodec

        self.info = info
        self.key_codec: BtfCodec | None = None
        self.value_codec: BtfCodec | None = None
        if info.btf_id and (info.btf_key_type_id or info.btf_value_type_id):
            graph = kernel_btf(info.btf_id)
            if info.btf_key_type_id:
                self.key_codec = BtfCodec(graph, info.btf_key_type_id)
            if info.btf_value_type_id:
                self.value_codec = BtfCodec(graph, info.btf_value_type_id)

    @staticmethod
    def _decode(codec: BtfCodec | None, raw: bytes) -> object:
        return raw.hex(" ") if codec is None else codec.decode(raw)

    def key(self, raw: bytes) -> object:
        return self._decode(self.key_codec, raw)

    def value(self, raw: bytes | list[bytes]) -> object:
        if isinstance(raw, list):  # per-CPU
            return [self._decode(self.value_codec, v) for v in raw]
        return self._decode(self.value_codec, raw)


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
    from ebpf.maps import KeyValueMap

    info = _map_info(args.map)
    decoder = _Decoder(info)
    with _open_raw(info) as m:
        assert isinstance(m, KeyValueMap)
        entries = [{"key": decoder.key(k), "value": decoder.value(v)} for k, v in m.iter_items()]
    if args.json:
        print_json(entries)
        return 0
    for entry in entries:
        print(f"key: {_fmt(entry['key'])}  value: {_fmt(entry['value'])}")
    print(f"Found {len(entries)} element{'s' if len(entries) != 1 else ''}")
    return 0


def _fmt(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


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
    entry = {"key": decoder.key(key), "value": decoder.value(value)}
    if args.json:
        print_json(entry)
    else:
        print(f"key: {_fmt(entry['key'])}  value: {_fmt(entry['value'])}")
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
