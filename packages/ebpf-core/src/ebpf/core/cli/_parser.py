"""The argument parser of ``ebpf``: every noun's actions, their arguments and handlers."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence
from typing import Any, NoReturn

from ._output import Handler

__all__ = ["build_parser"]


def _lazy(module: str, *names: str) -> tuple[Handler, ...]:
    """Handlers ``names`` of ``module`` (``"._maps"``), imported when one of them runs.

    So ``ebpf tool NAME`` does not pay for importing every other command's
    module (and the packages they import) before its tool starts.
    """

    def handler(name: str) -> Handler:
        def run(args: argparse.Namespace) -> int:
            command: Handler = getattr(importlib.import_module(module, __package__), name)
            return command(args)

        run.__name__ = run.__qualname__ = name
        return run

    return tuple(handler(name) for name in names)


cmd_asm_disasm, cmd_asm_helpers = _lazy("._asm", "cmd_asm_disasm", "cmd_asm_helpers")
cmd_btf_dump, cmd_btf_list = _lazy("._btf", "cmd_btf_dump", "cmd_btf_list")
cmd_catalogue_list, cmd_catalogue_show = _lazy("._catalogue", "cmd_catalogue_list", "cmd_catalogue_show")
cmd_cgroup_show, cmd_cgroup_tree = _lazy("._cgroups", "cmd_cgroup_show", "cmd_cgroup_tree")
(cmd_demo,) = _lazy("._demo", "cmd_demo")
cmd_elf_disasm, cmd_elf_inspect, cmd_elf_usdt = _lazy(
    "._elf", "cmd_elf_disasm", "cmd_elf_inspect", "cmd_elf_usdt"
)
cmd_link_detach, cmd_link_list, cmd_link_pin, cmd_link_show = _lazy(
    "._links", "cmd_link_detach", "cmd_link_list", "cmd_link_pin", "cmd_link_show"
)
cmd_map_create, cmd_map_freeze, cmd_map_pin = _lazy(
    "._map_verbs", "cmd_map_create", "cmd_map_freeze", "cmd_map_pin"
)
cmd_map_delete, cmd_map_dump, cmd_map_list, cmd_map_lookup, cmd_map_show, cmd_map_update = _lazy(
    "._maps",
    "cmd_map_delete",
    "cmd_map_dump",
    "cmd_map_list",
    "cmd_map_lookup",
    "cmd_map_show",
    "cmd_map_update",
)
(cmd_net_list,) = _lazy("._net", "cmd_net_list")
(cmd_perf_list,) = _lazy("._perf", "cmd_perf_list")
cmd_prog_attach, cmd_prog_detach = _lazy("._prog_attach", "cmd_prog_attach", "cmd_prog_detach")
cmd_prog_load, cmd_prog_loadall, cmd_prog_pin = _lazy(
    "._prog_load", "cmd_prog_load", "cmd_prog_loadall", "cmd_prog_pin"
)
cmd_prog_dump, cmd_prog_list, cmd_prog_show = _lazy(
    "._progs", "cmd_prog_dump", "cmd_prog_list", "cmd_prog_show"
)
cmd_struct_ops_dump, cmd_struct_ops_list, cmd_struct_ops_register, cmd_struct_ops_unregister = _lazy(
    "._struct_ops",
    "cmd_struct_ops_dump",
    "cmd_struct_ops_list",
    "cmd_struct_ops_register",
    "cmd_struct_ops_unregister",
)
cmd_check, cmd_features = _lazy("._system", "cmd_check", "cmd_features")
(cmd_tool,) = _lazy("._tools", "cmd_tool")

_PROG_LOAD = "OBJ PATH [type TYPE] [map name NAME MAP] [pinmaps DIR]"
_PROG_LOADALL = "OBJ DIR [type TYPE] [map name NAME MAP] [pinmaps DIR]"
_PROG_ATTACH = "PROG ATTACH_TYPE [MAP]"
_MAP_CREATE = "PATH type TYPE key N value N entries N name NAME [flags F] [inner_map MAP]"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _VersionAction(argparse.Action):
    """``--version``: the version of ebpf-core (imported only when asked)."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> NoReturn:
        from ebpf.core._version import __version__

        print(f"ebpf {__version__}")
        parser.exit(0)


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks of errors"
    )
    return common


