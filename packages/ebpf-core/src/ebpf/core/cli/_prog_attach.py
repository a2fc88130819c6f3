"""``ebpf prog attach|detach PROG ATTACH_TYPE [MAP]``: bpftool's persistent attachments to sockmaps and netns.

::

    ebpf prog attach PROG sk_skb_stream_verdict MAP
    ebpf prog detach PROG flow_dissector

ATTACH_TYPE is one of bpftool's: ``sk_msg_verdict``, ``sk_skb_verdict``,
``sk_skb_stream_verdict``, ``sk_skb_stream_parser`` (to a sockmap or
sockhash MAP) or ``flow_dissector`` (to the network namespace ``ebpf`` runs
in). The attachment is made with ``BPF_PROG_ATTACH``, so it stays after
``ebpf`` exits, until ``prog detach``. The program's type and the map's
are checked against the attach type before any change.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator

from ._objects import open_by_id
from ._output import CliError
from ._words import Words

__all__ = ["cmd_prog_attach", "cmd_prog_detach"]

#: The attach types bpftool's ``prog attach`` takes.
_ATTACH_TYPES = (
    "sk_msg_verdict",
    "sk_skb_verdict",
    "sk_skb_stream_verdict",
    "sk_skb_stream_parser",
    "flow_dissector",
)


def _allowed_program_types(attach_type: str) -> frozenset[object]:
    from ebpf.progs import SOCKMAP_ATTACH_TYPES
    from ebpf.syscall import AttachType, ProgType

    if attach_type == "flow_dissector":
        return frozenset({ProgType.FLOW_DISSECTOR})
    at = AttachType[attach_type.upper()]
    return frozenset(prog_type for prog_type, types in SOCKMAP_ATTACH_TYPES.items() if at in types)


@contextlib.contextmanager
def _target(words: Words, attach_type: str) -> Iterator[int]:
    """The descriptor to attach to: the sockmap MAP, or this network namespace for the flow dissector."""
    from ebpf.syscall import MapType, objects

    if attach_type == "flow_dissector":
        with open("/proc/self/ns/net", "rb") as netns:
            words.end()
            yield netns.fileno()
        return
    map_id = words.take_object("map", objects.list_maps)
    words.end()
    with open_by_id("map", map_id) as fd:
        info = objects.get_map_info(fd)
        if info.type not in (MapType.SOCKMAP, MapType.SOCKHASH):
            kind = getattr(info.type, "name", str(info.type)).lower()
            raise CliError(f"map {map_id} is a {kind} map: {attach_type} attaches to a sockmap or sockhash")
        yield fd.fileno()


def _act(args: argparse.Namespace, command: str, attach: bool) -> int:
    from ebpf.syscall import AttachType, commands, objects

    words = Words(args.words, command)
    prog_id = words.take_object("prog", objects.list_programs)
    attach_type = words.take(f"attach type ({', '.join(_ATTACH_TYPES)})")
    if attach_type not in _ATTACH_TYPES:
        words.usage(f"unknown attach type {attach_type!r}; one of: {', '.join(_ATTACH_TYPES)}")
    with open_by_id("prog", prog_id) as prog_fd:
        prog_type = objects.get_program_info(prog_fd).type
        if prog_type not in _allowed_program_types(attach_type):
            kind = getattr(prog_type, "name", str(prog_type)).lower()
            raise CliError(f"program {prog_id} is a {kind} program: it cannot attach as {attach_type}")
        with _target(words, attach_type) as target:
            at = AttachType[attach_type.upper()]
            if attach:
                commands.prog_attach(target, prog_fd, at)
            else:
                commands.prog_detach(target, at, prog_fd)
    return 0


def cmd_prog_attach(args: argparse.Namespace) -> int:
    """``prog attach PROG ATTACH_TYPE [MAP]``: attach until ``prog detach`` (``BPF_PROG_ATTACH``)."""
    return _act(args, "prog attach", attach=True)


def cmd_prog_detach(args: argparse.Namespace) -> int:
    """``prog detach PROG ATTACH_TYPE [MAP]``: undo ``prog attach``."""
    return _act(args, "prog detach", attach=False)
