"""``NetlinkLink``: what the links made through netlink (XDP before 5.9, TC filters) have in common."""

from __future__ import annotations

import threading
import weakref
from typing import Any, ClassVar

from ebpf.progs import Link, LinkInfo
from ebpf.syscall import AttachType

__all__ = ["NetlinkLink"]


class NetlinkLink(Link):
    """An attachment made through netlink; closing it runs its detach, as garbage collection would.

    Unlike a bpf_link, the kernel keeps such an attachment when the process
    dies, and it cannot be pinned: the detach is a ``weakref.finalize`` that
    subclasses set up in ``_finalizer`` (and replace when ``update()`` puts
    another program in place), with the attached program's id in
    ``_program_id``. ``update()`` and ``close()`` take turns on ``_lock``:
    a close racing an update would otherwise run the old finalizer (which
    leaves the new program attached, since it is no longer the one it
    detaches) while the update installs a live finalizer for the new one.
    """

    #: The attach type ``info()`` reports, where the mechanism has one.
    _attach_type: ClassVar[AttachType | None] = None
    _finalizer: weakref.finalize[Any, Any]
    _program_id: int

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self._lock = threading.Lock()

    @property
    def mechanism(self) -> str:
        return "netlink"

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def close(self) -> None:
        with self._lock:
            self._finalizer()

    def info(self) -> LinkInfo:
        """The attached program's id and the target, in words.

        Raises:
            ValueError: the link is closed.
        """
        if self.closed:
            raise ValueError("the link is closed")
        return LinkInfo(
            mechanism="netlink",
            program_id=self._program_id,
            target=self.target,
            attach_type=self._attach_type,
        )
