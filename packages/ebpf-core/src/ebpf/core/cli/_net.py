"""``ebpf net list [dev IF]``: the XDP, TC, TCX and netkit programs of each interface, as bpftool lists them.

Plain output has bpftool's sections and lines::

    xdp:
    va(5) generic id 37

    tc:
    va(5) tcx/ingress tcx_pass prog_id 40 link_id 7
    va(5) clsact/ingress cls_pass id 38

    flow_dissector:

``--json`` prints bpftool's ``-j net list``: one object with the arrays
``xdp`` (``devname``, ``ifindex``, ``mode``, ``id``; ``multi_attachments``
when programs are attached in several modes), ``tc`` (``devname``,
``ifindex``, ``kind``, ``name``, and ``id`` for TC filters or ``prog_id``
and ``link_id`` for TCX and netkit) and ``flow_dissector`` (``id``).
Interfaces are those of the network namespace ``ebpf`` runs in
(``ip netns exec NS ebpf net list``).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ._output import print_json
from ._words import Words

if TYPE_CHECKING:
    from ebpf.net import Interface

__all__ = ["cmd_net_list"]

#: bpftool's names of the XDP modes.
_XDP_MODES = (
    ("generic", "generic_program_id"),
    ("driver", "native_program_id"),
    ("offload", "offload_program_id"),
)


def _program_name(prog_id: int) -> str | None:
    """The program's name, ``None`` when it is gone (it may be detached while we list)."""
    from ebpf.syscall import BpfSyscallError, commands, objects

    try:
        with commands.prog_get_fd_by_id(prog_id) as fd:
            return objects.get_program_info(fd).name
    except BpfSyscallError:
        return None


def _xdp_entry(dev: Interface) -> dict[str, object] | None:
    modes = [(mode, getattr(dev.xdp, field)) for mode, field in _XDP_MODES if getattr(dev.xdp, field)]
    if not modes:
        return None
    entry: dict[str, object] = {"devname": dev.name, "ifindex": dev.index}
    if len(modes) > 1:
        entry["multi_attachments"] = [{"mode": mode, "id": prog_id} for mode, prog_id in modes]
    else:
        entry["mode"], entry["id"] = modes[0]
    return entry


def _tc_entries(dev: Interface) -> list[dict[str, object]]:
    """TCX and netkit programs first (each side in run order), then the ``clsact`` qdisc's bpf filters."""
    from ebpf import net

    entries: list[dict[str, object]] = []
    multi = (
        ("tcx/ingress", net.tcx_programs(dev.index, net.Direction.INGRESS)),
        ("tcx/egress", net.tcx_programs(dev.index, net.Direction.EGRESS)),
        ("netkit/primary", net.netkit_programs(dev.index)),
        ("netkit/peer", net.netkit_programs(dev.index, peer=True)),
    )
    for kind, programs in multi:
        for prog in programs:
            entry: dict[str, object] = {"devname": dev.name, "ifindex": dev.index, "kind": kind}
            name = _program_name(prog.program_id)
            if name is not None:
                entry["name"] = name
            entry["prog_id"] = prog.program_id
            entry["link_id"] = prog.link_id
            entries.append(entry)
    for flt in net.tc_filters(dev.index):
        if flt.kind != "bpf":
            continue
        entry = {"devname": dev.name, "ifindex": dev.index, "kind": f"clsact/{flt.direction.name.lower()}"}
        if flt.name:
            entry["name"] = flt.name
        entry["id"] = flt.program_id
        entries.append(entry)
    return entries


def _flow_dissector() -> list[dict[str, object]]:
    """The flow dissector program of this network namespace (bpftool lists it with the interfaces)."""
    from ebpf.syscall import AttachType, commands

    with open("/proc/self/ns/net", "rb") as netns:
        result = commands.prog_query(netns.fileno(), AttachType.FLOW_DISSECTOR)
    return [{"id": prog_id} for prog_id in result.prog_ids]


def _line(entry: dict[str, object]) -> str:
    """One entry as bpftool prints it: ``va(5) generic id 37``, ``va(5) clsact/ingress cls id 38``."""
    text = f"{entry['devname']}({entry['ifindex']})"
    if "multi_attachments" in entry:
        attachments = entry["multi_attachments"]
        assert isinstance(attachments, list)
        return text + "".join(f" {a['mode']} id {a['id']}" for a in attachments)
    if "mode" in entry:
        return f"{text} {entry['mode']} id {entry['id']}"
    text += f" {entry['kind']}"
    if "name" in entry:
        text += f" {entry['name']}"
    if "id" in entry:
        return f"{text} id {entry['id']}"
    return f"{text} prog_id {entry['prog_id']}" + (f" link_id {entry['link_id']}" if entry["link_id"] else "")


def cmd_net_list(args: argparse.Namespace) -> int:
    """``net list [dev IF]``: what is attached to each interface of this network namespace."""
    from ebpf import net

    words = Words(args.words, "net list")
    only: str | None = None
    if words:
        if words.take("'dev'") != "dev":
            words.usage("the only filter is 'dev IF'")
        only = words.take("interface name")
    words.end()
    devices = net.interfaces()
    if only is not None:
        index, _ = net.interface_index(only), only  # says which interfaces exist when it is missing
        devices = [d for d in devices if d.index == index]
    xdp = [e for e in map(_xdp_entry, devices) if e is not None]
    tc = [e for dev in devices for e in _tc_entries(dev)]
    flow = _flow_dissector() if only is None else []
    if args.json:
        print_json([{"xdp": xdp, "tc": tc, "flow_dissector": flow}])
        return 0
    for title, entries in (("xdp", xdp), ("tc", tc)):
        print(f"{title}:")
        for entry in entries:
            print(_line(entry))
        print()
    print("flow_dissector:")
    for entry in flow:
        print(f"id {entry['id']}")
    print()
    return 0
