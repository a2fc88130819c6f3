"""Generate ``ebpf.asm``'s helper registry from facts about the kernel's helpers.

Three facts make up a helper's entry, each from its own source:

* its id, name and C prototype: libbpf's ``bpf_helper_defs.h`` (Debian package
  ``libbpf-dev``), itself generated from the doc comments of the kernel's
  ``include/uapi/linux/bpf.h``; the ids are checked against the running
  kernel's ``enum bpf_func_id`` (vmlinux BTF, read with ``bpftool``);
* the first kernel release that has it: :data:`RELEASES` below. Helper ids are
  appended to ``__BPF_FUNC_MAPPER`` in the order they were merged, so each
  release is a contiguous range of ids and the table only needs the last id
  of each release;
* the program types that may call it: probed on the running kernel by loading
  ``call <id>; r0 = 0; exit`` as each program type and reading the verifier's
  verdict (``program of this type cannot use helper`` or ``invalid func`` means
  no; anything else, such as an argument type error, means the helper is there).

Generation happens in two steps so that the committed output can be checked on
any machine:

``extract`` (root, a kernel with BTF, ``bpftool`` and ``libbpf-dev``)
    writes the facts to ``tools/helpers/helpers.json``. Run it on the newest
    kernel at hand when the kernel grows helpers or opens them to more program
    types.

``render``
    turns that JSON into ``packages/ebpf-asm/src/ebpf/asm/_helper_table.py``.
    ``check`` renders to memory and fails if the committed file differs; a unit
    test runs it.

Usage: ``python tools/gen_helpers.py extract [--header PATH] | render | check``.
"""

from __future__ import annotations

import argparse
import errno
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "tools" / "helpers" / "helpers.json"
OUTPUT = ROOT / "packages" / "ebpf-asm" / "src" / "ebpf" / "asm" / "_helper_table.py"
HEADER = Path("/usr/include/bpf/bpf_helper_defs.h")
VMLINUX = Path("/sys/kernel/btf/vmlinux")

# (release, last helper id it introduced). Releases that added no helper
# (4.7, 5.4) are absent.
RELEASES: tuple[tuple[str, int], ...] = (
    ("3.19", 3),
    ("4.1", 11),
    ("4.2", 16),
    ("4.3", 22),
    ("4.4", 25),
    ("4.5", 26),
    ("4.6", 30),
    ("4.8", 36),
    ("4.9", 41),
    ("4.10", 44),
    ("4.11", 45),
    ("4.12", 47),
    ("4.13", 50),
    ("4.14", 53),
    ("4.15", 57),
    ("4.16", 59),
    ("4.17", 64),
    ("4.18", 80),
    ("4.19", 83),
    ("4.20", 90),
    ("5.0", 92),
    ("5.1", 98),
    ("5.2", 108),
    ("5.3", 110),
    ("5.5", 118),
    ("5.6", 121),
    ("5.7", 125),
    ("5.8", 135),
    ("5.9", 141),
    ("5.10", 155),
    ("5.11", 162),
    ("5.12", 163),
    ("5.13", 165),
    ("5.14", 168),
    ("5.15", 175),
    ("5.16", 179),
    ("5.17", 185),
    ("5.18", 193),
    ("5.19", 203),
    ("6.0", 207),
    ("6.1", 209),
    ("6.2", 211),
)

