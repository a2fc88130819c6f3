"""BTF-based tracing: fentry, fexit, fmod_ret, tp_btf, LSM hooks and freplace."""

from __future__ import annotations

from dataclasses import dataclass

from ebpf.btf import Kind
from ebpf.syscall import AttachType, HasFileno, ProgType, commands

from ._checks import require_type
from ._kernel_btf import kernel_names
from ._link import BpfLink, Link
from ._load import program_function_id
from ._program import Program

__all__ = ["LsmHook", "attach_freplace", "attach_lsm", "attach_tracing", "lsm_hooks"]

_TRACING_ATTACH = (
    AttachType.TRACE_FENTRY,
    AttachType.TRACE_FEXIT,
    AttachType.MODIFY_RETURN,
    AttachType.TRACE_RAW_TP,
)


def _describe(program: Program) -> str:
    at = program.expected_attach_type
    target = program.spec.attach_to if program.spec is not None else ""
    kind = (
        at.name.lower()
        if at is not None
        else program.type.name.lower()
        if isinstance(program.type, ProgType)
        else ""
    )
    return f"{kind} {target}".strip()


def attach_tracing(program: Program, *, cookie: int = 0) -> Link:
    """Attach a fentry, fexit, fmod_ret, ``tp_btf`` or LSM program to the target it was loaded for.

    The kernel function, tracepoint or hook was fixed at load time
    (``ProgramSpec.attach_to``), so there is nothing to name here.

    Args:
        program: a ``TRACING`` (not iterator) or ``LSM`` program.
        cookie: a value ``bpf_get_attach_cookie()`` returns (tracing links with cookies, 6.0+).

    Raises:
        TypeError: another program type, or an iterator (use [`attach_iter()`][ebpf.progs.attach_iter]).
        BpfSyscallError: the kernel refused.
    """
    require_type(program, (ProgType.TRACING, ProgType.LSM), "attach_tracing")
    at = program.expected_attach_type
    if program.type == ProgType.TRACING and at is not None and at not in _TRACING_ATTACH:
        raise TypeError(f"attach_tracing cannot attach a {at.name} program; use attach_iter for iterators")
    if cookie:
        if at is None:
            raise ValueError(
                "a cookie needs a program whose expected_attach_type is known (one from Program.load)"
            )
        fd = commands.link_create(program, 0, at, cookie=cookie)
    else:
        # BPF_RAW_TRACEPOINT_OPEN without a name attaches a tracing or LSM
        # program to its load-time target (5.5) and returns a bpf_link.
        fd = commands.raw_tracepoint_open(None, program)
    return BpfLink(fd, _describe(program))


def attach_lsm(program: Program, *, cookie: int = 0) -> Link:
    """Attach an LSM program to the hook it was loaded for (``ProgramSpec.attach_to = "file_open"``).

    The hook runs for every task; its return value is the verdict (0 allows,
    a negative errno denies). Needs ``bpf`` in the kernel's active LSMs
    (``/sys/kernel/security/lsm``).

    Raises:
        TypeError: not an ``LSM`` program.
        BpfSyscallError: the kernel refused.
    """
    require_type(program, (ProgType.LSM,), "attach_lsm")
    return attach_tracing(program, cookie=cookie)


def attach_freplace(program: Program, target: HasFileno | None = None, function: str = "") -> Link:
    """Replace a function of another program with an extension (``freplace``) program.

    Without ``target`` the extension replaces the function it was loaded
    against (``Program.load(spec, target_program=...)``). With ``target``
    and ``function`` it replaces that function of ``target`` instead, which
    must have the same signature (5.10+).

    Raises:
        TypeError: not an ``EXT`` program.
        ValueError: ``target`` without ``function`` or the reverse; a function not in ``target``'s BTF.
        BpfSyscallError: the kernel refused (signatures differ).
    """
    require_type(program, (ProgType.EXT,), "attach_freplace")
    if (target is None) != (not function):
        raise ValueError("give both target and function, or neither")
    if target is None:
        return BpfLink(commands.raw_tracepoint_open(None, program), f"freplace {_describe(program)}")
    type_id = program_function_id(target, function)
    fd = commands.link_create(program, target, AttachType.CGROUP_INET_INGRESS, target_btf_id=type_id)
    return BpfLink(fd, f"freplace {function}")


@dataclass(frozen=True)
class LsmHook:
    """An LSM hook a BPF LSM program can attach to.

    Attributes:
        name: the hook (``"file_open"``), as ``ProgramSpec.attach_to`` takes it.
        category: what it guards: ``"file"``, ``"inode"``, ``"path"``,
            ``"filesystem"``, ``"task"``, ``"network"``, ``"ipc"``, ``"bpf"``,
            ``"key"``, ``"audit"``, ``"kernel"``, ``"labels"`` or ``"other"``.
    """

    name: str
    category: str


# Functions named bpf_lsm_* that are the BPF LSM's own plumbing, not hooks.
_NOT_HOOKS = frozenset(
    {
        "find_cgroup_shim",
        "func_proto",
        "get_retval_range",
        "has_d_inode_locked",
        "hook_returns_errno",
        "init",
        "is_sleepable_hook",
        "is_trusted",
        "verify_prog",
    }
)

_CATEGORIES = {
    "file": ("file", "mmap"),
    "inode": ("inode", "dentry", "d"),
    "path": ("path",),
    "filesystem": ("sb", "fs", "move", "quota", "quotactl", "kernfs", "backing", "bdev", "initramfs"),
    "task": (
        "task",
        "bprm",
        "cred",
        "ptrace",
        "capable",
        "capget",
        "capset",
        "userns",
        "current",
        "getprocattr",
        "setprocattr",
        "getselfattr",
        "setselfattr",
    ),
    "network": (
        "socket",
        "sk",
        "sock",
        "inet",
        "tun",
        "sctp",
        "mptcp",
        "netlink",
        "unix",
        "secmark",
        "req",
        "xfrm",
    ),
    "ipc": ("ipc", "msg", "sem", "shm"),
    "bpf": ("bpf",),
    "key": ("key",),
    "audit": ("audit",),
    "kernel": ("kernel", "syslog", "settime", "locked", "perf", "uring", "binder", "vm"),
    "labels": ("secid", "secctx", "ismaclabel", "lsmprop", "release"),
}
_CATEGORY_OF = {word: category for category, words in _CATEGORIES.items() for word in words}


def lsm_hooks() -> list[LsmHook]:
    """Every LSM hook of the running kernel (``bpf_lsm_<hook>`` functions in vmlinux BTF), by name.

    Raises:
        NotSupportedError: the kernel has no BTF.
    """
    hooks = []
    for func in kernel_names(Kind.FUNC, "bpf_lsm_"):
        name = func.removeprefix("bpf_lsm_")
        if name not in _NOT_HOOKS:
            hooks.append(LsmHook(name, _CATEGORY_OF.get(name.split("_", 1)[0], "other")))
    return hooks
