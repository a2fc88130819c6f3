"""Generate ``ebpf.syscall``'s kernel ABI tables from kernel BTF.

The kernel describes its own UAPI in BTF: ``/sys/kernel/btf/vmlinux`` holds
``enum bpf_cmd``, ``enum bpf_map_type``, ``union bpf_attr``,
``struct bpf_prog_info`` and the rest exactly as the running kernel compiled
them. Generation happens in two steps so that the committed output can be
checked on any machine:

``extract``
    reads a BTF file (default: the running kernel's) with :mod:`ebpf.btf`
    (so it runs in the hatch environment) and writes the facts the
    library needs to ``tools/abi/kernel_abi.json``: enum values and the
    bit-exact member layout of every attr/info structure. Run it on the
    newest kernel at hand when the kernel grows new commands or fields.

``render``
    turns that JSON into ``packages/ebpf-syscall/src/ebpf/syscall/_generated.py``
    (``IntEnum`` classes and ``ctypes`` structures) and
    ``packages/ebpf-syscall/src/ebpf/syscall/raw.py`` (one function per
    ``bpf(2)`` command, from `COMMANDS`: attr in, result or ``-errno`` out,
    as cilium/ebpf's ``internal/sys`` generates them). ``check`` renders to
    memory and fails if a committed file differs; a unit test runs it.

Usage: ``python tools/gen_abi.py extract [--btf PATH] | render | check``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from ebpf.btf import Array, Composite, Enum, Int, IntEncoding, Kind, Struct, TypeGraph, load_file

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "tools" / "abi" / "kernel_abi.json"
PACKAGE = ROOT / "packages" / "ebpf-syscall" / "src" / "ebpf" / "syscall"
OUTPUT = PACKAGE / "_generated.py"
RAW_OUTPUT = PACKAGE / "raw.py"

# enum name in linux/bpf.h or linux/perf_event.h -> (Python class, prefix to strip, IntFlag?)
ENUMS: dict[str, tuple[str, str, bool]] = {
    "bpf_cmd": ("Cmd", "BPF_", False),
    "bpf_map_type": ("MapType", "BPF_MAP_TYPE_", False),
    "bpf_prog_type": ("ProgType", "BPF_PROG_TYPE_", False),
    "bpf_attach_type": ("AttachType", "BPF_", False),
    "bpf_link_type": ("LinkType", "BPF_LINK_TYPE_", False),
    "bpf_stats_type": ("StatsType", "BPF_STATS_", False),
    "bpf_task_fd_type": ("TaskFdType", "BPF_FD_TYPE_", False),
    "bpf_perf_event_type": ("PerfEventType", "BPF_PERF_EVENT_", False),
    "bpf_core_relo_kind": ("CoreReloKind", "BPF_CORE_", False),
    "btf_func_linkage": ("FuncLinkage", "BTF_FUNC_", False),
    "perf_type_id": ("PerfType", "PERF_TYPE_", False),
    "perf_sw_ids": ("PerfSwId", "PERF_COUNT_SW_", False),
    "perf_hw_id": ("PerfHwId", "PERF_COUNT_HW_", False),
    "perf_event_sample_format": ("PerfSampleFormat", "PERF_SAMPLE_", True),
}

# Named members of union bpf_attr -> Python class.
ATTR_NAMED = {
    "batch": "MapBatchAttr",
    "test": "ProgTestRunAttr",
    "info": "ObjGetInfoAttr",
    "query": "ProgQueryAttr",
    "raw_tracepoint": "RawTracepointOpenAttr",
    "task_fd_query": "TaskFdQueryAttr",
    "link_create": "LinkCreateAttr",
    "link_update": "LinkUpdateAttr",
    "link_detach": "LinkDetachAttr",
    "enable_stats": "EnableStatsAttr",
    "iter_create": "IterCreateAttr",
    "prog_bind_map": "ProgBindMapAttr",
    "token_create": "TokenCreateAttr",
    "prog_stream_read": "ProgStreamReadAttr",
}
# Anonymous members of union bpf_attr, recognised by their first leaf field.
ATTR_ANON = {
    "map_type": "MapCreateAttr",
    "map_fd": "MapElemAttr",
    "prog_type": "ProgLoadAttr",
    "pathname": "ObjPinAttr",
    "target_fd": "ProgAttachAttr",
    "start_id": "GetIdAttr",
    "btf": "BtfLoadAttr",
}
# Other structures: C name -> (kind, Python class).
STRUCTS = {
    "bpf_prog_info": ("struct", "BpfProgInfo"),
    "bpf_map_info": ("struct", "BpfMapInfo"),
    "bpf_btf_info": ("struct", "BpfBtfInfo"),
    "bpf_link_info": ("struct", "BpfLinkInfo"),
    "bpf_token_info": ("struct", "BpfTokenInfo"),
    "bpf_func_info": ("struct", "BpfFuncInfo"),
    "bpf_line_info": ("struct", "BpfLineInfo"),
    "bpf_core_relo": ("struct", "BpfCoreRelo"),
    "perf_event_attr": ("struct", "PerfEventAttr"),
}

# Every bpf_cmd -> (its member of union bpf_attr, what a success returns:
# "fd" a new descriptor, "count" a byte count, "zero" 0). A command of a new
# kernel that is missing here fails the rendering: add it.
COMMANDS: dict[str, tuple[str, str]] = {
    "MAP_CREATE": ("MapCreateAttr", "fd"),
    "MAP_LOOKUP_ELEM": ("MapElemAttr", "zero"),
    "MAP_UPDATE_ELEM": ("MapElemAttr", "zero"),
    "MAP_DELETE_ELEM": ("MapElemAttr", "zero"),
    "MAP_GET_NEXT_KEY": ("MapElemAttr", "zero"),
    "PROG_LOAD": ("ProgLoadAttr", "fd"),
    "OBJ_PIN": ("ObjPinAttr", "zero"),
    "OBJ_GET": ("ObjPinAttr", "fd"),
    "PROG_ATTACH": ("ProgAttachAttr", "zero"),
    "PROG_DETACH": ("ProgAttachAttr", "zero"),
    "PROG_TEST_RUN": ("ProgTestRunAttr", "zero"),
    "PROG_GET_NEXT_ID": ("GetIdAttr", "zero"),
    "MAP_GET_NEXT_ID": ("GetIdAttr", "zero"),
    "PROG_GET_FD_BY_ID": ("GetIdAttr", "fd"),
    "MAP_GET_FD_BY_ID": ("GetIdAttr", "fd"),
    "OBJ_GET_INFO_BY_FD": ("ObjGetInfoAttr", "zero"),
    "PROG_QUERY": ("ProgQueryAttr", "zero"),
    "RAW_TRACEPOINT_OPEN": ("RawTracepointOpenAttr", "fd"),
    "BTF_LOAD": ("BtfLoadAttr", "fd"),
    "BTF_GET_FD_BY_ID": ("GetIdAttr", "fd"),
    "TASK_FD_QUERY": ("TaskFdQueryAttr", "zero"),
    "MAP_LOOKUP_AND_DELETE_ELEM": ("MapElemAttr", "zero"),
    "MAP_FREEZE": ("MapElemAttr", "zero"),
    "BTF_GET_NEXT_ID": ("GetIdAttr", "zero"),
    "MAP_LOOKUP_BATCH": ("MapBatchAttr", "zero"),
    "MAP_LOOKUP_AND_DELETE_BATCH": ("MapBatchAttr", "zero"),
    "MAP_UPDATE_BATCH": ("MapBatchAttr", "zero"),
    "MAP_DELETE_BATCH": ("MapBatchAttr", "zero"),
    "LINK_CREATE": ("LinkCreateAttr", "fd"),
    "LINK_UPDATE": ("LinkUpdateAttr", "zero"),
    "LINK_GET_FD_BY_ID": ("GetIdAttr", "fd"),
    "LINK_GET_NEXT_ID": ("GetIdAttr", "zero"),
    "ENABLE_STATS": ("EnableStatsAttr", "fd"),
    "ITER_CREATE": ("IterCreateAttr", "fd"),
    "LINK_DETACH": ("LinkDetachAttr", "zero"),
    "PROG_BIND_MAP": ("ProgBindMapAttr", "zero"),
    "TOKEN_CREATE": ("TokenCreateAttr", "fd"),
    "PROG_STREAM_READ_BY_FD": ("ProgStreamReadAttr", "count"),
}
# Aliases in enum bpf_cmd (BPF_PROG_RUN is BPF_PROG_TEST_RUN).
COMMAND_ALIASES = {"PROG_RUN"}
# Commands the verifier runs for: an EAGAIN (a signal interrupted it) is
# retried with signals blocked (_kernel.bpf_errno_restarting).
RESTARTED = {"PROG_LOAD", "BTF_LOAD"}

_RESULTS = {
    "fd": "a new descriptor (the caller owns and closes it)",
    "count": "the number of bytes written",
    "zero": "0",
}

# --------------------------------------------------------------------- extract


def _typeref(btf: TypeGraph, tid: int) -> dict[str, Any]:
    t = btf.resolve(btf[tid])
    if isinstance(t, Int):
        if t.name == "char":
            return {"char": 1}
        return {"int": t.size, "signed": bool(t.encoding & IntEncoding.SIGNED)}
    if isinstance(t, Enum):
        return {"int": t.size, "signed": False}
    if isinstance(t, Array):
        return {"array": _typeref(btf, t.type_id), "n": t.nelems}
    if isinstance(t, Composite):
        return {"record": _record(t)}
    raise ValueError(f"unsupported member type {t!r}")


def _record(t: Composite) -> dict[str, Any]:
    assert t.graph is not None
    members = [
        {
            "name": m.name,
            "bit_offset": m.bit_offset,
            "bits": m.bitfield_size,
            "type": _typeref(t.graph, m.type_id),
        }
        for m in t.members
    ]
    return {"kind": "struct" if isinstance(t, Struct) else "union", "size": t.size, "members": members}


def _first_leaf(record: dict[str, Any]) -> str:
    first = record["members"][0]
    if first["name"]:
        return str(first["name"])
    return _first_leaf(first["type"]["record"])


def extract(btf_path: str) -> dict[str, Any]:
    """Read the ABI facts from a BTF file."""
    btf = load_file(btf_path)
    enums: dict[str, list[tuple[str, int]]] = {}
    for c_name in ENUMS:
        found = [t for t in btf.find_all(c_name) if isinstance(t, Enum)]
        if found:
            enums[c_name] = [(v.name, v.value) for v in found[0].values]
    attrs: dict[str, Any] = {}
    union = btf.find("bpf_attr", Kind.UNION)
    assert isinstance(union, Composite)
    for member in union.members:
        assert member.bit_offset == 0
        inner = btf.resolve(btf[member.type_id])
        assert isinstance(inner, Composite)
        record = _record(inner)
        cls = ATTR_NAMED[member.name] if member.name else ATTR_ANON[_first_leaf(record)]
        attrs[cls] = record
    structs = {}
    for c_name, (_kind, cls) in STRUCTS.items():
        struct = btf.find(c_name, Kind.STRUCT)
        assert isinstance(struct, Composite)
        structs[cls] = {"c_name": c_name, **_record(struct)}
    return {
        "source": f"BTF of Linux {os.uname().release}" if btf_path == "/sys/kernel/btf/vmlinux" else btf_path,
        "enums": {k: enums[k] for k in ENUMS if k in enums},
        "attrs": attrs,
        "structs": structs,
    }


# ---------------------------------------------------------------------- render

_CTYPE = {
    (1, False): "ctypes.c_uint8",
    (2, False): "ctypes.c_uint16",
    (4, False): "ctypes.c_uint32",
    (8, False): "ctypes.c_uint64",
    (1, True): "ctypes.c_int8",
    (2, True): "ctypes.c_int16",
    (4, True): "ctypes.c_int32",
    (8, True): "ctypes.c_int64",
}


class _Renderer:
    def __init__(self) -> None:
        self.classes: list[str] = []

    def ctype(self, ref: dict[str, Any], owner: str, member: str) -> str:
        if "char" in ref:
            return "ctypes.c_char"
        if "int" in ref:
            return _CTYPE[(ref["int"], ref["signed"])]
        if "array" in ref:
            return f"({self.ctype(ref['array'], owner, member)} * {ref['n']})"
        return self.record(f"_{owner.lstrip('_')}_{member}", ref["record"], doc=None)

    def record(self, cls: str, rec: dict[str, Any], doc: str | None) -> str:
        base = "ctypes.Structure" if rec["kind"] == "struct" else "ctypes.Union"
        fields: list[str] = []
        anonymous: list[str] = []
        n_anon = 0
        for m in rec["members"]:
            name = m["name"]
            if not name:
                n_anon += 1
                name = f"_u{n_anon}"
                anonymous.append(name)
            ctype = self.ctype(m["type"], cls, name.lstrip("_"))
            if m["bits"]:
                fields.append(f"        ({name!r}, {ctype}, {m['bits']}),")
            else:
                fields.append(f"        ({name!r}, {ctype}),")
        lines = [f"class {cls}({base}):"]
        if doc:
            lines.append(f'    """{doc}"""')
            lines.append("")
        if anonymous:
            lines.append(f"    _anonymous_ = {tuple(anonymous)!r}")
        lines.append("    _fields_ = [")
        lines.extend(fields)
        lines.append("    ]")
        self.classes.append("\n".join(lines))
        return cls


def render(snapshot: dict[str, Any]) -> str:
    """Render the snapshot as Python source."""
    out = [
        f"# Generated by tools/gen_abi.py from {snapshot['source']}; do not edit.",
        "# Regenerate with `python tools/gen_abi.py extract && python tools/gen_abi.py render`.",
        '"""Kernel ABI enums and attr/info layouts of ``linux/bpf.h`` and ``linux/perf_event.h``."""',
        "",
        "import ctypes",
        "import enum",
        "",
    ]
    for c_name, (cls, prefix, is_flag) in ENUMS.items():
        values = snapshot["enums"].get(c_name)
        if not values:
            continue
        base = "enum.IntFlag" if is_flag else "enum.IntEnum"
        out.append("")
        out.append(f"class {cls}({base}):")
        out.append(f'    """``enum {c_name}``."""')
        out.append("")
        for name, value in values:
            # Sentinels (__MAX_BPF_CMD, PERF_COUNT_SW_MAX, ...) are not values.
            if name.startswith(("__", "MAX_")) or name.endswith("_MAX"):
                continue
            short = name.removeprefix(prefix)
            if short[0].isdigit():
                short = "_" + short
            out.append(f"    {short} = {value}")
        out.append("")
    renderer = _Renderer()
    for cls, rec in snapshot["attrs"].items():
        renderer.record(cls, rec, doc=f"A member of ``union bpf_attr``, as used by its command ({cls}).")
    for cls, rec in snapshot["structs"].items():
        renderer.record(cls, rec, doc=f"``struct {rec['c_name']}``.")
    for text in renderer.classes:
        out.append("")
        out.append(text)
        out.append("")
    names = [ENUMS[c][0] for c in ENUMS if snapshot["enums"].get(c)]
    names += list(snapshot["attrs"]) + list(snapshot["structs"])
    out.append("")
    out.append("ATTR_CLASSES = (" + ", ".join(snapshot["attrs"]) + ",)")
    out.append("INFO_CLASSES = (" + ", ".join(snapshot["structs"]) + ",)")
    out.append("")
    return "\n".join(out)


def render_raw(snapshot: dict[str, Any]) -> str:
    """Render the raw command functions (``raw.py``) for the commands of the snapshot.

    Raises:
        ValueError: a command of the snapshot is missing from `COMMANDS`, or
            names an attr the snapshot does not have.
    """
    names = [
        name.removeprefix("BPF_")
        for name, _value in snapshot["enums"]["bpf_cmd"]
        if not name.startswith("__") and name.removeprefix("BPF_") not in COMMAND_ALIASES
    ]
    missing = [name for name in names if name not in COMMANDS]
    if missing:
        raise ValueError(f"add these commands to COMMANDS in tools/gen_abi.py: {', '.join(missing)}")
    attrs = sorted({COMMANDS[name][0] for name in names})
    unknown = [attr for attr in attrs if attr not in snapshot["attrs"]]
    if unknown:
        raise ValueError(f"COMMANDS names attrs that union bpf_attr lacks: {', '.join(unknown)}")
    functions = [name.lower() for name in names]
    out = [
        f"# Generated by tools/gen_abi.py from {snapshot['source']}; do not edit.",
        "# Regenerate with `python tools/gen_abi.py extract && python tools/gen_abi.py render`.",
        '"""One raw function per ``bpf(2)`` command: its attr in, the kernel\'s result or ``-errno`` out.',
        "",
        "The command layer written once, as cilium/ebpf's ``internal/sys``: each",
        "function pairs a command with its member of ``union bpf_attr`` (see",
        "[`ebpf.syscall.abi`][ebpf.syscall.abi]) and calls the kernel through",
        "[`bpf_errno()`][ebpf.syscall.bpf_errno]. Nothing is checked and nothing",
        "raised: a descriptor returned is the caller's to close, and a negative",
        "result is ``-errno``. [`ebpf.syscall.commands`][ebpf.syscall.commands] builds",
        "typed functions with argument checks and exceptions on top of these;",
        "the feature probes, which decide by the exact errno, call them directly.",
        "",
        "``EINTR`` is retried; so is ``EAGAIN`` of the load commands, which the",
        "verifier returns when a signal interrupted it.",
        '"""',
        "",
        "from ._generated import (",
        *(f"    {name}," for name in sorted(["Cmd", *attrs])),
        ")",
        "from ._kernel import bpf_errno, bpf_errno_restarting",
        "",
        "__all__ = [",
        *(f'    "{name}",' for name in sorted(functions)),
        "]",
    ]
    for name in names:
        attr, result = COMMANDS[name]
        call = "bpf_errno_restarting" if name in RESTARTED else "bpf_errno"
        out += [
            "",
            "",
            f"def {name.lower()}(attr: {attr}) -> int:",
            f'    """``BPF_{name}``: {_RESULTS[result]}, or ``-errno``."""',
            f"    return {call}(Cmd.{name}, attr)",
        ]
    out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_extract = sub.add_parser("extract", help="snapshot ABI facts from kernel BTF")
    p_extract.add_argument("--btf", default="/sys/kernel/btf/vmlinux")
    sub.add_parser("render", help="write the Python module from the snapshot")
    sub.add_parser("check", help="fail if the committed module is not current")
    args = parser.parse_args(argv)
    if args.cmd == "extract":
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(json.dumps(extract(args.btf), indent=1) + "\n")
        return 0
    snapshot = json.loads(SNAPSHOT.read_text())
    outputs = {OUTPUT: render(snapshot), RAW_OUTPUT: render_raw(snapshot)}
    if args.cmd == "render":
        for path, text in outputs.items():
            path.write_text(text)
        return 0
    stale = [path for path, text in outputs.items() if not path.is_file() or path.read_text() != text]
    for path in stale:
        print(f"{path} is stale: run `python tools/gen_abi.py render`", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
