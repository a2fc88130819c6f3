"""ebpf.events: ring buffer and perf buffer readers for threads and asyncio.

Ring and perf buffer readers over mmap and epoll, event decoding and consumer pipelines.

This distribution is a documented shell for now: its API arrives with its
issue. See ``packages/ebpf-events/README.md``.
"""

__all__: list[str] = []
