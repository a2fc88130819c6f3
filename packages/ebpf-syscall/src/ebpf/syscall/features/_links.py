"""Link features: bpf_link itself, each link type, and the perf kprobe and uprobe PMUs.

A link type probe creates a link for a valid no-op program and a target
chosen so that a kernel with the link type fails inside its attach function
with an errno other than ``EINVAL``, and one without fails with ``EINVAL``;
where that cannot be arranged the probe attaches for a moment and asks the
kernel what it made.
"""

from __future__ import annotations

import ctypes
import errno
import functools
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import MappingProxyType

from ebpf.syscall import _probes_btf as _blobs
from ebpf.syscall import _probes_sys as _sys
from ebpf.syscall import raw
from ebpf.syscall._generated import (
    AttachType,
    LinkCreateAttr,
    LinkType,
    MapType,
    ProgType,
    RawTracepointOpenAttr,
)
from ebpf.syscall.errors import ENOTSUPP, EbpfError
from ebpf.syscall.fd import FD
from ebpf.syscall.flags import MapFlags

from ._btf import BTF_FUNC_INFO, btf_fd, func_info_record
from ._framework import Feature, Probe, load_failure, log, lookup, register, verdict
from ._helpers import helper_supported
from ._maps import create_attr
from ._programs import minimal_prog, prog_type_feature

__all__ = [
    "BPF_LINK",
    "KPROBE_MULTI",
    "KPROBE_PMU",
    "LINK_TYPE_VERSIONS",
    "NETKIT",
    "TCX",
    "UPROBE_COOKIES",
    "UPROBE_MULTI",
    "UPROBE_PMU",
    "UPROBE_REF_CTR",
    "link_type_feature",
    "link_type_supported",
]


def _probe_bpf_link() -> bool:
    # An invalid program fd: BPF_LINK_CREATE looks the program up first and
    # says EBADF; before 5.7 the command is unknown (EINVAL).
    ret = raw.link_create(_sys.link_attr(-1, -1, AttachType.CGROUP_INET_INGRESS))
    return verdict(ret, "BPF_LINK_CREATE", "creating a link for an invalid program", yes=(errno.EBADF,))


BPF_LINK = register(Feature("bpf_link (BPF_LINK_CREATE)", "5.7", _probe_bpf_link))


_PMU_ROOT = Path("/sys/bus/event_source/devices")


def _probe_pmu(name: str) -> bool:
    # The kprobe and uprobe PMUs (4.17) register themselves in sysfs with
    # their dynamic perf type; no directory, no PMU.
    if not _PMU_ROOT.is_dir():
        raise EbpfError(f"feature probe: {_PMU_ROOT} does not exist (is sysfs mounted?)")
    return (_PMU_ROOT / name / "type").is_file()


KPROBE_PMU = register(
    Feature(
        "kprobes (perf kprobe PMU)",
        "4.17",
        functools.partial(_probe_pmu, "kprobe"),
        config=("CONFIG_KPROBES", "CONFIG_KPROBE_EVENTS"),
    )
)
UPROBE_PMU = register(
    Feature(
        "uprobes (perf uprobe PMU)",
        "4.17",
        functools.partial(_probe_pmu, "uprobe"),
        config=("CONFIG_UPROBES", "CONFIG_UPROBE_EVENTS"),
    )
)


def _probe_uprobe_ref_ctr() -> bool:
    # The uprobe PMU lists the fields of its config in sysfs; ref_ctr_offset
    # (the USDT semaphore the kernel counts up while attached) is one since 4.20.
    if not _PMU_ROOT.is_dir():
        raise EbpfError(f"feature probe: {_PMU_ROOT} does not exist (is sysfs mounted?)")
    return (_PMU_ROOT / "uprobe" / "format" / "ref_ctr_offset").is_file()


UPROBE_REF_CTR = register(
    Feature(
        "uprobe semaphores (ref_ctr_offset, for USDT probes)",
        "4.20",
        _probe_uprobe_ref_ctr,
        config=("CONFIG_UPROBES", "CONFIG_UPROBE_EVENTS"),
    )
)


