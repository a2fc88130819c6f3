"""ebpf.core without a kernel: lazy imports, the facade's names, BTF value decoding, the CLI's pure parts."""

from __future__ import annotations

import ctypes
import importlib
import importlib.metadata
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import ebpf.core as bpf
from ebpf.btf import BtfBuilder
from ebpf.core import cli
from ebpf.core.catalogue import EXAMPLES, ProcessEvent, example
from ebpf.core.cli._maps import parse_bytes
from ebpf.core.cli._output import CliError, table
from ebpf.maps import PinType, u32, u64
from ebpf.progs import ProgramSpec
from ebpf.syscall import MapType

ROOT = Path(__file__).resolve().parents[2]
SIBLINGS = (
    "ebpf.syscall",
    "ebpf.asm",
    "ebpf.btf",
    "ebpf.maps",
    "ebpf.progs",
    "ebpf.elf",
    "ebpf.events",
    "ebpf.net",
)


def _python(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout


def test_import_ebpf_core_imports_no_sibling_package() -> None:
    loaded = json.loads(_python("import ebpf.core, sys, json; print(json.dumps(sorted(sys.modules)))"))
    assert [m for m in loaded if m.startswith(SIBLINGS)] == []


def test_a_lazy_name_imports_only_its_package() -> None:
    code = "import ebpf.core as b, sys; b.MapType; print([m for m in sys.modules if m.startswith('ebpf.')])"
    loaded = _python(code)
    assert "ebpf.syscall" in loaded
    assert "ebpf.maps" not in loaded
    assert "ebpf.progs" not in loaded


def test_every_public_name_resolves_and_is_listed_once() -> None:
    assert len(set(bpf.__all__)) == len(bpf.__all__)
    assert sorted(bpf.__all__) == bpf.__all__
    for name in bpf.__all__:
        assert getattr(bpf, name) is not None, name
    assert set(bpf._LAZY) <= set(bpf.__all__)
    assert dir(bpf) == sorted(bpf.__all__)
    assert bpf.MapType is MapType


def test_the_facade_is_derived_from_one_table() -> None:
    import gen_facade_stub

    from ebpf.core._exports import EXPORTS, LAZY

    assert bpf.__all__ == sorted(LAZY)
    assert bpf._LAZY == LAZY
    names = [name for names in EXPORTS.values() for name in names]
    assert len(names) == len(set(names)), "a name listed under two modules"
    assert gen_facade_stub.main(["check"]) == 0, "run python tools/gen_facade_stub.py render"


def test_sibling_functions_are_re_exported_not_wrapped() -> None:
    import ebpf.elf
    import ebpf.net
    import ebpf.progs
    from ebpf.core._exports import EXPORTS

    # A wrapper once passed offset twice: bpf.attach_uprobe_symbol(p, "libc.so.6", "malloc", offset=4).
    assert bpf.attach_uprobe_symbol is ebpf.elf.attach_uprobe_symbol
    assert bpf.attach is ebpf.progs.attach  # the attach dispatcher, with ebpf.net registered
    assert bpf.attach_xdp is ebpf.net.attach_xdp
    for module, names in EXPORTS.items():
        if not module.startswith("ebpf.core."):
            for name in names:
                assert getattr(bpf, name) is getattr(importlib.import_module(module), name), name


def test_the_map_functions_that_restated_methods_are_gone() -> None:
    for name in ("map_lookup", "map_update", "map_entries", "map_pop", "dump_map", "lru_hash_map"):
        assert name not in bpf.__all__
        assert not hasattr(bpf, name)


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = bpf.nope  # type: ignore[attr-defined]  # the stub lists the names: typos are caught


def test_map_spec_takes_type_and_codec_names() -> None:
    spec = bpf.map_spec("percpu_hash", "u32", "u64", 16, name="x", pin=True)
    assert spec.type == MapType.PERCPU_HASH
    assert spec.key_codec is u32
    assert spec.value_codec is u64
    assert spec.pinning is PinType.BY_NAME
    assert bpf.map_spec(MapType.ARRAY, value="<QQ", max_entries=2).value_size == 16
    with pytest.raises(ValueError, match="unknown map type 'hashh'; known: hash, array"):
        bpf.map_spec("hashh", "u32", "u64", 1)


def test_load_program_checks_its_arguments_before_any_syscall() -> None:
    spec = ProgramSpec.from_section("xdp", bytes.fromhex("b7000000020000009500000000000000"))
    with pytest.raises(TypeError, match="takes no kind"):
        bpf.load_program(spec, "xdp")
    with pytest.raises(TypeError, match="needs kind="):
        bpf.load_program(b"\x95" + bytes(7))
    with pytest.raises(ValueError, match="not of raw bytes"):
        bpf.load_program(b"\x95" + bytes(7), "xdp", maps={"m": 3})


def test_process_events_needs_a_reader() -> None:
    with pytest.raises(ValueError, match="at least one reader"):
        bpf.process_events(handler=print)


def test_system_info_supports_names_close_matches() -> None:
    info = bpf.SystemInfo(
        kernel=bpf.kernel_version(),
        release="6.1.0",
        bpffs=None,
        tracefs=None,
        cgroup2=None,
        capabilities=frozenset({"CAP_BPF"}),
        possible_cpus=2,
        memlock_raised=False,
        features={"map type RINGBUF": True, "map type ARENA": None},
    )
    assert info.supports("map type RINGBUF") is True
    assert info.missing_capabilities == ("CAP_PERFMON", "CAP_NET_ADMIN", "CAP_SYS_ADMIN")
    with pytest.raises(KeyError, match="similar: map type RINGBUF"):
        info.supports("ringbuf")


class Inner(ctypes.Structure):
    _fields_ = (("low", ctypes.c_uint8, 3), ("high", ctypes.c_uint8, 5), ("ratio", ctypes.c_double))


def test_catalogue_has_25_documented_examples_that_assemble() -> None:
    assert len(EXAMPLES) >= 25
    for ex in EXAMPLES.values():
        assert ex.summary, ex.name
        assert ex.behaviour, ex.name
        listing = ex.disassemble()
        assert listing.splitlines()[-1].endswith("exit")
        ProgramSpec.from_section(ex.section, bytes(8))  # a known section name
    assert {ex.section.split("/")[0] for ex in EXAMPLES.values()} >= {
        "xdp",
        "tc",
        "socket",
        "cgroup_skb",
        "cgroup",
        "raw_tracepoint",
        "tracepoint",
    }
    assert ctypes.sizeof(ProcessEvent) == 88
    with pytest.raises(KeyError, match="no catalogue example 'x'; examples: xdp_pass"):
        example("x")


def test_catalogue_page_documents_every_example() -> None:
    page = (ROOT / "docs" / "catalogue.md").read_text()
    missing = [name for name in EXAMPLES if f"`{name}`" not in page]
    assert not missing, f"docs/catalogue.md does not describe {missing}"


def test_cli_asm_disasm_and_catalogue_without_a_kernel(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["asm", "disasm", "hex:b7000000020000009500000000000000", "--no-bytes"]) == 0
    assert capsys.readouterr().out.split("\n")[:2] == ["       0:\tr0 = 2", "       1:\texit"]
    assert cli.main(["asm", "disasm", "hex:b7000000020000009500000000000000", "--style", "verifier"]) == 0
    assert capsys.readouterr().out.splitlines() == ["0: (b7) r0 = 2", "1: (95) exit"]
    assert cli.main(["catalogue", "list", "--json"]) == 0
    assert [row["name"] for row in json.loads(capsys.readouterr().out)] == list(EXAMPLES)
    assert cli.main(["catalogue", "show", "xdp_drop"]) == 0
    assert "r0 = 1" in capsys.readouterr().out
    assert cli.main(["asm", "helpers", "--prog-type", "xdp", "--kernel", "4.18", "--json"]) == 0
    names = {row["name"] for row in json.loads(capsys.readouterr().out)}
    assert "xdp_adjust_tail" in names
    assert "ringbuf_output" not in names  # 5.8


def test_cli_btf_dump_of_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    builder = BtfBuilder()
    builder.add_ctype(Inner)
    blob = tmp_path / "types.btf"
    blob.write_bytes(builder.build())
    assert cli.main(["btf", "dump", str(blob)]) == 0
    assert "[1] STRUCT 'Inner' size=16 vlen=3" in capsys.readouterr().out
    assert cli.main(["btf", "dump", str(blob), "--format", "c"]) == 0
    assert "struct Inner {" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["btf", "dump", "/nonexistent"], "ebpf: error: /nonexistent: no such file\n"),
        (["asm", "helpers", "--kernel", "5.4"], "ebpf: error: --kernel needs --prog-type"),
        (["asm", "disasm", "hex:950000"], "ebpf: error: truncated instruction stream"),
        (["catalogue", "show", "nope"], "ebpf: error: no catalogue example 'nope'"),
        (["elf", "inspect", "/nonexistent.o"], "ebpf: error: /nonexistent.o: no such file\n"),
    ],
)
def test_cli_errors_are_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(message)
    assert err.count("\n") == 1


