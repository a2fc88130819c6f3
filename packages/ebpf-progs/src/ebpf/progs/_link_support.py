"""Which attachment mechanism the running kernel offers: bpf_link or the legacy one."""

from __future__ import annotations

from ebpf.syscall import LinkType, features

__all__ = ["has_link_type", "require_link_type"]


def has_link_type(link_type: LinkType) -> bool:
    """Whether the kernel creates bpf_links of ``link_type`` (a cached feature probe).

    Raises:
        EbpfError: the probe could not tell (see ``ebpf.syscall.features``).
    """
    return features.link_type_supported(link_type)


def require_link_type(link_type: LinkType) -> None:
    """Return if the kernel has bpf_links of ``link_type``.

    Raises:
        NotSupportedError: it does not; the message names the first kernel version.
    """
    features.link_type_feature(link_type).require()