#: The first kernel version of each link type.
LINK_TYPE_VERSIONS: Mapping[LinkType, str] = MappingProxyType(
    {
        LinkType.RAW_TRACEPOINT: "5.8",
        LinkType.TRACING: "5.8",
        LinkType.CGROUP: "5.7",
        LinkType.ITER: "5.8",
        LinkType.NETNS: "5.8",
        LinkType.XDP: "5.9",
        LinkType.PERF_EVENT: "5.15",
        LinkType.KPROBE_MULTI: "5.18",
        LinkType.STRUCT_OPS: "6.4",
        LinkType.NETFILTER: "6.4",
        LinkType.TCX: "6.6",
        LinkType.UPROBE_MULTI: "6.6",
        LinkType.NETKIT: "6.7",
        LinkType.SOCKMAP: "6.10",
    }
)

_LINK_TYPE_CONFIG: dict[LinkType, tuple[str, ...]] = {
    LinkType.RAW_TRACEPOINT: ("CONFIG_BPF_EVENTS",),
    LinkType.TRACING: ("CONFIG_BPF_JIT",),
    LinkType.CGROUP: ("CONFIG_CGROUP_BPF",),
    LinkType.ITER: ("CONFIG_DEBUG_INFO_BTF",),
    LinkType.NETNS: ("CONFIG_NET",),
    LinkType.XDP: ("CONFIG_NET",),
    LinkType.PERF_EVENT: ("CONFIG_PERF_EVENTS", "CONFIG_BPF_EVENTS"),
    LinkType.KPROBE_MULTI: ("CONFIG_FPROBE",),
    LinkType.STRUCT_OPS: ("CONFIG_BPF_JIT",),
    LinkType.NETFILTER: ("CONFIG_NETFILTER_BPF_LINK",),
    LinkType.TCX: ("CONFIG_NET_XGRESS",),
    LinkType.UPROBE_MULTI: ("CONFIG_UPROBES",),
    LinkType.NETKIT: ("CONFIG_NETKIT",),
    LinkType.SOCKMAP: ("CONFIG_NET",),
}

# How BPF_LINK_CREATE decides (kernel/bpf/syscall.c, link_create): it looks
# up the program (EBADF for a bad fd), checks the attach type against the
# program type (EINVAL when the kernel does not know the attach type), then
# hands over to the link type's attach function, or answers EINVAL when the
# program type has none. Before 5.7 the command itself is EINVAL. So the
# probes pass a valid program and a target chosen to make a kernel that has
# the link type fail inside its attach function with an errno other than
# EINVAL (a bad fd, a missing device), and one that lacks it fail with EINVAL.


def _link_create_probe(
    link_type: LinkType,
    prog_type: ProgType,
    attach_type: AttachType,
    target: int,
    yes: Iterable[int],
    *,
    flags: int = 0,
    expected_attach_type: int | None = None,
    no: Iterable[int] = (errno.EINVAL,),
    fill: Callable[[LinkCreateAttr], object] | None = None,
) -> bool:
    prog = minimal_prog(prog_type, expected_attach_type)
    if prog is None:
        return False
    with prog:
        attr = _sys.link_attr(prog.fileno(), target, attach_type, flags)
        keep = fill(attr) if fill is not None else None
        ret = raw.link_create(attr)
        del keep
        context = f"creating a {link_type.name} link"
        return verdict(ret, "BPF_LINK_CREATE", context, yes=yes, no=no)


def _link_is(link: FD, link_type: LinkType) -> bool:
    """Whether the kernel reports ``link`` as ``link_type`` (EINVAL before 5.8: no link info)."""
    ret = _sys.link_type_of(link.fileno())
    if ret == -errno.EINVAL:
        return False
    if ret < 0:
        raise _sys.unexpected(-ret, "BPF_OBJ_GET_INFO_BY_FD", "reading link info")
    if ret != link_type:
        log.debug("feature probe: expected a %s link, the kernel made type %d", link_type.name, ret)
    return ret == link_type


# Raw tracepoints that exist in every kernel with BPF and fire rarely
# (task_rename: prctl(PR_SET_NAME) and writes to /proc/<pid>/comm).
_RARE_TRACEPOINTS = ("task_rename", "task_newtask")


