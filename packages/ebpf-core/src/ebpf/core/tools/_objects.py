"""The tools' compiled BPF objects (package data) and how they are loaded: filters, fallbacks, attachment.

Each tool's C source ``bpf/NAME.bpf.c`` is compiled ahead of time (``make
regen``, ``tools/gen_tool_objects.py``) into ``bpf/NAME.bpf.o``, committed and
shipped in the wheel: no compiler on the machine that runs the tool. The
objects are CO-RE: the loader relocates their field accesses against the
running kernel's BTF. A tool reading a uprobe's registers (USDT arguments)
ships one object per architecture instead, ``bpf/NAME.ARCH.bpf.o``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from importlib import resources
from typing import TYPE_CHECKING, Literal

from ._options import CommonOptions

if TYPE_CHECKING:
    from ebpf.elf import Collection, CollectionSpec
    from ebpf.syscall.features import Feature

__all__ = ["Hook", "choose_hook", "feature_available", "load_and_attach", "object_spec", "tracepoint_exists"]

#: How a tool attaches to a kernel tracepoint: BTF-typed (``tp_btf``, 5.5) or raw (``raw_tp``, 4.17).
#: A tool's object holds both versions of each handler, named ``..._btf`` and ``..._raw``.
Hook = Literal["btf", "raw"]

log = logging.getLogger("ebpf.core")

#: The machines per-architecture objects are built for, and their ``__TARGET_ARCH_*`` names.
TARGET_ARCHES = {"x86_64": "x86", "aarch64": "arm64"}


def object_spec(name: str) -> CollectionSpec:
    """The spec of the tool object ``bpf/NAME.bpf.o`` shipped with ebpf-core.

    A tool built per architecture has ``bpf/NAME.ARCH.bpf.o`` instead: the
    one of this machine is taken.

    Raises:
        FileNotFoundError: no such object in the package (or none for this
            machine's architecture).
        ParseError: the object is malformed.
    """
    from ebpf.elf import CollectionSpec

    folder = resources.files("ebpf.core.tools") / "bpf"
    resource = folder / f"{name}.bpf.o"
    if not resource.is_file():
        machine = os.uname().machine
        if machine in TARGET_ARCHES:
            resource = folder / f"{name}.{TARGET_ARCHES[machine]}.bpf.o"
        if not resource.is_file():
            raise FileNotFoundError(
                f"no BPF object {name}.bpf.o in ebpf.core.tools, nor one built for {machine} "
                f"({name}.ARCH.bpf.o: objects are built per architecture for "
                f"{', '.join(TARGET_ARCHES)}; a broken installation?)"
            )
    return CollectionSpec.from_bytes(resource.read_bytes(), name=resource.name)


def feature_available(feature: Feature) -> bool:
    """Whether the kernel offers ``feature`` to this process: a probe that cannot tell counts as no.

    A security policy may refuse a program type even to root (``EPERM``,
    inconclusive for the probe); a tool then takes its fallback, as
    libbpf-tools do when loading fails.
    """
    from ebpf.syscall import EbpfError

    try:
        return feature.supported()
    except EbpfError as exc:
        log.debug("feature %s: cannot tell (%s); using the fallback", feature.name, exc)
        return False


def choose_hook(hook: Hook | None = None) -> Hook:
    """``hook``, or the best the kernel takes: ``"btf"`` where ``tp_btf`` programs load, else ``"raw"``.

    Raises:
        ValueError: ``hook`` is neither ``"btf"``, ``"raw"`` nor ``None``.
    """
    if hook is not None:
        if hook not in ("btf", "raw"):
            raise ValueError(f"hook must be 'btf', 'raw' or None (decide by probe), not {hook!r}")
        return hook
    from ebpf.syscall import ProgType
    from ebpf.syscall.features import prog_type_feature

    return "btf" if feature_available(prog_type_feature(ProgType.TRACING)) else "raw"


def tracepoint_exists(category: str, name: str) -> bool:
    """Whether tracefs lists tracepoint ``category:name`` (``syscalls:sys_enter_open`` is missing on arm64).

    Raises:
        NotMountedError: tracefs is not mounted (``ebpf tool`` mounts it).
    """
    from ebpf.syscall.system import ensure_tracefs

    return (ensure_tracefs() / "events" / category / name).is_dir()


def _set_filters(spec: CollectionSpec, options: CommonOptions) -> None:
    if options.pid is not None:
        spec.variables["targ_tgid"].set(options.pid)
    if options.comm is not None:
        spec.variables["targ_comm"].set(options.comm.encode().ljust(16, b"\0"))


def load_and_attach(
    stack: ExitStack,
    name: str,
    options: CommonOptions,
    *,
    skip: Iterable[str] = (),
    hook: Hook | None = None,
    configure: Callable[[CollectionSpec], None] | None = None,
) -> Collection:
    """Load tool object ``name`` with the ``-p``/``-c`` filters of ``options``, attach its programs.

    Args:
        stack: owns the collection and the links (closing it detaches and unloads).
        name: the object (``execsnoop`` for ``bpf/execsnoop.bpf.o``).
        options: the filters to set in the object's read-only data.
        skip: programs not to load (the alternatives the kernel cannot run).
        hook: for objects with ``_btf`` and ``_raw`` versions of their
            handlers, which to load (the other is left out).
        configure: a last change to the spec (more variables, map sizes).

    Raises:
        ProgramVerifierError, NotSupportedError, BpfSyscallError: loading or
            attaching failed; nothing is left loaded then.
    """
    from ebpf.elf import Collection

    spec = object_spec(name)
    _set_filters(spec, options)
    other = {"btf": "_raw", "raw": "_btf"}[hook] if hook is not None else None
    skipped = set(skip)
    for program in spec.programs:
        if program in skipped or (other is not None and program.endswith(other)):
            spec.set_autoload(program, False)
    if configure is not None:
        configure(spec)
    collection = stack.enter_context(Collection.load(spec))
    stack.enter_context(collection.attach_all())
    return collection
