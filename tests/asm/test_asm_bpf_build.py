"""tools/bpf_build.py: compiling the BPF C test programs, once per content."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from bpf_build import BUILD_DIR, BpfBuildError, compile_bpf

pytestmark = pytest.mark.skipif(shutil.which("clang") is None, reason="needs clang (apt-get install clang)")


def test_objects_are_cached_by_content(tmp_path: Path) -> None:
    source = tmp_path / "tiny.c"
    source.write_text(
        'int prog(void *ctx) { return 1; }\nchar LICENSE[] __attribute__((section("license"))) = "GPL";\n'
    )
    first = compile_bpf(source)
    assert first.parent == BUILD_DIR
    assert first.read_bytes()[:4] == b"\x7fELF"
    mtime = first.stat().st_mtime_ns
    assert compile_bpf(source) == first
    assert first.stat().st_mtime_ns == mtime
    assert compile_bpf(source, cflags=("-mcpu=v3",)) != first
    source.write_text(source.read_text().replace("return 1", "return 2"))
    assert compile_bpf(source) != first


def test_compile_errors_carry_clangs_output(tmp_path: Path) -> None:
    source = tmp_path / "broken.c"
    source.write_text("int prog(void) { return undefined_name; }\n")
    with pytest.raises(BpfBuildError, match="undefined_name"):
        compile_bpf(source)


def test_missing_clang_names_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "x.c"
    source.write_text("int x;\n")
    monkeypatch.setenv("CLANG", "clang-that-does-not-exist")
    with pytest.raises(BpfBuildError, match="apt-get install clang"):
        compile_bpf(source)


def test_missing_source() -> None:
    with pytest.raises(FileNotFoundError, match="no BPF C source"):
        compile_bpf(Path("/nonexistent/prog.c"))
