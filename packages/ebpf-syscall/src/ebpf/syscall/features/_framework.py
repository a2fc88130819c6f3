"""The probe framework: `Feature`, its cache, the list of declared features, and probe plumbing.

A [`Feature`][ebpf.syscall.features.Feature] caches the first conclusive
answer of its probe; an inconclusive probe raises and caches nothing. The
modules beside this one declare the features of one kind each (maps,
programs, helpers, BTF, links) with `register()`; other packages declare
theirs with [`declare()`][ebpf.syscall.features.declare]. The plumbing
(`verdict()`, `load_failure()`) turns raw results (a descriptor or
``-errno``, see [`ebpf.syscall.raw`][ebpf.syscall.raw]) into answers.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping

from ebpf.syscall import _probes_sys as _sys
from ebpf.syscall._generated import LinkType, MapType, ProgType
from ebpf.syscall.errors import EbpfError, NotSupportedError, ParseError, VerifierError
from ebpf.syscall.system import KernelVersion

from . import _kconfig

__all__ = [
    "Feature",
    "Probe",
    "all_features",
    "declare",
    "enum_name",
    "load_failure",
    "lookup",
    "parse_version",
    "register",
    "verdict",
]

log = logging.getLogger("ebpf.syscall")

Probe = Callable[[], bool]

# --------------------------------------------------------------------------
# Versions and kernel configuration
# --------------------------------------------------------------------------


def parse_version(text: str) -> tuple[int, ...]:
    """Parse a first-version string: ``"5.8"`` -> ``(5, 8)``, ``"4.14.1"`` -> ``(4, 14, 1)``.

    As many parts as ``text`` has; parsed by
    [`KernelVersion.parse(text, exact=True)`][ebpf.syscall.KernelVersion.parse].

    Raises:
        ValueError: ``text`` is not ``MAJOR.MINOR[.PATCH]`` (a `ParseError`).
    """
    if not isinstance(text, str):
        raise ParseError(f"not a kernel version: {text!r} (expected MAJOR.MINOR[.PATCH])")
    version = KernelVersion.parse(text, exact=True)
    return tuple(version) if text.count(".") == 2 else tuple(version[:2])


class Feature:
    """A kernel feature, the first version that has it, and a probe that asks the kernel.

    Attributes:
        name: the feature in words (``"map type RINGBUF"``).
        version: the first upstream kernel version that has it (``"5.8"``),
            or ``None`` when unknown (helpers).
        config: kernel options it also needs (``("CONFIG_FPROBE",)``).
    """

    __slots__ = ("_lock", "_probe", "_result", "config", "name", "version")

    def __init__(
        self, name: str, version: str | None, probe: Probe, *, config: str | Iterable[str] = ()
    ) -> None:
        """Declare a feature; nothing is probed until [`supported()`][ebpf.syscall.features.Feature.supported]
        is called.

        ``probe`` returns ``True``/``False`` when it can tell and raises
        otherwise.

        Raises:
            ValueError: ``version`` is not ``MAJOR.MINOR[.PATCH]``.
        """
        if version is not None:
            parse_version(version)
        options = (config,) if isinstance(config, str) else tuple(config)
        self.name = name
        self.version = version
        self.config = tuple(opt if opt.startswith("CONFIG_") else f"CONFIG_{opt}" for opt in options)
        self._probe = probe
        self._result: bool | None = None
        self._lock = threading.Lock()

    @property
    def version_info(self) -> tuple[int, ...] | None:
        """`version` as a tuple (``(5, 8)``), comparable with kernel versions."""
        return None if self.version is None else parse_version(self.version)

    @property
    def cached(self) -> bool | None:
        """The conclusive answer if the probe has given one, else ``None`` (nothing is probed)."""
        return self._result

    def supported(self) -> bool:
        """Whether the running kernel has the feature; probes once, then answers from the cache.

        Raises:
            Exception: whatever the probe raised when it could not tell
                ([`PermissionDeniedError`][ebpf.syscall.PermissionDeniedError],
                [`BpfSyscallError`][ebpf.syscall.BpfSyscallError]...), unchanged.
                Nothing is cached; the next call probes again.
        """
        result = self._result
        if result is not None:
            return result
        with self._lock:
            if self._result is None:
                try:
                    answer = self._probe()
                except Exception as exc:
                    log.debug("feature %s: cannot tell: %s", self.name, exc)
                    raise
                if not isinstance(answer, bool):
                    raise TypeError(f"probe of {self.name!r} returned {answer!r}, not a bool")
                log.debug("feature %s: %s", self.name, "supported" if answer else "not supported")
                self._result = answer
            return self._result

    def missing_config(self) -> tuple[str, ...]:
        """The options of `config` the kernel configuration says are off.

        Empty when all are on, or when the configuration cannot be read.
        """
        return tuple(opt for opt in self.config if _kconfig.kernel_config(opt) == "n")

    def require(self) -> None:
        """Return if the kernel has the feature.

        Raises:
            NotSupportedError: it does not; the message names the feature, its
                first version and any missing config option.
            Exception: the probe could not tell (see
                [`supported()`][ebpf.syscall.features.Feature.supported]).
        """
        if not self.supported():
            missing = self.missing_config()
            detail = f"the kernel was built without {', '.join(missing)}" if missing else ""
            raise NotSupportedError(self.name, self.version, detail)

    def __repr__(self) -> str:
        state = {None: "not probed", True: "supported", False: "not supported"}[self._result]
        return f"<Feature {self.name!r} since {self.version or '?'}: {state}>"


# Declared features by group, in the order all_features() lists them.
_DECLARED: dict[str, list[Feature]] = {"named": [], "map": [], "prog": [], "link": [], "btf": []}


def register(feature: Feature, group: str = "named") -> Feature:
    """List ``feature`` in [`all_features()`][ebpf.syscall.features.all_features] under ``group``."""
    _DECLARED[group].append(feature)
    return feature


def declare(name: str, version: str, probe: Probe, *, config: str | Iterable[str] = ()) -> Feature:
    """Declare a feature (see [`Feature`][ebpf.syscall.features.Feature]) and list it in
    [`all_features()`][ebpf.syscall.features.all_features].

    For probes declared next to the code that needs them, in other packages.

    Raises:
        ValueError: ``version`` is not ``MAJOR.MINOR[.PATCH]``.
    """
    return register(Feature(name, version, probe, config=config))


def all_features() -> list[Feature]:
    """Every declared feature: the named ones, then each map type, program type, link type and BTF kind.

    Helpers are not listed: there is one feature per (program type, helper)
    pair, made on demand by [`helper_feature()`][ebpf.syscall.features.helper_feature].
    """
    return [feature for group in _DECLARED.values() for feature in group]


def verdict(
    ret: int,
    command: str,
    context: str,
    yes: Iterable[int] = (),
    no: Iterable[int] = (errno.EINVAL, errno.E2BIG),
    *,
    returns_fd: bool = True,
) -> bool:
    """Turn a raw result into an answer: success or an errno of ``yes`` is True, ``no`` False.

    The descriptor a successful command returned is closed (``returns_fd``).
    Any other errno is inconclusive and raised. EINVAL is what the kernel
    answers for a type, command, attach type or flag it does not know; E2BIG
    for an attr with non-zero bytes past the end of the ``union bpf_attr`` it
    knows (a field newer than the kernel).
    """
    if ret >= 0:
        if returns_fd:
            os.close(ret)
        return True
    err = -ret
    if err in yes:
        return True
    if err in no:
        return False
    raise _sys.unexpected(err, command, context)


def enum_name(member: MapType | ProgType | LinkType) -> str:
    """The name of an enum member, preferring a name without ``_DEPRECATED``."""
    # MapType(19) is CGROUP_STORAGE_DEPRECATED first and CGROUP_STORAGE as an
    # alias: prefer the name without the suffix.
    names = [name for name, m in type(member).__members__.items() if m == member]
    plain = [name for name in names if not name.endswith("_DEPRECATED")]
    return (plain or names)[0]


def load_failure(result: _sys.LoadResult, context: str) -> EbpfError:
    """The inconclusive exception for a failed load, with the verifier log when there is one."""
    if result.log.strip():
        return VerifierError(
            result.err, "BPF_PROG_LOAD", f"feature probe: {context}", result.log.splitlines()
        )
    return _sys.unexpected(result.err, "BPF_PROG_LOAD", context)


def lookup(table: Mapping[int, Feature], kind: str, key: int) -> Feature:
    """``table[key]``.

    Raises:
        ValueError: no feature for ``key`` (a type the tables do not know).
    """
    try:
        return table[key]
    except KeyError:
        raise ValueError(f"no feature probe for {kind} {key!r}") from None
