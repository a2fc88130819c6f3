"""The ``ebpf`` command against the live kernel, with bpftool as the oracle where both show the same thing."""

from __future__ import annotations

import ctypes
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bpf_build import compile_bpf
from core._cli import bpftool_json, bpftool_text, ebpf, ebpf_json

import ebpf.core as bpf
from ebpf.asm import R0, R1, R2, R10, W, XdpAction, add, call, exit_, ld_map_fd, mov, store
from ebpf.btf import BtfBuilder, load_btf
from ebpf.maps import ArrayMap, KeyValueMap, Map, MapSpec
from ebpf.progs import Program
from ebpf.syscall import MapType

ROOT = Path(__file__).resolve().parents[2]


class Value(ctypes.Structure):
    _fields_ = (
        ("count", ctypes.c_uint32),
        ("delta", ctypes.c_int64),
        ("name", ctypes.c_char * 8),
        ("history", ctypes.c_uint16 * 3),
        ("on", ctypes.c_bool),
    )


@pytest.fixture
def typed_map() -> Iterator[Map]:
    """A hash map with BTF for its u32 keys and ``Value`` values, holding key 1."""
    builder = BtfBuilder()
    key_id = builder.add_ctype(ctypes.c_uint32)
    value_id = builder.add_ctype(Value)
    spec = MapSpec(
        MapType.HASH,
        name="cli_typed",
        key=ctypes.c_uint32,
        value=Value,
        max_entries=8,
        btf_key_type_id=key_id,
        btf_value_type_id=value_id,
    )
    with load_btf(builder.build()) as btf, KeyValueMap[int, Any].create(spec, btf=btf) as m:
        m[1] = Value(7, -3, b"abc", (1, 2, 3), True)
        yield m


@pytest.fixture
def program() -> Iterator[tuple[Program, ArrayMap[Any]]]:
    """An XDP program using a plain u32 -> u64 array map."""
    with bpf.array_map("u64", 4, name="cli_counts") as counts:
        insns = [
            store(R10, -4, 0, W),
            ld_map_fd(R1, "counts"),
            mov(R2, R10),
            add(R2, -4),
            call("map_lookup_elem"),
            mov(R0, XdpAction.PASS),
            exit_(),
        ]
        with bpf.load_program(insns, "xdp", maps={"counts": counts}, name="cli_prog") as prog:
            yield prog, counts


def _by_id(rows: list[dict[str, Any]]) -> dict[object, dict[str, Any]]:
    return {row["id"]: row for row in rows}


#: Fields bpftool adds that `ebpf` leaves out: the pins and processes holding each object.
_BPFTOOL_ONLY = {"pinned", "pids"}


def _same_fields(ours: dict[str, Any], theirs: dict[str, Any], added: set[str]) -> None:
    """Every field bpftool shows, ours has with the same value; ours adds only ``added`` (docs/cli.md)."""
    for field, value in theirs.items():
        if field in _BPFTOOL_ONLY:
            continue
        if field == "loaded_at":  # seconds since the epoch, from two readings of the clocks
            assert abs(ours[field] - value) <= 1, (ours["id"], field)
        else:
            assert ours[field] == value, (ours["id"], field, ours.get(field), value)
    assert set(ours) - set(theirs) <= added, (ours["id"], set(ours) - set(theirs))


def test_prog_list_matches_bpftool(program: tuple[Program, ArrayMap[Any]]) -> None:
    prog, counts = program
    ours = _by_id(ebpf_json("prog", "list"))
    theirs = _by_id(bpftool_json("prog", "list"))
    after = _by_id(ebpf_json("prog", "list"))
    assert ours[prog.id]["name"] == theirs[prog.id]["name"] == "cli_prog"
    assert ours[prog.id]["map_ids"] == theirs[prog.id]["map_ids"] == [counts.id]
    # Programs of other processes come and go: compare those that lived through bpftool's
    # listing (one unloaded during it loses its full BTF name there, or more).
    both = ours.keys() & theirs.keys() & after.keys()
    for prog_id in both:
        # run_time_ns/run_cnt move while programs run: compare the listings of the idle ones.
        if "run_cnt" not in theirs[prog_id]:
            _same_fields(ours[prog_id], theirs[prog_id], {"name", "verified_insns"})
        for field in ("name", "type", "tag", "gpl_compatible"):
            assert ours[prog_id][field] == theirs[prog_id].get(field, ""), (prog_id, field)
    table = ebpf("prog", "list").stdout.splitlines()
    assert table[0].split() == ["ID", "TYPE", "NAME", "TAG", "MAPS"]
    assert any(line.split()[:3] == [str(prog.id), "xdp", "cli_prog"] for line in table[1:])


