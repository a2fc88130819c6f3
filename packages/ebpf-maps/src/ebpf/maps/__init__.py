"""ebpf.maps: every eBPF map type with typed keys and values.

`MapSpec` and `Map` for every map type, codecs, batches, per-CPU values and pinning.

This distribution is a documented shell for now: its API arrives with its
issue. See ``packages/ebpf-maps/README.md``.
"""

__all__: list[str] = []
