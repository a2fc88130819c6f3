"""ebpf.core: the ebpf toolkit: one facade, the ebpf command, examples.

The facade (`import ebpf.core as bpf`) and the `ebpf` command; installing it installs every package.

This distribution is a documented shell for now: its API arrives with its
issue. See ``packages/ebpf-core/README.md``.
"""

__all__: list[str] = []
