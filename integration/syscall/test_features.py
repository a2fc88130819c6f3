"""Every feature probe against the running kernel (as root).

The oracle is the kernel version and configuration: on a kernel at least as
new as a feature's first version, with the config options it declares
enabled, the probe must say "supported"; saying "unsupported" there is a
failure, not a skip. On an older kernel, or one built without a declared
option, it should say "unsupported"; if it does not (a backport, an option
that turned out optional) the test passes with a warning. A probe that
cannot tell even as root (a security policy refusing the probe's program
with EPERM) is skipped with the kernel's answer as the reason.

Versions and config are read here with tiny local parsers: the tests must
not trust the code they test.
"""

from __future__ import annotations

import os
import warnings

import pytest
from _kernel_markers import config_off, kernel_config, kernel_release, parse_version

from ebpf.syscall import features
from ebpf.syscall._generated import LinkType, MapType, ProgType
from ebpf.syscall.errors import NotSupportedError, PermissionDeniedError
from ebpf.syscall.features import Feature, all_features, helper_feature

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="integration tests run as root"),
]

RELEASE = kernel_release()
RUNNING = parse_version(RELEASE)
CONFIG = kernel_config()


def _at_least(version: str) -> bool:
    wanted = parse_version(version)
    return wanted <= RUNNING


def _answer(feature: Feature) -> bool:
    try:
        return feature.supported()
    except PermissionDeniedError as exc:
        pytest.skip(f"{feature.name}: the kernel refuses the probe even to root, so it cannot tell: {exc}")


def _check(feature: Feature, version: str) -> None:
    answer = _answer(feature)
    off = config_off(feature.config)
    if _at_least(version) and not off:
        assert answer, (
            f"probe says {feature.name!r} is unsupported, but Linux {RELEASE} is newer than its first "
            f"version {version} and has {', '.join(feature.config) or 'no special config'}"
        )
    elif answer:
        why = f"built without {', '.join(off)}" if off else f"older than {version}"
        warnings.warn(f"{feature.name} is supported although Linux {RELEASE} is {why}", stacklevel=1)
    # The answer is cached, and require() agrees with it.
    assert feature.cached is answer
    assert feature.supported() is answer
    if answer:
        feature.require()
    else:
        with pytest.raises(NotSupportedError) as info:
            feature.require()
        assert info.value.feature == feature.name
        assert info.value.version == feature.version
        for option in off:
            assert option in str(info.value)


@pytest.mark.parametrize("feature", all_features(), ids=lambda feature: feature.name)
def test_feature(feature: Feature) -> None:
    assert feature.version is not None
    _check(feature, feature.version)


# (program type, helper id, helper name, first version of the helper for that type)
HELPERS = [
    (ProgType.SOCKET_FILTER, 1, "bpf_map_lookup_elem", "3.19"),
    (ProgType.SOCKET_FILTER, 5, "bpf_ktime_get_ns", "4.1"),
    (ProgType.KPROBE, 113, "bpf_probe_read_kernel", "5.5"),
    (ProgType.TRACEPOINT, 113, "bpf_probe_read_kernel", "5.5"),
    (ProgType.XDP, 23, "bpf_redirect", "4.14"),
    (ProgType.SCHED_CLS, 23, "bpf_redirect", "4.4"),
]


@pytest.mark.parametrize(
    ("prog_type", "helper_id", "version"),
    [(pt, helper, version) for pt, helper, _, version in HELPERS],
    ids=[f"{name}-{pt.name}" for pt, _, name, _ in HELPERS],
)
def test_helper(prog_type: ProgType, helper_id: int, version: str) -> None:
    _check(helper_feature(prog_type, helper_id), version)


@pytest.mark.parametrize(
    ("prog_type", "helper_id"),
    [
        # An id past every kernel's last helper: "invalid func unknown#10000".
        (ProgType.SOCKET_FILTER, 10000),
        (ProgType.XDP, 10000),
        # A helper that exists, but not for this type: "program of this type
        # cannot use helper bpf_redirect#23".
        (ProgType.SOCKET_FILTER, 23),
    ],
    ids=["unknown-SOCKET_FILTER", "unknown-XDP", "bpf_redirect-SOCKET_FILTER"],
)
def test_helper_unsupported(prog_type: ProgType, helper_id: int) -> None:
    feature = helper_feature(prog_type, helper_id)
    assert feature.supported() is False
    with pytest.raises(NotSupportedError):
        feature.require()


def test_lookup_functions_agree_with_features() -> None:
    assert features.map_type_supported(MapType.HASH) is True
    assert features.prog_type_supported(ProgType.SOCKET_FILTER) is True
    assert features.btf_kind_supported("INT") is features.BTF.supported()
    assert features.link_type_supported(LinkType.TCX) is features.TCX.supported()
    assert features.helper_supported(ProgType.SOCKET_FILTER, 10000) is False


def test_kernel_config_matches_this_kernel() -> None:
    if CONFIG is None:
        assert features.kernel_config("CONFIG_BPF") is None
        return
    assert features.kernel_config("CONFIG_BPF") == CONFIG.get("CONFIG_BPF")
    assert features.kernel_config("BPF_SYSCALL") == "y"