def test_prog_show_by_id_name_and_pin(program: tuple[Program, ArrayMap[Any]], bpffs: Path) -> None:
    prog, _ = program
    pin = bpffs / "prog"
    bpf.pin(prog, pin)
    by_id = ebpf_json("prog", "show", str(prog.id))
    assert ebpf_json("prog", "show", "cli_prog") == by_id
    assert ebpf_json("prog", "show", str(pin)) == by_id
    assert by_id["id"] == prog.id
    assert by_id["type"] == "xdp"
    lines = ebpf("prog", "show", str(prog.id)).stdout.splitlines()
    assert ["name", "cli_prog"] in [line.split() for line in lines]


def test_prog_dump_xlated_matches_bpftool(program: tuple[Program, ArrayMap[Any]]) -> None:
    prog, counts = program
    ours = ebpf("prog", "dump", "xlated", str(prog.id)).stdout.splitlines()
    theirs = [insn["disasm"] for insn in bpftool_json("prog", "dump", "xlated", "id", str(prog.id))]
    assert len(ours) == len(theirs)
    for line, expected in zip(ours, theirs, strict=True):
        text = line.split(": ", 1)[1]
        if expected.startswith("(85) call"):
            # bpftool names the rewritten helper calls from kallsyms.
            assert text.startswith("(85) call ")
        else:
            assert text == expected
    assert "(95) exit" in ours[-1]
    assert f"(18) r1 = map[id:{counts.id}]" in [line.split(": ", 1)[1] for line in ours]


def test_prog_dump_jited_disassembles_machine_code(program: tuple[Program, ArrayMap[Any]]) -> None:
    prog, _ = program
    info = prog.info()
    if not info.jited_insns:
        pytest.skip("the JIT is off on this machine")
    out = ebpf("prog", "dump", "jited", str(prog.id)).stdout
    assert out.strip()
    assert ebpf_json("prog", "dump", "jited", str(prog.id))["jited"] == info.jited_insns.hex()


def test_map_list_matches_bpftool(typed_map: Map) -> None:
    ours = _by_id(ebpf_json("map", "list"))
    theirs = _by_id(bpftool_json("map", "list"))
    row = ours[typed_map.id]
    assert row["name"] == theirs[typed_map.id]["name"] == "cli_typed"
    for map_id in ours.keys() & theirs.keys():
        # bpftool leaves "name" out for unnamed maps.
        assert ours[map_id]["name"] == theirs[map_id].get("name", ""), map_id
        assert ours[map_id]["type"] == theirs[map_id]["type"], map_id
        assert ours[map_id]["bytes_key"] == theirs[map_id]["bytes_key"]
        assert ours[map_id]["bytes_value"] == theirs[map_id]["bytes_value"]
        assert ours[map_id]["max_entries"] == theirs[map_id]["max_entries"]
        _same_fields(ours[map_id], theirs[map_id], {"name"})


def test_map_dump_decodes_values_with_btf_like_bpftool(typed_map: Map) -> None:
    ours = ebpf_json("map", "dump", str(typed_map.id))
    theirs = bpftool_json("map", "dump", "id", str(typed_map.id))
    assert ours == theirs
    assert [entry["formatted"] for entry in ours] == [
        {"key": 1, "value": {"count": 7, "delta": -3, "name": "abc", "history": [1, 2, 3], "on": True}}
    ]
    assert ours[0]["key"] == ["0x01", "0x00", "0x00", "0x00"]
    text = ebpf("map", "dump", "cli_typed").stdout
    assert '"name": "abc"' in text
    assert text.rstrip().endswith("Found 1 element")


def test_map_lookup_update_delete_without_btf(program: tuple[Program, ArrayMap[Any]]) -> None:
    _, counts = program
    ebpf("map", "update", str(counts.id), "--key", "2", "--value", "0x1122")
    assert counts[2] == 0x1122
    ebpf("map", "update", str(counts.id), "--key", "3", "0", "0", "0", "--value", "hex:0100000000000000")
    assert counts[3] == 1
    found = ebpf_json("map", "lookup", str(counts.id), "--key", "2")
    theirs = bpftool_json("map", "lookup", "id", str(counts.id), "key", "2", "0", "0", "0")
    assert found == {
        "key": ["0x02", "0x00", "0x00", "0x00"],
        "value": ["0x22", "0x11", "0x00", "0x00", "0x00", "0x00", "0x00", "0x00"],
    }
    assert found == theirs
    dump = ebpf_json("map", "dump", str(counts.id))
    assert len(dump) == 4
    assert dump == bpftool_json("map", "dump", "id", str(counts.id))
    result = ebpf("map", "delete", str(counts.id), "--key", "1", check=False)
    assert result.returncode == 1  # arrays cannot delete
    assert result.stderr.count("\n") == 1


