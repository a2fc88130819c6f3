"""ebpf.asm: write, assemble and disassemble eBPF instructions in Python.

An instruction model, an assembler DSL with labels, a disassembler and the helper registry.

This distribution is a documented shell for now: its API arrives with its
issue. See ``packages/ebpf-asm/README.md``.
"""

__all__: list[str] = []
