"""Waiting for a descriptor on asyncio: the reader's epoll descriptor registered with the running loop."""

from __future__ import annotations

import contextlib

__all__ = ["wait_readable"]


async def wait_readable(fd: int, timeout: float | None) -> bool:
    """Wait until ``fd`` is readable (True) or ``timeout`` seconds pass (False), without blocking the loop.

    The descriptor is registered with the loop's selector for the wait only
    and always unregistered afterwards, also when the waiting task is cancelled.
    """
    import asyncio  # here: running a loop has imported it; readers used without one need not

    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def on_readable() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, on_readable)
    try:
        if timeout is None:
            await ready
            return True
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(ready, timeout)
            return True
        return False
    finally:
        loop.remove_reader(fd)
