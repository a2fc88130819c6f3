"""Tiny BTF blobs for the feature probes, and a function lookup in vmlinux BTF.

``ebpf.btf`` is the real BTF library (its ``BtfBuilder``
encodes whole type graphs), but ``ebpf.syscall`` sits below it and cannot
import it. The probes need only a handful of hand-made types (an ``int``, a
function prototype, one type of each kind) and, for iterator links, the id of
one ``FUNC`` in ``/sys/kernel/btf/vmlinux``; both are small enough to write
out here with `struct`: `RawBtfBlob` appends raw ``struct btf_type`` records,
`find_func` walks them.

The layout facts (magic, header size, kind numbers, trailer sizes, the
``info`` word) are ``_btf_layout``'s, shared with ``ebpf.btf``; the bytes are in
the host's byte order (the kernel only reads BTF of its own endianness): a
24-byte header, then the type section (each type a 12-byte
``struct btf_type`` followed by a kind-specific tail), then the string
section, which starts with an empty string so that name offset 0 means
"anonymous".
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable
from pathlib import Path

from ._btf_layout import (
    BTF_KINDS,
    BTF_MAGIC,
    BTF_TRAILER_SIZES,
    BTF_VERSION,
    btf_info,
    btf_info_kind,
    btf_info_vlen,
)
from ._generated import FuncLinkage
from .errors import ParseError

__all__ = [
    "KIND_BLOBS",
    "RawBtfBlob",
    "attribute_tag_blob",
    "core_relo_blob",
    "func_blob",
    "int_blob",
    "vmlinux_func_id",
]

_HEADER = struct.Struct("=HBBIIIII")
_TYPE = struct.Struct("=III")

_K = BTF_KINDS

# BTF_INT_SIGNED, in bits 24..27 of an INT's encoding word.
_INT_SIGNED = 1 << 24


class RawBtfBlob:
    """Append-only writer of a raw BTF blob for probes; type ids start at 1 in the order added.

    Not a BTF library: callers give kind numbers, ``vlen`` and packed tails
    themselves. Whole type graphs are ``ebpf.btf.BtfBuilder``'s job.
    """

    def __init__(self) -> None:
        self._types = bytearray()
        self._strings = bytearray(b"\0")
        self._offsets: dict[str, int] = {"": 0}
        self._count = 0

    def string(self, text: str) -> int:
        """The offset of ``text`` in the string section, adding it once."""
        offset = self._offsets.get(text)
        if offset is None:
            offset = len(self._strings)
            self._strings += text.encode() + b"\0"
            self._offsets[text] = offset
        return offset

    def add(
        self,
        kind: int,
        name: str,
        vlen: int,
        size_or_type: int,
        tail: bytes = b"",
        *,
        kind_flag: bool = False,
    ) -> int:
        """Append one ``struct btf_type`` (and its tail) and return its type id."""
        info = btf_info(kind, vlen, kind_flag)
        self._types += _TYPE.pack(self.string(name), info, size_or_type) + tail
        self._count += 1
        return self._count

    def int_(self, name: str = "int", size: int = 4) -> int:
        """A signed integer of ``size`` bytes."""
        return self.add(_K["INT"], name, 0, size, struct.pack("=I", _INT_SIGNED | size * 8))

    def func_proto(self, ret: int, params: list[tuple[str, int]]) -> int:
        """A function prototype returning type ``ret`` with ``(name, type)`` parameters."""
        tail = b"".join(struct.pack("=II", self.string(name), type_id) for name, type_id in params)
        return self.add(_K["FUNC_PROTO"], "", len(params), ret, tail)

    def func(self, name: str, proto: int, linkage: int = FuncLinkage.STATIC) -> int:
        """A function named ``name`` of prototype ``proto``; ``linkage`` (`FuncLinkage`) goes in vlen."""
        return self.add(_K["FUNC"], name, linkage, proto)

    def build(self) -> bytes:
        """The blob: header, types, strings."""
        header = _HEADER.pack(
            BTF_MAGIC, BTF_VERSION, 0, _HEADER.size, 0, len(self._types), len(self._types), len(self._strings)
        )
        return header + bytes(self._types) + bytes(self._strings)


def int_blob() -> bytes:
    """``[1] INT int`` (4 bytes, signed): the smallest blob every BTF-capable kernel accepts."""
    b = RawBtfBlob()
    b.int_()
    return b.build()


def func_blob(linkage: int = FuncLinkage.STATIC, with_ctx: bool = False) -> tuple[bytes, int]:
    """A blob describing one function ``int probe(void)`` (or ``int probe(void *ctx)``).

    Returns the blob and the type id of the ``FUNC``, for ``func_info``
    records (``insn_off`` 0) or as an fentry target.
    """
    b = RawBtfBlob()
    int_id = b.int_()
    params: list[tuple[str, int]] = []
    if with_ctx:
        # A pointer to type 0 is a pointer to void.
        params.append(("ctx", b.add(_K["PTR"], "", 0, 0)))
    func_id = b.func("probe", b.func_proto(int_id, params), linkage)
    return b.build(), func_id


def core_relo_blob() -> tuple[bytes, int, int, int]:
    """`func_blob()` plus the access string ``"0"`` for a type-based CO-RE relocation.

    Returns the blob, the ``FUNC`` id, the id of ``int`` (1) and the string
    offset of ``"0"``.
    """
    b = RawBtfBlob()
    int_id = b.int_()
    func_id = b.func("probe", b.func_proto(int_id, []))
    access = b.string("0")
    return b.build(), func_id, int_id, access


def _kind_blob(kind: str) -> bytes:
    """A valid blob that uses one type of ``kind`` (and an ``int`` it can refer to)."""
    b = RawBtfBlob()
    i = b.int_()
    k = _K[kind]
    if kind == "PTR":
        b.add(k, "", 0, i)
    elif kind == "ARRAY":
        b.add(k, "", 0, 0, struct.pack("=III", i, i, 2))
    elif kind in ("STRUCT", "UNION"):
        b.add(k, "s", 1, 4, struct.pack("=III", b.string("a"), i, 0))
    elif kind == "ENUM":
        b.add(k, "e", 1, 4, struct.pack("=Ii", b.string("A"), 1))
    elif kind == "ENUM64":
        b.add(k, "e", 1, 8, struct.pack("=III", b.string("A"), 0, 1))
    elif kind == "FWD":
        b.add(k, "f", 0, 0)
    elif kind in ("TYPEDEF", "VOLATILE", "CONST"):
        b.add(k, "t" if kind == "TYPEDEF" else "", 0, i)
    elif kind == "RESTRICT":
        # restrict qualifies pointers.
        b.add(k, "", 0, b.add(_K["PTR"], "", 0, i))
    elif kind == "FUNC_PROTO":
        b.func_proto(i, [("a", i)])
    elif kind == "FUNC":
        b.func("f", b.func_proto(i, [("a", i)]))
    elif kind == "VAR":
        b.add(k, "v", 0, i, struct.pack("=I", 0))
    elif kind == "DATASEC":
        var = b.add(_K["VAR"], "v", 0, i, struct.pack("=I", 1))
        b.add(k, ".data", 1, 4, struct.pack("=III", var, 0, 4))
    elif kind == "FLOAT":
        b.add(k, "float", 0, 4)
    elif kind == "DECL_TAG":
        # A tag on a whole variable (component_idx -1).
        var = b.add(_K["VAR"], "v", 0, i, struct.pack("=I", 0))
        b.add(k, "tag", 0, var, struct.pack("=i", -1))
    elif kind == "TYPE_TAG":
        # The layout compilers emit: a pointer to a tag to the pointee.
        b.add(_K["PTR"], "", 0, b.add(k, "tag", 0, i))
    elif kind != "INT":
        raise ValueError(f"no BTF blob for kind {kind}")
    return b.build()


def attribute_tag_blob() -> bytes:
    """A variable with a ``DECL_TAG`` whose ``kind_flag`` makes it a C attribute (``aligned(8)``, 6.13)."""
    b = RawBtfBlob()
    var = b.add(_K["VAR"], "v", 0, b.int_(), struct.pack("=I", 1))
    b.add(_K["DECL_TAG"], "aligned(8)", 0, var, struct.pack("=i", -1), kind_flag=True)
    return b.build()


#: A blob using each kind, by kind name (built on demand).
KIND_BLOBS: dict[str, Callable[[], bytes]] = {kind: functools.partial(_kind_blob, kind) for kind in BTF_KINDS}


# ------------------------------------------------------------------ vmlinux

VMLINUX_BTF = Path("/sys/kernel/btf/vmlinux")


def find_func(blob: bytes, name: str, source: str = "BTF") -> int | None:
    """The type id of the ``FUNC`` called ``name`` in a raw (base) BTF blob, or ``None``.

    Raises:
        ParseError: the blob is not BTF or has a kind this walker does not know.
    """
    if len(blob) < _HEADER.size:
        raise ParseError(f"{source}: {len(blob)} bytes is too short for a BTF header")
    magic, _version, _flags, hdr_len, type_off, type_len, str_off, str_len = _HEADER.unpack_from(blob)
    if magic != BTF_MAGIC:
        raise ParseError(f"{source}: bad magic {magic:#x} (expected {BTF_MAGIC:#x} in host byte order)")
    types_start = hdr_len + type_off
    types_end = types_start + type_len
    strs_start = hdr_len + str_off
    if types_end > len(blob) or strs_start + str_len > len(blob):
        raise ParseError(f"{source}: sections run past the end of the {len(blob)}-byte blob")
    strings = blob[strs_start : strs_start + str_len]
    # Name offsets of every occurrence of the name as a whole string.
    wanted: set[int] = set()
    needle = b"\0" + name.encode() + b"\0"
    at = strings.find(needle)
    while at >= 0:
        wanted.add(at + 1)
        at = strings.find(needle, at + 1)
    if not wanted:
        return None
    func = _K["FUNC"]
    unpack = _TYPE.unpack_from
    tails = BTF_TRAILER_SIZES
    offset = types_start
    type_id = 0
    while offset < types_end:
        name_off, info, _size = unpack(blob, offset)
        type_id += 1
        kind = btf_info_kind(info)
        if kind == func and name_off in wanted:
            return type_id
        tail = tails.get(kind)
        if tail is None:
            raise ParseError(f"{source}: type [{type_id}] has unknown kind {kind}")
        offset += _TYPE.size + tail[0] + tail[1] * btf_info_vlen(info)
    return None


@functools.cache
def vmlinux_func_id(name: str) -> int | None:
    """The BTF type id of kernel function ``name`` in ``/sys/kernel/btf/vmlinux`` (cached).

    Returns ``None`` when the kernel has no such function, or no vmlinux BTF
    at all (built without ``CONFIG_DEBUG_INFO_BTF``).

    Raises:
        OSError: the file exists but cannot be read.
        ParseError: the file is not BTF this walker understands.
    """
    try:
        blob = VMLINUX_BTF.read_bytes()
    except FileNotFoundError:
        return None
    return find_func(blob, name, str(VMLINUX_BTF))
