"""The error hierarchy of every ebpf package.

Everything the library raises on purpose derives from [`EbpfError`][ebpf.syscall.EbpfError].
What the running kernel lacks is a [`NotSupportedError`][ebpf.syscall.NotSupportedError]; what
this library does not implement is a [`LibraryLimitError`][ebpf.syscall.LibraryLimitError].
A failed system call is a [`BpfSyscallError`][ebpf.syscall.BpfSyscallError], which is also an
`OSError` carrying ``errno``, so ``except OSError`` code keeps working;
the subclasses add what a person needs to act: the missing capability, the
key that was not found, the verifier's log.
"""

from __future__ import annotations

import errno as _errno
import os
from collections.abc import Sequence

__all__ = [
    "ENOTSUPP",
    "BpfSyscallError",
    "EbpfError",
    "KeyNotFoundError",
    "LibraryLimitError",
    "NotSupportedError",
    "ParseError",
    "PermissionDeniedError",
    "VerifierError",
    "syscall_error",
]

ENOTSUPP = 524
"""The kernel-internal "operation not supported" (``include/linux/errno.h``, not
``errno.EOPNOTSUPP``): BPF commands answer it for an operation a map or program
type does not implement, and it has no name in the `errno` module."""


class EbpfError(Exception):
    """Root of every exception the ebpf packages raise on purpose."""


class BpfSyscallError(EbpfError, OSError):
    """A ``bpf(2)``, ``perf_event_open(2)`` or ioctl call failed.

    Attributes:
        errno: the kernel's error number.
        command: the command's name (``"BPF_MAP_CREATE"``, ``"perf_event_open"``).
        context: what the library was doing (``"creating map 'events'"``).
    """

    def __init__(self, err: int, command: str, context: str = "", hint: str = "") -> None:
        self.command = command
        self.context = context
        self.hint = hint
        message = f"{command}: {os.strerror(err)} ({_errno.errorcode.get(err, err)})"
        if context:
            message = f"{context}: {message}"
        if hint:
            message = f"{message}; {hint}"
        OSError.__init__(self, err, message)

    def __str__(self) -> str:
        return str(self.strerror)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.errno, self.command, self.context, self.hint))


class PermissionDeniedError(BpfSyscallError, PermissionError):
    """The caller lacks a capability (``EPERM``/``EACCES``).

    The message names the capability (``CAP_BPF``, ``CAP_PERFMON``,
    ``CAP_NET_ADMIN``, ``CAP_SYS_ADMIN``) and how to grant it. Building one
    does no I/O (nor does unpickling one): the hint, which depends on the
    capabilities the process holds, is worded where the error is raised, by
    [`syscall_error()`][ebpf.syscall.errors.syscall_error].

    Attributes:
        capability: the capability the operation needs.
    """

    def __init__(
        self, err: int, command: str, context: str = "", capability: str = "CAP_BPF", hint: str = ""
    ) -> None:
        """An error naming ``capability``; ``hint`` says how to get it (by default: that it is needed)."""
        self.capability = capability
        super().__init__(err, command, context, hint or f"this needs {capability}")

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.errno, self.command, self.context, self.capability, self.hint))


