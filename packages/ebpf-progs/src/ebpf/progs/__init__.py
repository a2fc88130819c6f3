"""ebpf.progs: load eBPF programs, attach them everywhere, hold attachments as links.

Lifecycle:

- [`ProgramSpec`][ebpf.progs.ProgramSpec] is plain data (type, instructions, attach target,
  license, BTF line info...); [`ProgramSpec.from_section()`][ebpf.progs.ProgramSpec.from_section] reads the
  section-style names users know (``"kprobe/do_unlinkat"``, ``"cgroup_skb/egress"``).
- [`Program.load()`][ebpf.progs.Program.load] verifies and loads a spec. The verifier log is asked
  for only when loading fails (or when ``log_level`` asks for it); a
  rejection raises [`ProgramVerifierError`][ebpf.progs.ProgramVerifierError] (a ``VerifierError``)
  with the whole log, the failing instruction and its source line.
- [`attach()`][ebpf.progs.attach] attaches a program where its type goes (the
  dispatcher: one handler per program type, which ``ebpf.net`` extends with
  XDP and TC through [`register_attach()`][ebpf.progs.register_attach]).
  The ``attach_*`` functions return a [`Link`][ebpf.progs.Link]: a kernel bpf_link where
  the kernel has one for the attach point, else the legacy mechanism (perf
  event ioctl, ``BPF_PROG_ATTACH``, a socket option) with the same interface.
  Closing the last reference detaches; a pinned bpf_link stays attached.
  A program stays loaded while a link or pin uses it, so closing the
  [`Program`][ebpf.progs.Program] after attaching is fine.

Bad arguments (a wrong program type for the attach function, an unknown
target, a missing cgroup) raise before any syscall, and a failure half way
leaves nothing loaded or attached.

XDP and TC attachment is ``ebpf.net``'s; this package loads their programs.
Importing it has no side effects.
"""

from ._attach_targets import register_own_types
from ._attachments import CgroupAttachment, PerfAttachment, cgroup_attachments, perf_attachments
from ._cgroup import (
    CGROUP_ATTACH_TYPES,
    attach_cgroup,
    cgroup_children,
    cgroup_exists,
    cgroup_of,
    open_cgroup,
    query_cgroup,
)
from ._dispatch import AttachHandler, AttachTarget, attach, register_attach
from ._iterator import IterLink, attach_iter
from ._kprobe import attach_kprobe, attach_kprobe_multi, syscall_function, syscall_prefix
from ._link import BpfLink, Link, LinkInfo, PerfEventLink, ProgAttachLink, SocketFilterLink
from ._netns import attach_netns
from ._perf_event import attach_perf_event
from ._program import Program, ProgramInfo, TestRunResult, run_statistics
from ._section_names import Section, parse_attach_type, parse_prog_type, parse_section
from ._socket import SOCKMAP_ATTACH_TYPES, attach_socket_filter, attach_sockmap
from ._spec import EncodableInstruction, ProgramSpec
from ._struct_ops import StructOpsLink, attach_struct_ops
from ._tracepoint import attach_raw_tracepoint, attach_tracepoint
from ._tracing import LsmHook, attach_freplace, attach_lsm, attach_tracing, lsm_hooks
from ._uprobe import attach_uprobe, attach_uprobe_multi
from ._verifier import ProgramVerifierError, SourceLine

register_own_types()  # the handlers of this package's program types, for attach()

__all__ = [
    "CGROUP_ATTACH_TYPES",
    "SOCKMAP_ATTACH_TYPES",
    "AttachHandler",
    "AttachTarget",
    "BpfLink",
    "CgroupAttachment",
    "EncodableInstruction",
    "IterLink",
    "Link",
    "LinkInfo",
    "LsmHook",
    "PerfAttachment",
    "PerfEventLink",
    "ProgAttachLink",
    "Program",
    "ProgramInfo",
    "ProgramSpec",
    "ProgramVerifierError",
    "Section",
    "SocketFilterLink",
    "SourceLine",
    "StructOpsLink",
    "TestRunResult",
    "__version__",
    "attach",
    "attach_cgroup",
    "attach_freplace",
    "attach_iter",
    "attach_kprobe",
    "attach_kprobe_multi",
    "attach_lsm",
    "attach_netns",
    "attach_perf_event",
    "attach_raw_tracepoint",
    "attach_socket_filter",
    "attach_sockmap",
    "attach_struct_ops",
    "attach_tracepoint",
    "attach_tracing",
    "attach_uprobe",
    "attach_uprobe_multi",
    "cgroup_attachments",
    "cgroup_children",
    "cgroup_exists",
    "cgroup_of",
    "lsm_hooks",
    "open_cgroup",
    "parse_attach_type",
    "parse_prog_type",
    "parse_section",
    "perf_attachments",
    "query_cgroup",
    "register_attach",
    "run_statistics",
    "syscall_function",
    "syscall_prefix",
]


#: The version of ``ebpf-progs``, which hatch reads from here (every ebpf distribution has the same).
__version__ = "0.1.0"
