"""The generated ctypes layouts match the kernel's own BTF facts bit for bit.

``tools/abi/kernel_abi.json`` holds the member layout of ``union bpf_attr``
and the info structs as the kernel's BTF describes them (what ``pahole``
would print). For every leaf field we set all its bits through ctypes and
check that exactly the bits the kernel expects changed.
"""

from __future__ import annotations

import ctypes
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ebpf.syscall import _generated, abi

SNAPSHOT = Path(__file__).resolve().parents[2] / "tools" / "abi" / "kernel_abi.json"
FACTS: dict[str, Any] = json.loads(SNAPSHOT.read_text())
RECORDS: dict[str, Any] = {**FACTS["attrs"], **FACTS["structs"]}


def _leaves(
    record: dict[str, Any], base: int, path: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], int, int]]:
    """(attribute path, bit offset, bit width) of every scalar or array leaf."""
    anon = 0
    for member in record["members"]:
        name = member["name"]
        if not name:
            anon += 1
            name = f"_u{anon}"
        offset = base + member["bit_offset"]
        typ = member["type"]
        if "record" in typ:
            yield from _leaves(typ["record"], offset, (*path, name))
            continue
        if member["bits"]:
            yield (*path, name), offset, member["bits"]
        else:
            yield (*path, name), offset, 8 * _size(typ)


def _size(typ: dict[str, Any]) -> int:
    if "char" in typ:
        return 1
    if "int" in typ:
        return int(typ["int"])
    if "array" in typ:
        return _size(typ["array"]) * int(typ["n"])
    return int(typ["record"]["size"])


def _all_ones(ctype: Any) -> int:
    """The value with every bit set for an integer ctype (-1 when signed)."""
    return -1 if ctype(-1).value == -1 else (1 << (8 * ctypes.sizeof(ctype))) - 1


def _set_all_ones(obj: Any, path: tuple[str, ...]) -> None:
    for name in path[:-1]:
        obj = getattr(obj, name)
    leaf = path[-1]
    field = next(f for f in type(obj)._fields_ if f[0] == leaf)
    ctype: Any = field[1]
    if len(field) == 3:
        setattr(obj, leaf, (1 << field[2]) - 1)
    elif issubclass(ctype, ctypes.Array):
        if ctype._type_ is ctypes.c_char:  # char arrays are set from bytes
            setattr(obj, leaf, b"\xff" * ctype._length_)
        else:
            arr = getattr(obj, leaf)
            for i in range(ctype._length_):
                arr[i] = _all_ones(ctype._type_)
    else:
        setattr(obj, leaf, _all_ones(ctype))


@pytest.mark.parametrize("cls_name", sorted(RECORDS))
def test_size_matches_kernel(cls_name: str) -> None:
    cls = getattr(_generated, cls_name)
    assert ctypes.sizeof(cls) == RECORDS[cls_name]["size"]


@pytest.mark.parametrize("cls_name", sorted(RECORDS))
def test_every_field_sits_where_the_kernel_expects(cls_name: str) -> None:
    cls = getattr(_generated, cls_name)
    leaves = list(_leaves(RECORDS[cls_name], 0, ()))
    assert leaves
    for path, bit_offset, bits in leaves:
        obj = cls()
        _set_all_ones(obj, path)
        got = int.from_bytes(bytes(obj), "little")
        want = ((1 << bits) - 1) << bit_offset
        assert got == want, f"{cls_name}.{'.'.join(path)}: bits {got:#x}, kernel expects {want:#x}"


def test_enums_match_snapshot() -> None:
    from gen_abi import ENUMS

    for c_name, (cls_name, prefix, _flag) in ENUMS.items():
        cls = getattr(abi, cls_name)
        for name, value in FACTS["enums"][c_name]:
            short = name.removeprefix(prefix)
            if short in cls.__members__:
                assert cls[short] == value, name


def test_abi_module_exports_everything_generated() -> None:
    generated = {n for n in vars(_generated) if not n.startswith("_") and n not in ("ctypes", "enum")}
    assert generated <= set(abi.__all__)


def test_generated_module_is_current() -> None:
    import gen_abi

    assert gen_abi.main(["check"]) == 0, "run `make regen` (python tools/gen_abi.py render)"
