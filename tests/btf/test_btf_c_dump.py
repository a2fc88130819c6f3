"""C output: clang accepts the header and gives every struct the size and member offsets BTF says."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ebpf.btf import (
    Array,
    Composite,
    Const,
    Kind,
    Struct,
    Type,
    Typedef,
    TypeGraph,
    Volatile,
    dump_c,
    load_file,
)
from tests.btf._btf_support import BPF_DIR, VMLINUX, compile_c, need_tool


def _embeds_va_list(graph: TypeGraph, t: Type, memo: dict[int, bool]) -> bool:
    """Whether ``t`` holds a ``__builtin_va_list`` by value: clang's own type, sized per target.

    The kernel's is x86's 24-byte struct array; for ``-target bpf`` clang's
    is a pointer, so such structs cannot keep their kernel size (as with bpftool's header).
    """
    if t.id in memo:
        return memo[t.id]
    memo[t.id] = False
    found = False
    if isinstance(t, Typedef):
        found = t.name == "__builtin_va_list" or _embeds_va_list(graph, t.type, memo)
    elif isinstance(t, (Array, Const, Volatile)):
        found = _embeds_va_list(graph, t.type, memo)
    elif isinstance(t, Composite):
        found = any(_embeds_va_list(graph, m.type, memo) for m in t.members)
    memo[t.id] = found
    return found


def _layout_asserts(graph: TypeGraph) -> str:
    """Static assertions of sizeof/offsetof for every struct and union whose tag is unique.

    Structs, unions, enums and forward declarations share C's tag namespace;
    a repeated tag gets a ``___N`` suffix in the header, so it is skipped here.
    """
    tags: dict[str, int] = {}
    for t in graph:
        if t.name and t.kind in (Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.ENUM64, Kind.FWD):
            tags[t.name] = tags.get(t.name, 0) + 1
    lines = []
    memo: dict[int, bool] = {}
    for kind in (Kind.STRUCT, Kind.UNION):
        for t in graph.of_kind(kind):
            if not t.name or tags[t.name] > 1 or not isinstance(t, Composite):
                continue
            if _embeds_va_list(graph, t, memo):
                continue
            tag = f"{'struct' if isinstance(t, Struct) else 'union'} {t.name}"
            lines.append(f'_Static_assert(sizeof({tag}) == {t.size}, "size of {tag}");')
            for m in t.members:
                if m.name and not m.bitfield_size and m.bit_offset % 8 == 0:
                    lines.append(
                        f"_Static_assert(__builtin_offsetof({tag}, {m.name}) == {m.byte_offset}, "
                        f'"{tag}.{m.name}");'
                    )
    return "\n".join(lines) + "\n"


def _clang_check(header: str, tmp_path: Path, extra: str) -> None:
    clang = need_tool("clang")
    (tmp_path / "types.h").write_text(header)
    source = tmp_path / "check.c"
    source.write_text('#include "types.h"\n' + extra)
    result = subprocess.run(
        [
            clang,
            "-target",
            "bpf",
            "-O2",
            "-fsyntax-only",
            "-Werror",
            "-Wno-duplicate-decl-specifier",
            str(source),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_vmlinux_header_compiles_with_exact_layouts(vmlinux: TypeGraph, tmp_path: Path) -> None:
    header = dump_c(vmlinux)
    assert header.startswith("#ifndef __VMLINUX_H__")
    _clang_check(header, tmp_path, _layout_asserts(vmlinux))


def test_header_matches_bpftool_format_c(vmlinux: TypeGraph) -> None:
    bpftool = need_tool("bpftool")
    expected = subprocess.run(
        [bpftool, "btf", "dump", "file", str(VMLINUX), "format", "c"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    ours = dump_c(vmlinux)
    # bpftool 7.1 (libbpf 1.1) does not yet force 1-byte enums to one byte; newer libbpf does
    assert ours.replace(" __attribute__((mode(byte)))", "") == expected


@pytest.mark.parametrize("source", sorted((BPF_DIR / "core").glob("*.c")), ids=lambda p: p.stem)
def test_object_types_compile_back(source: Path, tmp_path: Path) -> None:
    graph = load_file(compile_c(source, name=source.stem))
    header = dump_c(graph, guard="__TYPES_H__")
    _clang_check(header, tmp_path, _layout_asserts(graph))


def test_bitfields_packed_anonymous_and_function_pointers(tmp_path: Path) -> None:
    graph = load_file(compile_c(BPF_DIR / "core" / "btf_kinds.c", name="btf_kinds"))
    header = dump_c(graph)
    assert "unsigned long long wide: 40;" in header
    assert "} __attribute__((packed));" in header
    assert "\tunion {\n\t\tstruct {\n\t\t\tshort x;" in header
    assert "int (*callback)(const char * restrict, ...);" in header
    assert "void (*handlers[3])(int);" in header
    assert "struct fwd_only;" in header
    extra = "\n".join(
        [
            '_Static_assert(sizeof(struct bits) == 8, "bits");',
            "struct with_anon w = { .x = 1, .y = 2 };",
            '_Static_assert(__builtin_offsetof(struct with_anon, whole) == 8, "anon");',
        ]
    )
    _clang_check(header, tmp_path, extra + "\n")
