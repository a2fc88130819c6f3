"""BTF layout constants shared by the ``construct`` schemas and the fast decoder.

From ``include/uapi/linux/btf.h``; kept apart from `_schema` so that the
fast path does not pay for importing ``construct``.
"""

from __future__ import annotations

BTF_MAGIC = 0xEB9F
BTF_VERSION = 1
#: ``sizeof(struct btf_header)``: the header a kernel or libbpf writes.
BTF_HEADER_SIZE = 24
#: ``sizeof(struct btf_ext_header)`` with the CO-RE relocation fields.
BTF_EXT_HEADER_SIZE = 32
#: the header of ``.BTF.ext`` before CO-RE relocations existed (libbpf < 0.8).
BTF_EXT_HEADER_SIZE_NO_CORE = 24

# Kind numbers (``BTF_KIND_*``); the public enum is ``ebpf.btf.Kind``.
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

#: per kind: (bytes of the fixed trailer, bytes of each of the ``vlen`` trailing records)
TRAILER_SIZES: dict[int, tuple[int, int]] = {
    KIND_INT: (4, 0),
    KIND_PTR: (0, 0),
    KIND_ARRAY: (12, 0),
    KIND_STRUCT: (0, 12),
    KIND_UNION: (0, 12),
    KIND_ENUM: (0, 8),
    KIND_FWD: (0, 0),
    KIND_TYPEDEF: (0, 0),
    KIND_VOLATILE: (0, 0),
    KIND_CONST: (0, 0),
    KIND_RESTRICT: (0, 0),
    KIND_FUNC: (0, 0),
    KIND_FUNC_PROTO: (0, 8),
    KIND_VAR: (4, 0),
    KIND_DATASEC: (0, 12),
    KIND_FLOAT: (0, 0),
    KIND_DECL_TAG: (4, 0),
    KIND_TYPE_TAG: (0, 0),
    KIND_ENUM64: (0, 12),
}


def info_kind(info: int) -> int:
    """The kind bits (24..28) of a ``btf_type.info`` word."""
    return (info >> 24) & 0x1F


def info_vlen(info: int) -> int:
    """The ``vlen`` bits (0..15) of a ``btf_type.info`` word."""
    return info & 0xFFFF


def make_info(kind: int, vlen: int, kind_flag: bool) -> int:
    """Pack ``btf_type.info``."""
    return (int(kind_flag) << 31) | (kind << 24) | vlen
