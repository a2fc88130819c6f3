"""ebpf.btf: kernel type information (BTF) and CO-RE relocation.

BTF and BTF.ext parsing, the kernel's types, C output and the CO-RE relocation engine.

This distribution is a documented shell for now: its API arrives with its
issue. See ``packages/ebpf-btf/README.md``.
"""

__all__: list[str] = []
