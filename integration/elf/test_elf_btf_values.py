"""Maps of a clang object read and write their struct values as dicts, by the object's BTF."""

from __future__ import annotations

from ebpf.elf import Collection
from ebpf.maps import KeyValueMap
from tests.elf._elf_corpus import spec_of

PACKET = bytes(64)


def test_struct_values_written_by_the_program_read_as_dicts() -> None:
    with Collection.load(spec_of("struct_values")) as coll:
        events = coll.maps["events"]
        assert isinstance(events, KeyValueMap)
        assert coll.programs["record"].test_run(PACKET).retval == 2
        assert events[1] == {
            "pid": 42,
            "comm": "hello",
            "delta": -7,
            "flag": 1,
            "level": 5,
            "as_u64": 0x1122334455667788,
            "as_u32": [0x55667788, 0x11223344],
            "color": 5,
        }


def test_struct_values_written_from_python_reach_the_program() -> None:
    with Collection.load(spec_of("struct_values")) as coll:
        events = coll.maps["events"]
        assert isinstance(events, KeyValueMap)
        events[1] = {"pid": 7, "comm": "py", "delta": 21, "level": 3, "as_u32": [1, 2]}
        coll.programs["record"].test_run(PACKET)
        value = events[1]
        assert (value["pid"], value["comm"], value["delta"], value["level"]) == (7, "py", 42, 3)
        assert value["as_u64"] == (2 << 32) | 1
