"""CollectionSpec from the C corpus: SEC() names, maps, variables, relocations, linking, bad input."""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import pytest

from ebpf.elf import Collection, CollectionSpec, ElfFile, ReferenceKind
from ebpf.maps import PinType
from ebpf.progs import parse_section
from ebpf.syscall import AttachType, MapType, ProgLoadFlags, ProgType
from ebpf.syscall.errors import ParseError
from tests.elf._elf_corpus import compiled, spec_of


def test_every_section_name_gives_libbpfs_program_type_and_attach_type() -> None:
    spec = spec_of("sections")
    expected = {
        "kprobe_unlink": (ProgType.KPROBE, None, "do_unlinkat"),
        "kretprobe_unlink": (ProgType.KPROBE, None, "do_unlinkat"),
        "uprobe_malloc": (ProgType.KPROBE, None, "/usr/lib/x86_64-linux-gnu/libc.so.6:malloc"),
        "tracepoint_getpid": (ProgType.TRACEPOINT, None, "syscalls/sys_enter_getpid"),
        "tp_getppid": (ProgType.TRACEPOINT, None, "syscalls/sys_enter_getppid"),
        "raw_tp_enter": (ProgType.RAW_TRACEPOINT, None, "sys_enter"),
        "tp_btf_switch": (ProgType.TRACING, AttachType.TRACE_RAW_TP, "sched_switch"),
        "fentry_unlink": (ProgType.TRACING, AttachType.TRACE_FENTRY, "do_unlinkat"),
        "fexit_unlink": (ProgType.TRACING, AttachType.TRACE_FEXIT, "do_unlinkat"),
        "fmod_ret_open": (ProgType.TRACING, AttachType.MODIFY_RETURN, "security_file_open"),
        "lsm_file_open": (ProgType.LSM, AttachType.LSM_MAC, "file_open"),
        "iter_task": (ProgType.TRACING, AttachType.TRACE_ITER, "task"),
        "xdp_prog": (ProgType.XDP, AttachType.XDP, ""),
        "tcx_ingress": (ProgType.SCHED_CLS, AttachType.TCX_INGRESS, ""),
        "classifier_prog": (ProgType.SCHED_CLS, None, ""),
        "cgroup_skb_out": (ProgType.CGROUP_SKB, AttachType.CGROUP_INET_EGRESS, ""),
        "cgroup_connect4": (ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET4_CONNECT, ""),
        "sockops_prog": (ProgType.SOCK_OPS, AttachType.CGROUP_SOCK_OPS, ""),
        "sk_msg_prog": (ProgType.SK_MSG, AttachType.SK_MSG_VERDICT, ""),
        "sk_skb_parser": (ProgType.SK_SKB, AttachType.SK_SKB_STREAM_PARSER, ""),
        "socket_prog": (ProgType.SOCKET_FILTER, None, ""),
        "syscall_prog": (ProgType.SYSCALL, None, ""),
    }
    for name, (prog_type, attach_type, target) in expected.items():
        program = spec.programs[name]
        assert (program.type, program.expected_attach_type, program.attach_to) == (
            prog_type,
            attach_type,
            target,
        ), name
    assert spec.programs["kretprobe_unlink"].retprobe
    assert spec.programs["fentry_sleepable"].flags & ProgLoadFlags.SLEEPABLE
    assert spec.programs["lsm_sleepable"].flags & ProgLoadFlags.SLEEPABLE
    # one spec per function, the section kept for each
    assert len(spec.programs) == 34
    assert all(parse_section(spec.sections[name]).prog_type == p.type for name, p in spec.programs.items())


def test_ksyscall_sections_are_kprobes_of_the_syscall() -> None:
    spec = spec_of("ksyscall")
    entry, ret = spec.programs["ksyscall_getpid"], spec.programs["kretsyscall_getpid"]
    assert entry.type == ret.type == ProgType.KPROBE
    assert entry.syscall
    assert ret.syscall
    assert ret.retprobe
    assert not entry.retprobe
    assert entry.attach_to == "getpid"


