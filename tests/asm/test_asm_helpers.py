"""The helper registry, the action codes, and the generated table staying in sync with its generator."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from pathlib import Path

import pytest

from ebpf.asm import (
    CgroupVerdict,
    Helper,
    HelperArg,
    SkVerdict,
    TcAction,
    TcxAction,
    XdpAction,
    available_helpers,
    call,
    helper,
    helper_registry,
    helpers,
    lsm_deny,
    parse_kernel_version,
    register_helper,
    socket_filter_keep,
)
from ebpf.asm._helper_table import UNPROBED_PROG_TYPES


@pytest.fixture
def fresh_registry() -> Iterator[None]:
    """Rebuild the registry from the table after a test that registers helpers."""
    yield
    helper_registry._registry = None


def test_every_helper_of_the_uapi_is_known() -> None:
    table = helpers()
    assert len(table) >= 211
    assert [h.id for h in table] == list(range(1, len(table) + 1))
    assert helper("cgrp_storage_delete").id == 211


def test_lookup_by_name_prefix_and_id() -> None:
    found = helper("ktime_get_ns")
    assert found is helper("bpf_ktime_get_ns") is helper(5)
    assert (found.returns, found.args, found.since) == ("__u64", (), "4.1")
    lookup = helper("map_lookup_elem")
    assert lookup.args == (HelperArg("void *", "map"), HelperArg("const void *", "key"))
    assert str(lookup) == "void *bpf_map_lookup_elem(void *map, const void *key)"
    assert str(helper("trace_printk")) == "long bpf_trace_printk(const char *fmt, __u32 fmt_size, ...)"
    assert helper("ringbuf_output").since == "5.8"


def test_unknown_helpers_suggest_names() -> None:
    with pytest.raises(ValueError, match=r"unknown helper 'ktime_get_n'; did you mean ktime_get_ns"):
        helper("ktime_get_n")
    with pytest.raises(TypeError, match=r"helper.. takes a name or an id, not float"):
        helper(1.0)  # type: ignore[arg-type]


def test_available_helpers_by_program_type_and_kernel() -> None:
    xdp = {h.name for h in available_helpers("XDP")}
    assert {"xdp_adjust_head", "redirect_map", "map_lookup_elem", "ringbuf_output"} <= xdp
    assert "skb_store_bytes" not in xdp
    assert "get_stackid" not in xdp
    old = {h.name for h in available_helpers("xdp", "4.18.0-553.el8.x86_64")}
    assert "xdp_adjust_tail" in old
    assert "ringbuf_output" not in old
    assert {h.name for h in available_helpers("BPF_PROG_TYPE_KPROBE", (5, 5))} >= {"probe_read_kernel"}
    assert helper("xdp_adjust_head").is_available("XDP", "4.10")
    assert not helper("xdp_adjust_head").is_available("XDP", "4.9")


def test_program_type_names_are_those_of_ebpf_syscall() -> None:
    from ebpf.syscall.abi import ProgType

    names = {t for h in helpers() for t in h.prog_types} | set(UNPROBED_PROG_TYPES)
    assert names <= {p.name for p in ProgType}
    assert {h.name for h in available_helpers(ProgType.SOCKET_FILTER)} >= {"skb_load_bytes"}


def test_bad_program_types_and_versions() -> None:
    with pytest.raises(ValueError, match=r"unknown program type 'XPD'"):
        available_helpers("XPD")
    with pytest.raises(
        ValueError, match=r"does not know the helpers of EXT programs: takes the helpers of its target"
    ):
        available_helpers("EXT")
    with pytest.raises(ValueError, match=r"not a kernel version: 'latest'"):
        parse_kernel_version("latest")


@pytest.mark.usefixtures("fresh_registry")
def test_users_register_newer_helpers() -> None:
    new = Helper(500, "frobnicate", "long", (HelperArg("void *", "ctx"),), "7.1", frozenset({"XDP"}))
    register_helper(new)
    assert helper("frobnicate") is new
    assert call("frobnicate").imm == 500
    assert new in available_helpers("XDP")
    assert new not in available_helpers("XDP", "6.18")
    with pytest.raises(ValueError, match=r"helper frobnicate .id 5. conflicts with ktime_get_ns"):
        register_helper(Helper(5, "frobnicate"))
    register_helper(Helper(5, "ktime_get_ns", "__u64", since="4.1"), replace=True)
    assert helper(5).prog_types == frozenset()


def test_helper_validation() -> None:
    with pytest.raises(ValueError, match=r"give it without the bpf_ prefix"):
        Helper(600, "bpf_x")
    with pytest.raises(ValueError, match=r"helper id must be an int between 1"):
        Helper(0, "x")


def test_action_codes() -> None:
    assert (XdpAction.ABORTED, XdpAction.DROP, XdpAction.PASS, XdpAction.TX, XdpAction.REDIRECT) == (
        0,
        1,
        2,
        3,
        4,
    )
    assert (TcAction.UNSPEC, TcAction.OK, TcAction.SHOT, TcAction.REDIRECT) == (-1, 0, 2, 7)
    assert (TcxAction.NEXT, TcxAction.PASS, TcxAction.DROP) == (-1, 0, 2)
    assert (CgroupVerdict.DENY, CgroupVerdict.ALLOW) == (0, 1)
    assert (SkVerdict.DROP, SkVerdict.PASS) == (0, 1)
    assert lsm_deny(errno.EPERM) == -1
    assert socket_filter_keep() == -1
    assert socket_filter_keep(0) == 0
    with pytest.raises(ValueError, match=r"errno must be between 1 and 4095"):
        lsm_deny(0)


def test_generated_helper_table_is_up_to_date() -> None:
    import gen_helpers

    assert gen_helpers.main(["check"]) == 0, "run `python tools/gen_helpers.py render`"


def test_helper_release_table_is_monotonic() -> None:
    import gen_helpers

    last_ids = [last for _, last in gen_helpers.RELEASES]
    versions = [parse_kernel_version(v) for v, _ in gen_helpers.RELEASES]
    assert last_ids == sorted(last_ids)
    assert versions == sorted(versions)
    assert gen_helpers.since(1) == "3.19"
    assert gen_helpers.since(211) == "6.2"


def test_the_header_parser_reads_libbpf_prototypes() -> None:
    import gen_helpers

    text = "static long (*bpf_map_update_elem)(void *map, const void *key, __u64 flags) = (void *) 2;\n"
    assert gen_helpers.parse_header(text) == [
        {
            "id": 2,
            "name": "map_update_elem",
            "returns": "long",
            "args": [["void *", "map"], ["const void *", "key"], ["__u64", "flags"]],
        }
    ]
    header = Path("/usr/include/bpf/bpf_helper_defs.h")
    if header.exists():
        parsed = {h["name"]: h for h in gen_helpers.parse_header(header.read_text())}
        assert all(parsed[h.name]["id"] == h.id for h in helpers() if h.name in parsed)
