"""BTF features: loading BTF at all, each BTF kind, global functions, func info, CO-RE relocations.

Each probe loads a tiny hand-made BTF blob (see ``_probes_btf``) and reads
the errno: the kernel's BTF checker refuses a kind it does not know with
``EINVAL``. ``ebpf.btf`` asks these features which kinds to rewrite for an
older kernel before it loads BTF.
"""

from __future__ import annotations

import errno
from collections.abc import Mapping
from types import MappingProxyType

from ebpf.syscall import _probes_btf as _blobs
from ebpf.syscall import _probes_sys as _sys
from ebpf.syscall._btf_layout import BTF_KINDS
from ebpf.syscall._generated import BpfCoreRelo, BpfFuncInfo, CoreReloKind, FuncLinkage, ProgType
from ebpf.syscall.fd import FD

from ._framework import Feature, Probe, register, verdict

__all__ = [
    "BTF",
    "BTF_ATTRIBUTE_TAGS",
    "BTF_FUNC_INFO",
    "BTF_GLOBAL_FUNC",
    "BTF_KIND_VERSIONS",
    "CORE_RELOCATIONS",
    "btf_fd",
    "btf_kind_feature",
    "btf_kind_supported",
    "func_info_record",
]


def btf_fd(blob: bytes, context: str) -> FD:
    """Load a BTF blob the caller knows the kernel accepts; raise if it does not."""
    return _sys.owned(_sys.load_btf(blob), "BPF_BTF_LOAD", context)


def _probe_btf() -> bool:
    # BPF_BTF_LOAD is unknown (EINVAL) before 4.18.
    return verdict(_sys.load_btf(_blobs.int_blob()), "BPF_BTF_LOAD", "loading BTF")


BTF = register(Feature("BTF loading (BPF_BTF_LOAD)", "4.18", _probe_btf))

#: The first kernel version of each BTF kind.
BTF_KIND_VERSIONS: Mapping[str, str] = MappingProxyType(
    {
        "INT": "4.18",
        "PTR": "4.18",
        "ARRAY": "4.18",
        "STRUCT": "4.18",
        "UNION": "4.18",
        "ENUM": "4.18",
        "FWD": "4.18",
        "TYPEDEF": "4.18",
        "VOLATILE": "4.18",
        "CONST": "4.18",
        "RESTRICT": "4.18",
        "FUNC": "5.0",
        "FUNC_PROTO": "5.0",
        "VAR": "5.2",
        "DATASEC": "5.2",
        "FLOAT": "5.13",
        "DECL_TAG": "5.16",
        "TYPE_TAG": "5.17",
        "ENUM64": "6.0",
    }
)


def _probe_btf_kind(kind: str) -> bool:
    if not BTF.supported():
        return False
    # The BTF checker refuses a kind it does not know ("Invalid kind") with EINVAL.
    blob = _blobs.KIND_BLOBS[kind]()
    return verdict(_sys.load_btf(blob), "BPF_BTF_LOAD", f"loading BTF with a {kind}")


def _btf_kind_probe(kind: str) -> Probe:
    return lambda: _probe_btf_kind(kind)


_BTF_KIND_FEATURES: dict[str, Feature] = {
    kind: register(Feature(f"BTF kind {kind}", v, _btf_kind_probe(kind)), "btf")
    for kind, v in BTF_KIND_VERSIONS.items()
}
_BTF_KIND_NAMES = {number: name for name, number in BTF_KINDS.items()}


def btf_kind_feature(kind: str | int) -> Feature:
    """The feature "the kernel accepts BTF kind ``kind``".

    ``kind`` is a name (``"FLOAT"``, ``"BTF_KIND_FLOAT"``, any case) or a
    ``BTF_KIND_*`` number (16).

    Raises:
        ValueError: an unknown kind.
    """
    if isinstance(kind, int) and not isinstance(kind, bool):
        name = _BTF_KIND_NAMES.get(kind)
    elif isinstance(kind, str):
        name = kind.upper().removeprefix("BTF_KIND_")
    else:
        name = None
    if name is None or name not in _BTF_KIND_FEATURES:
        raise ValueError(f"unknown BTF kind {kind!r}; expected one of {', '.join(_BTF_KIND_FEATURES)}")
    return _BTF_KIND_FEATURES[name]