# Program type -> the load variants to probe (expected attach type name, BTF
# target: ("func", name) for a kernel function or an iterator, ("typedef", name)
# for a raw tracepoint). The helpers of a type are the
# union over its variants. EXT programs take the helpers of the program they
# replace and STRUCT_OPS programs those of their struct: neither is probed.
PROBE_VARIANTS: dict[str, tuple[tuple[str | None, tuple[str, str] | None], ...]] = {
    "CGROUP_SOCK_ADDR": (
        ("CGROUP_INET4_BIND", None),
        ("CGROUP_INET4_CONNECT", None),
        ("CGROUP_UDP4_SENDMSG", None),
        ("CGROUP_INET4_GETPEERNAME", None),
    ),
    "CGROUP_SOCK": (("CGROUP_INET_SOCK_CREATE", None), ("CGROUP_INET4_POST_BIND", None)),
    "CGROUP_SOCKOPT": (("CGROUP_GETSOCKOPT", None), ("CGROUP_SETSOCKOPT", None)),
    "SK_LOOKUP": (("SK_LOOKUP", None),),
    "NETFILTER": (("NETFILTER", None),),
    "TRACING": (
        ("TRACE_FENTRY", ("func", "bpf_fentry_test1")),
        ("TRACE_RAW_TP", ("typedef", "btf_trace_sched_switch")),
        ("TRACE_ITER", ("func", "bpf_iter_task")),
    ),
    "LSM": (("LSM_MAC", ("func", "bpf_lsm_file_open")),),
}
NOT_PROBED = frozenset({"UNSPEC", "EXT", "STRUCT_OPS"})
# Program types that kernels may be built without (the probe's kernel lacks
# them when loading even `r0 = 0; exit` fails): their helpers as
# lirc_mode2_func_proto() in drivers/media/rc/bpf-lirc.c lists them.
FALLBACK: dict[str, tuple[str, ...]] = {
    "LIRC_MODE2": (
        "rc_repeat",
        "rc_keydown",
        "rc_pointer_rel",
        "map_lookup_elem",
        "map_update_elem",
        "map_delete_elem",
        "ktime_get_ns",
        "tail_call",
        "get_prandom_u32",
        "trace_printk",
    ),
}
BPF_F_SLEEPABLE = 1 << 4
SLEEPABLE_ONLY = frozenset({"SYSCALL"})

_PROTO = re.compile(
    r"^static (?P<ret>.+?)\(\*bpf_(?P<name>\w+)\)\((?P<args>.*)\) = \(void \*\) (?P<id>\d+);$"
)
_ARG = re.compile(r"^(?P<type>.*?)\s*\b(?P<name>\w+)$")


def since(helper_id: int) -> str:
    """The first release with ``helper_id``, from :data:`RELEASES`."""
    for release, last in RELEASES:
        if helper_id <= last:
            return release
    raise ValueError(f"helper id {helper_id} is newer than RELEASES; add its release to tools/gen_helpers.py")


def parse_header(text: str) -> list[dict[str, Any]]:
    """The helpers declared in ``bpf_helper_defs.h``: id, name, return type and arguments."""
    helpers = []
    for line in text.splitlines():
        match = _PROTO.match(line.strip())
        if match is None:
            continue
        args: list[list[str]] = []
        raw_args = match["args"].strip()
        if raw_args != "void":
            for part in raw_args.split(","):
                raw = part.strip()
                if raw == "...":
                    args.append(["...", ""])
                    continue
                arg = _ARG.match(raw)
                if arg is None:
                    raise ValueError(f"cannot parse argument {raw!r} of bpf_{match['name']}")
                args.append([arg["type"].strip(), arg["name"]])
        helpers.append(
            {"id": int(match["id"]), "name": match["name"], "returns": match["ret"].strip(), "args": args}
        )
    return sorted(helpers, key=lambda h: h["id"])


