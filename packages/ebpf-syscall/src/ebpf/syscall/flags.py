"""Flag sets of ``linux/bpf.h`` that are ``#define``\\ s or anonymous enums.

``enum``\\ s with a name (commands, map and program types, attach and link
types) are generated from kernel BTF into ``_generated.py``; the flags below
are mostly preprocessor definitions, which BTF does not carry, so they are
written out here with the kernel version that introduced each group.
"""

from __future__ import annotations

import enum

__all__ = [
    "BPF_OBJ_NAME_LEN",
    "BPF_TAG_SIZE",
    "AttachFlags",
    "FileFlags",
    "LinkFlags",
    "MapFlags",
    "ProgLoadFlags",
    "QueryFlags",
    "TestRunFlags",
    "UpdateFlags",
]

#: Object names (maps, programs) hold at most 15 bytes and a NUL.
BPF_OBJ_NAME_LEN = 16
#: Size of a program tag (truncated SHA-1 of the instructions).
BPF_TAG_SIZE = 8


class MapFlags(enum.IntFlag):
    """``map_flags`` of ``BPF_MAP_CREATE`` (``BPF_F_*``)."""

    NONE = 0
    NO_PREALLOC = 1 << 0
    NO_COMMON_LRU = 1 << 1
    NUMA_NODE = 1 << 2
    RDONLY = 1 << 3
    WRONLY = 1 << 4
    STACK_BUILD_ID = 1 << 5
    ZERO_SEED = 1 << 6
    RDONLY_PROG = 1 << 7
    WRONLY_PROG = 1 << 8
    CLONE = 1 << 9
    MMAPABLE = 1 << 10
    PRESERVE_ELEMS = 1 << 11
    INNER_MAP = 1 << 12
    LINK = 1 << 13
    PATH_FD = 1 << 14
    VTYPE_BTF_OBJ_FD = 1 << 15
    TOKEN_FD = 1 << 16
    SEGV_ON_FAULT = 1 << 17
    NO_USER_CONV = 1 << 18


class UpdateFlags(enum.IntFlag):
    """``flags`` of map element commands: ``BPF_ANY``, ``BPF_NOEXIST``, ``BPF_EXIST``, ``BPF_F_LOCK``."""

    ANY = 0
    NOEXIST = 1
    EXIST = 2
    F_LOCK = 4


class ProgLoadFlags(enum.IntFlag):
    """``prog_flags`` of ``BPF_PROG_LOAD``."""

    NONE = 0
    STRICT_ALIGNMENT = 1 << 0
    ANY_ALIGNMENT = 1 << 1
    TEST_RND_HI32 = 1 << 2
    TEST_STATE_FREQ = 1 << 3
    SLEEPABLE = 1 << 4
    XDP_HAS_FRAGS = 1 << 5
    XDP_DEV_BOUND_ONLY = 1 << 6
    TEST_REG_INVARIANTS = 1 << 7
    TOKEN_FD = 1 << 16


class AttachFlags(enum.IntFlag):
    """``attach_flags`` of ``BPF_PROG_ATTACH`` and ``flags`` of ``BPF_LINK_CREATE`` for mprog links."""

    NONE = 0
    ALLOW_OVERRIDE = 1 << 0
    ALLOW_MULTI = 1 << 1
    REPLACE = 1 << 2
    BEFORE = 1 << 3
    AFTER = 1 << 4
    ID = 1 << 5
    PREORDER = 1 << 6
    LINK = 1 << 13


class LinkFlags(enum.IntFlag):
    """Per-link-type ``flags`` (kprobe_multi and uprobe_multi return probes)."""

    NONE = 0
    KPROBE_MULTI_RETURN = 1 << 0
    UPROBE_MULTI_RETURN = 1 << 0


class QueryFlags(enum.IntFlag):
    """``query_flags`` of ``BPF_PROG_QUERY``."""

    NONE = 0
    QUERY_EFFECTIVE = 1 << 0


class TestRunFlags(enum.IntFlag):
    """``flags`` of ``BPF_PROG_TEST_RUN``."""

    __test__ = False  # a dunder, so not a member: tells pytest this is no test class

    NONE = 0
    RUN_ON_CPU = 1 << 0
    XDP_LIVE_FRAMES = 1 << 1
    SKB_CHECKSUM_COMPLETE = 1 << 2


class FileFlags(enum.IntFlag):
    """``file_flags``/``open_flags`` of ``BPF_OBJ_GET`` and ``*_GET_FD_BY_ID``."""

    NONE = 0
    RDONLY = 1 << 3
    WRONLY = 1 << 4
    PATH_FD = 1 << 14
    TOKEN_FD = 1 << 16
