"""ebpf.syscall: the kernel interface every other ebpf package stands on.

The only code that calls ``bpf(2)``, ``perf_event_open(2)`` and the BPF
ioctls. Layers, from the bottom:

- [`ebpf.syscall.abi`][ebpf.syscall.abi]: enums and ``ctypes`` attr/info layouts generated
  from kernel BTF; [`ebpf.syscall.flags`][ebpf.syscall.flags]: the ``#define`` flag sets.
- [`bpf()`][ebpf.syscall.bpf] / [`bpf_errno()`][ebpf.syscall.bpf_errno]: the one choke point.
- [`ebpf.syscall.raw`][ebpf.syscall.raw]: one generated function per command,
  attr in, result or ``-errno`` out.
- [`ebpf.syscall.commands`][ebpf.syscall.commands]: every command as a typed function.
- [`ebpf.syscall.perf`][ebpf.syscall.perf]: perf events, their ioctls, probe PMUs, tracepoint ids.
- [`ebpf.syscall.objects`][ebpf.syscall.objects]: enumerate loaded objects, read their info.
- [`ebpf.syscall.system`][ebpf.syscall.system]: kernel version, mounts, capabilities, CPUs, memlock.
- [`ebpf.syscall.features`][ebpf.syscall.features]: feature probes with the kernel version of each.

Lifecycle: every call that creates a kernel object returns an [`FD`][ebpf.syscall.FD],
which owns the descriptor. Close it (or use ``with``) when done; a
forgotten ``FD`` is closed when garbage-collected. A kernel object lives
while any descriptor, pin or attachment refers to it.

Importing this package has no side effects: no syscalls, no mounts, no
rlimit changes.
"""

from typing import TYPE_CHECKING, Any

from ._lazy import import_public

if TYPE_CHECKING:
    from . import abi, commands, features, flags, objects, perf, raw, system
    from ._generated import AttachType, Cmd, LinkType, MapType, ProgType
    from ._kernel import bpf, bpf_errno, bpf_failed, bpf_prepared
    from .errors import (
        BpfSyscallError,
        EbpfError,
        KeyNotFoundError,
        LibraryLimitError,
        NotSupportedError,
        ParseError,
        PermissionDeniedError,
        VerifierError,
    )
    from .fd import FD, HasFileno, fileno_of
    from .flags import AttachFlags, MapFlags, ProgLoadFlags, UpdateFlags
    from .system import KernelVersion, NotMountedError, kernel_version, possible_cpus

# The public names are imported from their modules on first use (PEP 562): a package that
# needs only the ABI tables and the errors (ebpf.btf, for `ebpf btf dump`) does not pay for
# the commands, the feature probes and the object listings (about 0.1 s of CPU).
_HOMES = {
    **{
        module: f".{module}"
        for module in ("abi", "commands", "features", "flags", "objects", "perf", "raw", "system")
    },
    **dict.fromkeys(("AttachType", "Cmd", "LinkType", "MapType", "ProgType"), "._generated"),
    **dict.fromkeys(("bpf", "bpf_errno", "bpf_failed", "bpf_prepared"), "._kernel"),
    **dict.fromkeys(
        (
            "BpfSyscallError",
            "EbpfError",
            "KeyNotFoundError",
            "LibraryLimitError",
            "NotSupportedError",
            "ParseError",
            "PermissionDeniedError",
            "VerifierError",
        ),
        ".errors",
    ),
    **dict.fromkeys(("FD", "HasFileno", "fileno_of"), ".fd"),
    **dict.fromkeys(("AttachFlags", "MapFlags", "ProgLoadFlags", "UpdateFlags"), ".flags"),
    **dict.fromkeys(("KernelVersion", "NotMountedError", "kernel_version", "possible_cpus"), ".system"),
}


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use (then kept in the package).

    Raises:
        AttributeError: ``name`` is not one of ``__all__``.
    """
    return import_public(__name__, _HOMES, globals(), name)


__all__ = [
    "FD",
    "AttachFlags",
    "AttachType",
    "BpfSyscallError",
    "Cmd",
    "EbpfError",
    "HasFileno",
    "KernelVersion",
    "KeyNotFoundError",
    "LibraryLimitError",
    "LinkType",
    "MapFlags",
    "MapType",
    "NotMountedError",
    "NotSupportedError",
    "ParseError",
    "PermissionDeniedError",
    "ProgLoadFlags",
    "ProgType",
    "UpdateFlags",
    "VerifierError",
    "__version__",
    "abi",
    "bpf",
    "bpf_errno",
    "bpf_failed",
    "bpf_prepared",
    "commands",
    "features",
    "fileno_of",
    "flags",
    "kernel_version",
    "objects",
    "perf",
    "possible_cpus",
    "raw",
    "system",
]


#: The version of ``ebpf-syscall``, which hatch reads from here (every ebpf distribution has the same).
__version__ = "0.1.0"