class KeyNotFoundError(BpfSyscallError, KeyError):
    """A map lookup or delete found no such key (``ENOENT``)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.strerror)


class VerifierError(BpfSyscallError):
    """The kernel's verifier rejected a program or BTF blob.

    Attributes:
        log: every line of the verifier log, as the kernel wrote it.
        truncated: whether the kernel had more log than the buffer could hold.
    """

    #: how many trailing log lines ``str()`` shows.
    TAIL = 10

    def __init__(
        self,
        err: int,
        command: str,
        context: str = "",
        log: Sequence[str] = (),
        truncated: bool = False,
    ) -> None:
        self.log = list(log)
        self.truncated = truncated
        super().__init__(err, command, context)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.errno, self.command, self.context, self.log, self.truncated))

    def __str__(self) -> str:
        name = _errno.errorcode.get(self.errno or 0, str(self.errno))
        head = f"{self.command}: rejected by the verifier ({name})"
        if self.context:
            head = f"{self.context}: {head}"
        lines = [line for line in self.log if line.strip()]
        # The verifier prints its verdict last; statistics ("processed N insns")
        # and blank lines follow it, so skip those when picking the cause.
        body = [line for line in lines if not line.startswith(("processed ", "verification time"))]
        if not body:
            return head
        cause = body[-1]
        tail = body[-self.TAIL :]
        omitted = len(body) - len(tail)
        text = f"{head}: {cause}"
        if omitted:
            text += f"\n  ({omitted} earlier line{'s' if omitted != 1 else ''} omitted)"
        text += "".join(f"\n  {line}" for line in tail)
        if self.truncated:
            text += "\n  (log truncated by the kernel)"
        return text


class NotSupportedError(EbpfError):
    """The running kernel lacks a feature.

    Attributes:
        feature: what is missing, in words (``"ring buffer maps"``).
        version: the first kernel version that has it (``"5.8"``), if known.
    """

    def __init__(self, feature: str, version: str | None = None, detail: str = "") -> None:
        self.feature = feature
        self.version = version
        self.detail = detail
        message = f"{feature} not supported by this kernel"
        if version:
            message += f" (requires Linux {version} or newer)"
        if detail:
            message += f": {detail}"
        super().__init__(message)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.feature, self.version, self.detail))


class LibraryLimitError(EbpfError, NotImplementedError):
    """Something this library does not implement (yet), whatever the running kernel has.

    Not a [`NotSupportedError`][ebpf.syscall.NotSupportedError], which means
    that the kernel lacks a feature: the kernel may well have this one. The
    message names the limit and, where there is one, a way around it.
    """


class ParseError(EbpfError, ValueError):
    """Malformed input (ELF, BTF, instructions, records).

    The message says what was wrong, where (offset, section, type id) and why.
    """


def _has_capability(name: str) -> bool:
    """Whether this process holds ``name`` (read lazily: only error paths need it)."""
    from .system import has_capability

    try:
        return has_capability(name)
    except (OSError, ValueError):
        return False


def _permission_hint(capability: str, command: str) -> str:
    """How to get past a refusal of ``command`` that needs ``capability``, for a permission error.

    Reads the capabilities of this process (``/proc/self/status``): when it
    holds ``capability`` already, the hint blames a security policy; else it
    says how to grant it.
    """
    if _has_capability(capability):
        return (
            f"refused although this process has {capability}: a security policy "
            "(kernel lockdown, an LSM, a seccomp filter) forbids it"
        )
    hint = (
        f"this needs {capability}: run as root, or grant the capability "
        f"(e.g. `sudo setcap {capability.lower()}+ep $(readlink -f $(which python3))`)"
    )
    if command.startswith("BPF_"):
        hint += "; without it only kernel.unprivileged_bpf_disabled=0 allows maps and socket filters"
    return hint


# Capabilities a command needs beyond CAP_BPF, used to word permission errors.
_CAPABILITY_FOR_COMMAND = {
    "perf_event_open": "CAP_PERFMON",
    "BPF_PROG_ATTACH": "CAP_NET_ADMIN",
    "BPF_LINK_CREATE": "CAP_NET_ADMIN",
    "BPF_ENABLE_STATS": "CAP_SYS_ADMIN",
    "BPF_TASK_FD_QUERY": "CAP_SYS_ADMIN",
    "BPF_PROG_GET_NEXT_ID": "CAP_SYS_ADMIN",
    "BPF_MAP_GET_NEXT_ID": "CAP_SYS_ADMIN",
    "BPF_LINK_GET_NEXT_ID": "CAP_SYS_ADMIN",
    "BPF_BTF_GET_NEXT_ID": "CAP_SYS_ADMIN",
    "BPF_PROG_GET_FD_BY_ID": "CAP_SYS_ADMIN",
    "BPF_MAP_GET_FD_BY_ID": "CAP_SYS_ADMIN",
    "BPF_LINK_GET_FD_BY_ID": "CAP_SYS_ADMIN",
    "BPF_BTF_GET_FD_BY_ID": "CAP_SYS_ADMIN",
}


# Element commands whose ENOENT means "no such key" (BPF_MAP_GET_NEXT_KEY's
# means "no more keys", and the batch lookups' "no more elements": their
# callers handle it before asking for an exception).
_KEY_COMMANDS = frozenset(
    {
        "BPF_MAP_LOOKUP_ELEM",
        "BPF_MAP_UPDATE_ELEM",
        "BPF_MAP_DELETE_ELEM",
        "BPF_MAP_LOOKUP_AND_DELETE_ELEM",
        "BPF_MAP_LOOKUP_BATCH",
        "BPF_MAP_LOOKUP_AND_DELETE_BATCH",
        "BPF_MAP_UPDATE_BATCH",
        "BPF_MAP_DELETE_BATCH",
    }
)

# Writes to a map fail with EPERM for a process that could open the map only
# when the map is frozen (BPF_MAP_FREEZE) or was created BPF_F_RDONLY: not a
# privilege matter (map_update_elem/map_delete_elem in kernel/bpf/syscall.c).
_MAP_WRITE_COMMANDS = frozenset({"BPF_MAP_UPDATE_ELEM", "BPF_MAP_UPDATE_BATCH", "BPF_MAP_DELETE_ELEM"})

# What an errno means for particular commands, when it means one thing.
_HINTS: dict[tuple[int, str], str] = {
    **{(_errno.EPERM, cmd): "the map is frozen or read-only for user space" for cmd in _MAP_WRITE_COMMANDS},
    (_errno.EEXIST, "BPF_MAP_UPDATE_ELEM"): "the key exists and NOEXIST was given",
}


def syscall_error(
    err: int, command: str, context: str = "", hint: str = "", *, capability: str | None = None
) -> BpfSyscallError:
    """Build the right [`BpfSyscallError`][ebpf.syscall.BpfSyscallError] subclass for ``err``.

    The one place that maps an errno to an exception:

    - ``EPERM``/``EACCES``: [`PermissionDeniedError`][ebpf.syscall.PermissionDeniedError]
      naming the capability the command needs (``capability`` overrides it,
      for example ``CAP_NET_ADMIN`` when attaching a network program);
      except when ``hint`` (or the command: writes to a map, which mean
      "frozen or read-only") explains the errno otherwise.
    - ``ENOENT`` from a map element or batch command:
      [`KeyNotFoundError`][ebpf.syscall.KeyNotFoundError].
    - anything else: [`BpfSyscallError`][ebpf.syscall.BpfSyscallError].

    Args:
        err: the errno.
        command: ``"BPF_MAP_CREATE"``, ``"perf_event_open"``...
        context: what the library was doing (``"creating map 'events'"``).
        hint: what the errno means here, appended to the message; without
            one, the command's own (``EEXIST`` from ``BPF_MAP_UPDATE_ELEM``:
            "the key exists and NOEXIST was given").
    """
    hint = hint or _HINTS.get((err, command), "")
    if err in (_errno.EPERM, _errno.EACCES) and not hint:
        cap = capability or _CAPABILITY_FOR_COMMAND.get(command, "CAP_BPF")
        return PermissionDeniedError(err, command, context, cap, _permission_hint(cap, command))
    if err == _errno.ENOENT and command in _KEY_COMMANDS:
        return KeyNotFoundError(err, command, context, hint)
    return BpfSyscallError(err, command, context, hint)
