"""BTF layout constants shared by the ``construct`` schemas and the fast decoder.

The raw BTF facts (magic, header size, kind numbers, trailer sizes, the
``info`` word) come from their one home, `ebpf.syscall.abi`; this module
names them for the BTF code and adds the ``.BTF.ext`` header sizes. Kept
apart from `_schema` so that the fast path does not pay for importing
``construct``.
"""

from __future__ import annotations

from ebpf.syscall.abi import BTF_HEADER_SIZE, BTF_KINDS, BTF_MAGIC, BTF_VERSION
from ebpf.syscall.abi import BTF_TRAILER_SIZES as TRAILER_SIZES
from ebpf.syscall.abi import btf_info as make_info
from ebpf.syscall.abi import btf_info_kind as info_kind
from ebpf.syscall.abi import btf_info_vlen as info_vlen

__all__ = [
    "BTF_EXT_HEADER_SIZE",
    "BTF_EXT_HEADER_SIZE_NO_CORE",
    "BTF_HEADER_SIZE",
    "BTF_MAGIC",
    "BTF_VERSION",
    "KIND_ARRAY",
    "KIND_CONST",
    "KIND_DATASEC",
    "KIND_DECL_TAG",
    "KIND_ENUM",
    "KIND_ENUM64",
    "KIND_FLOAT",
    "KIND_FUNC",
    "KIND_FUNC_PROTO",
    "KIND_FWD",
    "KIND_INT",
    "KIND_PTR",
    "KIND_RESTRICT",
    "KIND_STRUCT",
    "KIND_TYPEDEF",
    "KIND_TYPE_TAG",
    "KIND_UNION",
    "KIND_VAR",
    "KIND_VOLATILE",
    "TRAILER_SIZES",
    "info_kind",
    "info_vlen",
    "make_info",
]

#: ``sizeof(struct btf_ext_header)`` with the CO-RE relocation fields.
BTF_EXT_HEADER_SIZE = 32
#: the header of ``.BTF.ext`` before CO-RE relocations existed (libbpf < 0.8).
BTF_EXT_HEADER_SIZE_NO_CORE = 24

# Kind numbers (``BTF_KIND_*``) by their C names; the public enum is ``ebpf.btf.Kind``.
KIND_INT = BTF_KINDS["INT"]
KIND_PTR = BTF_KINDS["PTR"]
KIND_ARRAY = BTF_KINDS["ARRAY"]
KIND_STRUCT = BTF_KINDS["STRUCT"]
KIND_UNION = BTF_KINDS["UNION"]
KIND_ENUM = BTF_KINDS["ENUM"]
KIND_FWD = BTF_KINDS["FWD"]
KIND_TYPEDEF = BTF_KINDS["TYPEDEF"]
KIND_VOLATILE = BTF_KINDS["VOLATILE"]
KIND_CONST = BTF_KINDS["CONST"]
KIND_RESTRICT = BTF_KINDS["RESTRICT"]
KIND_FUNC = BTF_KINDS["FUNC"]
KIND_FUNC_PROTO = BTF_KINDS["FUNC_PROTO"]
KIND_VAR = BTF_KINDS["VAR"]
KIND_DATASEC = BTF_KINDS["DATASEC"]
KIND_FLOAT = BTF_KINDS["FLOAT"]
KIND_DECL_TAG = BTF_KINDS["DECL_TAG"]
KIND_TYPE_TAG = BTF_KINDS["TYPE_TAG"]
KIND_ENUM64 = BTF_KINDS["ENUM64"]
