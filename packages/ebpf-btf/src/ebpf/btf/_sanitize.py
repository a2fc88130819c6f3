"""Loading BTF into the kernel, rewritten for what the running kernel understands.

Newer compilers emit kinds older kernels reject (``BPF_BTF_LOAD`` fails with
EINVAL on an unknown kind). Like libbpf's ``bpf_object__sanitize_btf``, the
unknown ones are replaced by records of the same length that older kernels
accept, so type ids do not move:

==============  ==========  ===============================================
kind            first in    replaced by
==============  ==========  ===============================================
FLOAT           5.13        an anonymous empty STRUCT of the same size
DECL_TAG        5.16        an anonymous 1-byte INT
TYPE_TAG        5.17        a CONST of the same type
ENUM64          6.0         a UNION of 1-byte INT members (same size), and
                            ENUM's signedness flag is cleared
FUNC linkage    5.6         global functions become static
tag kind_flag   6.13        DECL_TAG/TYPE_TAG as C attributes: replaced as
                            if the kind were unknown
==============  ==========  ===============================================
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ebpf.syscall import commands
from ebpf.syscall.abi import FuncLinkage
from ebpf.syscall.errors import EbpfError
from ebpf.syscall.fd import FD
from ebpf.syscall.features import BTF_ATTRIBUTE_TAGS, BTF_GLOBAL_FUNC, Feature, btf_kind_feature

from ._encode import BtfBuilder, StringTable
from ._graph import TypeGraph
from ._types import (
    Const,
    DeclTag,
    Enum,
    Enum64,
    Float,
    Func,
    Int,
    IntEncoding,
    Member,
    Struct,
    Type,
    TypeTag,
    Union,
)

__all__ = ["BtfFeatures", "load_btf", "probe_btf_features", "sanitize_btf"]


@dataclass(frozen=True)
class BtfFeatures:
    """Which BTF kinds and flags a kernel accepts (all True: a current kernel)."""

    float: bool = True
    decl_tag: bool = True
    type_tag: bool = True
    enum64: bool = True
    func_global: bool = True
    attribute_tags: bool = True

    @classmethod
    def none(cls) -> BtfFeatures:
        """A kernel that knows none of them (5.4-era)."""
        return cls(False, False, False, False, False, False)


def sanitize_btf(graph: TypeGraph, features: BtfFeatures) -> bytes:
    """The BTF of ``graph`` with the kinds ``features`` lacks replaced (same ids).

    Raises:
        ValueError: ``graph`` is split BTF (module BTF on top of vmlinux): only
            standalone BTF, an object's, is loaded and so rewritten.
        ParseError: the graph is malformed.
    """
    if graph.base is not None:
        # Its records refer to the base's strings and types, which a standalone blob cannot keep.
        raise ValueError(f"{graph.name}: split BTF cannot be sanitized on its own")
    # keep string offsets: .BTF.ext line info refers to them
    builder = BtfBuilder(StringTable(graph.string_section))
    placeholder = len(graph) + 1  # an INT appended after all types, for ENUM64 members
    needs_placeholder = False
    for t in graph:
        replacement = _replacement(t, features, placeholder)
        needs_placeholder = needs_placeholder or (isinstance(t, Enum64) and not features.enum64)
        builder.add(replacement)
    if needs_placeholder:
        builder.add(Int(0, "enum64_placeholder", 1, IntEncoding(0), 8))
    return builder.build()


def _replacement(t: Type, features: BtfFeatures, placeholder: int) -> Type:
    if isinstance(t, Float) and not features.float:
        return Struct(t.id, "", t.size)
    if isinstance(t, DeclTag) and not (features.decl_tag and (features.attribute_tags or not t.attribute)):
        return Int(t.id, "", 1, IntEncoding(0), 8)
    if isinstance(t, TypeTag) and not (features.type_tag and (features.attribute_tags or not t.attribute)):
        return Const(t.id, "", t.type_id)
    if isinstance(t, Enum64) and not features.enum64:
        return Union(t.id, t.name, t.size, tuple(Member(v.name, placeholder, 0) for v in t.values))
    if isinstance(t, Enum) and t.signed and not features.enum64:
        return replace(t, signed=False)
    if isinstance(t, Func) and t.linkage == FuncLinkage.GLOBAL and not features.func_global:
        return replace(t, linkage=FuncLinkage.STATIC)
    return t


# Which feature of ebpf.syscall.features answers for each field of BtfFeatures.
_FEATURES: dict[str, Feature] = {
    "float": btf_kind_feature("FLOAT"),
    "decl_tag": btf_kind_feature("DECL_TAG"),
    "type_tag": btf_kind_feature("TYPE_TAG"),
    "enum64": btf_kind_feature("ENUM64"),
    "func_global": BTF_GLOBAL_FUNC,
    "attribute_tags": BTF_ATTRIBUTE_TAGS,
}


def _accepts(feature: Feature) -> bool:
    """The feature's answer; True when its probe cannot tell (the load then reports the real error)."""
    try:
        return feature.supported()
    except EbpfError:
        return True


def probe_btf_features() -> BtfFeatures:
    """Ask the running kernel which kinds it accepts (the BTF feature probes of
    [`ebpf.syscall.features`][ebpf.syscall.features]).

    Conclusive answers are cached by the features; an inconclusive probe (no
    permission, out of memory) counts as supported, so the load itself
    reports the real error.
    """
    return BtfFeatures(**{name: _accepts(feature) for name, feature in _FEATURES.items()})


def load_btf(btf: TypeGraph | bytes, *, features: BtfFeatures | None = None, log_level: int = 0) -> FD:
    """``BPF_BTF_LOAD`` the types, rewritten first for the kernel's features (probed by default).

    Raises:
        VerifierError: the kernel's BTF checker rejected the blob (``.log`` says why).
        BpfSyscallError: other kernel errors.
        ParseError: ``btf`` is malformed.
    """
    graph = btf if isinstance(btf, TypeGraph) else TypeGraph(bytes(btf))
    wanted = features if features is not None else probe_btf_features()
    data = graph.data if wanted == BtfFeatures() else sanitize_btf(graph, wanted)
    return commands.btf_load(data, log_level=log_level)
