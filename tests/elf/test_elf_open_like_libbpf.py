"""What libbpf opens, CollectionSpec parses: user-sized maps, sections with no type, autoload,
long __kconfig strings, maps-only objects, trie keys. No kernel needed: every refusal here comes
before any system call."""

from __future__ import annotations

import ipaddress
import logging
import struct
from typing import cast

import pytest

from ebpf.elf import Collection, Links, inspect
from ebpf.elf import _externs as externs
from ebpf.elf._attach import attach_all
from ebpf.elf._programs import libbpf_section
from ebpf.maps import BytesCodec, LpmKeyCodec
from ebpf.progs import Link, LinkInfo, Program
from ebpf.syscall import AttachType, MapType, ProgLoadFlags, ProgType, features
from ebpf.syscall.errors import EbpfError, LibraryLimitError, NotSupportedError
from tests.elf._elf_corpus import spec_of

# ------------------------------------------------------------ maps sized by user space


def test_maps_left_unsized_by_the_c_source_parse() -> None:
    spec = spec_of("user_sized")
    sizes = {name: (m.max_entries, m.value_size) for name, m in spec.maps.items() if not name.startswith(".")}
    # the stack trace map declares no value size: PERF_MAX_STACK_DEPTH (127) frames unless set
    assert sizes == {"start": (0, 8), "counts": (0, 8), "events": (0, 0), "stackmap": (0, 127 * 8)}
    assert not spec.maps["counts"].check_sizes


def test_loading_an_unsized_map_names_it_and_how_to_size_it() -> None:
    spec = spec_of("user_sized")
    with pytest.raises(ValueError, match=r"map 'start' .*max_entries >= 1.*spec\.resize_map\('start', n\)"):
        Collection.load(spec)
    for name in ("start", "counts", "stackmap"):
        spec.resize_map(name, 1024)
    with pytest.raises(ValueError, match=r"map 'events' .*power of 2.*spec\.resize_map\('events', n\)"):
        Collection.load(spec)


def test_resize_map_checks_the_new_size_against_the_map_type() -> None:
    spec = spec_of("user_sized")
    with pytest.raises(ValueError, match=r"map 'events': RINGBUF maps need max_entries .* power of 2"):
        spec.resize_map("events", 5000)
    with pytest.raises(ValueError, match=r"map 'counts': HASH maps need max_entries >= 1"):
        spec.resize_map("counts", 0)
    with pytest.raises(KeyError):
        spec.resize_map("no_such_map", 1)
    spec.resize_map("events", 1 << 16)
    assert spec.maps["events"].max_entries == 1 << 16


def test_set_value_size_sizes_stack_traces_and_drops_a_btf_type_of_another_size() -> None:
    spec = spec_of("user_sized")
    spec.set_value_size("stackmap", 32 * 8)  # a tool's --stack-depth 32
    stackmap = spec.maps["stackmap"]
    assert stackmap.value_size == 256
    assert stackmap.value_codec.decode(struct.pack("<32Q", *range(32))) == tuple(range(32))
    counts = spec.maps["counts"]
    assert counts.btf_value_type_id
    spec.set_value_size("counts", 16)
    resized = spec.maps["counts"]
    assert (resized.value_size, resized.btf_value_type_id) == (16, 0)
    assert isinstance(resized.value_codec, BytesCodec)
    with pytest.raises(ValueError, match=r"'\.rodata' holds global variables"):
        spec.set_value_size(".rodata", 64)
    with pytest.raises(ValueError, match=r"map 'start': HASH maps need a value size"):
        spec.set_value_size("start", 0)


# ------------------------------------------------------------ sections libbpf has no type for


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        # libbpf 1.1's table: "name" entries match exactly, "name+" entries match name and name/...
        ("socket/tail", None),
        ("socket/type_ids", None),
        ("sk_lookup/", None),
        ("xdp/", None),
        ("nonsense/thing", None),
        ("sk_lookup", (ProgType.SK_LOOKUP, AttachType.SK_LOOKUP, "")),
        ("kprobe", (ProgType.KPROBE, None, "")),
        ("kprobe/", (ProgType.KPROBE, None, "")),
        ("tp/", (ProgType.TRACEPOINT, None, "")),
        ("raw_tp/", (ProgType.RAW_TRACEPOINT, None, "")),
        ("fentry", (ProgType.TRACING, AttachType.TRACE_FENTRY, "")),
        ("iter/", (ProgType.TRACING, AttachType.TRACE_ITER, "")),
        ("ksyscall", (ProgType.KPROBE, None, "")),
        ("xdp/devmap", (ProgType.XDP, AttachType.XDP_DEVMAP, "")),
        ("uprobe/libc.so.6:getpid", (ProgType.KPROBE, None, "libc.so.6:getpid")),
    ],
)
def test_section_names_get_the_type_libbpfs_table_gives(
    section: str, expected: tuple[ProgType, AttachType | None, str] | None
) -> None:
    found = libbpf_section(section)
    assert (None if found is None else (found.prog_type, found.attach_type, found.target)) == expected


