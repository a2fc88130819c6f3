"""Program features: each program type, and what programs may contain or do.

A program type probe loads ``r0 = 0; exit`` as the type (with the attach
type or BTF id the type insists on); the instruction-set probes load a
socket filter using the instruction; the rest load programs made to fail
in a way only a kernel with the feature fails.
"""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from ebpf.syscall import _probes_sys as _sys
from ebpf.syscall import raw
from ebpf.syscall._generated import AttachType, ProgTestRunAttr, ProgType, TokenCreateAttr
from ebpf.syscall.errors import ENOTSUPP, EbpfError
from ebpf.syscall.fd import FD
from ebpf.syscall.flags import ProgLoadFlags
from ebpf.syscall.system import kernel_symbol_addresses, kernel_version

from ._framework import Feature, Probe, load_failure, lookup, register, verdict

__all__ = [
    "BOUNDED_LOOPS",
    "BPF_TOKEN",
    "BPF_TO_BPF_CALLS",
    "BTF_ATTACHED",
    "FENTRY",
    "ISA_V2",
    "ISA_V3",
    "ISA_V4",
    "KFUNC_CALLS",
    "LARGE_PROGRAMS",
    "LOG_TRUE_SIZE",
    "PROG_TEST_RUN",
    "PROG_TYPE_CONFIG",
    "PROG_TYPE_VERSIONS",
    "SLEEPABLE_PROGRAMS",
    "load_attrs",
    "minimal_prog",
    "prog_type_feature",
    "prog_type_supported",
]


#: The first kernel version of each program type.
PROG_TYPE_VERSIONS: Mapping[ProgType, str] = MappingProxyType(
    {
        ProgType.SOCKET_FILTER: "3.19",
        ProgType.KPROBE: "4.1",
        ProgType.SCHED_CLS: "4.1",
        ProgType.SCHED_ACT: "4.1",
        ProgType.TRACEPOINT: "4.7",
        ProgType.XDP: "4.8",
        ProgType.PERF_EVENT: "4.9",
        ProgType.CGROUP_SKB: "4.10",
        ProgType.CGROUP_SOCK: "4.10",
        ProgType.LWT_IN: "4.10",
        ProgType.LWT_OUT: "4.10",
        ProgType.LWT_XMIT: "4.10",
        ProgType.SOCK_OPS: "4.13",
        ProgType.SK_SKB: "4.14",
        ProgType.CGROUP_DEVICE: "4.15",
        ProgType.SK_MSG: "4.17",
        ProgType.RAW_TRACEPOINT: "4.17",
        ProgType.CGROUP_SOCK_ADDR: "4.17",
        ProgType.LWT_SEG6LOCAL: "4.18",
        ProgType.LIRC_MODE2: "4.18",
        ProgType.SK_REUSEPORT: "4.19",
        ProgType.FLOW_DISSECTOR: "4.20",
        ProgType.CGROUP_SYSCTL: "5.2",
        ProgType.RAW_TRACEPOINT_WRITABLE: "5.2",
        ProgType.CGROUP_SOCKOPT: "5.3",
        ProgType.TRACING: "5.5",
        ProgType.STRUCT_OPS: "5.6",
        ProgType.EXT: "5.6",
        ProgType.LSM: "5.7",
        ProgType.SK_LOOKUP: "5.9",
        ProgType.SYSCALL: "5.14",
        ProgType.NETFILTER: "6.4",
    }
)

_NET = ("CONFIG_NET",)
_CGROUP_BPF = ("CONFIG_CGROUP_BPF",)
_BPF_EVENTS = ("CONFIG_BPF_EVENTS",)
_INET = ("CONFIG_INET",)