def test_link_list_matches_bpftool() -> None:
    prog = bpf.load_program([mov(R0, 0), exit_()], "raw_tracepoint/sys_enter", name="cli_link")
    with prog, prog.attach() as link:
        link_id = link.info().id
        ours = _by_id(ebpf_json("link", "list"))
        theirs = _by_id(bpftool_json("link", "list"))
        shown = ebpf_json("link", "show", str(link_id))
    assert ours[link_id] == {
        "id": link_id,
        "type": "raw_tracepoint",
        "prog_id": theirs[link_id]["prog_id"],
        "tp_name": "sys_enter",
    }
    assert shown == ours[link_id]
    for lid in ours.keys() & theirs.keys():
        assert ours[lid]["type"] == theirs[lid]["type"]
        assert ours[lid]["prog_id"] == theirs[lid]["prog_id"]
        _same_fields(ours[lid], theirs[lid], set())


def test_btf_dump_raw_matches_bpftool() -> None:
    obj = compile_bpf(ROOT / "tests" / "bpf" / "maps_helpers.c")
    ours = ebpf("btf", "dump", str(obj)).stdout
    assert ours == bpftool_text("btf", "dump", "file", str(obj), "format", "raw")
    c = ebpf("btf", "dump", str(obj), "--format", "c").stdout
    assert "#ifndef __VMLINUX_H__" in c


def test_btf_list_and_dump_by_id(typed_map: Map) -> None:
    btf_id = typed_map.info().btf_id
    rows = _by_id(ebpf_json("btf", "list"))
    assert btf_id in rows
    assert rows[btf_id]["map_ids"] == [typed_map.id]
    theirs = _by_id(bpftool_json("btf", "show"))
    for row_id in rows.keys() & theirs.keys():
        # bpftool lists the users of an object in hash order; ours are sorted.
        for field in ("prog_ids", "map_ids"):
            theirs[row_id][field] = sorted(theirs[row_id][field])
        _same_fields(rows[row_id], theirs[row_id], {"name"})
    raw = ebpf("btf", "dump", "--id", str(btf_id)).stdout
    assert "STRUCT 'Value'" in raw


def test_check_and_features_report_this_machine() -> None:
    report = ebpf_json("check")
    assert report["kernel"]["release"] == os.uname().release
    assert report["process"]["uid"] == 0
    rows = ebpf_json("features")
    names = {row["name"] for row in rows}
    assert "map type HASH" in names
    assert all(row["status"] != "yes" for row in ebpf_json("features", "--missing"))
    assert ebpf("check").stdout.startswith("Kernel      Linux ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("prog", "show", "999999999"), "no program with id 999999999 is loaded"),
        (("prog", "dump", "xlated", "999999999"), "no program with id 999999999 is loaded"),
        (("map", "show", "999999999"), "no map with id 999999999 is loaded"),
        (("link", "show", "999999999"), "no link with id 999999999 is loaded"),
        (("btf", "dump", "--id", "999999999"), "no BTF object with id 999999999 is loaded"),
        (("map", "dump", "no_such_map_name"), "no map named 'no_such_map_name'"),
        (("map", "lookup", "/sys/fs/bpf", "--key", "1"), "/sys/fs/bpf is a directory of bpffs, not a pinned"),
        (("map", "show", "/sys/fs/bpf/no_such_pin"), "nothing is pinned at /sys/fs/bpf/no_such_pin"),
        (("prog", "show", "/etc/passwd"), "/etc/passwd is not on a BPF filesystem"),
        (("btf", "dump", "/nonexistent/file"), "no such file"),
        (("catalogue", "show", "nope"), "no catalogue example 'nope'"),
        (("asm", "disasm", "hex:zz"), "'hex:zz' is not hexadecimal"),
    ],
)
def test_errors_are_one_line_and_exit_1(args: tuple[str, ...], message: str) -> None:
    result = ebpf(*args, check=False)
    assert result.stdout == ""
    assert message in _one_error_line(result)
    assert "Traceback" not in result.stderr
    debug = ebpf(*args, "--debug", check=False)
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1
    assert result.stderr.startswith("ebpf: error: ")
    assert result.stderr.count("\n") == 1
    assert not re.search(r"error: -?\d+$", result.stderr.strip()), "a bare errno"
    return result.stderr.strip().removeprefix("ebpf: error: ")