def _open_raw_tracepoint(name: str | None, prog_fd: int) -> int:
    """Attach ``prog_fd`` to raw tracepoint ``name`` (``None``: a tracing program's own target).

    Returns the link's descriptor or ``-errno``.
    """
    buf = ctypes.create_string_buffer(name.encode()) if name is not None else None
    attr = RawTracepointOpenAttr(name=ctypes.addressof(buf) if buf is not None else 0, prog_fd=prog_fd)
    return raw.raw_tracepoint_open(attr)


def _probe_raw_tracepoint_link() -> bool:
    # Attach a no-op program for a moment and ask what the kernel made:
    # RAW_TRACEPOINT_OPEN returns a link since 5.7, with link info since 5.8.
    prog = minimal_prog(ProgType.RAW_TRACEPOINT)
    if prog is None:
        return False
    with prog:
        ret = -errno.ENOENT
        for name in _RARE_TRACEPOINTS:
            ret = _open_raw_tracepoint(name, prog.fileno())
            if ret != -errno.ENOENT:
                break
        with _sys.owned(ret, "BPF_RAW_TRACEPOINT_OPEN", f"attaching to {name}") as link:
            return _link_is(link, LinkType.RAW_TRACEPOINT)


def _probe_tracing_link() -> bool:
    # An fentry program attached to one of our own programs (a BPF-to-BPF
    # trampoline) needs no kernel function and touches nothing else. The
    # target needs BTF func info to name its function.
    if not BTF_FUNC_INFO.supported() or not prog_type_feature(ProgType.TRACING).supported():
        return False
    blob, func_id = _blobs.func_blob(with_ctx=True)
    with btf_fd(blob, "BTF for an fentry target") as btf:
        info = func_info_record(func_id)
        target = _sys.load_program(ProgType.XDP, prog_btf_fd=btf.fileno(), func_info=info)
        with _sys.owned(target.ret, "BPF_PROG_LOAD", "loading an fentry target") as tgt:
            result = _sys.load_program(
                ProgType.TRACING,
                expected_attach_type=AttachType.TRACE_FENTRY,
                attach_prog_fd=tgt.fileno(),
                attach_btf_id=func_id,
                log=True,
            )
            if result.ret < 0:
                raise load_failure(result, "loading an fentry program for a BPF program")
            with FD(result.ret) as prog:
                ret = _open_raw_tracepoint(None, prog.fileno())
                with _sys.owned(ret, "BPF_RAW_TRACEPOINT_OPEN", "attaching fentry") as link:
                    return _link_is(link, LinkType.TRACING)


def _probe_iter_link() -> bool:
    # An iterator over BPF maps: the program attaches to the vmlinux BTF
    # function bpf_iter_bpf_map (5.8, with the iterator framework). Creating
    # the link does not run anything.
    if not prog_type_feature(ProgType.TRACING).supported():
        return False
    btf_id = _blobs.vmlinux_func_id("bpf_iter_bpf_map")
    if btf_id is None:
        return False
    result = _sys.load_program(
        ProgType.TRACING, expected_attach_type=AttachType.TRACE_ITER, attach_btf_id=btf_id, log=True
    )
    if result.ret < 0:
        raise load_failure(result, "loading a bpf_map iterator")
    with FD(result.ret) as prog:
        ret = raw.link_create(_sys.link_attr(prog.fileno(), 0, AttachType.TRACE_ITER))
        if ret == -errno.EINVAL:
            return False
        with _sys.owned(ret, "BPF_LINK_CREATE", "creating an iterator link") as link:
            return _link_is(link, LinkType.ITER)


def _probe_struct_ops_link() -> bool:
    # struct_ops links (6.4) came with BPF_F_LINK for struct_ops maps: before,
    # any map flag fails the map's alloc check with EINVAL; since, the create
    # goes on to the value type lookup, which fails with ENOTSUPP for id 1
    # (see the STRUCT_OPS map probe).
    attr = create_attr(MapType.STRUCT_OPS, map_flags=MapFlags.LINK, btf_vmlinux_value_type_id=1)
    ret = raw.map_create(attr)
    return verdict(ret, "BPF_MAP_CREATE", "creating a struct_ops map for a link", yes=(ENOTSUPP,))


