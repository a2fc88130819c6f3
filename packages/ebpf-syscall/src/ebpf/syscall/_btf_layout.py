"""The layout of raw BTF (``include/uapi/linux/btf.h``): magic, header size, kind numbers, type trailers.

One home for these facts: the probes' blob writer (`_probes_btf`) and the
BTF library (``ebpf.btf``, through [`ebpf.syscall.abi`][ebpf.syscall.abi]) both
read them from here. Byte order is each user's business: the kernel reads
BTF of its own endianness, object files carry the target's.
"""

from __future__ import annotations

__all__ = [
    "BTF_HEADER_SIZE",
    "BTF_KINDS",
    "BTF_MAGIC",
    "BTF_TRAILER_SIZES",
    "BTF_VERSION",
    "btf_info",
    "btf_info_kind",
    "btf_info_vlen",
]

BTF_MAGIC = 0xEB9F
"""``BTF_MAGIC``: the first two bytes of a BTF blob, in its byte order."""

BTF_VERSION = 1
"""``BTF_VERSION``: the only version of the format."""

BTF_HEADER_SIZE = 24
"""``sizeof(struct btf_header)``: the header a kernel or libbpf writes."""

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
"""``BTF_KIND_*`` numbers by name without the prefix (``"INT"``: 1), in number order."""

BTF_TRAILER_SIZES: dict[int, tuple[int, int]] = {
    number: sizes
    for number, sizes in zip(
        BTF_KINDS.values(),
        [
            (4, 0),  # INT: the encoding word
            (0, 0),  # PTR
            (12, 0),  # ARRAY: struct btf_array
            (0, 12),  # STRUCT: struct btf_member each
            (0, 12),  # UNION
            (0, 8),  # ENUM: struct btf_enum each
            (0, 0),  # FWD
            (0, 0),  # TYPEDEF
            (0, 0),  # VOLATILE
            (0, 0),  # CONST
            (0, 0),  # RESTRICT
            (0, 0),  # FUNC
            (0, 8),  # FUNC_PROTO: struct btf_param each
            (4, 0),  # VAR: struct btf_var
            (0, 12),  # DATASEC: struct btf_var_secinfo each
            (0, 0),  # FLOAT
            (4, 0),  # DECL_TAG: struct btf_decl_tag
            (0, 0),  # TYPE_TAG
            (0, 12),  # ENUM64: struct btf_enum64 each
        ],
        strict=True,
    )
}
"""Per kind number, the bytes after the 12-byte ``struct btf_type``: (fixed, per ``vlen`` item)."""


def btf_info(kind: int, vlen: int, kind_flag: bool) -> int:
    """``btf_type.info``: ``kind_flag`` in bit 31, the kind in bits 24..28, ``vlen`` in bits 0..15."""
    return (int(kind_flag) << 31) | (kind << 24) | vlen


def btf_info_kind(info: int) -> int:
    """The kind bits (24..28) of a ``btf_type.info`` word."""
    return (info >> 24) & 0x1F


def btf_info_vlen(info: int) -> int:
    """The ``vlen`` bits (0..15) of a ``btf_type.info`` word."""
    return info & 0xFFFF
