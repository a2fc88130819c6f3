"""``ebpf prog load|loadall|pin``, ``map create|pin|freeze|update|delete``, ``link pin|detach``, by effect.

Each command is checked by what it did to the kernel (the object exists and
is pinned, the program runs and writes the map, the attachment is gone),
with bpftool reading the same objects, and bad input must leave nothing
loaded or pinned.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bpf_build import compile_bpf
from core._cli import bpftool_json, ebpf, ebpf_json
from net._net_support import delete_pair, make_pair, plain
from progs._progs_support import wait_until

from ebpf import net
from ebpf.asm import R0, assemble, exit_, mov
from ebpf.maps import Map
from ebpf.net import XdpMode
from ebpf.progs import Program, ProgramSpec
from ebpf.syscall import AttachType, ProgType, commands, objects

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def obj() -> Path:
    """``tests/bpf/maps_helpers.c`` compiled: XDP ``count`` (maps ``seen``...), socket filter ``legacy``."""
    return compile_bpf(ROOT / "tests" / "bpf" / "maps_helpers.c")


def _program_ids() -> set[int]:
    """The loaded programs that could be the object's (others share the kernel: only these names count)."""
    return {info.id for info in objects.list_programs() if info.name in ("count", "legacy")}


def _map_ids() -> set[int]:
    """The maps that could be the object's or the test's."""
    names = ("seen", "counters", "jumps", ".bss", ".rodata", "m")
    return {
        info.id
        for info in objects.list_maps()
        if info.name in names or info.name.endswith((".bss", ".rodata"))
    }


def test_map_create_then_prog_load_with_that_map_runs_and_writes_it(obj: Path, bpffs: Path) -> None:
    seen = bpffs / "seen"
    ebpf(
        "map", "create", str(seen), "type", "hash", "key", "4", "value", "8", "entries", "64", "name", "seen"
    )
    shown = bpftool_json("map", "show", "pinned", str(seen))
    assert (shown["type"], shown["name"], shown["bytes_key"], shown["bytes_value"], shown["max_entries"]) == (
        "hash",
        "seen",
        4,
        8,
        64,
    )
    prog_pin = bpffs / "count"
    ebpf("prog", "load", str(obj), str(prog_pin), "map", "name", "seen", "pinned", str(seen))
    prog_info = bpftool_json("prog", "show", "pinned", str(prog_pin))
    assert prog_info["type"] == "xdp"
    assert prog_info["name"] == "count"
    assert shown["id"] in prog_info["map_ids"]  # the program uses the map we created, not its own
    with Program.from_pin(prog_pin) as prog:
        assert prog.test_run(bytes(64)).retval == 2  # XDP_PASS
    # the program counted the packet in the pinned map, under its ingress ifindex (lo's, in a test run)
    [entry] = ebpf_json("map", "dump", str(seen))
    assert entry["value"] == ["0x01"] + ["0x00"] * 7
    assert ebpf_json("map", "lookup", "pinned", str(seen), "key", *entry["key"]) == entry


def test_map_update_delete_pin_freeze_with_bpftool_words(bpffs: Path) -> None:
    path = bpffs / "words"
    ebpf(
        "map", "create", str(path), "type", "array", "key", "4", "value", "4", "entries", "2", "name", "words"
    )
    ebpf(
        "map",
        "update",
        "pinned",
        str(path),
        "key",
        "1",
        "0",
        "0",
        "0",
        "value",
        "hex",
        "2a",
        "00",
        "00",
        "00",
    )
    with Map.from_pin(path) as m:
        assert m.info().name == "words"
    dumped = bpftool_json("map", "lookup", "pinned", str(path), "key", "1", "0", "0", "0")
    assert dumped["value"] == ["0x2a", "0x00", "0x00", "0x00"]
    again = ebpf(
        "map", "update", "pinned", str(path), "key", "1", "0", "0", "0", "value", "7", "noexist", check=False
    )
    assert again.returncode == 1
    assert "NOEXIST" in again.stderr
    map_id = bpftool_json("map", "show", "pinned", str(path))["id"]
    second = bpffs / "second"
    ebpf("map", "pin", "id", str(map_id), str(second))
    assert bpftool_json("map", "show", "pinned", str(second))["id"] == map_id
    ebpf("map", "freeze", "pinned", str(second))
    assert bpftool_json("map", "show", "id", str(map_id))["frozen"] == 1
    frozen = ebpf(
        "map",
        "update",
        "id",
        str(map_id),
        "key",
        "0",
        "0",
        "0",
        "0",
        "value",
        "1",
        "0",
        "0",
        "0",
        check=False,
    )
    assert frozen.returncode == 1  # read-only for user space now


