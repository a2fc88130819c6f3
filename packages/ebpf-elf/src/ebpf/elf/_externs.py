"""``__kconfig`` and ``__ksym`` externs, laid out when parsing and resolved from the running kernel at load.

``extern int CONFIG_HZ __kconfig;`` lives in the ``.kconfig`` DATASEC of the
object's BTF. Like libbpf, every such extern gets a slot in one read-only
``.kconfig`` array map (aligned for its type) and programs read that slot;
the values come from the kernel's configuration (read by
``ebpf.syscall.features.kernel_config_values()``, raw: a string keeps its
quotes, which is how ``_encode`` tells it from a number) and from libbpf's
``LINUX_*`` names at load.
An unknown ``__weak`` extern is 0; an unknown strong one fails the load.

``.ksyms`` externs (``__ksym``: kernel symbols, variables and functions)
are listed here when parsing; `_ksyms` resolves them against the running
kernel at load.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ebpf.btf import Datasec, Enum, Func, Int, IntEncoding, Kind, TypeGraph, Var, Void
from ebpf.maps import MapSpec
from ebpf.syscall import features
from ebpf.syscall.abi import MapType
from ebpf.syscall.errors import NotSupportedError, ParseError
from ebpf.syscall.flags import MapFlags
from ebpf.syscall.system import kernel_version

from ._elf import ElfSymbol, SymbolBinding

__all__ = ["Extern", "KconfigLayout", "kconfig_layout", "ksym_externs", "resolve_kconfig"]

logger = logging.getLogger("ebpf.elf")

KCONFIG = ".kconfig"
KSYMS = ".ksyms"


@dataclass(frozen=True)
class Extern:
    """One extern: name, BTF VAR (or FUNC) type id, ``__weak`` or not, (kconfig) offset and size.

    For ``.ksyms`` externs: ``untyped`` (``extern const void sym``: only its
    address is wanted), ``function`` (a kernel function, a kfunc) and
    ``declared_type``, the id of the declared type (a variable's type, a
    function's FUNC_PROTO) that the kernel's must be compatible with.
    """

    name: str
    type_id: int
    weak: bool
    offset: int = 0
    size: int = 0
    untyped: bool = False
    function: bool = False
    declared_type: int = 0


@dataclass(frozen=True)
class KconfigLayout:
    """The ``.kconfig`` map: its externs at their offsets and its total size."""

    externs: tuple[Extern, ...]
    size: int

    def map_spec(self) -> MapSpec:
        """The read-only, frozen array map holding the values (filled in at load)."""
        return MapSpec(
            type=MapType.ARRAY,
            name=KCONFIG,
            key_size=4,
            value_size=max(self.size, 1),
            max_entries=1,
            flags=MapFlags.RDONLY_PROG | MapFlags.MMAPABLE,
            freeze=True,
        )


def _datasec(graph: TypeGraph | None, name: str) -> Datasec | None:
    if graph is None:
        return None
    found = next((t for t in graph.of_kind(Kind.DATASEC) if t.name == name), None)
    return found if isinstance(found, Datasec) else None


def _externs_of(graph: TypeGraph, datasec: Datasec, symbols: Iterable[ElfSymbol]) -> list[Extern]:
    weak = {sym.name for sym in symbols if sym.undefined and sym.binding == SymbolBinding.WEAK}
    found = []
    for secinfo in datasec.vars:
        var = graph[secinfo.type_id]
        name = var.name
        found.append(Extern(name, var.id, name in weak))
    return found


def kconfig_layout(graph: TypeGraph | None, symbols: Iterable[ElfSymbol]) -> KconfigLayout | None:
    """Offsets of the ``.kconfig`` externs, or None when the object has none.

    Like libbpf's ``bpf_object__collect_externs``, the externs are sorted by
    decreasing alignment, then name, and packed at aligned offsets.

    Raises:
        ParseError: an extern whose type has no size.
    """
    datasec = _datasec(graph, KCONFIG)
    if graph is None or datasec is None:
        return None
    sized = []
    for ext in _externs_of(graph, datasec, symbols):
        var = graph[ext.type_id]
        try:
            size = graph.size_of(var.type_id if isinstance(var, Var) else ext.type_id)
            align = graph.align_of(var.type_id if isinstance(var, Var) else ext.type_id)
        except ValueError as exc:
            raise ParseError(f"{graph.name}: __kconfig extern {ext.name!r}: {exc}") from None
        sized.append((align, size, ext))
    offset = 0
    laid = []
    for align, size, ext in sorted(sized, key=lambda item: (-item[0], item[2].name)):
        offset = -(-offset // align) * align
        laid.append(Extern(ext.name, ext.type_id, ext.weak, offset, size))
        offset += size
    return KconfigLayout(tuple(laid), offset)


def ksym_externs(graph: TypeGraph | None, symbols: Iterable[ElfSymbol]) -> tuple[Extern, ...]:
    """The ``.ksyms`` externs of the object (none without BTF)."""
    datasec = _datasec(graph, KSYMS)
    if graph is None or datasec is None:
        return ()
    externs = []
    for ext in _externs_of(graph, datasec, symbols):
        var = graph[ext.type_id]
        if isinstance(var, Func):  # a kernel function (kfunc): its prototype is checked at load
            externs.append(Extern(ext.name, ext.type_id, ext.weak, function=True, declared_type=var.type_id))
            continue
        # `extern const void sym __ksym;` has no type: only its address is wanted
        untyped = isinstance(var, Var) and isinstance(graph.resolve(var.type_id), Void)
        declared = var.type_id if isinstance(var, Var) and not untyped else 0
        externs.append(Extern(ext.name, ext.type_id, ext.weak, untyped=untyped, declared_type=declared))
    return tuple(externs)


# ------------------------------------------------------------------ load time


def _linux_value(name: str) -> int | None:
    """libbpf's built-in ``LINUX_*`` externs."""
    if name == "LINUX_KERNEL_VERSION":
        major, minor, patch = kernel_version()
        return (major << 16) | (minor << 8) | min(patch, 255)  # KERNEL_VERSION(a, b, c)
    if name == "LINUX_HAS_BPF_COOKIE":
        return int(features.UPROBE_COOKIES.supported())  # the same answer attach_usdt() acts on
    if name == "LINUX_HAS_SYSCALL_WRAPPER":
        return int(kernel_version() >= (4, 17))
    return None


def _encode(graph: TypeGraph, ext: Extern, text: str) -> bytes:
    """The bytes of config value ``text`` (``y``/``m``/``n``, a number, a quoted string) for ``ext``."""
    var = graph[ext.type_id]
    target = graph.resolve(var.type_id if isinstance(var, Var) else ext.type_id)
    where = f"__kconfig extern {ext.name!r} = {text!r}"
    if isinstance(target, Enum) and target.name == "libbpf_tristate":
        values = {"y": 1, "n": 0, "m": 2}
        if text not in values:
            raise ValueError(f"{where}: not a tristate (y/n/m)")
        return values[text].to_bytes(ext.size, "little")
    if isinstance(target, Int) and target.encoding & IntEncoding.BOOL:
        if text not in ("y", "n"):
            raise ValueError(f"{where}: not a bool (y/n)")
        return bytes([text == "y"]).ljust(ext.size, b"\0")
    if text.startswith('"'):
        if len(text) < 2 or not text.endswith('"'):
            raise ValueError(f"{where}: not a quoted string")
        if target.kind is not Kind.ARRAY:
            raise ValueError(f"{where}: a string value needs a char array extern, not {target}")
        raw = text[1:-1].encode()
        if len(raw) >= ext.size:
            # libbpf's set_kcfg_value_str: keep what fits with the NUL, and say so
            logger.warning(
                "__kconfig extern %r: long string %s (%d bytes) truncated to %d bytes",
                ext.name,
                text,
                len(raw),
                ext.size - 1,
            )
            raw = raw[: ext.size - 1]
        return raw.ljust(ext.size, b"\0")
    number = {"y": 1, "n": 0, "m": 2}[text] if text in ("y", "n", "m") else int(text, 0)
    signed = isinstance(target, (Int, Enum)) and target.signed
    try:
        return number.to_bytes(ext.size, "little", signed=signed)
    except OverflowError:
        raise ValueError(f"{where}: does not fit in {ext.size} bytes") from None


def resolve_kconfig(graph: TypeGraph, layout: KconfigLayout) -> bytes:
    """The contents of the ``.kconfig`` map for the running kernel.

    Raises:
        NotSupportedError: a strong extern the kernel's configuration lacks,
            or no configuration to read when a ``CONFIG_*`` extern needs it.
        ValueError: a value that does not fit the extern's type.
    """
    data = bytearray(max(layout.size, 1))
    config: Mapping[str, str] | None = None
    for ext in layout.externs:
        builtin = _linux_value(ext.name)
        if builtin is not None:
            data[ext.offset : ext.offset + ext.size] = builtin.to_bytes(ext.size, "little")
            continue
        if config is None:
            config = features.kernel_config_values()
            if config is None:
                if ext.weak:
                    continue
                raise NotSupportedError(
                    "reading the kernel configuration",
                    None,
                    f"needed for {ext.name}: no /proc/config.gz or /boot/config-*",
                )
        value = config.get(ext.name)
        if value is None:
            if ext.weak:
                continue
            raise NotSupportedError(
                f"kernel configuration option {ext.name}", None, "not in this kernel's config"
            )
        data[ext.offset : ext.offset + ext.size] = _encode(graph, ext, value)
    return bytes(data)