# Kernel options a program type is built under (include/linux/bpf_types.h),
# plus vmlinux BTF for the types whose probe needs it.
PROG_TYPE_CONFIG: dict[ProgType, tuple[str, ...]] = {
    ProgType.SOCKET_FILTER: _NET,
    ProgType.KPROBE: _BPF_EVENTS,
    ProgType.SCHED_CLS: _NET,
    ProgType.SCHED_ACT: _NET,
    ProgType.TRACEPOINT: _BPF_EVENTS,
    ProgType.XDP: _NET,
    ProgType.PERF_EVENT: _BPF_EVENTS,
    ProgType.CGROUP_SKB: _CGROUP_BPF,
    ProgType.CGROUP_SOCK: _CGROUP_BPF,
    ProgType.LWT_IN: _NET,
    ProgType.LWT_OUT: _NET,
    ProgType.LWT_XMIT: _NET,
    ProgType.SOCK_OPS: _NET,
    ProgType.SK_SKB: _NET,
    ProgType.CGROUP_DEVICE: _CGROUP_BPF,
    ProgType.SK_MSG: _NET,
    ProgType.RAW_TRACEPOINT: _BPF_EVENTS,
    ProgType.CGROUP_SOCK_ADDR: _CGROUP_BPF,
    ProgType.LWT_SEG6LOCAL: _NET,
    ProgType.LIRC_MODE2: ("CONFIG_BPF_LIRC_MODE2",),
    ProgType.SK_REUSEPORT: _INET,
    ProgType.FLOW_DISSECTOR: _NET,
    ProgType.CGROUP_SYSCTL: _CGROUP_BPF,
    ProgType.RAW_TRACEPOINT_WRITABLE: _BPF_EVENTS,
    ProgType.CGROUP_SOCKOPT: _CGROUP_BPF,
    ProgType.TRACING: ("CONFIG_BPF_EVENTS", "CONFIG_DEBUG_INFO_BTF"),
    ProgType.STRUCT_OPS: ("CONFIG_BPF_JIT",),
    ProgType.EXT: ("CONFIG_BPF_JIT", "CONFIG_DEBUG_INFO_BTF"),
    ProgType.LSM: ("CONFIG_BPF_LSM", "CONFIG_DEBUG_INFO_BTF"),
    ProgType.SK_LOOKUP: _INET,
    ProgType.NETFILTER: ("CONFIG_NETFILTER_BPF_LINK",),
}

# What BPF_PROG_LOAD needs besides the type, checked before verification
# (bpf_prog_load_check_attach): some types insist on an expected attach type.
_PROG_LOAD_ATTRS: dict[ProgType, _sys.LoadAttrs] = {
    ProgType.CGROUP_SOCK_ADDR: {"expected_attach_type": AttachType.CGROUP_INET4_CONNECT},
    ProgType.CGROUP_SOCKOPT: {"expected_attach_type": AttachType.CGROUP_GETSOCKOPT},
    ProgType.SK_LOOKUP: {"expected_attach_type": AttachType.SK_LOOKUP},
    ProgType.LIRC_MODE2: {"expected_attach_type": AttachType.LIRC_MODE2},
    ProgType.NETFILTER: {"expected_attach_type": AttachType.NETFILTER},
    # Syscall programs are always sleepable.
    ProgType.SYSCALL: {"flags": ProgLoadFlags.SLEEPABLE},
    # Types attached through BTF need a type id to attach to. The probes give
    # vmlinux type 1, which is never a function or a tracepoint typedef: a
    # kernel that knows the type gets as far as the verifier, which rejects
    # the id with EINVAL and a message (see BTF_ATTACHED below).
    ProgType.TRACING: {"expected_attach_type": AttachType.TRACE_RAW_TP, "attach_btf_id": 1},
    # LSM programs attach as LSM_MAC; the probe uses MODIFY_RETURN like
    # libbpf's, whose message check has held on every kernel since 5.7.
    ProgType.LSM: {"expected_attach_type": AttachType.MODIFY_RETURN, "attach_btf_id": 1},
    # EXT also needs a target program: see _probe_prog_type.
    ProgType.EXT: {"attach_btf_id": 1},
}

# Program types whose probe load always fails. How a kernel that knows the
# type fails differs from how one that does not fails:
#
# - An unknown type is refused by find_prog_type() with EINVAL before the
#   verifier runs, so the verifier log stays empty.
# - TRACING (tp_btf, attach_btf_id 1): the verifier says EINVAL "attach_btf_id
#   1 is not a typedef" (seen on 6.18; the check is as old as tp_btf, 5.5).
#   fentry would say "... is not a function", which is how libbpf probes, but
#   fentry alone may be forbidden where other tracing programs are not.
# - LSM (MODIFY_RETURN, attach_btf_id 1): EINVAL "attach_btf_id 1 is not a
#   function" (libbpf_probe_bpf_prog_type relies on it).
# - EXT (attach_btf_id 1): since 6.10 (and in stable kernels from 5.18) an
#   extension without a target program is refused with EINVAL before the
#   verifier runs, so the probe names a socket filter without BTF as target;
#   the verifier then says EINVAL "FENTRY/FEXIT program can only be attached
#   to another program annotated with BTF" (libbpf does the same since 6.10).
# - STRUCT_OPS (no attach_btf_id): check_struct_ops_btf_id fails with
#   ENOTSUPP (524) before the verifier logs anything (seen on 6.18).
#
# So for the BTF-attached types, EINVAL with a verifier log means known.
# Without vmlinux BTF (CONFIG_DEBUG_INFO_BTF off) the attach id cannot be
# resolved, BPF_PROG_LOAD fails with EINVAL and no log, and the type is
# reported unsupported: it is unusable there.
#
# A security policy may refuse some types even to root with EPERM before the
# verifier runs: on the 6.18 kernel this was written on, LSM and EXT programs
# and fentry/fexit/fmod_ret tracing programs all get EPERM, while tp_btf and
# iterator tracing programs load. EPERM is inconclusive and raised.
BTF_ATTACHED = (ProgType.TRACING, ProgType.LSM, ProgType.EXT)


