"""Read the facts the ABI generator needs from a raw BTF blob.

This is a development tool, not library code: it understands just enough of
the BTF format (``Documentation/bpf/btf.rst``) to list named enums and the
member layout of named structs and unions, the "pahole-style" facts that
``tools/gen_abi.py`` snapshots and that the layout tests compare against.
The library's own BTF support lives in ``ebpf.btf``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

BTF_MAGIC = 0xEB9F

KIND_INT = 1
KIND_PTR = 2
KIND_ARRAY = 3
KIND_STRUCT = 4
KIND_UNION = 5
KIND_ENUM = 6
KIND_FWD = 7
KIND_TYPEDEF = 8
KIND_VOLATILE = 9
KIND_CONST = 10
KIND_RESTRICT = 11
KIND_FUNC = 12
KIND_FUNC_PROTO = 13
KIND_VAR = 14
KIND_DATASEC = 15
KIND_FLOAT = 16
KIND_DECL_TAG = 17
KIND_TYPE_TAG = 18
KIND_ENUM64 = 19

# Bytes that follow the 12-byte common header, per kind: a fixed part and a
# part repeated vlen times.
_TRAILER = {
    KIND_INT: (4, 0),
    KIND_ARRAY: (12, 0),
    KIND_STRUCT: (0, 12),
    KIND_UNION: (0, 12),
    KIND_ENUM: (0, 8),
    KIND_FUNC_PROTO: (0, 8),
    KIND_VAR: (4, 0),
    KIND_DATASEC: (0, 12),
    KIND_DECL_TAG: (4, 0),
    KIND_ENUM64: (0, 12),
}

_MODIFIERS = (KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST, KIND_RESTRICT, KIND_TYPE_TAG)


@dataclass
class BtfType:
    """One decoded type record."""

    kind: int
    name: str
    size_or_type: int
    kind_flag: bool
    # INT: (encoding, bit offset, bits); ARRAY: (elem type, index type, nelems)
    extra: tuple[int, ...] = ()
    # STRUCT/UNION: (name, type, bit offset, bitfield size); ENUM: (name, value)
    members: list[tuple[str, int, int, int]] = field(default_factory=list)
    values: list[tuple[str, int]] = field(default_factory=list)


class Btf:
    """A parsed BTF blob: ``types[id]`` (id 0 is ``void``)."""

    def __init__(self, data: bytes) -> None:
        magic, _version, _flags, hdr_len = struct.unpack_from("<HBBI", data, 0)
        if magic != BTF_MAGIC:
            raise ValueError("not little-endian BTF (bad magic)")
        type_off, type_len, str_off, str_len = struct.unpack_from("<IIII", data, 8)
        self._strings = data[hdr_len + str_off : hdr_len + str_off + str_len]
        self.types: list[BtfType] = [BtfType(0, "void", 0, False)]
        pos = hdr_len + type_off
        end = pos + type_len
        while pos < end:
            name_off, info, size_or_type = struct.unpack_from("<III", data, pos)
            pos += 12
            kind = (info >> 24) & 0x1F
            vlen = info & 0xFFFF
            kflag = bool(info >> 31)
            t = BtfType(kind, self._str(name_off), size_or_type, kflag)
            fixed, each = _TRAILER.get(kind, (0, 0))
            if kind == KIND_INT:
                (word,) = struct.unpack_from("<I", data, pos)
                t.extra = ((word >> 24) & 0xF, (word >> 16) & 0xFF, word & 0xFF)
            elif kind == KIND_ARRAY:
                t.extra = struct.unpack_from("<III", data, pos)
            elif kind in (KIND_STRUCT, KIND_UNION):
                for i in range(vlen):
                    m_name, m_type, m_off = struct.unpack_from("<III", data, pos + 12 * i)
                    bits = (m_off >> 24) if kflag else 0
                    bit_off = (m_off & 0xFFFFFF) if kflag else m_off
                    t.members.append((self._str(m_name), m_type, bit_off, bits))
            elif kind == KIND_ENUM:
                signed = kflag
                for i in range(vlen):
                    v_name, v_val = struct.unpack_from("<Ii" if signed else "<II", data, pos + 8 * i)
                    t.values.append((self._str(v_name), v_val))
            elif kind == KIND_ENUM64:
                for i in range(vlen):
                    v_name, lo, hi = struct.unpack_from("<III", data, pos + 12 * i)
                    t.values.append((self._str(v_name), hi << 32 | lo))
            pos += fixed + each * vlen
            self.types.append(t)

    @classmethod
    def from_file(cls, path: str | Path) -> Btf:
        """Parse a raw BTF file such as ``/sys/kernel/btf/vmlinux``."""
        return cls(Path(path).read_bytes())

    def _str(self, off: int) -> str:
        end = self._strings.index(b"\0", off)
        return self._strings[off:end].decode()

    def named(self, kind: int, name: str) -> int:
        """Return the id of the named type of ``kind``; raises ``KeyError``."""
        for tid, t in enumerate(self.types):
            if t.kind == kind and t.name == name:
                return tid
        raise KeyError(f"no BTF type {name!r} of kind {kind}")

    def strip(self, tid: int) -> int:
        """Follow typedef/const/volatile/restrict/type-tag chains."""
        while self.types[tid].kind in _MODIFIERS:
            tid = self.types[tid].size_or_type
        return tid

    def size(self, tid: int) -> int:
        """Size in bytes of a type."""
        tid = self.strip(tid)
        t = self.types[tid]
        if t.kind == KIND_ARRAY:
            return self.size(t.extra[0]) * t.extra[2]
        if t.kind == KIND_PTR:
            return 8
        return t.size_or_type