def test_btf_defined_maps_read_like_libbpf() -> None:
    spec = spec_of("maps_calls")
    counters = spec.maps["counters"]
    assert (counters.type, counters.key_size, counters.value_size, counters.max_entries) == (
        MapType.HASH,
        4,
        8,
        16,
    )
    assert counters.btf_key_type_id
    assert counters.btf_value_type_id
    assert spec.maps["pinned_stats"].pinning is PinType.BY_NAME
    outer = spec.maps["outer"]
    assert outer.type == MapType.ARRAY_OF_MAPS
    assert outer.inner_map is not None
    assert (outer.inner_map.type, outer.inner_map.value_size) == (MapType.ARRAY, 4)
    assert spec.map_values == {"outer": {0: "inner_a", 1: "inner_b"}, "jump_table": {2: "tail_target"}}
    assert spec.maps["jump_table"].type == MapType.PROG_ARRAY


def test_legacy_maps_section_and_version() -> None:
    spec = spec_of("legacy_maps")
    legacy = spec.maps["legacy_counts"]
    assert (legacy.type, legacy.key_size, legacy.value_size, legacy.max_entries) == (MapType.ARRAY, 4, 8, 2)
    assert spec.maps["legacy_hash"].type == MapType.HASH
    assert spec.kernel_version == 0x050400
    assert spec.license == "GPL"


def test_global_data_sections_become_maps_with_named_variables() -> None:
    spec = spec_of("globals")
    assert {".data", ".rodata", ".bss", ".data.custom", ".rodata.tuning"} <= set(spec.maps)
    assert spec.maps[".rodata"].freeze
    assert not spec.maps[".data"].freeze
    values = {name: var.get() for name, var in spec.variables.items()}
    assert values == {
        "target_pid": 7,
        "multiplier": 3,
        "hits": 100,
        "last_result": 0,
        "static_counter": 0,
        "custom_data": 11,
        "tuning": 5,
    }
    spec.variables["target_pid"].set(4321)
    assert spec.variables["target_pid"].get() == 4321
    assert dict(spec.maps_with_variables()[".rodata"].contents)[0][:4] == struct.pack("<I", 4321)
    with pytest.raises(ValueError, match="does not fit"):
        spec.variables["target_pid"].set(1 << 40)
    with pytest.raises(TypeError, match="integer"):
        spec.variables["target_pid"].set(b"\0\0\0\0")


def test_variables_are_plain_data_a_copy_writes_only_into_itself() -> None:
    spec = spec_of("globals")
    original_rodata = spec.maps[".rodata"]
    copied = spec.copy()
    copied.variables["target_pid"].set(1234)
    assert copied.variables["target_pid"].get() == 1234
    assert spec.variables["target_pid"].get() == 7  # the original keeps its value...
    assert spec.maps[".rodata"] is original_rodata  # ...and its maps
    assert dict(spec.maps_with_variables()[".rodata"].contents)[0][:4] == struct.pack("<I", 7)
    assert dict(copied.maps_with_variables()[".rodata"].contents)[0][:4] == struct.pack("<I", 1234)
    # a variable copied by hand is its own too
    by_hand = dataclasses.replace(spec.variables["hits"])
    by_hand.set(1)
    assert spec.variables["hits"].get() == 100
    # setting the original does not reach the copy either
    spec.variables["multiplier"].set(9)
    assert copied.variables["multiplier"].get() == 3
    # the maps as loaded: untouched data maps are the very specs parsed
    assert spec.maps_with_variables()[".bss"] is spec.maps[".bss"]


def test_relocations_name_maps_and_data_offsets() -> None:
    spec = spec_of("globals")
    refs = spec.references_of("use_globals")
    targets = sorted((ref.kind, ref.name, ref.offset) for ref in refs.values())
    assert (ReferenceKind.MAP_VALUE, ".rodata", 8) in targets  # multiplier, after target_pid
    assert (ReferenceKind.MAP_VALUE, ".data.custom", 0) in targets
    assert {name for _, name, _ in targets} == {".data", ".rodata", ".bss", ".data.custom", ".rodata.tuning"}