def load_attrs(prog_type: ProgType) -> _sys.LoadAttrs:
    attrs = _PROG_LOAD_ATTRS.get(prog_type, _sys.LoadAttrs()).copy()
    if prog_type == ProgType.KPROBE:
        # Before 5.0 kprobe programs must state the LINUX_VERSION_CODE of the
        # kernel they were built for; later kernels ignore the field.
        attrs["kern_version"] = kernel_version().code
    return attrs


def _probe_prog_type(prog_type: ProgType) -> bool:
    context = f"loading a program of type {prog_type.name}"
    if prog_type == ProgType.EXT:
        target = _sys.load_program(ProgType.SOCKET_FILTER)
        with _sys.owned(target.ret, "BPF_PROG_LOAD", "loading a target for an extension") as tgt:
            result = _sys.load_program(
                prog_type, log=True, attach_prog_fd=tgt.fileno(), **load_attrs(prog_type)
            )
    else:
        result = _sys.load_program(prog_type, log=prog_type in BTF_ATTACHED, **load_attrs(prog_type))
    if result.ret >= 0:
        os.close(result.ret)
        return True
    err = result.err
    if prog_type == ProgType.STRUCT_OPS and err == ENOTSUPP:
        return True
    if err in (errno.EINVAL, errno.E2BIG):
        # The verifier only runs (and logs) for a type the kernel knows.
        return prog_type in BTF_ATTACHED and bool(result.log.strip())
    raise load_failure(result, context)


def _prog_type_probe(prog_type: ProgType) -> Probe:
    return lambda: _probe_prog_type(prog_type)


_PROG_FEATURES: dict[int, Feature] = {
    pt: register(
        Feature(f"program type {pt.name}", v, _prog_type_probe(pt), config=PROG_TYPE_CONFIG.get(pt, ())),
        "prog",
    )
    for pt, v in PROG_TYPE_VERSIONS.items()
}


def prog_type_feature(prog_type: ProgType | int) -> Feature:
    """The feature "the kernel has program type ``prog_type``".

    Raises:
        ValueError: a type this table does not know.
    """
    return lookup(_PROG_FEATURES, "program type", prog_type)


def prog_type_supported(prog_type: ProgType | int) -> bool:
    """Whether the running kernel can load programs of ``prog_type`` (see
    [`prog_type_feature()`][ebpf.syscall.features.prog_type_feature])."""
    return prog_type_feature(prog_type).supported()


def minimal_prog(prog_type: ProgType, expected_attach_type: int | None = None) -> FD | None:
    """Load ``r0 = 0; exit`` as ``prog_type``; ``None`` if the kernel lacks the type.

    Raises:
        EbpfError: the type exists but the load failed (inconclusive).
    """
    if not prog_type_feature(prog_type).supported():
        return None
    attrs = load_attrs(prog_type)
    if expected_attach_type is not None:
        attrs["expected_attach_type"] = expected_attach_type
    result = _sys.load_program(prog_type, log=False, **attrs)
    if result.ret < 0:
        raise load_failure(result, f"loading a program of type {prog_type.name}")
    return FD(result.ret)


def _probe_program(insns: bytes, context: str, no: Iterable[int] = (errno.EINVAL, errno.E2BIG)) -> bool:
    """Load a socket filter; EINVAL (unknown opcode, back-edge...) means no."""
    result = _sys.load_program(ProgType.SOCKET_FILTER, insns)
    return verdict(result.ret, "BPF_PROG_LOAD", context, no=no)


