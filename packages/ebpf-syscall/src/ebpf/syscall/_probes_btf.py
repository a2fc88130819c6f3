"""Tiny BTF blobs for the feature probes, and a function lookup in vmlinux BTF.

``ebpf.btf`` is the real BTF library, but ``ebpf.syscall`` sits below it and
cannot import it. The probes need only a handful of hand-made types (an
``int``, a function prototype, one type of each kind) and, for iterator
links, the id of one ``FUNC`` in ``/sys/kernel/btf/vmlinux``; both are small
enough to write out here with `struct`.

The layouts are those of ``include/uapi/linux/btf.h``, in the host's byte
order (the kernel only reads BTF of its own endianness): a 24-byte header,
then the type section (each type a 12-byte ``struct btf_type`` followed by
a kind-specific tail), then the string section, which starts with an empty
string so that name offset 0 means "anonymous".
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable
from pathlib import Path

from .errors import ParseError

__all__ = [
    "BTF_KINDS",
    "KIND_BLOBS",
    "BtfBuilder",
    "attribute_tag_blob",
    "core_relo_blob",
    "func_blob",
    "int_blob",
    "vmlinux_func_id",
]

BTF_MAGIC = 0xEB9F
_HEADER = struct.Struct("=HBBIIIII")
_TYPE = struct.Struct("=III")

#: ``BTF_KIND_*`` numbers by name.
BTF_KINDS: dict[str, int] = {
    "INT": 1,
    "PTR": 2,
    "ARRAY": 3,
    "STRUCT": 4,
    "UNION": 5,
    "ENUM": 6,
    "FWD": 7,
    "TYPEDEF": 8,
    "VOLATILE": 9,
    "CONST": 10,
    "RESTRICT": 11,
    "FUNC": 12,
    "FUNC_PROTO": 13,
    "VAR": 14,
    "DATASEC": 15,
    "FLOAT": 16,
    "DECL_TAG": 17,
    "TYPE_TAG": 18,
    "ENUM64": 19,
}
_K = BTF_KINDS

# BTF_INT_SIGNED, in bits 24..27 of an INT's encoding word.
_INT_SIGNED = 1 << 24
# FUNC linkage, in the vlen bits of a FUNC.
LINKAGE_STATIC = 0
LINKAGE_GLOBAL = 1


class BtfBuilder:
    """Append-only builder of a raw BTF blob; type ids start at 1 in the order added."""

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
        info = (kind_flag << 31) | (kind << 24) | vlen
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

    def func(self, name: str, proto: int, linkage: int = LINKAGE_STATIC) -> int:
        """A function named ``name`` of prototype ``proto``."""
        return self.add(_K["FUNC"], name, linkage, proto)

    def build(self) -> bytes:
        """The blob: header, types, strings."""
        header = _HEADER.pack(
            BTF_MAGIC, 1, 0, _HEADER.size, 0, len(self._types), len(self._types), len(self._strings)
        )
        return header + bytes(self._types) + bytes(self._strings)


def int_blob() -> bytes:
    """``[1] INT int`` (4 bytes, signed): the smallest blob every BTF-capable kernel accepts."""
    b = BtfBuilder()
    b.int_()
    return b.build()


def func_blob(linkage: int = LINKAGE_STATIC, with_ctx: bool = False) -> tuple[bytes, int]:
    """A blob describing one function ``int probe(void)`` (or ``int probe(void *ctx)``).

    Returns the blob and the type id of the ``FUNC``, for ``func_info``
    records (``insn_off`` 0) or as an fentry target.
    """
    b = BtfBuilder()
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
    b = BtfBuilder()
    int_id = b.int_()
    func_id = b.func("probe", b.func_proto(int_id, []))
    access = b.string("0")
    return b.build(), func_id, int_id, access


def _kind_blob(kind: str) -> bytes:
    """A valid blob that uses one type of ``kind`` (and an ``int`` it can refer to)."""
    b = BtfBuilder()
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
    b = BtfBuilder()
    var = b.add(_K["VAR"], "v", 0, b.int_(), struct.pack("=I", 1))
    b.add(_K["DECL_TAG"], "aligned(8)", 0, var, struct.pack("=i", -1), kind_flag=True)
    return b.build()


#: A blob using each kind, by kind name (built on demand).
KIND_BLOBS: dict[str, Callable[[], bytes]] = {kind: functools.partial(_kind_blob, kind) for kind in BTF_KINDS}


# ------------------------------------------------------------------ vmlinux

VMLINUX_BTF = Path("/sys/kernel/btf/vmlinux")

# Bytes after the 12-byte struct btf_type, per kind: (fixed, per vlen item).
_TAILS: dict[int, tuple[int, int]] = {
    _K["INT"]: (4, 0),
    _K["PTR"]: (0, 0),
    _K["ARRAY"]: (12, 0),
    _K["STRUCT"]: (0, 12),
    _K["UNION"]: (0, 12),
    _K["ENUM"]: (0, 8),
    _K["FWD"]: (0, 0),
    _K["TYPEDEF"]: (0, 0),
    _K["VOLATILE"]: (0, 0),
    _K["CONST"]: (0, 0),
    _K["RESTRICT"]: (0, 0),
    _K["FUNC"]: (0, 0),
    _K["FUNC_PROTO"]: (0, 8),
    _K["VAR"]: (4, 0),
    _K["DATASEC"]: (0, 12),
    _K["FLOAT"]: (0, 0),
    _K["DECL_TAG"]: (4, 0),
    _K["TYPE_TAG"]: (0, 0),
    _K["ENUM64"]: (0, 12),
}


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
    tails = _TAILS
    offset = types_start
    type_id = 0
    while offset < types_end:
        name_off, info, _size = unpack(blob, offset)
        type_id += 1
        kind = (info >> 24) & 0x1F
        if kind == func and name_off in wanted:
            return type_id
        tail = tails.get(kind)
        if tail is None:
            raise ParseError(f"{source}: type [{type_id}] has unknown kind {kind}")
        offset += 12 + tail[0] + tail[1] * (info & 0xFFFF)
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