def build_parser() -> argparse.ArgumentParser:
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

    def words(sub: Any, name: str, handler: Handler, help_: str, usage: str) -> argparse.ArgumentParser:
        """A command that takes bpftool's keyword words (``id 5``, ``type hash``...)."""
        p = leaf(sub, name, handler, help_)
        p.add_argument("words", nargs="*", metavar=usage, help="bpftool's words")
        return p

    def group(name: str, help_: str) -> Any:
        p = groups.add_parser(name, help=help_, description=help_)
        return p.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=_Parser)

    leaf(groups, "check", cmd_check, "report the kernel, mounts, capabilities and features")
    features = leaf(groups, "features", cmd_features, "list the feature probes and their answers")
    features.add_argument("--missing", action="store_true", help="only features that are not supported")

    prog = group("prog", "loaded programs")
    leaf(prog, "list", cmd_prog_list, "list loaded programs")
    leaf(prog, "show", cmd_prog_show, "show one program").add_argument("prog", help="id, pinned path or name")
    dump = leaf(prog, "dump", cmd_prog_dump, "print a program's instructions")
    dump.add_argument(
        "what", choices=("xlated", "jited"), help="eBPF as verified, or JIT-compiled machine code"
    )
    dump.add_argument("prog", help="id, pinned path or name")
    dump.add_argument(
        "--style", choices=("verifier", "llvm"), default="verifier", help="xlated listing style"
    )
    dump.add_argument(
        "--linum", action="store_true", help="with each source line, its file, line and column (BTF)"
    )
    dump.add_argument("--opcodes", action="store_true", help="with each instruction, its raw bytes")
    words(prog, "load", cmd_prog_load, "load a BPF object file, pin its first program", _PROG_LOAD)
    words(
        prog, "loadall", cmd_prog_loadall, "load a BPF object file, pin every program in DIR", _PROG_LOADALL
    )
    words(prog, "pin", cmd_prog_pin, "pin a loaded program", "PROG PATH")
    words(prog, "attach", cmd_prog_attach, "attach to a sockmap or this netns until detached", _PROG_ATTACH)
    words(prog, "detach", cmd_prog_detach, "detach what prog attach attached", _PROG_ATTACH)

    maps = group("map", "maps")
    leaf(maps, "list", cmd_map_list, "list maps")
    leaf(maps, "show", cmd_map_show, "show one map").add_argument("map", help="id, pinned path or name")
    leaf(maps, "dump", cmd_map_dump, "print every element").add_argument(
        "map", help="id, pinned path or name"
    )
    for name, handler, what in (
        ("lookup", cmd_map_lookup, "print one element"),
        ("update", cmd_map_update, "set one element"),
        ("delete", cmd_map_delete, "remove one element"),
    ):
        p = leaf(maps, name, handler, what)
        p.add_argument("map", help="id, pinned path or name (or bpftool's id N, pinned PATH, name NAME)")
        p.add_argument(
            "words",
            nargs="*",
            metavar="key DATA" + (" value DATA [any|exist|noexist]" if name == "update" else ""),
            help="bpftool's form of the key (and value): bytes, or hex followed by hex bytes",
        )
        p.add_argument("--key", nargs="+", help="an integer, hex:<digits>, or one value per byte")
        if name == "update":
            p.add_argument("--value", nargs="+", help="as --key")
    words(maps, "create", cmd_map_create, "create a map and pin it", _MAP_CREATE)
    words(maps, "pin", cmd_map_pin, "pin a map", "MAP PATH")
    words(maps, "freeze", cmd_map_freeze, "make a map read-only for user space", "MAP")

    links = group("link", "bpf_links")
    leaf(links, "list", cmd_link_list, "list links")
    leaf(links, "show", cmd_link_show, "show one link").add_argument("link", help="id or pinned path")
    words(links, "pin", cmd_link_pin, "pin a link so the attachment outlives this process", "LINK PATH")
    words(links, "detach", cmd_link_detach, "detach a link's program now, even if pinned", "LINK")

    btf = group("btf", "BTF type information")
    leaf(btf, "list", cmd_btf_list, "list BTF objects loaded in the kernel")
    btf_dump = leaf(btf, "dump", cmd_btf_dump, "print BTF as bpftool's raw format or as C")
    btf_dump.add_argument(
        "file", nargs="?", help="raw BTF or an ELF with .BTF (default: the kernel's vmlinux)"
    )
    btf_dump.add_argument("--id", type=int, help="a BTF object loaded in the kernel, by id")
    btf_dump.add_argument("--base", help="the base BTF of split BTF (a module's: /sys/kernel/btf/vmlinux)")
    btf_dump.add_argument("--format", choices=("raw", "c"), default="raw")

    net = group("net", "XDP, TC, TCX and netkit programs of the network interfaces")
    words(net, "list", cmd_net_list, "list the programs attached to each interface", "[dev IF]")
    cgroup = group("cgroup", "programs attached to cgroups")
    words(cgroup, "tree", cmd_cgroup_tree, "list the cgroups with programs attached", "[ROOT]")
    words(cgroup, "show", cmd_cgroup_show, "list the programs attached to one cgroup", "CGROUP")
    perf = group("perf", "programs attached through perf events and raw tracepoints")
    words(perf, "list", cmd_perf_list, "list them by process and descriptor", "")
    struct_ops = group("struct_ops", "registered struct_ops (tcp_congestion_ops...)")
    words(struct_ops, "list", cmd_struct_ops_list, "list struct_ops maps", "[STRUCT_OPS_MAP]")
    words(
        struct_ops, "dump", cmd_struct_ops_dump, "show struct_ops maps and their values", "[STRUCT_OPS_MAP]"
    )
    words(
        struct_ops,
        "register",
        cmd_struct_ops_register,
        "load an object, register its struct_ops",
        "OBJ [LINK_DIR]",
    )
    words(struct_ops, "unregister", cmd_struct_ops_unregister, "unregister struct_ops", "STRUCT_OPS_MAP")

    asm = group("asm", "eBPF instructions and helpers")
    disasm = leaf(asm, "disasm", cmd_asm_disasm, "disassemble raw eBPF instructions")
    disasm.add_argument("source", help="a file of instructions, '-' for stdin, or hex:<digits>")
    disasm.add_argument("--style", choices=("llvm", "verifier"), default="llvm")
    disasm.add_argument("--no-bytes", action="store_true", help="leave out the hex column")
    helpers = leaf(asm, "helpers", cmd_asm_helpers, "list kernel helpers")
    helpers.add_argument("--prog-type", help="only those this program type may call (xdp, kprobe...)")
    helpers.add_argument("--kernel", help="on this kernel release (with --prog-type)")

    catalogue = group("catalogue", "the example programs of ebpf.core.catalogue")
    leaf(catalogue, "list", cmd_catalogue_list, "list the examples")
    leaf(catalogue, "show", cmd_catalogue_show, "describe and disassemble one example").add_argument("name")

    demo = leaf(groups, "demo", cmd_demo, "live demo: count syscalls per process and log execve calls")
    demo.add_argument("--seconds", type=float, default=2.0, help="how long to trace (default 2)")
    demo.add_argument("--top", type=int, default=10, help="how many processes to show")
    elf = group("elf", "ELF files: BPF objects (clang -O2 -g -target bpf), USDT probes of binaries")
    leaf(elf, "inspect", cmd_elf_inspect, "list the programs, maps and variables").add_argument("file")
    elf_disasm = leaf(elf, "disasm", cmd_elf_disasm, "disassemble the programs as linked for loading")
    elf_disasm.add_argument("file")
    elf_disasm.add_argument("--program", help="only this program (its function name)")
    elf_disasm.add_argument("--style", choices=("llvm", "verifier"), default="llvm")
    leaf(elf, "usdt", cmd_elf_usdt, "list the USDT probes of an executable or shared library").add_argument(
        "file", help="a path, or a library name as the dynamic loader finds it (libc.so.6)"
    )
    tool = leaf(groups, "tool", cmd_tool, "run a ready tool (execsnoop...); 'ebpf tool list' lists them")
    tool.add_argument("name", help="the tool, or 'list'")
    tool.add_argument("args", nargs=argparse.REMAINDER, help="the tool's options (ebpf tool NAME --help)")
    return parser