def _probe_kprobe_multi_link() -> bool:
    # kprobe_multi needs fprobe; without CONFIG_FPROBE the attach function is
    # a stub returning EOPNOTSUPP, before 5.18 the attach type is EINVAL. Its
    # checks before attaching cannot be told apart from "unknown" (EINVAL), so
    # the probe really attaches a no-op program, for a moment, to
    # bpf_fentry_test1, a function that exists for BPF tests and only runs in
    # BPF_PROG_TEST_RUN of tracing programs.
    def fill(attr: LinkCreateAttr) -> object:
        symbol = ctypes.create_string_buffer(b"bpf_fentry_test1")
        syms = (ctypes.c_uint64 * 1)(ctypes.addressof(symbol))
        attr.kprobe_multi.syms = ctypes.addressof(syms)
        attr.kprobe_multi.cnt = 1
        return symbol, syms

    return _link_create_probe(
        LinkType.KPROBE_MULTI,
        ProgType.KPROBE,
        AttachType.TRACE_KPROBE_MULTI,
        0,
        (),
        expected_attach_type=AttachType.TRACE_KPROBE_MULTI,
        no=(errno.EINVAL, errno.EOPNOTSUPP),
        fill=fill,
    )


def _probe_uprobe_multi_link() -> bool:
    # uprobe_multi on the path "/": since 6.6 the kernel resolves the path and
    # refuses a non-regular file with EBADF; before, the attach type is EINVAL;
    # without CONFIG_UPROBES the attach function is a stub (EOPNOTSUPP).
    def fill(attr: LinkCreateAttr) -> object:
        path = ctypes.create_string_buffer(b"/")
        offsets = (ctypes.c_uint64 * 1)(0)
        attr.uprobe_multi.path = ctypes.addressof(path)
        attr.uprobe_multi.offsets = ctypes.addressof(offsets)
        attr.uprobe_multi.cnt = 1
        return path, offsets

    return _link_create_probe(
        LinkType.UPROBE_MULTI,
        ProgType.KPROBE,
        AttachType.TRACE_UPROBE_MULTI,
        0,
        (errno.EBADF,),
        expected_attach_type=AttachType.TRACE_UPROBE_MULTI,
        no=(errno.EINVAL, errno.EOPNOTSUPP),
        fill=fill,
    )


def _probe_netfilter_link() -> bool:
    # Protocol family 0 (NFPROTO_UNSPEC): EAFNOSUPPORT from bpf_nf_link_attach.
    # (The program type came in the same release; no program, no link.)
    return _link_create_probe(
        LinkType.NETFILTER,
        ProgType.NETFILTER,
        AttachType.NETFILTER,
        0,
        (errno.EAFNOSUPPORT,),
    )


_LOOPBACK_IFINDEX = 1  # in every network namespace
_XDP_FLAGS_HW_MODE = 1 << 3


def _probe_xdp_link() -> bool:
    # An XDP link to a missing device is EINVAL, like an unknown attach type.
    # Offload mode on the loopback device instead: the link is set up, then
    # dev_xdp_attach finds no driver callback for hardware mode and says
    # EOPNOTSUPP ("Underlying driver does not support XDP in native mode")
    # without attaching anything.
    return _link_create_probe(
        LinkType.XDP,
        ProgType.XDP,
        AttachType.XDP,
        _LOOPBACK_IFINDEX,
        (errno.EOPNOTSUPP,),
        flags=_XDP_FLAGS_HW_MODE,
    )