def test_cli_debug_raises(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(FileNotFoundError):
        cli.main(["asm", "disasm", "/nonexistent", "--debug"])


def test_cli_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["nope"], ["map"], ["map", "update", "1", "--key", "1"]):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(argv)
        assert exit_info.value.code == 2
        assert "(see ebpf" in capsys.readouterr().err


def test_cli_version_prints_the_version_of_the_distribution(capsys: pytest.CaptureFixture[str]) -> None:
    version = importlib.metadata.version("ebpf-core")
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"ebpf {version}\n"
    assert bpf.__version__ == version


def test_the_version_is_read_on_first_use_only() -> None:
    # importlib.metadata costs tens of milliseconds: import ebpf.core stays cheap.
    code = "import ebpf.core as b, sys; print('importlib.metadata' in sys.modules, b.__version__)"
    assert _python(code).split() == ["False", importlib.metadata.version("ebpf-core")]


def test_cli_key_parsing() -> None:
    assert parse_bytes(["5"], 4, "key") == b"\x05\0\0\0"
    assert parse_bytes(["-1"], 2, "key") == b"\xff\xff"
    assert parse_bytes(["0x01", "2", "3", "4"], 4, "key") == b"\x01\x02\x03\x04"
    assert parse_bytes(["hex:0a0b"], 2, "key") == b"\x0a\x0b"
    with pytest.raises(CliError, match="the key is 4 bytes, got 2"):
        parse_bytes(["1", "2"], 4, "key")
    with pytest.raises(CliError, match="bad value '70000'"):
        parse_bytes(["70000"], 2, "value")


