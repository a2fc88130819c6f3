"""Kernel markers for the integration tests: by feature probe, or (rarely) by version.

Ask for a kernel feature through its probe (registered in pyproject.toml,
applied by ``integration/conftest.py``)::

    from ebpf.syscall import features

    @pytest.mark.requires_feature(features.RINGBUF)
    def test_ringbuf_reader(): ...

or the same thing as a function (``integration/`` is on pytest's ``pythonpath``)::

    from _kernel_markers import requires_feature

    @requires_feature(features.TCX)
    def test_tcx(): ...

The probe decides, never ``uname -r`` (distributions backport, builds leave
options out, security policies refuse what the kernel has):

- the probe says yes: the test runs;
- the probe cannot tell because the kernel refuses it even to root with
  ``EPERM`` (kernel lockdown, an LSM, a seccomp filter: some 6.18 builds
  refuse arena maps or fentry programs): the test skips with that reason;
- the probe says no on a kernel older than the feature's first version, or
  built without an option the feature declares: the test skips with that
  reason;
- the probe says no on a kernel that is new enough and has the options, or
  fails in a way it does not expect: the test *fails*. Either the probe or
  the kernel build is wrong, and a skip would hide it.

``@pytest.mark.requires_kernel("5.8", "ring buffer")`` remains for what no
probe can tell (a verifier change, a fixed bug): it skips with "needs Linux
5.8+ for ring buffer; running 5.4.0-150-generic" on an older kernel.

Versions are parsed by the library's one parser,
``ebpf.syscall.KernelVersion.parse()`` (its unit tests hold it to the
release strings of every distribution), and the kernel configuration by
its one reader, ``ebpf.syscall.features.kernel_config_values()`` (its unit
tests hold it to a configuration file). The probes themselves are the
library's, and ``integration/syscall/test_features.py`` holds each one to the
same rule.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import pytest

from ebpf.syscall import EbpfError, KernelVersion, PermissionDeniedError, features
from ebpf.syscall.features import Feature

__all__ = [
    "FeatureProbeError",
    "config_off",
    "feature_skip_reason",
    "kernel_config",
    "kernel_release",
    "kfuncs_feature",
    "parse_version",
    "requires_feature",
    "requires_kernel",
    "skip_reason",
]


def parse_version(text: str) -> KernelVersion:
    """``"6.1.0-13-amd64"`` -> ``(6, 1, 0)``; ``"5.8"`` -> ``(5, 8, 0)``.

    Raises:
        ValueError: not a kernel version (a `ParseError`).
    """
    return KernelVersion.parse(text)


def kernel_release() -> str:
    """The running kernel's release string, as ``uname -r`` prints it."""
    return os.uname().release


def skip_reason(version: str, feature: str, release: str | None = None) -> str | None:
    """Why a test needing ``feature`` (new in Linux ``version``) must skip, or ``None`` if it can run."""
    running = kernel_release() if release is None else release
    if parse_version(running) >= parse_version(version):
        return None
    return f"needs Linux {version}+ for {feature}; running {running}"


def requires_kernel(version: str, feature: str) -> pytest.MarkDecorator:
    """The ``requires_kernel`` marker, validated: ``@requires_kernel("5.8", "ring buffer")``."""
    parse_version(version)
    return pytest.mark.requires_kernel(version, feature)


# --------------------------------------------------------------------------- kernel configuration


def kernel_config() -> Mapping[str, str] | None:
    """``CONFIG_X -> value`` of the running kernel as written (strings quoted), or ``None`` when no
    configuration can be read: the library's reader, ``features.kernel_config_values()``."""
    return features.kernel_config_values()


def config_off(options: tuple[str, ...]) -> list[str]:
    """The options of ``options`` this kernel was built without (none when the config is unknown)."""
    config = kernel_config()
    if config is None:
        return []
    return [option for option in options if config.get(option, "n") == "n"]


# --------------------------------------------------------------------------- feature probes


class FeatureProbeError(Exception):
    """A probe said "absent" where the feature must be there, or could not tell for a reason it
    does not expect: a failure of the test, not a skip."""


def feature_skip_reason(feature: Feature) -> str | None:
    """Why a test needing ``feature`` must skip on this kernel, or ``None`` when it can run.

    Raises:
        FeatureProbeError: the probe says the feature is absent although this
            kernel is at least its first version and has the options it
            declares, or the probe failed other than by ``EPERM``.
    """
    release = kernel_release()
    try:
        if feature.supported():
            return None
    except PermissionDeniedError as exc:
        return f"Linux {release} refuses {feature.name} even to root (a security policy: {exc})"
    except (EbpfError, OSError) as exc:
        raise FeatureProbeError(
            f"the probe for {feature.name} cannot tell on Linux {release}: {exc}"
        ) from exc
    off = config_off(feature.config)
    if off:
        return f"needs {feature.name}; Linux {release} is built without {', '.join(off)}"
    if feature.version is None:
        return f"needs {feature.name}, which Linux {release} lacks (the probe says so)"
    if parse_version(release) < parse_version(feature.version):
        return f"needs Linux {feature.version}+ for {feature.name}; running {release}"
    raise FeatureProbeError(
        f"the probe says {feature.name} is absent, but Linux {release} is at least its first version "
        f"{feature.version} and has {', '.join(feature.config) or 'no special kernel option'}: "
        "the probe or this kernel build is wrong"
    )


def requires_feature(feature: Feature) -> pytest.MarkDecorator:
    """The ``requires_feature`` marker, validated: ``@requires_feature(features.RINGBUF)``."""
    if not isinstance(feature, Feature):
        raise TypeError(f"requires_feature() takes an ebpf.syscall.features.Feature, not {feature!r}")
    return pytest.mark.requires_feature(feature)


def kfuncs_feature(version: str, *names: str) -> Feature:
    """A feature for kernel functions a test object calls: present when the running kernel's BTF
    has each of ``names`` as a function; ``version`` is the first kernel that has them all.

    For ``requires_feature``: an older kernel skips, a newer one without them fails.
    """
    from ebpf.btf import Kind, load_vmlinux

    def probe() -> bool:
        vmlinux = load_vmlinux()
        return all(vmlinux.find_all(name, Kind.FUNC) for name in names)

    return Feature(f"kernel functions {', '.join(names)}", version, probe)
