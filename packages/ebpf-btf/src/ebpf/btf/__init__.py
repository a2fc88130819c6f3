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
