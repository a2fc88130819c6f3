"""Fuzz target: ``.BTF.ext`` sections (``ebpf.btf.parse_btf_ext``) against their object's BTF.

The first input byte picks the object (modulo their number) whose ``.BTF``
resolves the strings; the rest is the ``.BTF.ext`` section. The parsed
records are then used as a loader uses them: function types looked up by
id, line texts and access strings read.

Only ``ParseError`` may come out. Type ids are checked with ``in`` before
they are looked up, as a careful caller does (``TypeGraph.__getitem__``
documents ``KeyError`` for an id that does not exist).
"""

from __future__ import annotations

from ebpf.btf import Func, parse_btf_ext
from ebpf.syscall import ParseError
from fuzz import _seeds

NAME = "btf_ext"
ALLOWED: tuple[type[BaseException], ...] = (ParseError,)


def one_input(data: bytes) -> None:
    """Parse ``data[1:]`` as the ``.BTF.ext`` of object ``data[0]`` and use every record."""
    pairs = _seeds.btf_ext_pairs()
    if not data or not pairs:
        return
    graph, _ = pairs[data[0] % len(pairs)]
    try:
        ext = parse_btf_ext(data[1:], graph)
        for records in ext.func_info.values():
            for info in records:
                if info.type_id in graph:
                    func = graph[info.type_id]
                    if isinstance(func, Func):
                        graph.func_proto(func)
        for lines in ext.line_info.values():
            for line in lines:
                f"{line.file_name}:{line.line}:{line.column} {line.line_text}".encode()
        for relos in ext.core_relos.values():
            for relo in relos:
                if relo.type_id in graph:
                    str(graph[relo.type_id])
                str(relo.kind), relo.access.split(":")
    except ALLOWED:
        pass


def seeds() -> list[bytes]:
    """The ``.BTF.ext`` of every test object, prefixed with its index."""
    return [bytes([index]) + ext for index, (_, ext) in enumerate(_seeds.btf_ext_pairs())]
