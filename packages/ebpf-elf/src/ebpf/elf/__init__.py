"""ebpf.elf: load clang-compiled BPF objects the way libbpf does.

ELF64 parsing, BPF object files as `CollectionSpec`, loading them as `Collection`, ELF symbol lookup.

This distribution is a documented shell for now: its API arrives with its
issue. See ``packages/ebpf-elf/README.md``.
"""

__all__: list[str] = []