def btf_kind_supported(kind: str | int) -> bool:
    """Whether the kernel accepts BTF of ``kind`` (see
    [`btf_kind_feature()`][ebpf.syscall.features.btf_kind_feature])."""
    return btf_kind_feature(kind).supported()


def _probe_btf_global_func() -> bool:
    if not BTF.supported():
        return False
    # A FUNC's vlen holds its linkage; before 5.6 only static (0) was valid.
    blob, _ = _blobs.func_blob(FuncLinkage.GLOBAL)
    return verdict(_sys.load_btf(blob), "BPF_BTF_LOAD", "loading BTF with a global function")


BTF_GLOBAL_FUNC = register(Feature("BTF global function linkage", "5.6", _probe_btf_global_func))


def func_info_record(func_id: int) -> bytes:
    """A packed ``struct bpf_func_info`` for the function ``func_id`` at instruction 0."""
    return bytes(BpfFuncInfo(insn_off=0, type_id=func_id))


def _probe_btf_func_info() -> bool:
    if not BTF.supported():
        return False
    blob, func_id = _blobs.func_blob()
    ret = _sys.load_btf(blob)
    if ret == -errno.EINVAL:
        return False  # no FUNC kind before 5.0
    with _sys.owned(ret, "BPF_BTF_LOAD", "BTF with a function") as btf:
        result = _sys.load_program(
            ProgType.SOCKET_FILTER, prog_btf_fd=btf.fileno(), func_info=func_info_record(func_id)
        )
        return verdict(result.ret, "BPF_PROG_LOAD", "loading a program with BTF func info")


BTF_FUNC_INFO = register(Feature("BTF function info for programs", "5.0", _probe_btf_func_info))


def _probe_core_relocations() -> bool:
    if not BTF_FUNC_INFO.supported():
        return False
    # A TYPE_ID_LOCAL relocation of "r0 = <id of int>": the kernel resolves it
    # against the program's own BTF, no kernel types involved. The kernel only
    # reads core_relos together with func info (check_btf_info), and fails with
    # EINVAL before 5.17, which did not have the fields.
    blob, func_id, int_id, access = _blobs.core_relo_blob()
    relo = bytes(BpfCoreRelo(0, int_id, access, CoreReloKind.TYPE_ID_LOCAL))
    code = _sys.insn(0xB7, imm=int_id) + _sys.EXIT
    with btf_fd(blob, "BTF for a CO-RE relocation") as btf:
        result = _sys.load_program(
            ProgType.SOCKET_FILTER,
            code,
            prog_btf_fd=btf.fileno(),
            func_info=func_info_record(func_id),
            core_relos=relo,
        )
        return verdict(result.ret, "BPF_PROG_LOAD", "loading a program with a CO-RE relocation")


def _probe_btf_attribute_tags() -> bool:
    if not btf_kind_feature("DECL_TAG").supported():
        return False
    # kind_flag on a DECL_TAG or TYPE_TAG (a C attribute rather than a tag
    # string): rejected with EINVAL before 6.13.
    blob = _blobs.attribute_tag_blob()
    return verdict(_sys.load_btf(blob), "BPF_BTF_LOAD", "loading BTF with an attribute tag")


BTF_ATTRIBUTE_TAGS = register(
    Feature("BTF decl and type tags as C attributes (kind_flag)", "6.13", _probe_btf_attribute_tags)
)

CORE_RELOCATIONS = register(
    Feature("CO-RE relocations in the kernel (core_relos)", "5.17", _probe_core_relocations)
)
