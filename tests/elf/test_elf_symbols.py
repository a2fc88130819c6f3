"""Symbol lookup for uprobes (checked against nm and readelf), inspect output, and from_c without clang."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from ebpf.elf import (
    CollectionSpec,
    CompileError,
    ElfFile,
    find_library,
    inspect,
    symbol_offset,
    uprobe_target,
)
from tests.elf._elf_corpus import require_tool, spec_of


def _segments(path: Path) -> list[tuple[int, int, int]]:
    out = subprocess.run(
        [require_tool("llvm-readelf"), "-lW", str(path)], check=True, capture_output=True, text=True
    ).stdout
    return [
        (int(m[1], 16), int(m[2], 16), int(m[3], 16))
        for m in re.finditer(r"LOAD\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)", out)
    ]


def test_libc_symbols_resolve_to_file_offsets_through_their_segment() -> None:
    try:
        libc = find_library("libc.so.6")
    except FileNotFoundError:
        pytest.skip("no glibc here")
    nm = subprocess.run(
        [require_tool("llvm-nm"), "-D", "--defined-only", str(libc)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    address = next(
        int(line.split()[0], 16) for line in nm.splitlines() if line.split()[-1].split("@")[0] == "malloc"
    )
    path, offset = uprobe_target("libc.so.6", "malloc")
    assert path.resolve() == libc.resolve()
    (segment,) = [s for s in _segments(libc) if s[1] <= address < s[1] + s[2]]
    assert offset == address - segment[1] + segment[0]
    elf = ElfFile.from_file(libc)
    old, new = symbol_offset(elf, "memcpy@GLIBC_2.2.5"), symbol_offset(elf, "memcpy@@GLIBC_2.14")
    assert old != new
    assert symbol_offset(elf, "memcpy") == new  # a plain name is the default version
    with pytest.raises(KeyError, match="no defined symbol"):
        symbol_offset(elf, "no_such_function_anywhere")


def test_missing_libraries_are_reported() -> None:
    with pytest.raises(FileNotFoundError, match="libnothing"):
        find_library("libnothing.so.42")


def test_inspect_lists_programs_maps_and_variables() -> None:
    text = inspect(spec_of("globals"))
    assert "use_globals  xdp  attach xdp" in text
    assert ".rodata  array  key 4  value 16  max 1" in text
    assert "target_pid  .rodata+0  4 bytes  = 7" in text
    assert text.endswith("license: GPL")


def test_from_c_without_clang_names_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CLANG", "clang-that-does-not-exist")
    with pytest.raises(CompileError, match="apt-get install clang"):
        CollectionSpec.from_c("int x;", cache_dir=tmp_path)


def test_from_c_compiles_text_once_and_reports_clang_errors(tmp_path: Path) -> None:
    require_tool("clang")
    source = (
        "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n"
        'SEC("socket") int keep(void *ctx) { return 1; }\nchar L[] SEC("license") = "GPL";\n'
    )
    spec = CollectionSpec.from_c(source, cache_dir=tmp_path)
    assert list(spec.programs) == ["keep"]
    assert len(list(tmp_path.glob("*.o"))) == 1
    CollectionSpec.from_c(source, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.o"))) == 1  # cached by content
    with pytest.raises(CompileError, match="clang failed"):
        CollectionSpec.from_c("this is not C", cache_dir=tmp_path)
