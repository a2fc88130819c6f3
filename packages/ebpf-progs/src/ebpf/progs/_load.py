"""Turning a [`ProgramSpec`][ebpf.progs.ProgramSpec] into a loaded program: attach targets, BTF, the verifier
log."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from ebpf.btf import Kind
from ebpf.syscall import FD, AttachType, HasFileno, ProgType, VerifierError, commands, objects

from ._kernel_btf import KernelType, find_kernel_type, find_type_in_blob, member_index
from ._spec import ProgramSpec
from ._verifier import ProgramVerifierError

__all__ = ["LoadOptions", "load", "program_function_id"]


@dataclass(frozen=True)
class LoadOptions:
    """How to load, beyond the spec: see [`ebpf.progs.Program.load()`][ebpf.progs.Program.load]."""

    log_level: int = 0
    log_size: int = 0
    btf: HasFileno | None = None
    target_program: HasFileno | None = None
    ifindex: int = 0
    fd_array: tuple[int, ...] = ()


@dataclass
class _Target:
    expected_attach_type: int
    attach_btf_id: int = 0
    btf_obj_fd: FD | None = None
    attach_prog_fd: HasFileno | None = None


def _split_module(target: str) -> tuple[str | None, str]:
    module, colon, name = target.rpartition(":")
    return (module, name) if colon and module else (None, target)


def _kernel_type(kind: Kind, name: str, module: str | None, what: str) -> KernelType:
    found = find_kernel_type(kind, name, module)
    if found is None:
        where = f"module {module!r}" if module else "vmlinux or module BTF"
        raise ValueError(f"{what}: no {kind.name} {name!r} in {where}")
    return found


def program_function_id(program: HasFileno, function: str) -> int:
    """The BTF id of ``function`` in a loaded program's BTF (the target of freplace).

    Raises:
        ValueError: the program has no BTF, or no such function.
        BpfSyscallError: ``program`` is not a program.
    """
    info = objects.get_program_info(program)
    if not info.btf_id:
        raise ValueError(f"program {info.name!r} has no BTF, so its functions cannot be replaced")
    with commands.btf_get_fd_by_id(info.btf_id) as btf_fd:
        blob = objects.btf_data(btf_fd)
    type_id = find_type_in_blob(blob, Kind.FUNC, function, f"BTF of program {info.name!r}")
    if type_id is None:
        raise ValueError(f"program {info.name!r} has no function {function!r} in its BTF")
    return type_id


def _resolve_target(spec: ProgramSpec, options: LoadOptions) -> _Target:
    """The ``attach_btf_id`` (and BTF object or target program) a BTF-based program is verified against.

    Raises:
        ValueError: a program type that needs a target without one, or a
            target missing from BTF. Nothing has been opened then.
    """
    target = spec.attach_to
    what = f"program {spec.name!r} ({spec.type.name})"
    expected = int(spec.expected_attach_type) if spec.expected_attach_type is not None else 0
    if spec.type == ProgType.EXT:
        if options.target_program is None or not target:
            raise ValueError(f"{what}: freplace needs target_program= and the function name in attach_to")
        type_id = program_function_id(options.target_program, target)
        return _Target(expected, type_id, None, options.target_program)
    kind_name: tuple[Kind, str] | None = None
    if spec.type in (ProgType.TRACING, ProgType.LSM):
        if not target:
            raise ValueError(f"{what}: attach_to must name the kernel function, hook, tracepoint or iterator")
        module, name = _split_module(target)
        at = spec.expected_attach_type
        if at == AttachType.TRACE_RAW_TP:
            kind_name = (Kind.TYPEDEF, f"btf_trace_{name}")
        elif at == AttachType.TRACE_ITER:
            kind_name = (Kind.FUNC, f"bpf_iter_{name}")
        elif spec.type == ProgType.LSM:
            kind_name = (Kind.FUNC, name if name.startswith("bpf_lsm_") else f"bpf_lsm_{name}")
        elif at in (AttachType.TRACE_FENTRY, AttachType.TRACE_FEXIT, AttachType.MODIFY_RETURN):
            kind_name = (Kind.FUNC, name)
        else:
            raise ValueError(
                f"{what}: expected_attach_type must be TRACE_FENTRY, TRACE_FEXIT, MODIFY_RETURN, "
                f"TRACE_RAW_TP or TRACE_ITER, not {at.name if at is not None else None}"
            )
        found = _kernel_type(*kind_name, module, what)
        return _Target(expected, found.type_id, found.open_btf())
    if spec.type == ProgType.STRUCT_OPS:
        struct_name, colon, member = target.partition(":")
        if not colon or not member:
            raise ValueError(f"{what}: attach_to must be 'struct:member', e.g. 'tcp_congestion_ops:ssthresh'")
        found = _kernel_type(Kind.STRUCT, struct_name, None, what)
        index = member_index(found.type_id, member, found.module)
        if index is None:
            raise ValueError(f"{what}: struct {struct_name!r} has no member {member!r}")
        # struct_ops programs carry the member's index in expected_attach_type.
        return _Target(index, found.type_id, found.open_btf())
    return _Target(expected)


def load(spec: ProgramSpec, options: LoadOptions) -> tuple[FD, list[str]]:
    """Load ``spec``; return the program's descriptor and the verifier log (empty unless asked for).

    Raises:
        ValueError: a missing or unknown attach target, bad options (before any syscall).
        ProgramVerifierError: the verifier rejected the program.
        BpfSyscallError: other kernel errors.
    """
    if not 0 <= options.log_level <= 7:
        raise ValueError(
            f"log_level must be 0..7 (1: verbose, 2: every state, 4: statistics), not {options.log_level}"
        )
    if options.log_size < 0:
        raise ValueError(f"log_size must not be negative, not {options.log_size}")
    with contextlib.ExitStack() as stack:
        target = _resolve_target(spec, options)
        if target.btf_obj_fd is not None:
            stack.enter_context(target.btf_obj_fd)
        btf_fd = options.btf
        if btf_fd is None and spec.btf is not None:
            btf_fd = stack.enter_context(commands.btf_load(spec.btf))
        try:
            log: list[str] = []
            fd = commands.prog_load(
                spec.type,
                spec.instructions,
                spec.license,
                name=spec.name,
                expected_attach_type=target.expected_attach_type,
                flags=spec.flags,
                kern_version=spec.kernel_version,
                log_size=options.log_size,
                ifindex=options.ifindex,
                btf_fd=btf_fd,
                func_info=spec.func_info or None,
                func_info_rec_size=spec.func_info_rec_size if spec.func_info else 0,
                line_info=spec.line_info or None,
                line_info_rec_size=spec.line_info_rec_size if spec.line_info else 0,
                attach_btf_id=target.attach_btf_id,
                attach_prog_fd=target.attach_prog_fd,
                attach_btf_obj_fd=target.btf_obj_fd,
                fd_array=list(options.fd_array) or None,
                log_level=options.log_level,
                verifier_log=log,
            )
            return fd, log
        except VerifierError as exc:
            raise ProgramVerifierError.from_error(
                exc, spec.btf, spec.line_info, spec.line_info_rec_size
            ) from None
