"""The ``ebpf`` command: inspect and change what is loaded in the kernel, without bpftool.

::

    ebpf check                       what this machine offers (kernel, mounts, capabilities, features)
    ebpf features [--missing]        the feature table alone
    ebpf prog list|show|dump         loaded programs; dump xlated (eBPF) or jited (machine code)
    ebpf map list|show|dump          maps; values decoded with BTF when the map has it
    ebpf map lookup|update|delete    one element (--key/--value: an integer or bytes)
    ebpf link list|show              bpf_links
    ebpf btf list|dump               BTF objects; dump a file or object as bpftool's raw or C format
    ebpf elf inspect|disasm FILE     a BPF object file's programs, maps and variables; its instructions
    ebpf asm disasm|helpers          disassemble instructions; list helpers
    ebpf catalogue list|show         the example programs of ebpf.core.catalogue
    ebpf demo                        a live demo: syscalls per process and execve events

Objects are named by id, by the bpffs path they are pinned at, or by name.
Every listing has ``--json``. Errors are one line on stderr and exit
status 1 (2 for bad usage); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from ebpf.btf import TypeGraph
    from ebpf.elf import CollectionSpec
    from ebpf.maps import BtfCodec, Map
    from ebpf.syscall.fd import FD
    from ebpf.syscall.objects import LinkInfo, MapInfo, ProgramInfo

__all__ = ["main"]

Handler = Callable[[argparse.Namespace], int]


class CliError(Exception):
    """A problem with what the user asked for: printed as one line, exit status 1."""


# ----------------------------------------------------------------------------- output


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns aligned to their widest cell; numbers are right-aligned."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    numeric = [all(r[i].isdigit() for r in cells) and bool(cells) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), *(line(r) for r in cells)])


def _print_json(data: object) -> None:
    json.dump(data, sys.stdout, indent=2, default=str)
    print()


def _type_name(value: object) -> str:
    name = getattr(value, "name", None)
    return name.lower() if isinstance(name, str) else str(value)


# ----------------------------------------------------------------------------- objects


#: What each kind of object is called in messages.
_NOUNS = {"prog": "program", "map": "map", "link": "link", "btf": "BTF object"}


def _open_pinned(path: str) -> FD:
    """The descriptor of the object pinned at ``path``.

    Raises:
        CliError: ``path`` is not on a BPF filesystem, is a directory, or
            nothing is pinned there.
        BpfSyscallError: the kernel refused otherwise (privileges).
    """
    import errno
    from pathlib import Path

    from ebpf.syscall import BpfSyscallError, commands, system

    real = Path(os.path.realpath(path))
    if not any(real == mount or mount in real.parents for mount in system.find_mounts("bpf")):
        raise CliError(
            f"{path} is not on a BPF filesystem: objects are pinned under bpffs (usually /sys/fs/bpf)"
        )
    if real.is_dir():
        raise CliError(f"{path} is a directory of bpffs, not a pinned object (ls {path} lists them)")
    try:
        return commands.obj_get(path)
    except BpfSyscallError as exc:
        if exc.errno == errno.ENOENT:
            raise CliError(f"nothing is pinned at {path}") from None
        raise


def _open_by_id(kind: str, object_id: int) -> FD:
    """The descriptor of the ``kind`` object (``prog``, ``map``, ``link``, ``btf``) with id ``object_id``.

    Raises:
        CliError: no such object is loaded.
        BpfSyscallError: the kernel refused otherwise (privileges).
    """
    import errno

    from ebpf.syscall import BpfSyscallError, commands

    opener: dict[str, Callable[[int], FD]] = {
        "prog": commands.prog_get_fd_by_id,
        "map": commands.map_get_fd_by_id,
        "link": commands.link_get_fd_by_id,
        "btf": commands.btf_get_fd_by_id,
    }
    try:
        return opener[kind](object_id)
    except BpfSyscallError as exc:
        if exc.errno == errno.ENOENT:
            raise CliError(
                f"no {_NOUNS[kind]} with id {object_id} is loaded (`ebpf {kind} list` shows those that are)"
            ) from None
        raise


def _pinned_id(kind: str, path: str) -> int:
    """The id of the ``kind`` object pinned at ``path``.

    Raises:
        CliError: nothing (or another kind of object) is pinned there.
    """
    from ebpf.syscall import objects

    with _open_pinned(path) as fd:
        found = objects.object_kind(fd)
        if found != _NOUNS[kind]:
            raise CliError(f"{path} is a pinned {found or 'object of unknown kind'}, not a {_NOUNS[kind]}")
        info: ProgramInfo | MapInfo | LinkInfo = (
            objects.get_program_info(fd)
            if kind == "prog"
            else objects.get_map_info(fd)
            if kind == "map"
            else objects.get_link_info(fd)
        )
        return info.id


def _resolve_id(kind: str, ref: str, listing: Callable[[], Sequence[Any]]) -> int:
    """An object id from ``ref``: an id, a pinned path, or a unique name."""
    if ref.isdigit():
        return int(ref)
    if "/" in ref:
        return _pinned_id(kind, ref)
    matches = [info.id for info in listing() if info.name == ref]
    if not matches:
        raise CliError(f"no {_NOUNS[kind]} named {ref!r} (give an id, a pinned path or a name)")
    if len(matches) > 1:
        raise CliError(
            f"{len(matches)} {kind}s are named {ref!r} (ids {', '.join(map(str, matches))}): give an id"
        )
    return int(matches[0])


def _program_info(ref: str) -> ProgramInfo:
    from ebpf.syscall import objects

    with _open_by_id("prog", _resolve_id("prog", ref, objects.list_programs)) as fd:
        return objects.get_program_info(fd)


def _map_info(ref: str) -> MapInfo:
    from ebpf.syscall import objects

    with _open_by_id("map", _resolve_id("map", ref, objects.list_maps)) as fd:
        return objects.get_map_info(fd)


def _kernel_btf(btf_id: int) -> TypeGraph:
    """The BTF object with id ``btf_id``.

    Raises:
        CliError: no such BTF object is loaded.
    """
    from ebpf.btf import load_kernel_object

    with _open_by_id("btf", btf_id):  # says which id is missing, in words
        pass
    return load_kernel_object(btf_id)


def _prog_row(info: ProgramInfo) -> dict[str, object]:
    return {
        "id": info.id,
        "type": _type_name(info.type),
        "name": info.name,
        "tag": info.tag,
        "gpl_compatible": info.gpl_compatible,
        "map_ids": list(info.map_ids),
        "btf_id": info.btf_id,
        "xlated_size": info.xlated_size,
        "jited_size": info.jited_size,
        "verified_insns": info.verified_insns,
        "run_count": info.run_count,
        "run_time_ns": info.run_time_ns,
        "created_by_uid": info.created_by_uid,
    }


def _map_row(info: MapInfo) -> dict[str, object]:
    return {
        "id": info.id,
        "type": _type_name(info.type),
        "name": info.name,
        "key_size": info.key_size,
        "value_size": info.value_size,
        "max_entries": info.max_entries,
        "flags": info.flags,
        "btf_id": info.btf_id,
    }


def _link_row(info: LinkInfo) -> dict[str, object]:
    return {"id": info.id, "type": _type_name(info.type), "prog_id": info.prog_id}


# ----------------------------------------------------------------------------- commands


def _cmd_check(args: argparse.Namespace) -> int:
    from ebpf.syscall.__main__ import collect, render

    report = collect()
    if args.json:
        _print_json(report)
    else:
        render(report, sys.stdout)
    return 0


def _cmd_features(args: argparse.Namespace) -> int:
    from ebpf.syscall.__main__ import collect

    rows = collect()["features"]
    assert isinstance(rows, list)
    if args.missing:
        rows = [row for row in rows if row["status"] != "yes"]
    if args.json:
        _print_json(rows)
        return 0
    table = [(r["name"], r["since"], r["status"], r["detail"]) for r in rows]
    print(_table(("FEATURE", "SINCE", "SUPPORTED", "DETAIL"), table))
    return 0


def _cmd_prog_list(args: argparse.Namespace) -> int:
    from ebpf.syscall import objects

    infos = objects.list_programs()
    if args.json:
        _print_json([_prog_row(info) for info in infos])
        return 0
    table = [
        (i.id, _type_name(i.type), i.name or "-", i.tag, ",".join(map(str, i.map_ids)) or "-") for i in infos
    ]
    print(_table(("ID", "TYPE", "NAME", "TAG", "MAPS"), table))
    return 0


def _show(row: dict[str, object], json_out: bool) -> int:
    if json_out:
        _print_json(row)
    else:
        width = max(map(len, row))
        for key, value in row.items():
            shown = ",".join(map(str, value)) if isinstance(value, list) else value
            print(f"{key:<{width}}  {shown}")
    return 0


def _cmd_prog_show(args: argparse.Namespace) -> int:
    return _show(_prog_row(_program_info(args.prog)), args.json)


def _native_listing(code: bytes) -> str:
    """Machine code as GNU objdump disassembles it, or hex lines when objdump is missing."""
    import platform

    objdump = shutil.which("objdump")
    arch = {"x86_64": "i386:x86-64", "aarch64": "aarch64"}.get(platform.machine())
    if objdump and arch:
        with tempfile.NamedTemporaryFile(suffix=".bin") as tmp:
            tmp.write(code)
            tmp.flush()
            out = subprocess.run(
                [objdump, "-D", "-b", "binary", "-m", arch, tmp.name],
                capture_output=True,
                text=True,
                check=False,
            )
        if out.returncode == 0:
            lines = out.stdout.splitlines()
            start = next((i for i, ln in enumerate(lines) if ln.endswith(">:")), -1)
            return "\n".join(lines[start + 1 :]).strip("\n")
    return "\n".join(f"{off:8x}:  {code[off : off + 16].hex(' ')}" for off in range(0, len(code), 16))


def _xlated_listing(code: bytes) -> str:
    """The verifier's form, with map references as bpftool shows them (``r1 = map[id:42]``).

    In translated instructions the kernel replaces each map pointer of an
    ``ld_imm64`` by the map's id, and keeps the pseudo source register that
    says whether it is the map (``BPF_PSEUDO_MAP_FD``) or an address in its
    value (``BPF_PSEUDO_MAP_VALUE``, offset in the upper half).
    """
    from ebpf.asm import LDDW, PseudoLoad, decode, format_verifier

    lines = []
    slot = 0
    for insn in decode(code):
        text = format_verifier(insn)
        if insn.opcode == LDDW and insn.src in (PseudoLoad.MAP_FD, PseudoLoad.MAP_VALUE):
            map_id, offset = insn.imm & 0xFFFFFFFF, (insn.imm >> 32) & 0xFFFFFFFF
            where = f"map[id:{map_id}]" if insn.src == PseudoLoad.MAP_FD else f"map[id:{map_id}][0]+{offset}"
            text = f"({insn.opcode:02x}) r{insn.dst} = {where}"
        lines.append(f"{slot}: {text}")
        slot += 2 if insn.opcode == LDDW else 1
    return "\n".join(lines)


def _cmd_prog_dump(args: argparse.Namespace) -> int:
    from ebpf.asm import disassemble
    from ebpf.syscall import objects

    info = _program_info(args.prog)
    with _open_by_id("prog", info.id) as fd:
        code = objects.program_xlated_insns(fd) if args.what == "xlated" else objects.program_jited_insns(fd)
    if not code:
        reason = "the kernel hides them (kptr_restrict)" if args.what == "xlated" else "the JIT is off"
        raise CliError(f"program {info.id} has no {args.what} instructions to show: {reason}")
    if args.what == "jited":
        if args.json:
            _print_json({"id": info.id, "jited": code.hex()})
        else:
            print(_native_listing(code))
        return 0
    text = _xlated_listing(code) if args.style == "verifier" else disassemble(code)
    if args.json:
        _print_json({"id": info.id, "insns": text.splitlines()})
    else:
        print(text)
    return 0


def _cmd_map_list(args: argparse.Namespace) -> int:
    from ebpf.syscall import objects

    rows = [_map_row(info) for info in objects.list_maps()]
    if args.json:
        _print_json(rows)
        return 0
    table = [
        (
            r["id"],
            r["type"],
            r["name"] or "-",
            r["key_size"],
            r["value_size"],
            r["max_entries"],
            r["btf_id"] or "-",
        )
        for r in rows
    ]
    print(_table(("ID", "TYPE", "NAME", "KEY", "VALUE", "MAX_ENTRIES", "BTF"), table))
    return 0


def _cmd_map_show(args: argparse.Namespace) -> int:
    return _show(_map_row(_map_info(args.map)), args.json)


class _Decoder:
    """Shows a map's raw keys and values: decoded with the map's BTF when it has some, else as hex."""

    def __init__(self, info: MapInfo) -> None:
        from ebpf.maps import BtfCodec

        self.info = info
        self.key_codec: BtfCodec | None = None
        self.value_codec: BtfCodec | None = None
        if info.btf_id and (info.btf_key_type_id or info.btf_value_type_id):
            graph = _kernel_btf(info.btf_id)
            if info.btf_key_type_id:
                self.key_codec = BtfCodec(graph, info.btf_key_type_id)
            if info.btf_value_type_id:
                self.value_codec = BtfCodec(graph, info.btf_value_type_id)

    @staticmethod
    def _decode(codec: BtfCodec | None, raw: bytes) -> object:
        return raw.hex(" ") if codec is None else codec.decode(raw)

    def key(self, raw: bytes) -> object:
        return self._decode(self.key_codec, raw)

    def value(self, raw: bytes | list[bytes]) -> object:
        if isinstance(raw, list):  # per-CPU
            return [self._decode(self.value_codec, v) for v in raw]
        return self._decode(self.value_codec, raw)


def _open_raw(info: MapInfo) -> Map:
    """The map with raw-bytes codecs for keys and values."""
    from ebpf.maps import BytesCodec, KeyValueMap, Map

    key = BytesCodec(info.key_size) if info.key_size else None
    value = BytesCodec(info.value_size) if info.value_size else None
    opened = Map.from_id(info.id, key=key, value=value)
    if not isinstance(opened, KeyValueMap):
        opened.close()
        raise CliError(
            f"map {_map_label(info)} is a {_type_name(info.type)} map: "
            "it has no keys to list, look up or change"
        )
    return opened


def _cmd_map_dump(args: argparse.Namespace) -> int:
    from ebpf.maps import KeyValueMap

    info = _map_info(args.map)
    decoder = _Decoder(info)
    with _open_raw(info) as m:
        assert isinstance(m, KeyValueMap)
        entries = [{"key": decoder.key(k), "value": decoder.value(v)} for k, v in m.iter_items()]
    if args.json:
        _print_json(entries)
        return 0
    for entry in entries:
        print(f"key: {_fmt(entry['key'])}  value: {_fmt(entry['value'])}")
    print(f"Found {len(entries)} element{'s' if len(entries) != 1 else ''}")
    return 0


def _fmt(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _parse_bytes(tokens: Sequence[str], size: int, what: str) -> bytes:
    """``--key 5`` (an integer of the key's size, little-endian), or one token per byte (``1 0 0 0``)."""
    try:
        if len(tokens) == 1 and not tokens[0].startswith("hex:"):
            number = int(tokens[0], 0)
            signed = number < 0
            return number.to_bytes(size, "little", signed=signed)
        data = bytes.fromhex(tokens[0][4:]) if len(tokens) == 1 else bytes(int(t, 0) for t in tokens)
    except (ValueError, OverflowError) as exc:
        raise CliError(
            f"bad {what} {' '.join(tokens)!r} ({exc}): give an integer, hex:<digits>, or {size} byte values"
        ) from None
    if len(data) != size:
        raise CliError(f"the {what} is {size} bytes, got {len(data)}: {' '.join(tokens)}")
    return data


def _key_text(tokens: Sequence[str], key: bytes) -> str:
    """How a message names a key: as the user typed it, and its bytes when that differs."""
    typed = " ".join(tokens)
    return typed if typed == f"hex:{key.hex()}" else f"{typed} ({key.hex(' ')})"


def _cmd_map_lookup(args: argparse.Namespace) -> int:
    from ebpf.maps import KeyValueMap
    from ebpf.syscall import KeyNotFoundError

    info = _map_info(args.map)
    decoder = _Decoder(info)
    with _open_raw(info) as m:
        assert isinstance(m, KeyValueMap)
        key = _parse_bytes(args.key, info.key_size, "key")
        try:
            value = m.lookup(key)
        except KeyNotFoundError:
            raise CliError(f"key {_key_text(args.key, key)} is not in map {_map_label(info)}") from None
    entry = {"key": decoder.key(key), "value": decoder.value(value)}
    if args.json:
        _print_json(entry)
    else:
        print(f"key: {_fmt(entry['key'])}  value: {_fmt(entry['value'])}")
    return 0


def _cmd_map_update(args: argparse.Namespace) -> int:
    from ebpf.maps import KeyValueMap

    info = _map_info(args.map)
    with _open_raw(info) as m:
        assert isinstance(m, KeyValueMap)
        key = _parse_bytes(args.key, info.key_size, "key")
        value = _parse_bytes(args.value, info.value_size, "value")
        m.update(key, value)
    return 0


def _cmd_map_delete(args: argparse.Namespace) -> int:
    from ebpf.maps import KeyValueMap
    from ebpf.syscall import KeyNotFoundError

    info = _map_info(args.map)
    with _open_raw(info) as m:
        assert isinstance(m, KeyValueMap)
        key = _parse_bytes(args.key, info.key_size, "key")
        try:
            m.delete(key)
        except KeyNotFoundError:
            raise CliError(f"key {_key_text(args.key, key)} is not in map {_map_label(info)}") from None
    return 0


def _map_label(info: MapInfo) -> str:
    return f"{info.id} ({info.name})" if info.name else str(info.id)


def _cmd_link_list(args: argparse.Namespace) -> int:
    from ebpf.syscall import objects

    rows = [_link_row(info) for info in objects.list_links()]
    if args.json:
        _print_json(rows)
    else:
        print(_table(("ID", "TYPE", "PROG"), [(r["id"], r["type"], r["prog_id"]) for r in rows]))
    return 0


def _cmd_link_show(args: argparse.Namespace) -> int:
    from ebpf.syscall import objects

    link_id = int(args.link) if args.link.isdigit() else _pinned_id("link", args.link)
    with _open_by_id("link", link_id) as fd:
        return _show(_link_row(objects.get_link_info(fd)), args.json)


def _cmd_btf_list(args: argparse.Namespace) -> int:
    from ebpf.syscall import objects

    rows = [
        {"id": b.id, "name": b.name, "size": b.size, "kernel_btf": b.kernel_btf} for b in objects.list_btfs()
    ]
    if args.json:
        _print_json(rows)
    else:
        table = [(r["id"], r["name"] or "-", r["size"], "kernel" if r["kernel_btf"] else "-") for r in rows]
        print(_table(("ID", "NAME", "SIZE", "KIND"), table))
    return 0


def _cmd_btf_dump(args: argparse.Namespace) -> int:
    from ebpf.btf import KERNEL_BTF_DIR, dump_c, dump_raw, load_file, load_vmlinux

    if args.id is not None:
        if args.file is not None:
            raise CliError("give a FILE or --id, not both")
        graph = _kernel_btf(args.id)
    elif args.file is None and not args.base:
        if not (KERNEL_BTF_DIR / "vmlinux").exists():
            raise CliError(f"{KERNEL_BTF_DIR / 'vmlinux'}: no such file")
        graph = load_vmlinux()  # the process-wide view of the kernel's types
    else:
        path = args.file or str(KERNEL_BTF_DIR / "vmlinux")
        if not os.path.exists(path):
            raise CliError(f"{path}: no such file")
        base = load_file(args.base) if args.base else None
        graph = load_file(path, base)
    sys.stdout.write(dump_c(graph) if args.format == "c" else dump_raw(graph))
    return 0


def _read_code(source: str) -> bytes:
    if source.startswith("hex:"):
        try:
            return bytes.fromhex(source[4:])
        except ValueError as exc:
            raise CliError(f"{source!r} is not hexadecimal ({exc})") from None
    if source == "-":
        return sys.stdin.buffer.read()
    with open(source, "rb") as f:
        return f.read()


def _cmd_asm_disasm(args: argparse.Namespace) -> int:
    from ebpf.asm import disassemble

    code = _read_code(args.source)
    text = disassemble(code, style=args.style, show_bytes=not args.no_bytes)
    if args.json:
        _print_json(text.splitlines())
    else:
        print(text)
    return 0


def _cmd_asm_helpers(args: argparse.Namespace) -> int:
    from ebpf.asm import available_helpers, helpers

    found = available_helpers(args.prog_type, args.kernel) if args.prog_type else helpers()
    if args.kernel and not args.prog_type:
        raise CliError("--kernel needs --prog-type (which helpers a program type may call on that kernel)")
    rows = [{"id": h.id, "name": h.name, "since": h.since, "signature": str(h)} for h in found]
    if args.json:
        _print_json(rows)
    else:
        print(_table(("ID", "NAME", "SINCE", "SIGNATURE"), [tuple(r.values()) for r in rows]))
    return 0


def _cmd_catalogue_list(args: argparse.Namespace) -> int:
    from .catalogue import EXAMPLES

    rows = [{"name": e.name, "section": e.section, "summary": e.summary} for e in EXAMPLES.values()]
    if args.json:
        _print_json(rows)
    else:
        print(_table(("NAME", "SECTION", "SUMMARY"), [tuple(r.values()) for r in rows]))
    return 0


def _cmd_catalogue_show(args: argparse.Namespace) -> int:
    from .catalogue import example

    try:
        ex = example(args.name)
    except KeyError as exc:
        raise CliError(str(exc.args[0])) from None
    listing = ex.disassemble()
    if args.json:
        _print_json(
            {
                "name": ex.name,
                "section": ex.section,
                "summary": ex.summary,
                "behaviour": ex.behaviour,
                "maps": {name: repr(spec) for name, spec in ex.maps.items()},
                "insns": listing.splitlines(),
            }
        )
        return 0
    print(f"{ex.name} ({ex.section}): {ex.summary}")
    print(f"behaviour: {ex.behaviour}")
    for name, spec in ex.maps.items():
        sizes = f"key {spec.key_size} B, value {spec.value_size} B, {spec.max_entries} entries"
        print(f"map {name}: {_type_name(spec.type)}, {sizes}")
    print(listing)
    return 0


def _object(path: str) -> CollectionSpec:
    from ebpf.elf import CollectionSpec

    if not os.path.exists(path):
        raise CliError(f"{path}: no such file")
    return CollectionSpec.from_file(path)


def _cmd_elf_inspect(args: argparse.Namespace) -> int:
    from ebpf.elf import inspect

    spec = _object(args.file)
    if not args.json:
        print(inspect(spec))
        return 0
    programs = {
        name: {
            "type": _type_name(p.type),
            "section": spec.sections.get(name, ""),
            "attach_to": p.attach_to,
            "insns": p.instruction_count,
        }
        for name, p in spec.programs.items()
    }
    maps = {
        name: {
            "type": _type_name(m.type),
            "key_size": m.key_size,
            "value_size": m.value_size,
            "max_entries": m.max_entries,
        }
        for name, m in spec.maps.items()
    }
    _print_json({"programs": programs, "maps": maps, "variables": sorted(spec.variables)})
    return 0


def _cmd_elf_disasm(args: argparse.Namespace) -> int:
    from ebpf.asm import disassemble

    spec = _object(args.file)
    names = sorted(spec.programs)
    if args.program is not None:
        if args.program not in spec.programs:
            raise CliError(f"{args.file} has no program {args.program!r} (programs: {', '.join(names)})")
        names = [args.program]
    listings = {name: disassemble(spec.programs[name].instructions, style=args.style) for name in names}
    if args.json:
        _print_json({name: text.splitlines() for name, text in listings.items()})
        return 0
    for name, text in listings.items():
        print(f"{name} (section {spec.sections.get(name, '?')}):")
        print(text)
        print()
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo

    return run_demo(seconds=args.seconds, top=args.top, out=sys.stdout)


# ----------------------------------------------------------------------------- parser


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _VersionAction(argparse.Action):
    """``--version``: the installed version, read only when asked (``importlib.metadata`` is slow)."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> NoReturn:
        from importlib.metadata import PackageNotFoundError

        try:
            from ._version import __version__
        except PackageNotFoundError:
            __version__ = "(version unknown: ebpf-core is not installed; running from a source tree)"
        print(f"ebpf {__version__}")
        parser.exit(0)


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks of errors"
    )
    return common


def _build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``ebpf``."""
    common = _common()
    parser = _Parser(
        prog="ebpf",
        description="Inspect and drive eBPF on this machine (a pure-Python bpftool).",
        parents=[common],
        epilog="Objects are named by id, pinned path or name. Run as root (or with CAP_BPF/CAP_SYS_ADMIN).",
    )
    parser.add_argument("--version", action=_VersionAction, help="print the version of ebpf and exit")
    groups = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)

    def leaf(sub: Any, name: str, handler: Handler, help_: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(name, parents=[common], help=help_, description=help_)
        p.set_defaults(handler=handler)
        return p

    def group(name: str, help_: str) -> Any:
        p = groups.add_parser(name, help=help_, description=help_)
        return p.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=_Parser)

    leaf(groups, "check", _cmd_check, "report the kernel, mounts, capabilities and features")
    features = leaf(groups, "features", _cmd_features, "list the feature probes and their answers")
    features.add_argument("--missing", action="store_true", help="only features that are not supported")

    prog = group("prog", "loaded programs")
    leaf(prog, "list", _cmd_prog_list, "list loaded programs")
    leaf(prog, "show", _cmd_prog_show, "show one program").add_argument(
        "prog", help="id, pinned path or name"
    )
    dump = leaf(prog, "dump", _cmd_prog_dump, "print a program's instructions")
    dump.add_argument(
        "what", choices=("xlated", "jited"), help="eBPF as verified, or JIT-compiled machine code"
    )
    dump.add_argument("prog", help="id, pinned path or name")
    dump.add_argument(
        "--style", choices=("verifier", "llvm"), default="verifier", help="xlated listing style"
    )

    maps = group("map", "maps")
    leaf(maps, "list", _cmd_map_list, "list maps")
    leaf(maps, "show", _cmd_map_show, "show one map").add_argument("map", help="id, pinned path or name")
    leaf(maps, "dump", _cmd_map_dump, "print every element").add_argument(
        "map", help="id, pinned path or name"
    )
    for name, handler, what in (
        ("lookup", _cmd_map_lookup, "print one element"),
        ("update", _cmd_map_update, "set one element"),
        ("delete", _cmd_map_delete, "remove one element"),
    ):
        p = leaf(maps, name, handler, what)
        p.add_argument("map", help="id, pinned path or name")
        p.add_argument(
            "--key", nargs="+", required=True, help="an integer, hex:<digits>, or one value per byte"
        )
        if name == "update":
            p.add_argument("--value", nargs="+", required=True, help="as --key")

    links = group("link", "bpf_links")
    leaf(links, "list", _cmd_link_list, "list links")
    leaf(links, "show", _cmd_link_show, "show one link").add_argument("link", help="id or pinned path")

    btf = group("btf", "BTF type information")
    leaf(btf, "list", _cmd_btf_list, "list BTF objects loaded in the kernel")
    btf_dump = leaf(btf, "dump", _cmd_btf_dump, "print BTF as bpftool's raw format or as C")
    btf_dump.add_argument(
        "file", nargs="?", help="raw BTF or an ELF with .BTF (default: the kernel's vmlinux)"
    )
    btf_dump.add_argument("--id", type=int, help="a BTF object loaded in the kernel, by id")
    btf_dump.add_argument("--base", help="the base BTF of split BTF (a module's: /sys/kernel/btf/vmlinux)")
    btf_dump.add_argument("--format", choices=("raw", "c"), default="raw")

    asm = group("asm", "eBPF instructions and helpers")
    disasm = leaf(asm, "disasm", _cmd_asm_disasm, "disassemble raw eBPF instructions")
    disasm.add_argument("source", help="a file of instructions, '-' for stdin, or hex:<digits>")
    disasm.add_argument("--style", choices=("llvm", "verifier"), default="llvm")
    disasm.add_argument("--no-bytes", action="store_true", help="leave out the hex column")
    helpers = leaf(asm, "helpers", _cmd_asm_helpers, "list kernel helpers")
    helpers.add_argument("--prog-type", help="only those this program type may call (xdp, kprobe...)")
    helpers.add_argument("--kernel", help="on this kernel release (with --prog-type)")

    catalogue = group("catalogue", "the example programs of ebpf.core.catalogue")
    leaf(catalogue, "list", _cmd_catalogue_list, "list the examples")
    leaf(catalogue, "show", _cmd_catalogue_show, "describe and disassemble one example").add_argument("name")

    demo = leaf(groups, "demo", _cmd_demo, "live demo: count syscalls per process and log execve calls")
    demo.add_argument("--seconds", type=float, default=2.0, help="how long to trace (default 2)")
    demo.add_argument("--top", type=int, default=10, help="how many processes to show")
    elf = group("elf", "BPF object files (clang -O2 -g -target bpf)")
    leaf(elf, "inspect", _cmd_elf_inspect, "list the programs, maps and variables").add_argument("file")
    elf_disasm = leaf(elf, "disasm", _cmd_elf_disasm, "disassemble the programs as linked for loading")
    elf_disasm.add_argument("file")
    elf_disasm.add_argument("--program", help="only this program (its function name)")
    elf_disasm.add_argument("--style", choices=("llvm", "verifier"), default="llvm")
    return parser


def _one_line(exc: BaseException) -> str:
    from ebpf.syscall import EbpfError

    # str() of a plain KeyError is the repr of its key; the library's own (KeyNotFoundError) say more.
    plain_key_error = isinstance(exc, KeyError) and not isinstance(exc, EbpfError) and exc.args
    text = str(exc.args[0]) if plain_key_error else str(exc)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return "; ".join(lines[:3]) + (" ..." if len(lines) > 3 else "") if lines else type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ebpf`` command; returns the exit status."""
    args = _build_parser().parse_args(argv)
    args.json = getattr(args, "json", False)
    debug = getattr(args, "debug", False)
    from ebpf.syscall import EbpfError

    try:
        handler: Handler = args.handler
        return handler(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``ebpf map dump 5 | head``): not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except (CliError, EbpfError, OSError, ValueError, TypeError, KeyError) as exc:
        if debug:
            raise
        print(f"ebpf: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:
        if debug:
            raise
        what = f"{type(exc).__name__}: {_one_line(exc)}"
        print(f"ebpf: internal error: {what} (run with --debug for the traceback)", file=sys.stderr)
        return 70
