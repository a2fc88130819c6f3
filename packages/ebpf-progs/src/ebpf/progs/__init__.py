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

from typing import TYPE_CHECKING, Any

from ebpf.syscall._lazy import import_public

from ._attach_targets import register_own_types

if TYPE_CHECKING:
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

# The public names are imported from their modules on first use (PEP 562), as in ebpf.btf:
# a tool that loads and attaches tracing programs needs neither cgroup queries, sockets,
# struct_ops nor uprobes. The dispatcher's handlers are registered at import (below).
_HOMES = {
    "AttachHandler": "._dispatch",
    "AttachTarget": "._dispatch",
    "BpfLink": "._link",
    "CGROUP_ATTACH_TYPES": "._cgroup",
    "CgroupAttachment": "._attachments",
    "EncodableInstruction": "._spec",
    "IterLink": "._iterator",
    "Link": "._link",
    "LinkInfo": "._link",
    "LsmHook": "._tracing",
    "PerfAttachment": "._attachments",
    "PerfEventLink": "._link",
    "ProgAttachLink": "._link",
    "Program": "._program",
    "ProgramInfo": "._program",
    "ProgramSpec": "._spec",
    "ProgramVerifierError": "._verifier",
    "SOCKMAP_ATTACH_TYPES": "._socket",
    "Section": "._section_names",
    "SocketFilterLink": "._link",
    "SourceLine": "._verifier",
    "StructOpsLink": "._struct_ops",
    "TestRunResult": "._program",
    "attach": "._dispatch",
    "attach_cgroup": "._cgroup",
    "attach_freplace": "._tracing",
    "attach_iter": "._iterator",
    "attach_kprobe": "._kprobe",
    "attach_kprobe_multi": "._kprobe",
    "attach_lsm": "._tracing",
    "attach_netns": "._netns",
    "attach_perf_event": "._perf_event",
    "attach_raw_tracepoint": "._tracepoint",
    "attach_socket_filter": "._socket",
    "attach_sockmap": "._socket",
    "attach_struct_ops": "._struct_ops",
    "attach_tracepoint": "._tracepoint",
    "attach_tracing": "._tracing",
    "attach_uprobe": "._uprobe",
    "attach_uprobe_multi": "._uprobe",
    "cgroup_attachments": "._attachments",
    "cgroup_children": "._cgroup",
    "cgroup_exists": "._cgroup",
    "cgroup_of": "._cgroup",
    "lsm_hooks": "._tracing",
    "open_cgroup": "._cgroup",
    "parse_attach_type": "._section_names",
    "parse_prog_type": "._section_names",
    "parse_section": "._section_names",
    "perf_attachments": "._attachments",
    "query_cgroup": "._cgroup",
    "register_attach": "._dispatch",
    "run_statistics": "._program",
    "syscall_function": "._kprobe",
    "syscall_prefix": "._kprobe",
}


def __getattr__(name: str) -> Any:
    """A public name of this package, imported from its module on first use.

    Raises:
        AttributeError: ``name`` is not one of ``__all__``.
    """
    return import_public(__name__, _HOMES, globals(), name)


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
