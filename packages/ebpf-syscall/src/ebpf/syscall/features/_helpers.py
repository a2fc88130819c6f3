"""Helper features: may programs of a type call helper ``BPF_FUNC_*`` number N?

One feature per (program type, helper) pair, made on demand and kept, so
that its answer is cached like every other. The probe calls the helper with
its argument registers unset: a kernel that has the helper fails the
argument checks, one that does not fails the lookup, and the verifier log
tells the two apart.
"""

from __future__ import annotations

import errno
import functools
import os
import threading

from ebpf.syscall import _probes_sys as _sys
from ebpf.syscall._generated import ProgType

from ._framework import Feature, load_failure
from ._programs import BTF_ATTACHED, PROG_TYPE_CONFIG, PROG_TYPE_VERSIONS, load_attrs, prog_type_feature

__all__ = ["helper_feature", "helper_supported"]


_HELPER_FEATURES: dict[tuple[ProgType, int], Feature] = {}
_HELPER_LOCK = threading.Lock()

# The verifier's words for a helper it does not have (check_helper_call):
# "invalid func unknown#N" for an id past __BPF_FUNC_MAX_ID, "program of this
# type cannot use helper bpf_x#N" when the type's get_func_proto has nothing,
# and "unknown func bpf_x#N" in kernels before 5.x said the same.
_NO_HELPER = ("invalid func ", "program of this type cannot use helper", "unknown func ")


def _probe_helper(prog_type: ProgType, helper_id: int) -> bool:
    if not prog_type_feature(prog_type).supported():
        return False
    # call helper; r0 = 0; exit. Argument registers are left unset: a helper
    # that exists then fails argument checks (EACCES "R1 !read_ok", "R1
    # type=ctx expected=..."), which says the helper is there; one that does
    # not exist fails the lookup before its arguments are looked at.
    code = _sys.insn(0x85, imm=helper_id) + _sys.MOV_R0_0 + _sys.EXIT
    result = _sys.load_program(prog_type, code, log=True, **load_attrs(prog_type))
    if result.ret >= 0:
        os.close(result.ret)
        return True
    if any(needle in line for line in result.log.splitlines() for needle in _NO_HELPER):
        return False
    if result.log.strip() and result.err in (errno.EINVAL, errno.EACCES):
        return True  # the verifier got past the helper lookup
    raise load_failure(result, f"calling helper {helper_id} from a program of type {prog_type.name}")


def helper_feature(prog_type: ProgType | int, helper_id: int) -> Feature:
    """The feature "programs of ``prog_type`` may call helper ``helper_id``" (``BPF_FUNC_*``).

    The answer is for this process's privileges: some helpers are offered
    only to programs loaded with ``CAP_BPF``/``CAP_PERFMON``, and like every
    answer it is cached (the same feature object is returned for the pair).

    Raises:
        ValueError: an unknown program type, a negative helper id, or a type
            whose programs need a BTF attach target (``TRACING``, ``LSM``,
            ``EXT``, ``STRUCT_OPS``): those cannot be probed with a bare load.
    """
    try:
        pt = ProgType(prog_type)
    except ValueError:
        raise ValueError(f"no feature probe for program type {prog_type!r}") from None
    if pt not in PROG_TYPE_VERSIONS:
        raise ValueError(f"no feature probe for program type {prog_type!r}")
    if pt in (*BTF_ATTACHED, ProgType.STRUCT_OPS):
        raise ValueError(f"helpers of {pt.name} programs cannot be probed: they need a BTF attach target")
    if isinstance(helper_id, bool) or not isinstance(helper_id, int) or not 0 <= helper_id < 2**31:
        raise ValueError(f"a helper id is a BPF_FUNC_* number (0 <= id < 2**31), not {helper_id!r}")
    with _HELPER_LOCK:
        feature = _HELPER_FEATURES.get((pt, helper_id))
        if feature is None:
            feature = Feature(
                f"helper #{helper_id} in {pt.name} programs",
                None,
                functools.partial(_probe_helper, pt, helper_id),
                config=PROG_TYPE_CONFIG.get(pt, ()),
            )
            _HELPER_FEATURES[pt, helper_id] = feature
        return feature


def helper_supported(prog_type: ProgType | int, helper_id: int) -> bool:
    """Whether programs of ``prog_type`` may call helper ``helper_id`` (see
    [`helper_feature()`][ebpf.syscall.features.helper_feature])."""
    return helper_feature(prog_type, helper_id).supported()
