"""BPF cookies on uprobes: one answer for ``usdt.bpf.h``'s ``LINUX_HAS_BPF_COOKIE`` and for USDT attachment.

A program built with libbpf's ``<bpf/usdt.bpf.h>`` finds the spec of the
probe that fired through ``bpf_get_attach_cookie()`` when the
``LINUX_HAS_BPF_COOKIE`` extern is true, through the IP-to-spec-id map
otherwise; [`attach_usdt()`][ebpf.elf.attach_usdt] must fill the one the
program reads, so both ask this feature (libbpf's ``FEAT_BPF_COOKIE``).
Cookies need the helper (5.15) and the perf_event bpf_links that carry
them to a uprobe (5.15 too).
"""

from __future__ import annotations

from pathlib import Path

from ebpf.asm import helper
from ebpf.syscall import LinkType, ProgType, features

__all__ = ["UPROBE_COOKIES", "UPROBE_SEMAPHORES"]


def _probe_cookies() -> bool:
    return features.link_type_supported(LinkType.PERF_EVENT) and features.helper_supported(
        ProgType.KPROBE, helper("get_attach_cookie").id
    )


#: Uprobe programs may call ``bpf_get_attach_cookie()`` and get the cookie their perf link set.
UPROBE_COOKIES = features.declare("BPF cookies on uprobes (bpf_get_attach_cookie)", "5.15", _probe_cookies)

# The uprobe PMU lists the fields of its config; ref_ctr_offset is one since 4.20.
_REF_CTR_FORMAT = Path("/sys/bus/event_source/devices/uprobe/format/ref_ctr_offset")


def _probe_semaphores() -> bool:
    return _REF_CTR_FORMAT.is_file()


#: The kernel increments a USDT semaphore while a uprobe with its ``ref_ctr_offset`` is attached.
UPROBE_SEMAPHORES = features.declare(
    "USDT semaphores (uprobe ref_ctr_offset)", "4.20", _probe_semaphores, config="CONFIG_UPROBE_EVENTS"
)