def test_prog_loadall_pins_every_program_and_its_maps(obj: Path, bpffs: Path) -> None:
    ebpf("prog", "loadall", str(obj), str(bpffs / "progs"), "pinmaps", str(bpffs / "maps"))
    assert sorted(p.name for p in (bpffs / "progs").iterdir()) == ["count", "legacy"]
    assert {"seen", "counters", "jumps"} <= {p.name for p in (bpffs / "maps").iterdir()}
    legacy = bpftool_json("prog", "show", "pinned", str(bpffs / "progs" / "legacy"))
    assert legacy["type"] == "socket_filter"
    counters = bpftool_json("map", "show", "pinned", str(bpffs / "maps" / "counters"))
    count = bpftool_json("prog", "show", "pinned", str(bpffs / "progs" / "count"))
    assert counters["id"] in count["map_ids"]
    ebpf(
        "prog", "pin", "name", "count", str(bpffs / "again")
    )  # by name: the only loaded program called count
    assert bpftool_json("prog", "show", "pinned", str(bpffs / "again"))["id"] == count["id"]
    counters_pin = str(bpffs / "maps" / "counters")
    missing = ebpf(
        "prog", "load", str(obj), str(bpffs / "p"), "map", "name", "nope", "pinned", counters_pin, check=False
    )
    assert missing.returncode == 1
    assert "has no map 'nope'; its maps: .bss, .rodata, counters, jumps, seen" in missing.stderr
    assert not (bpffs / "p").exists()


@pytest.mark.parametrize(
    ("words", "message", "status"),
    [
        (("type", "bogus"), "unknown program type 'bogus'", 1),
        (("map", "name", "nope", "pinned", "/sys/fs/bpf"), "is a directory of bpffs", 1),
        (("map", "idx", "0", "id", "1"), "map replacement is 'map name NAME MAP'", 2),
        (("pinmaps",), "missing directory to pin the maps in", 2),
        (("type", "xdp"), "rejected by the verifier", 1),  # the socket filter cannot load as XDP
    ],
)
def test_bad_prog_load_leaves_nothing_loaded_or_pinned(
    obj: Path, bpffs: Path, words: tuple[str, ...], message: str, status: int
) -> None:
    programs, maps = _program_ids(), _map_ids()
    failed = ebpf("prog", "load", str(obj), str(bpffs / "p"), *words, check=False)
    assert failed.returncode == status
    assert message in failed.stderr
    assert failed.stdout == ""
    assert list(bpffs.iterdir()) == []
    # The kernel frees the maps and programs of an exited process from a work
    # queue (after an RCU grace period): their ids can outlive it briefly.
    assert wait_until(lambda: _program_ids() <= programs), "a failed load left programs loaded"
    assert wait_until(lambda: _map_ids() <= maps), "a failed load left maps loaded"


def test_bad_map_create_and_pins_are_refused_before_any_syscall(bpffs: Path) -> None:
    maps = _map_ids()
    for words, message in (
        (("type", "nope", "key", "4", "value", "4", "entries", "1", "name", "m"), "unknown map type 'nope'"),
        (("type", "hash", "key", "4", "value", "4", "name", "m"), "missing entries"),
        (
            ("type", "hash", "key", "four", "value", "4", "entries", "1", "name", "m"),
            "key size must be an integer",
        ),
    ):
        failed = ebpf("map", "create", str(bpffs / "m"), *words, check=False)
        assert message in failed.stderr
        assert failed.returncode in (1, 2)
    outside = ebpf(
        "map",
        "create",
        "/tmp/m",
        "type",
        "hash",
        "key",
        "4",
        "value",
        "4",
        "entries",
        "1",
        "name",
        "m",
        check=False,
    )
    assert "is not on a BPF filesystem" in outside.stderr
    assert list(bpffs.iterdir()) == []
    assert _map_ids() <= maps


