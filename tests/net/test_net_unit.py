"""ebpf.net without privileges: lazy pyroute2, plain data, errors, argument checks before any change."""

from __future__ import annotations

import errno
import os
import pickle
import subprocess
import sys

import pytest

from ebpf import net
from ebpf.net import _netlink
from ebpf.net._errors import netlink_error
from ebpf.syscall import PermissionDeniedError


def test_importing_ebpf_net_does_not_import_pyroute2() -> None:
    code = (
        "import sys, ebpf.net as net\n"
        "assert 'pyroute2' not in sys.modules, 'imported pyroute2'\n"
        "for bad in (lambda: net.attach_xdp(object(), 'lo'), lambda: net.attach_tc(None, 'lo')):\n"
        "    try: bad()\n"
        "    except TypeError: pass\n"
        "assert 'pyroute2' not in sys.modules, 'bad arguments reached pyroute2'\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr


def test_public_names() -> None:
    assert all(hasattr(net, name) for name in net.__all__)
    assert sorted(net.__all__) == sorted(set(net.__all__))


def test_xdp_mode_values_are_the_kernel_flags() -> None:
    assert (net.XdpMode.GENERIC, net.XdpMode.NATIVE, net.XdpMode.OFFLOAD) == (2, 4, 8)
    assert net.XdpMode["SKB"] is net.XdpMode.GENERIC
    assert net.XdpMode["DRV"] is net.XdpMode.NATIVE
    assert net.XdpMode.HW.label == "offload"


def test_xdp_status_and_attachments() -> None:
    none = net.XdpStatus()
    assert not none.attached
    assert none.modes == ()
    both = net.XdpStatus(generic_program_id=3, offload_program_id=9)
    assert both.modes == (net.XdpMode.GENERIC, net.XdpMode.OFFLOAD)
    assert both.program_id(net.XdpMode.OFFLOAD) == 9
    iface = net.Interface(1, "lo", "", True, 65536, "", none)
    assert net.Attachments(iface, False, (), (), ()).empty
    assert not net.Attachments(iface, True, (), (), ()).empty
    assert not net.Attachments(iface, False, (), (net.TcxProgram(5, 6),), ()).empty


def test_interface_names_and_indexes() -> None:
    assert net.interface_index("lo") == 1
    assert net.interface_name(1) == "lo"
    with pytest.raises(net.InterfaceNotFoundError, match=r"no network interface 'nope0'.*lo"):
        net.interface_index("nope0")
    with pytest.raises(LookupError):
        net.interface_name(0x7FFFFFF0)
    with pytest.raises(TypeError):
        net.interface_name(1.0)  # type: ignore[arg-type]


def test_map_values() -> None:
    assert net.devmap_value("lo") == (1).to_bytes(4, sys.byteorder) + bytes(4)
    assert net.cpumap_value(256) == (256).to_bytes(4, sys.byteorder) + bytes(4)
    for bad in (0, -1, 1 << 32, True):
        with pytest.raises(ValueError, match="queue_size"):
            net.cpumap_value(bad)
    value = (7).to_bytes(4, sys.byteorder) + (42).to_bytes(4, sys.byteorder)
    assert net.DevmapEntry.decode(value) == net.DevmapEntry(7, 42)
    assert net.CpumapEntry.decode(value[:4]) == net.CpumapEntry(7, 0)
    with pytest.raises(ValueError, match="4 or 8 bytes"):
        net.DevmapEntry.decode(bytes(5))
    with pytest.raises(TypeError, match="Program"):
        net.devmap_value("lo", object())  # type: ignore[arg-type]


def test_attribute_walker_stops_at_truncated_attributes() -> None:
    name = b"prog\0"
    attr = (4 + len(name)).to_bytes(2, sys.byteorder) + (7).to_bytes(2, sys.byteorder) + name + b"\0" * 3
    truncated = (200).to_bytes(2, sys.byteorder) + (11).to_bytes(2, sys.byteorder) + b"\0" * 4
    assert list(_netlink._attributes(attr + truncated)) == [(7, name)]
    assert list(_netlink._attributes(b"\x02\x00")) == []


def test_errors() -> None:
    err = netlink_error(
        errno.EEXIST, "RTM_SETLINK", "attaching XDP to va", "Active program does not match expected"
    )
    assert isinstance(err, net.NetlinkError)
    assert isinstance(err, OSError)
    assert err.errno == errno.EEXIST
    assert str(err).startswith("attaching XDP to va: RTM_SETLINK: File exists (EEXIST)")
    assert "Active program does not match expected" in str(err)
    copy = pickle.loads(pickle.dumps(err))
    assert (type(copy), str(copy), copy.extack) == (net.NetlinkError, str(err), err.extack)
    denied = netlink_error(errno.EPERM, "RTM_NEWTFILTER", "attaching a filter")
    assert isinstance(denied, PermissionDeniedError)
    assert denied.capability == "CAP_NET_ADMIN"
    missing = net.InterfaceNotFoundError("eth9", ("lo",))
    assert str(missing) == "no network interface 'eth9' in this network namespace (it has: lo)"
    assert str(pickle.loads(pickle.dumps(missing))) == str(missing)
    mode = net.ModeNotSupportedError("lo", "native", "no driver support")
    assert str(mode) == "interface 'lo' does not support XDP native mode: no driver support"
    assert str(pickle.loads(pickle.dumps(mode))) == "interface 'lo' does not support XDP native mode"


@pytest.mark.parametrize(
    "call",
    [
        lambda: net.attach_xdp(object(), "lo"),  # type: ignore[arg-type]
        lambda: net.attach_tc(object(), "lo"),  # type: ignore[arg-type]
        lambda: net.attach_tcx("prog", "lo"),  # type: ignore[arg-type]
        lambda: net.attach_tc_filter(3, "lo"),  # type: ignore[arg-type]
        lambda: net.attach(object(), "lo"),  # type: ignore[arg-type]
        lambda: net.delete_tc_filter("lo"),  # type: ignore[arg-type]
    ],
)
def test_non_programs_are_refused_before_anything(call: object) -> None:
    assert callable(call)
    with pytest.raises(TypeError):
        call()


def test_in_netns_missing_namespace() -> None:
    with (
        pytest.raises(FileNotFoundError, match="no network namespace 'ebpfnet-none'"),
        net.in_netns("ebpfnet-none"),
    ):
        pass