def _probe_bounded_loops() -> bool:
    # r0 = 0; loop: r0 += 1; if r0 < 4 goto loop; exit. Before 5.3 the
    # verifier refused any back-edge with EINVAL.
    code = _sys.MOV_R0_0 + _sys.insn(0x07, imm=1) + _sys.insn(0xA5, off=-2, imm=4) + _sys.EXIT
    return _probe_program(code, "loading a program with a bounded loop")


BOUNDED_LOOPS = register(Feature("bounded loops", "5.3", _probe_bounded_loops))


def _probe_bpf_to_bpf_calls() -> bool:
    # call +1 (src BPF_PSEUDO_CALL); exit; r0 = 0; exit.
    code = _sys.insn(0x85, src=1, imm=1) + _sys.EXIT + _sys.MOV_R0_0 + _sys.EXIT
    return _probe_program(code, "loading a program with a BPF-to-BPF call")


BPF_TO_BPF_CALLS = register(Feature("BPF-to-BPF function calls", "4.16", _probe_bpf_to_bpf_calls))


def _probe_isa_v2() -> bool:
    # jlt (BPF_JMP | BPF_JLT | BPF_K): unknown opcode before 4.14.
    code = _sys.MOV_R0_0 + _sys.insn(0xA5, off=1, imm=0) + _sys.MOV_R0_0 + _sys.EXIT
    return _probe_program(code, "loading a program with jlt")


def _probe_isa_v3() -> bool:
    # jlt32 (BPF_JMP32 | BPF_JLT | BPF_K): the BPF_JMP32 class is new in 5.1.
    code = _sys.MOV_R0_0 + _sys.insn(0xA6, off=1, imm=0) + _sys.MOV_R0_0 + _sys.EXIT
    return _probe_program(code, "loading a program with jlt32")


def _probe_isa_v4() -> bool:
    # Signed division (BPF_ALU64 | BPF_DIV with off = 1): new in 6.6 with the
    # rest of ISA v4 (sign extension, gotol, bswap). Older verifiers refuse
    # the non-zero offset (EINVAL). gotol is no probe: 6.1 loads JMP32 | JA
    # with any imm as a plain "goto +off".
    code = _sys.MOV_R0_0 + _sys.insn(0x37, dst=0, off=1, imm=1) + _sys.EXIT  # r0 = 0; r0 s/= 1; exit
    return _probe_program(code, "loading a program with sdiv")


ISA_V2 = register(Feature("ISA v2 instructions (jlt, jle, jslt, jsle)", "4.14", _probe_isa_v2))
ISA_V3 = register(Feature("ISA v3 instructions (32-bit jumps)", "5.1", _probe_isa_v3))
ISA_V4 = register(Feature("ISA v4 instructions (sign extension, sdiv, gotol, bswap)", "6.6", _probe_isa_v4))


def _probe_large_programs() -> bool:
    # Privileged programs may have up to 1M instructions since 5.2; before,
    # more than BPF_MAXINSNS (4096) is E2BIG.
    code = _sys.MOV_R0_0 * 4096 + _sys.EXIT
    return _probe_program(code, "loading a program of 4097 instructions")


LARGE_PROGRAMS = register(Feature("programs of more than 4096 instructions", "5.2", _probe_large_programs))


def _probe_sleepable() -> bool:
    # BPF_F_SLEEPABLE is an unknown flag (EINVAL, no log) before 5.10. Since,
    # the verifier accepts it and then refuses it for a socket filter with
    # "Only fentry/fexit/fmod_ret, lsm, iter, uprobe, and struct_ops programs
    # can be sleepable" (the list grew with every version).
    result = _sys.load_program(ProgType.SOCKET_FILTER, flags=ProgLoadFlags.SLEEPABLE, log=True)
    if result.ret >= 0:
        os.close(result.ret)
        return True
    if result.err == errno.EINVAL:
        return "can be sleepable" in result.log
    raise load_failure(result, "loading a sleepable socket filter")


SLEEPABLE_PROGRAMS = register(Feature("sleepable programs (BPF_F_SLEEPABLE)", "5.10", _probe_sleepable))