def test_cli_tables_align_columns() -> None:
    text = table(("ID", "NAME"), [(7, "a"), (1234, "longer")])
    assert text.splitlines() == ["  ID  NAME", "   7  a", "1234  longer"]


def test_python_dash_m_runs_the_cli() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    result = subprocess.run(
        [sys.executable, "-m", "ebpf.core", "--help"], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0
    assert "usage: ebpf" in result.stdout
    for command in ("check", "prog", "map", "link", "btf", "elf", "asm", "features", "catalogue", "demo"):
        assert command in result.stdout


def test_cli_tables_fit_80_columns_without_cutting_words() -> None:
    summary = "count the system calls of every process and print the ten busiest each second"
    rows = [("syscall_counts", "tracepoint/raw_syscalls/sys_enter", summary), ("x", "xdp", "drop")]
    lines = table(("NAME", "SECTION", "SUMMARY"), rows, width=80).splitlines()
    assert all(len(ln) <= 80 for ln in lines)
    assert lines[0].split() == ["NAME", "SECTION", "SUMMARY"]
    assert lines[1].startswith("syscall_counts  tracepoint/raw_syscalls/sys_enter  count the")
    start = lines[1].index("count the")
    wrapped = lines[1:-1]
    assert [ln[:start].strip() for ln in wrapped[1:]] == [""] * (len(wrapped) - 1)  # continuation lines
    assert " ".join(ln[start:].strip() for ln in wrapped) == summary  # every word whole, in order
    assert lines[-1].split() == ["x", "xdp", "drop"]


def test_cli_tables_cut_a_word_too_long_for_its_column_with_an_ellipsis() -> None:
    text = table(("ID", "DETAIL"), [(1, "x" * 100)], width=40)
    assert text.splitlines() == ["ID  DETAIL", f" 1  {'x' * 35}…"]


def test_cli_tables_are_not_wrapped_when_piped(monkeypatch: pytest.MonkeyPatch) -> None:
    from ebpf.core.cli._output import terminal_width

    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert terminal_width() is None
    monkeypatch.setenv("COLUMNS", "80")
    assert terminal_width() == 80
    long = "word " * 40
    assert all(len(ln) <= 80 for ln in table(("ID", "TEXT"), [(1, long)]).splitlines())


def test_cli_words_name_objects_as_bpftool_does(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from ebpf.core.cli import _words

    listing = [SimpleNamespace(id=7, name="counts"), SimpleNamespace(id=9, name="42")]
    monkeypatch.setattr(_words, "pinned_id", lambda kind, path: 11 if path == "/sys/fs/bpf/x" else 0)
    words = _words.Words(
        ["id", "5", "name", "counts", "pinned", "/sys/fs/bpf/x", "name", "42", "7"], "map pin"
    )
    assert [words.take_object("map", lambda: listing) for _ in range(5)] == [5, 7, 11, 9, 7]
    words.end()
    with pytest.raises(CliError, match="no map named 'nope'"):
        _words.Words(["name", "nope"], "map pin").take_object("map", lambda: listing)


def test_cli_words_read_bpftool_key_and_value_bytes() -> None:
    from ebpf.core.cli._words import Words

    words = Words(["1", "0", "0", "0", "value", "hex", "2a", "00", "noexist"], "map update")
    assert words.take_data("key") == ["1", "0", "0", "0"]
    assert words.take("keyword") == "value"
    assert words.take_data("value") == ["hex:2a00"]
    assert parse_bytes(["hex:2a00"], 2, "value") == b"\x2a\x00"
    assert words.take("flag") == "noexist"


def test_cli_words_report_bad_usage_with_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    from ebpf.core.cli._words import Words

    attempts: list[tuple[Callable[[], object], str]] = [
        (lambda: Words([], "prog pin").take("path"), "missing path"),
        (lambda: Words(["x"], "map create").take_int("entries"), "entries must be an integer, not 'x'"),
        (lambda: Words(["extra"], "map freeze").end(), "unexpected 'extra'"),
    ]
    for attempt, message in attempts:
        with pytest.raises(SystemExit) as stopped:
            attempt()
        assert stopped.value.code == 2
        assert message in capsys.readouterr().err


def test_cli_map_create_reads_bpftool_words(capsys: pytest.CaptureFixture[str]) -> None:
    from ebpf.core.cli._map_verbs import _create_spec
    from ebpf.core.cli._words import Words

    line = "type percpu_hash key 4 value 16 entries 128 name counts flags 1"
    spec = _create_spec(Words(line.split(), "c"))
    assert (spec.type, spec.name, spec.key_size, spec.value_size, spec.max_entries, int(spec.flags)) == (
        MapType.PERCPU_HASH,
        "counts",
        4,
        16,
        128,
        1,
    )
    with pytest.raises(CliError, match="unknown map type 'hashy'"):
        _create_spec(Words(["type", "hashy", "key", "4", "value", "4", "entries", "1", "name", "m"], "c"))
    with pytest.raises(SystemExit):
        _create_spec(Words(["type", "hash", "key", "4", "key", "4"], "c"))
    assert "'key' given twice" in capsys.readouterr().err


def test_cli_attachment_lines_are_bpftool_lines() -> None:
    from ebpf.core.cli import _net, _perf

    assert _net._line({"devname": "va", "ifindex": 5, "mode": "generic", "id": 37}) == "va(5) generic id 37"
    multi = {
        "devname": "va",
        "ifindex": 5,
        "multi_attachments": [{"mode": "generic", "id": 1}, {"mode": "driver", "id": 2}],
    }
    assert _net._line(multi) == "va(5) generic id 1 driver id 2"
    tc = {"devname": "va", "ifindex": 5, "kind": "clsact/ingress", "name": "cls", "id": 38}
    assert _net._line(tc) == "va(5) clsact/ingress cls id 38"
    tcx = {"devname": "va", "ifindex": 5, "kind": "tcx/egress", "name": "t", "prog_id": 40, "link_id": 7}
    assert _net._line(tcx) == "va(5) tcx/egress t prog_id 40 link_id 7"
    kprobe = {"pid": 1, "fd": 3, "prog_id": 9, "fd_type": "kprobe", "func": "do_sys_open", "offset": 0}
    assert _perf._line(kprobe) == "pid 1  fd 3: prog_id 9  kprobe  func do_sys_open  offset 0"
    uprobe = {"pid": 1, "fd": 4, "prog_id": 9, "fd_type": "uprobe", "filename": "/bin/sh", "offset": 16}
    assert _perf._line(uprobe) == "pid 1  fd 4: prog_id 9  uprobe  filename /bin/sh  offset 16"