def test_link_pin_keeps_an_xdp_attachment_and_link_detach_removes_it(bpffs: Path) -> None:
    pair = make_pair()
    try:
        with plain(ProgType.XDP, 2, name="cli_pinned") as prog, net.in_netns(pair.a):
            prog_id = prog.id
            link = net.attach_xdp(prog, pair.va, XdpMode.GENERIC, link=True)
            with link:
                link_id = link.info().id
                ebpf("link", "pin", "id", str(link_id), str(bpffs / "xdp"))
            # our link is closed; the pin keeps the program attached
            assert net.xdp_status(pair.va).generic_program_id == prog_id
            assert bpftool_json("link", "show", "pinned", str(bpffs / "xdp"))["id"] == link_id
            ebpf("link", "detach", "pinned", str(bpffs / "xdp"))
            assert net.xdp_status(pair.va).generic_program_id == 0
            named = ebpf("link", "detach", "name", "x", check=False)
            assert named.returncode == 2
            assert "links have no names" in named.stderr
    finally:
        delete_pair(pair)


def test_map_lookup_with_words_matches_the_option_form(bpffs: Path) -> None:
    path = bpffs / "both"
    ebpf("map", "create", str(path), "type", "hash", "key", "4", "value", "8", "entries", "4", "name", "both")
    ebpf("map", "update", str(path), "--key", "5", "--value", "9")
    by_option = ebpf_json("map", "lookup", str(path), "--key", "5")
    by_words = ebpf_json("map", "lookup", "pinned", str(path), "key", "5", "0", "0", "0")
    assert by_option == by_words == {"key": ["0x05"] + ["0x00"] * 3, "value": ["0x09"] + ["0x00"] * 7}
    ebpf("map", "delete", "pinned", str(path), "key", "hex", "05000000")
    assert ebpf_json("map", "dump", str(path)) == []


def _sockmap_programs(path: Path, attach_type: AttachType) -> tuple[int, ...]:
    with Map.from_pin(path) as m:
        return commands.prog_query(m, attach_type).prog_ids


def test_prog_attach_and_detach_a_sockmap_verdict_program(bpffs: Path) -> None:
    sockmap = bpffs / "socks"
    ebpf(
        "map",
        "create",
        str(sockmap),
        "type",
        "sockmap",
        "key",
        "4",
        "value",
        "4",
        "entries",
        "4",
        "name",
        "socks",
    )
    spec = ProgramSpec(name="cli_verdict", type=ProgType.SK_SKB, instructions=assemble([mov(R0, 1), exit_()]))
    with Program.load(spec) as prog:
        prog.pin(bpffs / "verdict")
        prog_id = prog.id
    ebpf("prog", "attach", "pinned", str(bpffs / "verdict"), "sk_skb_stream_verdict", "pinned", str(sockmap))
    assert _sockmap_programs(sockmap, AttachType.SK_SKB_STREAM_VERDICT) == (
        prog_id,
    )  # stays after ebpf exits
    wrong = ebpf("prog", "attach", "id", str(prog_id), "sk_msg_verdict", "pinned", str(sockmap), check=False)
    assert wrong.returncode == 1
    assert "is a sk_skb program: it cannot attach as sk_msg_verdict" in wrong.stderr
    unknown = ebpf("prog", "attach", "id", str(prog_id), "xdp", check=False)
    assert unknown.returncode == 2
    assert "unknown attach type 'xdp'" in unknown.stderr
    ebpf("prog", "detach", "id", str(prog_id), "sk_skb_stream_verdict", "pinned", str(sockmap))
    assert _sockmap_programs(sockmap, AttachType.SK_SKB_STREAM_VERDICT) == ()
