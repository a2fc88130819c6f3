"""``NetlinkLink``: what the links made through netlink (XDP before 5.9, TC filters) have in common."""

from __future__ import annotations

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
    ``_program_id``.
    """

    #: The attach type ``info()`` reports, where the mechanism has one.
    _attach_type: ClassVar[AttachType | None] = None
    _finalizer: weakref.finalize[Any, Any]
    _program_id: int

    @property
    def mechanism(self) -> str:
        return "netlink"

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def close(self) -> None:
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
