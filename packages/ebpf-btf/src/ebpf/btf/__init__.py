"""ebpf.btf: kernel type information (BTF) and CO-RE relocation.

Read BTF from the running kernel (``load_vmlinux``, ``load_module``,
``load_kernel_object``), from files and object files (``load_file``) or bytes
(``from_bytes``) into a [`TypeGraph`][ebpf.btf.TypeGraph]: every type id is reachable as
soon as it is loaded, and types are decoded on first use.

The running kernel's types (vmlinux and module BTF) are read once per
process: [`kernel_types()`][ebpf.btf.kernel_types] is the shared view that
CO-RE relocation, ``__ksym`` and kfunc resolution, attach-target lookup and
the facade all use.

Examples:
    >>> graph = load_vmlinux()                           # doctest: +SKIP
    >>> task = graph.find("task_struct", Kind.STRUCT)    # doctest: +SKIP
    >>> task.member("pid").byte_offset, str(task.member("pid").type)  # doctest: +SKIP
    (1264, 'pid_t')

Malformed input raises ``ebpf.syscall.errors.ParseError`` and nothing else.
"""

from typing import TYPE_CHECKING, Any

from ebpf.syscall._lazy import import_public

if TYPE_CHECKING:
    from ._c_dump import dump_c
    from ._co_re import CoreError, CoreRelocator, CoreResult
    from ._co_re_compat import essential_name, types_are_compatible
    from ._encode import BtfBuilder, StringTable
    from ._ext import BtfExt, CoreRelo, FuncInfo, LineInfo, parse_btf_ext
    from ._graph import MAX_RESOLVE_DEPTH, TypeGraph
    from ._kernel import KERNEL_BTF_DIR, KernelType, KernelTypes, kernel_types
    from ._load import (
        from_bytes,
        kernel_modules_with_btf,
        load_file,
        load_kernel_object,
        load_module,
        load_vmlinux,
    )
    from ._raw_dump import dump_raw
    from ._sanitize import BtfFeatures, load_btf, probe_btf_features, sanitize_btf
    from ._types import (
        Array,
        Composite,
        Const,
        Datasec,
        DeclTag,
        Enum,
        Enum64,
        EnumValue,
        Float,
        Func,
        FuncProto,
        Fwd,
        Int,
        IntEncoding,
        Kind,
        Member,
        Param,
        Pointer,
        Restrict,
        Struct,
        Type,
        Typedef,
        TypeTag,
        Union,
        Var,
        VarLinkage,
        VarSecinfo,
        Void,
        Volatile,
    )

# The public names are imported from their modules on first use (PEP 562): the command
# line's `ebpf btf dump` needs the graph and its dumps, not CO-RE, the builder or the
# kernel feature probes, whose imports cost more than the dump of a small file.
_HOMES = {
    "Array": "._types",
    "BtfBuilder": "._encode",
    "BtfExt": "._ext",
    "BtfFeatures": "._sanitize",
    "Composite": "._types",
    "Const": "._types",
    "CoreError": "._co_re",
    "CoreRelo": "._ext",
    "CoreRelocator": "._co_re",
    "CoreResult": "._co_re",
    "Datasec": "._types",
    "DeclTag": "._types",
    "Enum": "._types",
    "Enum64": "._types",
    "EnumValue": "._types",
    "Float": "._types",
    "Func": "._types",
    "FuncInfo": "._ext",
    "FuncProto": "._types",
    "Fwd": "._types",
    "Int": "._types",
    "IntEncoding": "._types",
    "KERNEL_BTF_DIR": "._kernel",
    "KernelType": "._kernel",
    "KernelTypes": "._kernel",
    "Kind": "._types",
    "LineInfo": "._ext",
    "MAX_RESOLVE_DEPTH": "._graph",
    "Member": "._types",
    "Param": "._types",
    "Pointer": "._types",
    "Restrict": "._types",
    "StringTable": "._encode",
    "Struct": "._types",
    "Type": "._types",
    "TypeGraph": "._graph",
    "TypeTag": "._types",
    "Typedef": "._types",
    "Union": "._types",
    "Var": "._types",
    "VarLinkage": "._types",
    "VarSecinfo": "._types",
    "Void": "._types",
    "Volatile": "._types",
    "dump_c": "._c_dump",
    "dump_raw": "._raw_dump",
    "essential_name": "._co_re_compat",
    "from_bytes": "._load",
    "kernel_modules_with_btf": "._load",
    "kernel_types": "._kernel",
    "load_btf": "._sanitize",
    "load_file": "._load",
    "load_kernel_object": "._load",
    "load_module": "._load",
    "load_vmlinux": "._load",
    "parse_btf_ext": "._ext",
    "probe_btf_features": "._sanitize",
    "sanitize_btf": "._sanitize",
    "types_are_compatible": "._co_re_compat",
}


def __getattr__(name: str) -> Any:
    """A public name of this package, imported from its module on first use.

    Raises:
        AttributeError: ``name`` is not one of ``__all__``.
    """
    return import_public(__name__, _HOMES, globals(), name)


__all__ = [
    "KERNEL_BTF_DIR",
    "MAX_RESOLVE_DEPTH",
    "Array",
    "BtfBuilder",
    "BtfExt",
    "BtfFeatures",
    "Composite",
    "Const",
    "CoreError",
    "CoreRelo",
    "CoreRelocator",
    "CoreResult",
    "Datasec",
    "DeclTag",
    "Enum",
    "Enum64",
    "EnumValue",
    "Float",
    "Func",
    "FuncInfo",
    "FuncProto",
    "Fwd",
    "Int",
    "IntEncoding",
    "KernelType",
    "KernelTypes",
    "Kind",
    "LineInfo",
    "Member",
    "Param",
    "Pointer",
    "Restrict",
    "StringTable",
    "Struct",
    "Type",
    "TypeGraph",
    "TypeTag",
    "Typedef",
    "Union",
    "Var",
    "VarLinkage",
    "VarSecinfo",
    "Void",
    "Volatile",
    "__version__",
    "dump_c",
    "dump_raw",
    "essential_name",
    "from_bytes",
    "kernel_modules_with_btf",
    "kernel_types",
    "load_btf",
    "load_file",
    "load_kernel_object",
    "load_module",
    "load_vmlinux",
    "parse_btf_ext",
    "probe_btf_features",
    "sanitize_btf",
    "types_are_compatible",
]


#: The version of ``ebpf-btf``, which hatch reads from here (every ebpf distribution has the same).
__version__ = "0.1.0"