def kernel_helper_ids() -> dict[str, int]:
    """``enum bpf_func_id`` of the running kernel, from its BTF."""
    out = subprocess.run(
        ["bpftool", "btf", "dump", "file", str(VMLINUX), "format", "c"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    body = out.split("enum bpf_func_id {", 1)[1].split("};", 1)[0]
    ids = {}
    for name, value in re.findall(r"\bBPF_FUNC_(\w+) = (\d+),", body):
        if name != "unspec":
            ids[name] = int(value)
    return ids


def btf_ids(wanted: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """BTF ids in vmlinux of the named FUNCs and TYPEDEFs (``bpftool btf dump`` raw format)."""
    out = subprocess.run(
        ["bpftool", "btf", "dump", "file", str(VMLINUX)], check=True, capture_output=True, text=True
    ).stdout
    found: dict[tuple[str, str], int] = {}
    names = {name for _, name in wanted}
    for match in re.finditer(r"^\[(\d+)\] (FUNC|TYPEDEF) '(\w+)'", out, re.MULTILINE):
        tid, kind, name = match.groups()
        if name in names:
            found[("func" if kind == "FUNC" else "typedef", name)] = int(tid)
    return found


def _loads(prog_type: Any, program: bytes) -> bool:
    from ebpf.syscall import commands
    from ebpf.syscall.errors import BpfSyscallError

    try:
        commands.prog_load(prog_type, program).close()
    except BpfSyscallError:
        return False
    return True


def probe_prog_types(names: dict[int, str]) -> tuple[dict[int, list[str]], dict[str, str]]:
    """Which program types of the running kernel may call each helper.

    Returns the program types of each helper id, and the program types that
    could not be probed here with the reason.
    """
    sys.path.insert(0, str(ROOT / "packages" / "ebpf-syscall" / "src"))
    import struct

    from ebpf.syscall.abi import ProgType

    def insn(code: int, imm: int = 0) -> bytes:
        return struct.pack("<BBhi", code, 0, 0, imm)

    targets = {target for variants in PROBE_VARIANTS.values() for _, target in variants if target is not None}
    ids = btf_ids(targets)
    result: dict[int, list[str]] = {hid: [] for hid in names}
    unprobed = {name: "takes the helpers of its target" for name in sorted(NOT_PROBED - {"UNSPEC"})}
    for prog_type in ProgType:
        if prog_type.name in NOT_PROBED:
            continue
        if prog_type.name in FALLBACK and not _loads(prog_type, insn(0xB7) + insn(0x95)):
            for hid, name in names.items():
                if name in FALLBACK[prog_type.name]:
                    result[hid].append(prog_type.name)
            continue
        variants = PROBE_VARIANTS.get(prog_type.name, ((None, None),))
        found: list[int] = []
        try:
            for hid in names:
                if _probe(prog_type, hid, variants, ids):
                    found.append(hid)
        except PermissionError:
            unprobed[prog_type.name] = f"loading it failed with EPERM on Linux {_release()}"
            continue
        for hid in found:
            result[hid].append(prog_type.name)
    return result, unprobed


def _probe(
    prog_type: Any,
    hid: int,
    variants: tuple[tuple[str | None, tuple[str, str] | None], ...],
    ids: dict[tuple[str, str], int],
) -> bool:
    """Whether the verifier lets ``prog_type`` call helper ``hid`` (in any of the variants)."""
    import struct

    from ebpf.syscall import commands
    from ebpf.syscall.abi import AttachType
    from ebpf.syscall.errors import BpfSyscallError, VerifierError

    def insn(code: int, imm: int = 0) -> bytes:
        return struct.pack("<BBhi", code, 0, 0, imm)

    program = insn(0x85, hid) + insn(0xB7) + insn(0x95)
    for attach, target in variants:
        kwargs: dict[str, Any] = {}
        if attach is not None:
            kwargs["expected_attach_type"] = AttachType[attach]
        if target is not None:
            kwargs["attach_btf_id"] = ids[target]
        if prog_type.name in SLEEPABLE_ONLY:
            kwargs["flags"] = BPF_F_SLEEPABLE
        try:
            commands.prog_load(prog_type, program, **kwargs).close()
        except VerifierError as exc:
            log = "\n".join(exc.log)
            if not ("cannot use helper" in log or "invalid func" in log or "unknown func" in log):
                return True
        except BpfSyscallError as exc:
            if exc.errno == errno.EPERM:
                raise PermissionError(exc.errno, "not allowed here") from exc
            raise RuntimeError(f"probing {prog_type.name} with helper {hid}: {exc}") from exc
        else:
            return True
    return False


def extract(header: Path) -> dict[str, Any]:
    """Collect every fact into the JSON snapshot's structure."""
    helpers = parse_header(header.read_text())
    kernel = kernel_helper_ids()
    for helper in helpers:
        if kernel.get(helper["name"]) != helper["id"]:
            raise ValueError(
                f"bpf_{helper['name']} is {helper['id']} in {header} but {kernel.get(helper['name'])} here"
            )
    missing = sorted(set(kernel) - {h["name"] for h in helpers})
    if missing:
        raise ValueError(f"{header} lacks helpers of this kernel: {missing}; use a newer libbpf-dev")
    prog_types, unprobed = probe_prog_types({h["id"]: h["name"] for h in helpers})
    for helper in helpers:
        helper["since"] = since(helper["id"])
        helper["prog_types"] = prog_types[helper["id"]]
    return {
        "source": f"{header.name} + probes on Linux {_release()}",
        "unprobed_prog_types": unprobed,
        "helpers": helpers,
    }


def _release() -> str:
    import os

    return os.uname().release


def _strings(values: list[str], indent: str) -> list[str]:
    """Space-separated ``values`` as adjacent string literals of at most 100 characters."""
    if len(" ".join(values)) + len(indent) + 3 <= 110:
        return [f'{indent}"{" ".join(values)}"']
    chunks: list[str] = []
    line = ""
    for value in values:
        candidate = f"{line} {value}" if line else value
        if len(candidate) > 90 and line:
            chunks.append(line + " ")
            line = value
        else:
            line = candidate
    chunks.append(line)
    return [f'{indent}"{chunk}"' for chunk in chunks]


def _row(fields: list[str]) -> list[str]:
    """One tuple of the table, on one line if it fits, else one field a line."""
    one = f"    ({', '.join(fields)}),"
    if len(one) <= 110:
        return [one]
    return ["    (", *(f"        {field}," for field in fields), "    ),"]


def render(snapshot: dict[str, Any]) -> str:
    """The text of ``_helper_table.py`` for a snapshot (ruff-format stable)."""
    sets: list[tuple[str, ...]] = []
    for h in snapshot["helpers"]:
        key = tuple(h["prog_types"])
        if key not in sets:
            sets.append(key)
    lines = [
        '"""The helper table, generated by tools/gen_helpers.py from tools/helpers/helpers.json."""',
        "",
        "# generated, do not edit",
        "",
        "# Program type sets (names of ebpf.syscall.abi.ProgType members), referred to by index below.",
        "PROG_TYPE_SETS: tuple[str, ...] = (",
    ]
    for key in sets:
        if not key:
            lines.append('    "",')
            continue
        literals = _strings(list(key), "    ")
        if len(literals) == 1:
            lines.append(literals[0] + ",")
        else:
            lines.append("    (")
            lines.extend("    " + literal for literal in literals)
            lines.append("    ),")
    lines += [
        ")",
        "",
        "# (id, name, return type, arguments as in C, first release, index into PROG_TYPE_SETS)",
        "HELPERS: tuple[tuple[int, str, str, str, str, int], ...] = (",
    ]
    for h in snapshot["helpers"]:
        args = ", ".join(
            t if t == "..." else f"{t}{n}" if t.endswith("*") else f"{t} {n}" for t, n in h["args"]
        )
        fields = [
            str(h["id"]),
            f'"{h["name"]}"',
            f'"{h["returns"]}"',
            f'"{args}"',
            f'"{h["since"]}"',
            str(sets.index(tuple(h["prog_types"]))),
        ]
        lines.extend(_row(fields))
    lines += [
        ")",
        "",
        "# Program types whose helpers the table does not know, and why.",
        "UNPROBED_PROG_TYPES = {",
    ]
    for name, why in snapshot["unprobed_prog_types"].items():
        lines.append(f'    "{name}": "{why}",')
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    ext = sub.add_parser("extract", help="write tools/helpers/helpers.json from this machine (root)")
    ext.add_argument("--header", type=Path, default=HEADER)
    sub.add_parser("render", help="write _helper_table.py from the JSON snapshot")
    sub.add_parser("check", help="fail if _helper_table.py is not what render would write")
    args = parser.parse_args(argv)
    if args.cmd == "extract":
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(json.dumps(extract(args.header), indent=1) + "\n")
        return 0
    text = render(json.loads(SNAPSHOT.read_text()))
    if args.cmd == "render":
        OUTPUT.write_text(text)
        return 0
    if OUTPUT.read_text() != text:
        print(f"{OUTPUT} is stale: run `python tools/gen_helpers.py render`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