def test_a_missing_key_is_named_with_its_map() -> None:
    with bpf.hash_map("u32", "u64", name="cli_hash") as table:
        for action in ("lookup", "delete"):
            message = _one_error_line(ebpf("map", action, str(table.id), "--key", "99", check=False))
            assert message == f"key 99 (63 00 00 00) is not in map {table.id} (cli_hash)"
        message = _one_error_line(ebpf("map", "lookup", "cli_hash", "--key", "hex:63000000", check=False))
        assert message == f"key hex:63000000 is not in map {table.id} (cli_hash)"
        table[99] = 5
        assert "value: 05 00 00 00 00 00 00 00" in ebpf("map", "lookup", "cli_hash", "--key", "99").stdout
    with bpf.queue_map("u32", 4, name="cli_queue") as queue:
        message = _one_error_line(ebpf("map", "lookup", str(queue.id), "--key", "1", check=False))
        assert message == (
            f"map {queue.id} (cli_queue) is a queue map: it has no keys to list, look up or change"
        )


def test_a_pinned_object_of_another_kind_is_named(
    program: tuple[Program, ArrayMap[Any]], bpffs: Path
) -> None:
    _, counts = program
    counts.pin(bpffs / "counts")
    assert _one_error_line(ebpf("prog", "show", str(bpffs / "counts"), check=False)) == (
        f"{bpffs / 'counts'} is a pinned map, not a program"
    )
    assert ebpf_json("map", "show", str(bpffs / "counts"))["id"] == counts.id
    counts.unpin()


def test_bad_key_size_is_reported(program: tuple[Program, ArrayMap[Any]]) -> None:
    _, counts = program
    result = ebpf("map", "lookup", str(counts.id), "--key", "1", "2", check=False)
    assert result.returncode == 1
    assert "the key is 4 bytes, got 2" in result.stderr


def test_usage_errors_exit_2() -> None:
    for args in (("bogus",), ("prog",), ("map", "lookup", "1"), ("btf", "dump", "--format", "xml")):
        result = ebpf(*args, check=False)
        assert result.returncode == 2, args
        assert "Traceback" not in result.stderr


def _tracefs_mounted() -> bool:
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        return any(line.split()[1:3] == ["/sys/kernel/tracing", "tracefs"] for line in mounts)


@pytest.mark.parametrize("fresh", [False, True], ids=["tracefs_mounted", "fresh_machine"])
def test_demo_traces_syscalls_and_execve(fresh: bool, request: pytest.FixtureRequest) -> None:
    if fresh:  # tracefs not mounted: the demo mounts it, as `make demo` on a fresh machine needs
        request.getfixturevalue("without_tracefs")
        assert not _tracefs_mounted()
    result = ebpf("demo", "--seconds", "1", "--top", "3")
    assert _tracefs_mounted()
    out = result.stdout
    assert "processes by system calls" in out
    assert "called execve" in out
    own = next(line for line in out.splitlines() if line.startswith("The demo's own commands seen"))
    seen, total = own.removesuffix(".").split(": ")[1].split(" of ")
    assert seen == total != "0"  # every command the demo ran was traced
    assert out.rstrip().endswith("nothing is left in the kernel.")


def test_elf_inspect_and_disasm_describe_the_object() -> None:
    obj = compile_bpf(ROOT / "tests" / "bpf" / "maps_helpers.c")
    spec = bpf.CollectionSpec.from_file(obj)
    summary = ebpf_json("elf", "inspect", str(obj))
    assert set(summary["programs"]) == set(spec.programs)
    assert summary["programs"]["count"]["type"] == "xdp"
    assert summary["programs"]["count"]["insns"] == spec.programs["count"].instruction_count
    assert summary["maps"]["seen"] == {"type": "hash", "key_size": 4, "value_size": 8, "max_entries": 64}
    assert summary["variables"] == sorted(spec.variables)
    assert ebpf("elf", "inspect", str(obj)).stdout.strip() == bpf.inspect_object(spec)
    listing = ebpf("elf", "disasm", str(obj), "--program", "count").stdout.splitlines()
    assert listing[0] == "count (section xdp):"
    assert listing[1:-1] == bpf.disassemble(spec.programs["count"].instructions).splitlines()
    missing = ebpf("elf", "disasm", str(obj), "--program", "nope", check=False)
    assert missing.returncode == 1
    assert "has no program 'nope' (programs: count, legacy)" in missing.stderr