def test_subprograms_are_linked_once_into_each_caller_with_func_info() -> None:
    spec = spec_of("maps_calls")
    count_a = spec.programs["count_a"]
    count_b = spec.programs["count_b"]
    # global_helper and add_twice (and for count_b the bpf_loop callback) are appended
    func_records_a = len(count_a.func_info) // 8
    func_records_b = len(count_b.func_info) // 8
    assert (func_records_a, func_records_b) == (3, 4)
    assert count_b.instruction_count > count_a.instruction_count
    first_insn = struct.unpack_from("<I", count_a.func_info)[0]
    assert first_insn == 0
    assert count_a.line_info
    assert count_a.btf is not None
    # no call is left pointing outside the program
    code = count_b.instructions
    for index in range(len(code) // 8):
        opcode, regs, _, imm = struct.unpack_from("<BBhi", code, index * 8)
        if opcode == 0x85 and regs >> 4 == 1:
            assert 0 <= index + imm + 1 < len(code) // 8


def test_btf_datasecs_get_sizes_and_offsets_for_the_kernel() -> None:
    spec = spec_of("globals")
    assert spec.btf is not None
    rodata = next(t for t in spec.btf if t.name == ".rodata")
    assert rodata.size == 16  # type: ignore[attr-defined]
    assert [info.offset for info in rodata.vars] == [0, 8]  # type: ignore[attr-defined]


# ------------------------------------------------------------------ bad input


def test_an_unknown_section_parses_untyped_and_loading_it_names_the_section() -> None:
    spec = spec_of("bad_section")  # libbpf opens it too, with no program type
    assert spec.programs["misplaced"].type == ProgType.UNSPEC
    with pytest.raises(ValueError, match=r"program 'misplaced' has no program type: .*'nonsense/thing'"):
        Collection.load(spec)  # refused before any system call


def test_an_unknown_map_field_is_named() -> None:
    with pytest.raises(ParseError, match=r"map 'odd': member 'colour': unknown map definition field"):
        spec_of("bad_map_field")


def test_a_relocation_to_an_undefined_symbol_is_named() -> None:
    with pytest.raises(
        ParseError, match=r"'defined_elsewhere' is undefined and not a __kconfig or __ksym extern"
    ):
        spec_of("bad_extern")


def test_a_relocation_with_a_bad_symbol_index_is_located() -> None:
    path = compiled("globals")
    data = bytearray(path.read_bytes())
    elf = ElfFile(bytes(data))
    rel = next(s for s in elf.sections if s.name == ".relxdp")
    offset, info = struct.unpack_from("<QQ", data, rel.offset)
    struct.pack_into("<QQ", data, rel.offset, offset, (5000 << 32) | (info & 0xFFFFFFFF))
    with pytest.raises(ParseError, match=r"section \d+ \(xdp\): relocation at byte 0: symbol index 5000"):
        CollectionSpec.from_bytes(bytes(data), name="bad.o")


def test_truncated_objects_never_raise_anything_but_parse_error() -> None:
    data = compiled("maps_calls").read_bytes()
    for cut in range(0, len(data), max(1, len(data) // 97)):
        with pytest.raises(ParseError):
            CollectionSpec.from_bytes(data[:cut], name="cut.o")


def _patched_globals(field: str) -> bytes:
    """The globals object with one 64-bit ELF value set past what BTF's 32-bit fields hold."""
    data = bytearray(compiled("globals").read_bytes())
    elf = ElfFile(bytes(data))
    bss, symtab = elf.section(".bss"), elf.section(".symtab")
    assert bss is not None
    assert symtab is not None
    if field == "bss_size":
        # Elf64_Shdr.sh_size (8 bytes at offset 32): .bss occupies no file space.
        at = elf.header.shoff + bss.index * elf.header.shentsize + 32
    else:
        # Elf64_Sym.st_value (8 bytes at offset 8) of `hits`, a .data variable.
        names = [symbol.name for symbol in elf.symbols]
        at = symtab.offset + names.index("hits") * symtab.entsize + 8
    struct.pack_into("<Q", data, at, 1 << 32)
    return bytes(data)


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("bss_size", r"section 9 \(\.bss\): SHT_NOBITS size 4294967296 exceeds"),
        ("symbol_value", r"section \.data: symbol hits has value 0x100000000, past the 32-bit offsets"),
    ],
)
def test_elf_values_past_what_btf_holds_are_a_parse_error(field: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "globals.o"
    path.write_bytes(_patched_globals(field))
    with pytest.raises(ParseError, match=message):
        CollectionSpec.from_file(path)