def test_sleepable_and_syscall_forms_keep_their_flags_without_a_target() -> None:
    sleepable = libbpf_section("uprobe.s")
    assert sleepable is not None
    assert sleepable.flags & ProgLoadFlags.SLEEPABLE
    syscall = libbpf_section("kretsyscall")
    assert syscall is not None
    assert (syscall.syscall, syscall.retprobe, syscall.target) == (True, True, "")


def test_programs_of_unknown_sections_parse_untyped_and_question_marks_turn_autoload_off() -> None:
    spec = spec_of("unknown_sections")
    types = {name: program.type for name, program in spec.programs.items()}
    assert types == {
        "filter_entry": ProgType.SOCKET_FILTER,
        "filter_tail": ProgType.UNSPEC,
        "classify": ProgType.UNSPEC,
        "steer": ProgType.UNSPEC,
        "manual_raw_tp": ProgType.RAW_TRACEPOINT,
        "filter_debug": ProgType.SOCKET_FILTER,
    }
    assert spec.sections["filter_debug"] == "socket"  # the "?" only switches autoload off
    assert spec.sections["steer"] == "sk_lookup/"
    assert [name for name in spec.programs if not spec.autoload(name)] == ["filter_debug"]
    assert spec.map_values["stages"] == {1: "filter_tail", 2: "classify"}
    assert "filter_debug  socket_filter" in inspect(spec)
    assert "autoload off" in inspect(spec)


def test_loading_an_untyped_program_names_its_section_until_a_type_is_set() -> None:
    spec = spec_of("unknown_sections")
    with pytest.raises(ValueError, match=r"'filter_tail' has no program type: .* section 'socket/tail'"):
        Collection.load(spec)
    spec.set_program_type("filter_tail", "socket")  # a section name works too
    spec.set_program_type("classify", ProgType.SOCKET_FILTER)
    with pytest.raises(ValueError, match=r"'steer' has no program type: .* section 'sk_lookup/'"):
        Collection.load(spec)
    spec.set_program_type("steer", "sk_lookup", "sk_lookup")
    assert (spec.programs["steer"].type, spec.programs["steer"].expected_attach_type) == (
        ProgType.SK_LOOKUP,
        AttachType.SK_LOOKUP,
    )
    assert spec.programs["filter_tail"].type == ProgType.SOCKET_FILTER
    with pytest.raises(ValueError, match="unknown program type"):
        spec.set_program_type("steer", "no_such_type")
    with pytest.raises(KeyError):
        spec.set_program_type("no_such_program", ProgType.XDP)


def test_a_program_turned_off_needs_no_type() -> None:
    spec = spec_of("bad_section")
    spec.set_autoload("misplaced", False)
    assert not spec.autoload("misplaced")
    spec.set_autoload("misplaced", True)
    with pytest.raises(ValueError, match="has no program type"):
        Collection.load(spec)
    with pytest.raises(KeyError, match="no program 'nope'"):
        spec.set_autoload("nope", False)
    with pytest.raises(KeyError):
        spec.autoload("nope")
    with pytest.raises(TypeError, match="must be a bool"):
        spec.set_autoload("misplaced", 0)  # type: ignore[arg-type]


# ------------------------------------------------------------ __kconfig strings


