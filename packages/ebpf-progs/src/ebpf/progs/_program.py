"""``Program``: a loaded program that owns its descriptor."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from ebpf.syscall import (
    FD,
    AttachType,
    BpfSyscallError,
    HasFileno,
    NotSupportedError,
    ProgType,
    commands,
    objects,
)
from ebpf.syscall.commands import TestRunResult
from ebpf.syscall.errors import ENOTSUPP
from ebpf.syscall.flags import TestRunFlags

from ._dispatch import attach_from_spec
from ._load import LoadOptions, load
from ._spec import ProgramSpec

if TYPE_CHECKING:
    from ._link import Link

__all__ = ["Program", "ProgramInfo", "TestRunResult", "run_statistics"]

# Program types whose test run takes only a context and runs once.
_RUN_ONCE = frozenset(
    {ProgType.RAW_TRACEPOINT, ProgType.RAW_TRACEPOINT_WRITABLE, ProgType.TRACING, ProgType.SYSCALL}
)


@dataclass(frozen=True)
class ProgramInfo(objects.ProgramInfo):
    """What the kernel reports about a loaded program, with its instructions.

    Everything of [`ebpf.syscall.objects.ProgramInfo`][ebpf.syscall.objects.ProgramInfo] (id, type, name,
    tag, map ids, ``run_count``/``run_time_ns`` statistics...) plus:

    Attributes:
        xlated_insns: the instructions as the verifier rewrote them (8 bytes
            each); empty when the kernel hides them.
        jited_insns: the machine code the JIT produced; empty without a JIT.
    """

    xlated_insns: bytes = b""
    jited_insns: bytes = b""


@contextlib.contextmanager
def run_statistics() -> Iterator[None]:
    """Make the kernel count program runs and run time (``run_count``, ``run_time_ns``) inside the block.

    Raises:
        PermissionDeniedError: without ``CAP_SYS_ADMIN``.
    """
    with commands.enable_stats():
        yield


class Program:
    """A loaded eBPF program: owns one descriptor; close it or use ``with``.

    Create one with [`load()`][ebpf.progs.Program.load], [`from_pin()`][ebpf.progs.Program.from_pin] or
    [`from_id()`][ebpf.progs.Program.from_id]. A program stays loaded while a descriptor, a pin or an
    attachment refers to it, so closing a ``Program`` whose [`Link`][ebpf.progs.Link] is still
    open keeps the program running.

    Attributes:
        name: the program's name.
        type: its [`ProgType`][ebpf.syscall.ProgType] (an int for a type newer than this library).
        expected_attach_type: the attach type it was verified for, if known.
        spec: the spec it was loaded from (``None`` when opened by pin or id).
        verifier_log: the verifier's log of the load, when ``log_level`` asked for it.
        pinned_path: where [`pin()`][ebpf.progs.Program.pin] pinned it (or where it was opened from).
    """

    def __init__(
        self,
        fd: FD,
        *,
        name: str,
        prog_type: ProgType | int,
        expected_attach_type: AttachType | None = None,
        spec: ProgramSpec | None = None,
        verifier_log: Sequence[str] = (),
        pinned_path: Path | None = None,
    ) -> None:
        """Take ownership of ``fd``; most code calls [`load()`][ebpf.progs.Program.load],
        [`from_pin()`][ebpf.progs.Program.from_pin] or [`from_id()`][ebpf.progs.Program.from_id]."""
        self._fd = fd
        self.name = name
        self.type = prog_type
        self.expected_attach_type = expected_attach_type
        self.spec = spec
        self.verifier_log = list(verifier_log)
        self.pinned_path = pinned_path

    # ------------------------------------------------------------ creation

    @classmethod
    def load(
        cls,
        spec: ProgramSpec,
        *,
        log_level: int = 0,
        log_size: int = 0,
        btf: HasFileno | None = None,
        target_program: HasFileno | None = None,
        ifindex: int = 0,
        fd_array: Sequence[int] = (),
    ) -> Program:
        """Load ``spec`` into the kernel.

        Without ``log_level`` the program is loaded without a verifier log,
        and only a failed load is repeated with one (docs/architecture.md, Errors).
        With ``log_level`` (1: verbose, 2: every state, 4: statistics) the
        log is kept in `verifier_log` even when loading succeeds.

        BTF-based programs (fentry/fexit/fmod_ret, LSM, ``tp_btf``,
        iterators, struct_ops) are verified against the kernel type named
        by ``spec.attach_to``, found in vmlinux or module BTF.

        Args:
            spec: what to load.
            log_level: ask for the verifier log from the first attempt.
            log_size: the first size of the log buffer.
            btf: a loaded BTF object to use instead of loading ``spec.btf``.
            target_program: for freplace (``ProgType.EXT``): the program
                whose function ``spec.attach_to`` is replaced.
            ifindex: offload or bind to this device (XDP hints).
            fd_array: map and BTF descriptors referenced by index from the instructions.

        Raises:
            ValueError: bad options, a missing attach target, or a target not
                found in BTF; nothing was loaded.
            ProgramVerifierError: the verifier rejected the program; the
                error has the whole log, the failing instruction and, with
                line info, its source line.
            PermissionDeniedError: missing ``CAP_BPF`` (and ``CAP_PERFMON``
                or ``CAP_NET_ADMIN`` for tracing and networking types).
            NotSupportedError: the kernel has no BTF for a BTF-based program.
            BpfSyscallError: other kernel errors (``EINVAL`` for a type the
                kernel does not know).
        """
        options = LoadOptions(log_level, log_size, btf, target_program, ifindex, tuple(fd_array))
        fd, log = load(spec, options)
        return cls(
            fd,
            name=spec.name,
            prog_type=spec.type,
            expected_attach_type=spec.expected_attach_type,
            spec=spec,
            verifier_log=log,
        )

    @classmethod
    def _from_fd(cls, fd: FD, pinned_path: Path | None = None) -> Program:
        try:
            info = objects.get_program_info(fd)
        except BaseException:
            fd.close()
            raise
        return cls(fd, name=info.name, prog_type=info.type, pinned_path=pinned_path)

    @classmethod
    def from_pin(cls, path: str | os.PathLike[str]) -> Program:
        """Open the program pinned at ``path``.

        Raises:
            BpfSyscallError: nothing is pinned there (``ENOENT``), or ``path`` is not on bpffs.
            TypeError: what is pinned there is not a program (the message says what it is).
        """
        fd = commands.obj_get(path)
        if objects.object_kind(fd) != "program":
            what = objects.describe_fd(fd)
            fd.close()
            raise TypeError(f"{os.fspath(path)!r} is {what}, not a pinned program")
        return cls._from_fd(fd, Path(path))

    @classmethod
    def from_id(cls, prog_id: int) -> Program:
        """Open a loaded program by its id (needs ``CAP_SYS_ADMIN``).

        Raises:
            BpfSyscallError: no program has that id (``ENOENT``).
        """
        return cls._from_fd(commands.prog_get_fd_by_id(prog_id))

    # ------------------------------------------------------------- queries

    def fileno(self) -> int:
        """The program's descriptor.

        Raises:
            ValueError: the program was closed.
        """
        return self._fd.fileno()

    @property
    def closed(self) -> bool:
        """Whether [`close()`][ebpf.progs.Program.close] was called."""
        return self._fd.closed

    @property
    def id(self) -> int:
        """The kernel's id of the program."""
        with self._fd.lock:
            return objects.get_program_info(self._fd).id

    def info(self, *, instructions: bool = True) -> ProgramInfo:
        """What the kernel reports about the program, with its translated and JIT-ed instructions.

        Run statistics (``run_count``, ``run_time_ns``) move only inside
        [`run_statistics()`][ebpf.progs.run_statistics] or with ``sysctl kernel.bpf_stats_enabled=1``.

        Raises:
            ValueError: the program was closed.
        """
        with self._fd.lock:
            base = objects.get_program_info(self._fd)
            fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(base)}
            if instructions:
                fields["xlated_insns"] = objects.program_xlated_insns(self._fd)
                fields["jited_insns"] = objects.program_jited_insns(self._fd)
            return ProgramInfo(**fields)

    # ------------------------------------------------------------- running

    def test_run(
        self,
        data: bytes | bytearray | memoryview | None = None,
        *,
        ctx: bytes | bytearray | memoryview | None = None,
        repeat: int = 1,
        cpu: int | None = None,
        data_out_size: int | None = None,
        ctx_out_size: int | None = None,
    ) -> TestRunResult:
        """Run the program once (or ``repeat`` times) on ``data``/``ctx`` without attaching it.

        Works for XDP, TC (``sched_cls``/``sched_act``), socket filter,
        cgroup skb, flow dissector, sk_lookup (``ctx``), raw tracepoint
        (``ctx`` = the arguments as u64s, optionally on ``cpu``), tracing
        (fentry/fexit of ``bpf_fentry_test*``) and syscall (``ctx`` = the
        argument struct, written back) programs.

        Args:
            data: packet data for the networking types.
            ctx: the context structure (``__sk_buff``, ``xdp_md``, raw tracepoint args...).
            repeat: how many runs (``duration_ns`` is their average); raw
                tracepoint, tracing and syscall programs run once.
            cpu: run on this CPU (raw tracepoint programs only).
            data_out_size: room for the output packet (default: input + 256).
            ctx_out_size: room for the output context (default: the size of
                ``ctx``); a syscall program's ``ctx_out`` is its context as it left it.

        Returns:
            ``retval``, ``data_out``, ``ctx_out`` and ``duration_ns``.

        Raises:
            ValueError: ``repeat`` or ``cpu`` out of range, or ``data``/``repeat``
                for a type that runs once on a context.
            NotSupportedError: the kernel cannot test-run this program type.
            BpfSyscallError: the kernel refused the input (``EINVAL`` for a
                context of the wrong size...).
        """
        if not 0 <= repeat <= 0xFFFFFFFF:
            raise ValueError(f"repeat must be between 0 and 2**32-1, not {repeat}")
        if cpu is not None and cpu < 0:
            raise ValueError(f"cpu must not be negative, not {cpu}")
        once = self.type in _RUN_ONCE
        if once:
            # These types run exactly once and reject repeat, data and an
            # output context (net/bpf/test_run.c); a syscall program's
            # context is written back into the input buffer instead.
            if repeat > 1 or data is not None or ctx_out_size:
                raise ValueError(
                    f"{_type_name(self.type)} programs run once on ctx only: no data, repeat or ctx_out_size"
                )
            repeat, ctx_out_size = 0, 0
        elif ctx_out_size is None:
            ctx_out_size = len(memoryview(ctx).cast("B")) if ctx is not None else 0
        ctx_in = bytearray(ctx) if ctx is not None and self.type == ProgType.SYSCALL else ctx
        try:
            with self._fd.lock:  # close() in another thread waits for the run (see ebpf.syscall.fd)
                result = commands.prog_test_run(
                    self._fd,
                    data_in=data,
                    data_out_size=data_out_size,
                    ctx_in=ctx_in,
                    ctx_out_size=ctx_out_size or 0,
                    repeat=repeat,
                    flags=TestRunFlags.RUN_ON_CPU if cpu is not None else TestRunFlags.NONE,
                    cpu=cpu or 0,
                )
            if isinstance(ctx_in, bytearray):
                result = dataclasses.replace(result, ctx_out=bytes(ctx_in))
            return result
        except BpfSyscallError as exc:
            if exc.errno in (ENOTSUPP, errno.EOPNOTSUPP):
                raise NotSupportedError(
                    f"test runs of {_type_name(self.type)} programs", None, str(exc)
                ) from exc
            raise

    # ---------------------------------------------------------- attaching

    def attach(self) -> Link:
        """Attach to the target named by the spec's section-style ``attach_to``.

        Tracepoints (``"syscalls/sys_enter_getpid"``), raw tracepoints,
        kprobes and kretprobes (``"do_unlinkat"``, ``"do_unlinkat+0x10"``),
        kprobe_multi patterns, and the BTF-based types whose target was fixed
        at load (fentry/fexit/fmod_ret, LSM, ``tp_btf``, iterators): the
        handler [`register_attach()`][ebpf.progs.register_attach] holds for the
        program's type decides. Other types need an argument: call
        [`attach()`][ebpf.progs.attach] with a target, or the ``attach_*``
        function for them.

        Raises:
            ValueError: the spec names no target, or the type needs one the
                spec cannot express (a cgroup, a socket...).
        """
        with self._fd.lock:
            return attach_from_spec(self)

    # ------------------------------------------------------------- pinning

    def pin(self, path: str | os.PathLike[str]) -> None:
        """Pin the program at ``path`` on bpffs so it outlives this process.

        Raises:
            BpfSyscallError: ``EEXIST`` if the path exists; ``EPERM`` when not on bpffs.
        """
        with self._fd.lock:
            commands.obj_pin(self._fd, path)
            self.pinned_path = Path(path)

    def unpin(self) -> None:
        """Remove the pin made by [`pin()`][ebpf.progs.Program.pin] (or the one
        [`from_pin()`][ebpf.progs.Program.from_pin] opened), if any."""
        if self.pinned_path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.pinned_path)
            self.pinned_path = None

    # ----------------------------------------------------------- lifecycle

    def close(self) -> None:
        """Close the descriptor; the program is unloaded when nothing else refers to it."""
        self._fd.close()

    def __enter__(self) -> Program:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"fd={self._fd.fileno()}"
        return f"<Program {self.name!r} {_type_name(self.type)} {state}>"


def _type_name(prog_type: ProgType | int) -> str:
    return prog_type.name if isinstance(prog_type, ProgType) else str(prog_type)
