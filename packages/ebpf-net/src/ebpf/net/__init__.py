"""ebpf.net: XDP and TC attachment through netlink and bpf_link.

XDP and TC attachment via pyroute2 and bpf_link (XDP links, TCX).

This distribution is a documented shell for now: its API arrives with its
issue. See ``packages/ebpf-net/README.md``.
"""

__all__: list[str] = []