def _probe_kfunc_calls() -> bool:
    # call with src BPF_PSEUDO_KFUNC_CALL and imm = a vmlinux BTF id. Since 5.13
    # the verifier looks the id up as a kernel function and, for id 1 (never a
    # function), says EINVAL "kernel btf_id 1 is not a function". Before, the
    # call is malformed ("BPF_CALL uses reserved fields", EINVAL). Without
    # vmlinux BTF it says "calling kernel function is not supported without
    # CONFIG_DEBUG_INFO_BTF".
    code = _sys.insn(0x85, src=2, imm=1) + _sys.MOV_R0_0 + _sys.EXIT
    result = _sys.load_program(ProgType.SCHED_CLS, code, log=True)
    if result.ret >= 0:
        os.close(result.ret)
        return True
    if result.err in (errno.EINVAL, errno.EACCES):
        return "kernel btf_id" in result.log
    if result.err == ENOTSUPP:
        return False  # "JIT does not support calling kernel function"
    raise load_failure(result, "loading a program calling a kernel function")


KFUNC_CALLS = register(
    Feature("kernel function calls (kfuncs)", "5.13", _probe_kfunc_calls, config="CONFIG_DEBUG_INFO_BTF")
)


def _probe_log_true_size() -> bool:
    # A program the verifier rejects ("R0 !read_ok"): since 6.4 the kernel
    # reports the log size it needed in log_true_size; before, the field did
    # not exist and stays 0.
    result = _sys.load_program(ProgType.SOCKET_FILTER, _sys.EXIT, log=True)
    if result.ret >= 0:
        os.close(result.ret)
        raise EbpfError("feature probe: the verifier accepted a program that does not set r0")
    if result.err not in (errno.EACCES, errno.EINVAL):
        raise load_failure(result, "loading an invalid program")
    return result.log_true_size > 0


LOG_TRUE_SIZE = register(Feature("verifier log_true_size", "6.4", _probe_log_true_size))


def _probe_test_run() -> bool:
    # BPF_PROG_TEST_RUN is an unknown command (EINVAL) before 4.12. The input
    # must hold at least an Ethernet header.
    prog = minimal_prog(ProgType.SCHED_CLS)
    if prog is None:
        return False
    with prog:
        data_in = _sys.buffer(bytes(64))
        data_out = ctypes.create_string_buffer(64 + 256)
        attr = ProgTestRunAttr(
            prog_fd=prog.fileno(),
            data_size_in=len(data_in),
            data_size_out=len(data_out),
            data_in=ctypes.addressof(data_in),
            data_out=ctypes.addressof(data_out),
            repeat=1,
        )
        ret = raw.prog_test_run(attr)
        return verdict(ret, "BPF_PROG_TEST_RUN", "test-running a program", returns_fd=False)


PROG_TEST_RUN = register(
    Feature("program test runs (BPF_PROG_TEST_RUN)", "4.12", _probe_test_run, config=_NET)
)


def _probe_token() -> bool:
    # An invalid bpffs fd is EBADF; before 6.9 the command is unknown (EINVAL).
    ret = raw.token_create(TokenCreateAttr(bpffs_fd=-1 & 0xFFFFFFFF))
    return verdict(ret, "BPF_TOKEN_CREATE", "creating a token from an invalid fd", yes=(errno.EBADF,))


BPF_TOKEN = register(Feature("BPF tokens (BPF_TOKEN_CREATE)", "6.9", _probe_token))


# A trampoline reaches a kernel function through ftrace's direct calls
# (CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS: x86_64 since 5.5, arm64 only
# since 6.4). Without them the verifier still loads fentry programs (arm64
# 6.0-6.3 has trampolines), but attaching one to a kernel function fails
# with ENOTSUPP: register_ftrace_direct*() are then inline stubs, so their
# absence from kallsyms says so.
_DIRECT_CALL_SYMBOLS = ("register_ftrace_direct", "register_ftrace_direct_multi")


def _probe_fentry() -> bool:
    if not prog_type_feature(ProgType.TRACING).supported():
        return False
    if not kernel_symbol_addresses(_DIRECT_CALL_SYMBOLS):
        return False
    # fentry with vmlinux type 1: EINVAL "attach_btf_id 1 is not a function"
    # from the verifier when BPF trampolines are there.
    result = _sys.load_program(
        ProgType.TRACING, expected_attach_type=AttachType.TRACE_FENTRY, attach_btf_id=1, log=True
    )
    if result.ret >= 0:
        os.close(result.ret)
        return True
    if result.err == errno.EINVAL:
        return bool(result.log.strip())
    raise load_failure(result, "loading an fentry program")


FENTRY = register(
    Feature(
        "fentry/fexit programs (BPF trampolines)",
        "5.5",
        _probe_fentry,
        config=("CONFIG_BPF_JIT", "CONFIG_DEBUG_INFO_BTF", "CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS"),
    )
)