_LINK_PROBES: dict[LinkType, Probe] = {
    LinkType.RAW_TRACEPOINT: _probe_raw_tracepoint_link,
    LinkType.TRACING: _probe_tracing_link,
    # An invalid cgroup fd: cgroup_bpf_link_attach says EBADF.
    LinkType.CGROUP: functools.partial(
        _link_create_probe,
        LinkType.CGROUP,
        ProgType.CGROUP_SKB,
        AttachType.CGROUP_INET_INGRESS,
        -1,
        (errno.EBADF,),
        expected_attach_type=AttachType.CGROUP_INET_INGRESS,
    ),
    LinkType.ITER: _probe_iter_link,
    # An invalid netns fd: netns_bpf_link_create says EBADF.
    LinkType.NETNS: functools.partial(
        _link_create_probe,
        LinkType.NETNS,
        ProgType.FLOW_DISSECTOR,
        AttachType.FLOW_DISSECTOR,
        -1,
        (errno.EBADF,),
    ),
    LinkType.XDP: _probe_xdp_link,
    # An invalid perf event fd: bpf_perf_link_attach says EBADF.
    LinkType.PERF_EVENT: functools.partial(
        _link_create_probe,
        LinkType.PERF_EVENT,
        ProgType.TRACEPOINT,
        AttachType.PERF_EVENT,
        -1,
        (errno.EBADF,),
    ),
    LinkType.KPROBE_MULTI: _probe_kprobe_multi_link,
    LinkType.STRUCT_OPS: _probe_struct_ops_link,
    LinkType.NETFILTER: _probe_netfilter_link,
    # A missing interface: tcx_link_attach and netkit_link_attach say ENODEV
    # (netkit's stub without CONFIG_NETKIT says EINVAL).
    LinkType.TCX: functools.partial(
        _link_create_probe, LinkType.TCX, ProgType.SCHED_CLS, AttachType.TCX_INGRESS, -1, (errno.ENODEV,)
    ),
    LinkType.UPROBE_MULTI: _probe_uprobe_multi_link,
    LinkType.NETKIT: functools.partial(
        _link_create_probe,
        LinkType.NETKIT,
        ProgType.SCHED_CLS,
        AttachType.NETKIT_PRIMARY,
        -1,
        (errno.ENODEV,),
    ),
    # An invalid map fd: sock_map_link_create says EBADF.
    LinkType.SOCKMAP: functools.partial(
        _link_create_probe,
        LinkType.SOCKMAP,
        ProgType.SK_SKB,
        AttachType.SK_SKB_STREAM_VERDICT,
        -1,
        (errno.EBADF,),
        expected_attach_type=AttachType.SK_SKB_STREAM_VERDICT,
    ),
}

_LINK_FEATURES: dict[int, Feature] = {
    lt: register(
        Feature(f"link type {lt.name}", v, _LINK_PROBES[lt], config=_LINK_TYPE_CONFIG.get(lt, ())), "link"
    )
    for lt, v in LINK_TYPE_VERSIONS.items()
}


def link_type_feature(link_type: LinkType | int) -> Feature:
    """The feature "the kernel makes links of ``link_type``".

    Raises:
        ValueError: a type this table does not know.
    """
    return lookup(_LINK_FEATURES, "link type", link_type)


def link_type_supported(link_type: LinkType | int) -> bool:
    """Whether the running kernel can make links of ``link_type`` (see
    [`link_type_feature()`][ebpf.syscall.features.link_type_feature])."""
    return link_type_feature(link_type).supported()


TCX = _LINK_FEATURES[LinkType.TCX]
NETKIT = _LINK_FEATURES[LinkType.NETKIT]
UPROBE_MULTI = _LINK_FEATURES[LinkType.UPROBE_MULTI]
KPROBE_MULTI = _LINK_FEATURES[LinkType.KPROBE_MULTI]


# BPF_FUNC_get_attach_cookie of <linux/bpf.h> (5.15)
_GET_ATTACH_COOKIE = 174


def _probe_uprobe_cookies() -> bool:
    # A cookie reaches a uprobe program through a perf_event bpf_link, and is
    # read with bpf_get_attach_cookie(): both came in 5.15.
    return link_type_supported(LinkType.PERF_EVENT) and helper_supported(ProgType.KPROBE, _GET_ATTACH_COOKIE)


#: BPF cookies on kprobes and uprobes: libbpf's ``FEAT_BPF_COOKIE``, what
#: ``usdt.bpf.h``'s ``LINUX_HAS_BPF_COOKIE`` says and USDT attachment acts on.
UPROBE_COOKIES = register(
    Feature("BPF cookies on kprobes and uprobes (bpf_get_attach_cookie)", "5.15", _probe_uprobe_cookies)
)
