"""ebpf.progs: load eBPF programs, attach them everywhere, hold attachments as links.

`ProgramSpec` and `Program`, verifier logs, `Link`s and every attach method that is not netlink, test runs.

This distribution is a documented shell for now: its API arrives with its
issue. See ``packages/ebpf-progs/README.md``.
"""

__all__: list[str] = []
