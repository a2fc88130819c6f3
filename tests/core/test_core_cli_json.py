"""The JSON side of ``ebpf`` without a kernel: streamed arrays, bpftool's byte lists, xlated objects."""

from __future__ import annotations

import ctypes
import io
import json
from contextlib import redirect_stdout

import pytest

from ebpf.asm import R0, R1, Instruction, encode, exit_, lddw, mov
from ebpf.btf import BtfBuilder, Func, FuncProto, Param, from_bytes
from ebpf.core.cli._output import hex_bytes, print_json, print_json_stream
from ebpf.core.cli._xlated import xlated_entries, xlated_text


def _printed(action: object, data: object) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        action(data)  # type: ignore[operator]
    return out.getvalue()


@pytest.mark.parametrize(
    "items", [[], [1], [{"key": ["0x01"], "formatted": {"value": {"s": "a\nb"}}}, "x", [1, [2]]]]
)
def test_a_streamed_array_is_the_same_json(items: list[object]) -> None:
    streamed = _printed(lambda data: print_json_stream(iter(data)), items)
    assert streamed == _printed(print_json, items)
    assert json.loads(streamed) == items


def test_bytes_are_bpftools_hex_strings() -> None:
    assert hex_bytes(b"\x03\x00\xff") == ["0x03", "0x00", "0xff"]


def _code(*insns: Instruction) -> bytes:
    return encode(insns)


def test_xlated_objects_without_btf() -> None:
    code = _code(lddw(R1, 0x1122334455667788), mov(R0, 2), exit_())
    entries = xlated_entries(code, opcodes=True)
    assert [e["disasm"] for e in entries] == ["(18) r1 = 0x1122334455667788", "(b7) r0 = 2", "(95) exit"]
    assert entries[0]["opcodes"] == {
        "code": "0x18",
        "src_reg": "0x0",
        "dst_reg": "0x1",
        "off": ["0x00", "0x00"],
        "imm": [
            "0x88",
            "0x77",
            "0x66",
            "0x55",
            "0x00",
            "0x00",
            "0x00",
            "0x00",
            "0x44",
            "0x33",
            "0x22",
            "0x11",
        ],
    }
    text = xlated_text(entries).splitlines()
    assert text[0] == "   0: (18) r1 = 0x1122334455667788"
    assert text[1] == "       18 01 00 00 88 77 66 55 00 00 00 00 44 33 22 11"
    assert text[2] == "   2: (b7) r0 = 2"  # the ld_imm64 takes two slots


def test_xlated_objects_with_func_and_line_info() -> None:
    builder = BtfBuilder()
    int_id = builder.add_ctype(ctypes.c_int)
    proto = builder.add(FuncProto(0, "", return_type_id=int_id, params=(Param("ctx", int_id),)))
    func = builder.add(Func(0, "handler", type_id=proto))
    graph = from_bytes(builder.build())
    file_off = graph.string_section.index(b"handler")  # any string of the section will do
    entries = xlated_entries(
        _code(mov(R0, 2), exit_()),
        graph=graph,
        func_info=[(0, func)],
        line_info=[(1, file_off, file_off, (12 << 10) | 3)],
        linum=True,
    )
    assert entries[0] == {"proto": "int handler(int ctx)", "disasm": "(b7) r0 = 2"}
    assert entries[1] == {
        "src": "handler",
        "file": "handler",
        "line_num": 12,
        "line_col": 3,
        "disasm": "(95) exit",
    }
    assert xlated_text(entries).splitlines() == [
        "int handler(int ctx):",
        "   0: (b7) r0 = 2",
        "; handler [file:handler line_num:12 line_col:3]",
        "   1: (95) exit",
    ]
