"""``ebpf map create|pin|freeze``, and bpftool's ``map update|delete MAP key ... [value ...]`` words.

::

    ebpf map create PATH type TYPE key N value N entries N name NAME [flags F] [inner_map MAP]
    ebpf map pin MAP PATH
    ebpf map freeze MAP

``create`` makes the map and pins it at PATH (a map nobody holds would be
freed at once). Every word is checked before the map is created, and a map
whose pin fails is freed.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ._output import CliError
from ._words import Words, check_new_pin

if TYPE_CHECKING:
    from ebpf.maps import MapSpec

__all__ = ["cmd_map_create", "cmd_map_freeze", "cmd_map_pin", "map_element_words"]

#: The words of ``map create`` after PATH, and what each one's value is called in messages.
_CREATE_WORDS = {
    "type": "map type",
    "key": "key size",
    "value": "value size",
    "entries": "max entries",
    "name": "map name",
    "flags": "map flags",
    "inner_map": "inner map",
}


def _create_spec(words: Words) -> MapSpec:
    """The MapSpec the words of ``map create`` describe (no system call but naming an inner map)."""
    from ebpf.maps import Map, MapSpec
    from ebpf.syscall import MapType, objects

    given: dict[str, object] = {}
    while words:
        word = words.take("keyword")
        if word not in _CREATE_WORDS:
            words.usage(f"unknown word {word!r} ({', '.join(_CREATE_WORDS)})")
        if word in given:
            words.usage(f"{word!r} given twice")
        if word in ("key", "value", "entries", "flags"):
            given[word] = words.take_int(_CREATE_WORDS[word])
        elif word == "inner_map":
            given[word] = words.take_object("map", objects.list_maps)
        else:
            given[word] = words.take(_CREATE_WORDS[word])
    missing = [w for w in ("type", "key", "value", "entries", "name") if w not in given]
    if missing:
        words.usage(f"missing {', '.join(missing)} (type TYPE key N value N entries N name NAME)")
    type_word = str(given["type"])
    try:
        map_type = MapType[type_word.upper()]
    except KeyError:
        names = ", ".join(t.name.lower() for t in MapType if t.name != "UNSPEC")
        raise CliError(f"map create: unknown map type {type_word!r}; one of: {names}") from None
    inner: MapSpec | None = None
    if "inner_map" in given:
        assert isinstance(given["inner_map"], int)
        with Map.from_id(given["inner_map"]) as template:
            inner = template.spec
    try:
        return MapSpec(
            type=map_type,
            name=str(given["name"]),
            key_size=int(str(given["key"])),
            value_size=int(str(given["value"])),
            max_entries=int(str(given["entries"])),
            flags=int(str(given.get("flags", 0))),
            inner_map=inner,
        )
    except (ValueError, TypeError) as exc:
        raise CliError(f"map create: {exc}") from None


def cmd_map_create(args: argparse.Namespace) -> int:
    """``map create PATH type TYPE key N value N entries N name NAME [flags F] [inner_map MAP]``."""
    from ebpf.maps import Map

    words = Words(args.words, "map create")
    path = check_new_pin(words.take("pin path"))
    spec = _create_spec(words)
    with Map.create(spec) as created:
        created.pin(path)
    return 0


def cmd_map_pin(args: argparse.Namespace) -> int:
    """``map pin MAP PATH``: pin a map."""
    from ebpf.maps import Map
    from ebpf.syscall import objects

    words = Words(args.words, "map pin")
    map_id = words.take_object("map", objects.list_maps)
    path = check_new_pin(words.take("pin path"))
    words.end()
    with Map.from_id(map_id) as found:
        found.pin(path)
    return 0


def cmd_map_freeze(args: argparse.Namespace) -> int:
    """``map freeze MAP``: make a map read-only for user space."""
    from ebpf.maps import Map
    from ebpf.syscall import objects

    words = Words(args.words, "map freeze")
    map_id = words.take_object("map", objects.list_maps)
    words.end()
    with Map.from_id(map_id) as found:
        found.freeze()
    return 0


def map_element_words(
    args: argparse.Namespace, command: str, value: bool
) -> tuple[str, list[str], list[str] | None, str]:
    """The map, key, value and update flag of bpftool's ``map update MAP key DATA value DATA [FLAG]``.

    With ``--key`` (``ebpf``'s own form) the words are only the map, as
    before; returns the map as an id text, the key and value tokens for
    ``parse_bytes``, and the flag word (``any`` when not given).

    Raises:
        SystemExit: status 2 for a missing key or value, or an unknown word.
    """
    from ebpf.syscall import objects

    words = Words([args.map, *args.words], command)
    map_ref = str(words.take_object("map", objects.list_maps))
    key: list[str] | None = args.key
    val: list[str] | None = getattr(args, "value", None)
    flag = "any"
    while words:
        word = words.take("keyword")
        if word == "key" and key is None:
            key = words.take_data("key")
        elif word == "value" and value and val is None:
            val = words.take_data("value")
        elif word in ("any", "exist", "noexist") and value:
            flag = word
        else:
            expected = "key DATA value DATA [any|exist|noexist]" if value else "key DATA"
            words.usage(f"unexpected {word!r} ({expected})")
    if key is None:
        words.usage("missing the key (key DATA or --key)")
    if value and val is None:
        words.usage("missing the value (value DATA or --value)")
    return map_ref, key, val, flag
