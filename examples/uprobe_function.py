"""Count the calls of a function in a user-space program with a uprobe.

Shows: compiling a small C program (``examples/uprobe_target.c``), a uprobe
program written with the DSL that counts calls into an array map, and
attaching it by symbol name with ``bpf.attach_uprobe_symbol`` (the file
offset comes from the ELF symbol table through ``ebpf.elf``). The binary is
built in a private directory, so only its own calls are counted.

Run (as root): ``python examples/uprobe_function.py --calls 7``
(needs a C compiler: ``cc`` or ``clang``)
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

import ebpf.core as bpf
from ebpf.asm import R0, R1, R2, R10, Item, W, add, atomic_add, call, exit_, jeq, label, ld_map_fd, mov, store

SOURCE = Path(__file__).with_name("uprobe_target.c")
FUNCTION = "ebpf_example_add"

# calls[0] += 1
PROGRAM: list[Item] = [
    store(R10, -4, 0, W),
    ld_map_fd(R1, "calls"),
    mov(R2, R10),
    add(R2, -4),
    call("map_lookup_elem"),
    jeq(R0, 0, "out"),
    mov(R1, 1),
    atomic_add(R0, 0, R1),
    label("out"),
    mov(R0, 0),
    exit_(),
]


def compile_target(directory: Path) -> Path:
    """Build uprobe_target.c with the system's C compiler."""
    compiler = shutil.which("cc") or shutil.which("clang")
    if compiler is None:
        raise SystemExit("needs a C compiler (cc or clang)")
    binary = directory / "uprobe_target"
    subprocess.run([compiler, "-O1", "-o", str(binary), str(SOURCE)], check=True)
    return binary


def main() -> None:
    """Compile the target, attach to its function, run it, print the count."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5, help="how many times the target calls the function")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, bpf.array_map("u64", 1, name="calls") as calls:
        binary = compile_target(Path(tmp))
        prog = bpf.load_program(PROGRAM, "uprobe", maps={"calls": calls}, name="count_calls")
        with prog, bpf.attach_uprobe_symbol(prog, binary, FUNCTION):
            out = subprocess.run([str(binary), str(args.calls)], capture_output=True, text=True, check=True)
        count = calls[0]
        print(f"{binary.name} printed {out.stdout.strip()}; {FUNCTION} was called {count} times")


if __name__ == "__main__":
    main()