@pytest.fixture
def fake_config(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The kernel configuration resolve_kconfig reads, as the test sets it."""
    config: dict[str, str] = {}
    monkeypatch.setattr(features, "kernel_config_values", lambda: config)
    return config


def test_a_kconfig_string_longer_than_its_array_is_truncated_with_a_warning(
    fake_config: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    spec = spec_of("kconfig_strings")
    assert spec.btf is not None
    layout = spec._kconfig
    assert layout is not None
    offsets = {ext.name: (ext.offset, ext.size) for ext in layout.externs}
    fake_config.update(
        {
            "CONFIG_CC_VERSION_TEXT": '"clang version 14.0.6"',
            "CONFIG_DEFAULT_HOSTNAME": '"(none)"',
            "CONFIG_HZ": "250",
        }
    )
    with caplog.at_level(logging.WARNING, logger="ebpf.elf"):
        data = externs.resolve_kconfig(spec.btf, layout)

    def value(name: str) -> bytes:
        offset, size = offsets[name]
        return data[offset : offset + size]

    assert value("CONFIG_CC_VERSION_TEXT") == b"clang v\0"  # 7 bytes and the NUL, as libbpf
    assert value("CONFIG_DEFAULT_HOSTNAME") == b"(none)".ljust(32, b"\0")
    assert value("CONFIG_HZ") == struct.pack("<i", 250)
    warned = [r.getMessage() for r in caplog.records if r.name == "ebpf.elf"]
    assert warned == [
        "__kconfig extern 'CONFIG_CC_VERSION_TEXT': long string \"clang version 14.0.6\" (20 bytes) "
        "truncated to 7 bytes"
    ]


def test_a_kconfig_string_that_fits_exactly_with_its_nul_is_not_truncated(
    fake_config: dict[str, str],
) -> None:
    spec = spec_of("kconfig_strings")
    assert spec.btf is not None
    assert spec._kconfig is not None
    fake_config["CONFIG_CC_VERSION_TEXT"] = '"gcc-12"'  # 6 bytes + NUL in char[8]
    data = externs.resolve_kconfig(spec.btf, spec._kconfig)
    ext = next(e for e in spec._kconfig.externs if e.name == "CONFIG_CC_VERSION_TEXT")
    assert data[ext.offset : ext.offset + ext.size] == b"gcc-12\0\0"


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("CONFIG_HZ", '"250"', "needs a char array extern"),
        ("CONFIG_DEFAULT_HOSTNAME", '"unterminated', "not a quoted string"),
    ],
)
def test_kconfig_values_of_the_wrong_kind_are_refused_as_libbpf_refuses_them(
    fake_config: dict[str, str], name: str, text: str, message: str
) -> None:
    spec = spec_of("kconfig_strings")
    assert spec.btf is not None
    assert spec._kconfig is not None
    fake_config[name] = text
    with pytest.raises(ValueError, match=message):
        externs.resolve_kconfig(spec.btf, spec._kconfig)


# ------------------------------------------------------------ maps-only objects


def test_an_object_with_maps_only_parses_with_btf_types() -> None:
    spec = spec_of("maps_only")
    assert spec.programs == {}
    assert spec.btf is not None
    assert set(spec.maps) == {"conn_stats", "settings", "task_ctx"}
    assert all(m.btf_key_type_id and m.btf_value_type_id for m in spec.maps.values())
    settings = spec.maps["settings"]
    assert (
        settings.value_codec.decode(settings.value_codec.encode({"sample_rate": 5, "tag": "x"}))[
            "sample_rate"
        ]
        == 5
    )


# ------------------------------------------------------------ trie keys


def test_trie_keys_of_btf_structs_take_networks_pairs_and_dicts() -> None:
    spec = spec_of("lpm_firewall")
    v4, v6 = spec.maps["rules_v4"], spec.maps["rules_v6"]
    assert v4.type == v6.type == MapType.LPM_TRIE
    assert v4.btf_key_type_id  # the kernel still gets the struct
    codec4, codec6 = v4.key_codec, v6.key_codec
    assert isinstance(codec4, LpmKeyCodec)
    assert isinstance(codec6, LpmKeyCodec)
    assert (codec4.ip, codec4.data_size, codec6.ip, codec6.data_size) == (True, 4, True, 16)
    raw = struct.pack("<I", 16) + bytes([10, 1, 0, 0])
    assert codec4.encode(ipaddress.ip_network("10.1.0.0/16")) == raw
    assert codec4.encode("10.1.0.0/16") == raw
    assert codec4.encode((16, bytes([10, 1, 0, 0]))) == raw
    # the struct's dict still works: addr is a __u32 holding network-order bytes
    assert codec4.encode({"prefixlen": 16, "addr": int.from_bytes(bytes([10, 1, 0, 0]), "little")}) == raw
    assert codec4.decode(raw) == ipaddress.ip_network("10.1.0.0/16")
    net6 = ipaddress.ip_network("2001:db8::/32")
    assert codec6.decode(codec6.encode(net6)) == net6
    assert codec6.encode({"prefixlen": 32, "addr": list(net6.network_address.packed)}) == codec6.encode(net6)
    with pytest.raises(ValueError, match="IPv6"):
        codec4.encode(net6)
    # values keep their BTF struct
    assert v4.value_codec.decode(v4.value_codec.encode({"action": 1, "id": 3})) == {"action": 1, "id": 3}


# ------------------------------------------------------------ attach_all's plan and Links


class _FakeLink(Link):
    def __init__(self, target: str, log: list[str], fail_close: bool = False) -> None:
        super().__init__(target)
        self._log = log
        self._closed = False
        self._fail_close = fail_close

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._log.append(f"close {self.target}")
            if self._fail_close:
                raise OSError(f"closing {self.target}")

    def info(self) -> LinkInfo:
        raise NotImplementedError

    @property
    def mechanism(self) -> str:
        return "fake"


class _FakeProgram:
    def __init__(self, name: str, log: list[str], fail: bool = False) -> None:
        self.name = name
        self._log = log
        self._fail = fail

    def attach(self) -> Link:
        if self._fail:
            raise ValueError(f"cannot attach {self.name}")
        self._log.append(f"attach {self.name}")
        return _FakeLink(self.name, self._log)


def _programs(log: list[str], sections: dict[str, str], failing: str = "") -> dict[str, Program]:
    return {name: cast(Program, _FakeProgram(name, log, name == failing)) for name in sections}


def test_attach_all_attaches_by_section_and_skips_what_libbpf_skips() -> None:
    log: list[str] = []
    sections = {
        "a": "tp/syscalls/sys_enter_getpid",
        "b": "xdp",
        "c": "tp",
        "d": "raw_tp/sys_enter",
        "e": "socket/tail",
        "f": "fentry/do_unlinkat",
        "g": "usdt",
        "h": "ksyscall/getppid",
    }
    with attach_all(_programs(log, sections), sections) as links:
        assert isinstance(links, Links)
        assert list(links) == ["a", "d", "f", "h"]
        assert set(links.skipped) == {"b", "c", "e", "g"}
        assert "attach it by hand" in links.skipped["b"]
        assert log == ["attach a", "attach d", "attach f", "attach h"]
    assert links.closed
    assert log[4:] == ["close h", "close f", "close d", "close a"]
    links.close()  # again: nothing more
    assert len(log) == 8


def test_a_failure_half_way_detaches_what_was_attached() -> None:
    log: list[str] = []
    sections = {"a": "tp/x/y", "b": "raw_tp/z", "c": "tp/x/broken", "d": "raw_tp/w"}
    with pytest.raises(ValueError, match="cannot attach c"):
        attach_all(_programs(log, sections, failing="c"), sections)
    assert log == ["attach a", "attach b", "close b", "close a"]


def test_sections_this_library_cannot_attach_fail_before_anything_is_attached() -> None:
    log: list[str] = []
    sections = {"a": "tp/x/y", "b": "uprobe.multi/libc.so.6:setjmp"}
    with pytest.raises(
        EbpfError, match=r"program 'b' .*uprobe.multi sections is a limit of this library"
    ) as caught:
        attach_all(_programs(log, sections), sections)
    assert isinstance(caught.value, LibraryLimitError)  # a limit of the library, not of the kernel
    assert not isinstance(caught.value, NotSupportedError)
    sections = {"a": "tp/x/y", "b": "uprobe/libc.so.6"}
    with pytest.raises(ValueError, match=r"'uprobe/libc.so.6' of program 'b' misses ':function"):
        attach_all(_programs(log, sections), sections)
    sections = {"b": "uretprobe/libc.so.6:getpid+4"}
    with pytest.raises(ValueError, match="uretprobes take no offset"):
        attach_all(_programs(log, sections), sections)
    for usdt in ("usdt/libc.so.6:libc", "usdt/libc.so.6:libc:setjmp:x", "usdt/:libc:setjmp"):
        sections = {"a": "tp/x/y", "b": usdt}
        with pytest.raises(ValueError, match=r"is not usdt/<binary>:<provider>:<name>"):
            attach_all(_programs(log, sections), sections)
    assert log == []


def test_links_close_every_link_and_raise_the_first_error() -> None:
    log: list[str] = []
    links = Links({"a": _FakeLink("a", log, fail_close=True), "b": _FakeLink("b", log)}, {})
    with pytest.raises(OSError, match="closing a"):
        links.close()
    assert log == ["close b", "close a"]
    assert "closed" in repr(links)
