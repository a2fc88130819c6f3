"""ebpf.net: attach XDP and TC programs to network interfaces, through bpf_link or netlink.

Lifecycle:

- Load a program with ``ebpf.progs`` (``Program.load``; object files arrive
  with ``ebpf.elf``), then attach it: [`attach_xdp()`][ebpf.net.attach_xdp],
  [`attach_tc()`][ebpf.net.attach_tc] (TCX where the kernel has it, else a ``cls_bpf`` filter),
  [`attach_tcx()`][ebpf.net.attach_tcx] (ordering with ``before``/``after``),
  [`attach_tc_filter()`][ebpf.net.attach_tc_filter] (priority, handle, name), or
  [`attach()`][ebpf.net.attach], which goes by the program's type and section.
  Importing this package registers XDP and TC with the attach dispatcher of
  ``ebpf.progs``, so [`ebpf.progs.attach()`][ebpf.progs.attach] takes an
  interface for them.
- Every attach function returns an ``ebpf.progs.Link``: a context manager
  whose ``close()`` removes exactly what it attached (a ``clsact`` qdisc
  only if it added it), ``update(program)`` swaps the program atomically,
  ``info()`` says what is attached where. Kernel bpf_links ([`XdpLink`][ebpf.net.XdpLink],
  [`TcxLink`][ebpf.net.TcxLink]) detach when the last descriptor closes, so a process
  killed by ``SIGKILL`` leaves nothing attached; netlink attachments
  ([`NetlinkXdpLink`][ebpf.net.NetlinkXdpLink], [`TcFilterLink`][ebpf.net.TcFilterLink]), the fallback on
  older kernels, survive the process.
- [`interfaces()`][ebpf.net.interfaces], [`query()`][ebpf.net.query], [`xdp_status()`][ebpf.net.xdp_status],
  [`tc_filters()`][ebpf.net.tc_filters], [`tcx_programs()`][ebpf.net.tcx_programs],
  [`netkit_programs()`][ebpf.net.netkit_programs] report what is attached,
  whoever attached it.
- Names and indexes are those of the calling thread's network namespace;
  [`in_netns()`][ebpf.net.in_netns] runs a block in another one.

Bad arguments (a missing interface, a program of another type, an XDP mode
the driver lacks) raise before anything changes on the interface.

All netlink goes through pyroute2, which is imported only when a request is
made: importing this package has no side effects and does not import it.
"""

from ._errors import InterfaceNotFoundError, ModeNotSupportedError, NetlinkError
from ._helpers import attach, register_interface_types, setup_tc_egress, setup_tc_ingress, with_tc, with_xdp
from ._interfaces import (
    interface_index,
    interface_name,
    interfaces,
    netkit_programs,
    query,
    tc_filters,
    tcx_programs,
    xdp_status,
)
from ._netns import in_netns
from ._tc import (
    ETH_P_ALL,
    TcFilterLink,
    TcxLink,
    add_clsact,
    attach_tc,
    attach_tc_filter,
    attach_tcx,
    delete_tc_filter,
    has_clsact,
    remove_clsact,
    tcx_revision,
)
from ._types import Attachments, Direction, Interface, TcFilter, TcxProgram, XdpMode, XdpStatus
from ._xdp import (
    CpumapEntry,
    DevmapEntry,
    NetlinkXdpLink,
    XdpLink,
    attach_xdp,
    cpumap_value,
    detach_xdp,
    devmap_value,
)

register_interface_types()  # XDP and TC programs, for ebpf.progs.attach()

__all__ = [
    "ETH_P_ALL",
    "Attachments",
    "CpumapEntry",
    "DevmapEntry",
    "Direction",
    "Interface",
    "InterfaceNotFoundError",
    "ModeNotSupportedError",
    "NetlinkError",
    "NetlinkXdpLink",
    "TcFilter",
    "TcFilterLink",
    "TcxLink",
    "TcxProgram",
    "XdpLink",
    "XdpMode",
    "XdpStatus",
    "__version__",
    "add_clsact",
    "attach",
    "attach_tc",
    "attach_tc_filter",
    "attach_tcx",
    "attach_xdp",
    "cpumap_value",
    "delete_tc_filter",
    "detach_xdp",
    "devmap_value",
    "has_clsact",
    "in_netns",
    "interface_index",
    "interface_name",
    "interfaces",
    "netkit_programs",
    "query",
    "remove_clsact",
    "setup_tc_egress",
    "setup_tc_ingress",
    "tc_filters",
    "tcx_programs",
    "tcx_revision",
    "with_tc",
    "with_xdp",
    "xdp_status",
]


#: The version of ``ebpf-net``, which hatch reads from here (every ebpf distribution has the same).
__version__ = "0.1.0"
