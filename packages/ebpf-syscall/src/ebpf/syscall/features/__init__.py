"""Feature probes: what the running kernel supports, asked of the kernel itself.

A [`Feature`][ebpf.syscall.features.Feature] names a capability in words, the first kernel version
that has it, the kernel config options it also depends on, and a probe: a
function that asks the kernel (creates a tiny map, loads a two-instruction
program, makes a command fail on purpose and reads the errno) and answers
``True`` or ``False``. Version numbers are documentation and test oracles,
never the answer: distributions backport features, and options can be
configured out.

Conclusive and inconclusive answers
    A probe's ``True``/``False`` is conclusive and cached for the life of the
    process (probing again would give the same answer), thread-safely: the
    first caller probes, concurrent callers wait for its answer. A probe
    that cannot tell raises instead, and the exception reaches the caller
    unchanged: typically [`PermissionDeniedError`][ebpf.syscall.PermissionDeniedError]
    (``EPERM``: not privileged, or a security policy refuses even root) or
    [`BpfSyscallError`][ebpf.syscall.BpfSyscallError] with an errno the probe
    does not expect. Nothing is cached then, and the next call probes again.

Using them
    ``feature.supported()`` answers; ``feature.require()`` raises
    [`NotSupportedError`][ebpf.syscall.NotSupportedError] naming the feature and
    its first version when the answer is no. Lookups build the probe for a
    map type ([`map_type_feature()`][ebpf.syscall.features.map_type_feature]), program type, link type, BTF
    kind or helper; the module constants (`RINGBUF`, `BPF_LINK`,
    `CORE_RELOCATIONS`...) are named features. [`all_features()`][ebpf.syscall.features.all_features]
    lists every declared probe, for reports (``python -m ebpf.syscall``).

Every descriptor a probe opens is closed before it returns, on every path.
Nothing here runs at import: probes run when first asked.

Layout
    The framework (`Feature`, its cache, `declare()`, `all_features()`) and
    the kernel configuration reader come first; then one module per kind,
    as cilium/ebpf's ``features`` package: map types and map features,
    program types and what programs may contain, helpers, BTF, and links.
    The probes call the generated raw commands of
    [`ebpf.syscall.raw`][ebpf.syscall.raw]; the map type probes create maps
    following [`ebpf.syscall.maptypes`][ebpf.syscall.maptypes].
"""

from ._btf import (
    BTF,
    BTF_ATTRIBUTE_TAGS,
    BTF_FUNC_INFO,
    BTF_GLOBAL_FUNC,
    BTF_KIND_VERSIONS,
    CORE_RELOCATIONS,
    btf_kind_feature,
    btf_kind_supported,
)
from ._framework import Feature, Probe, all_features, declare, parse_version
from ._helpers import helper_feature, helper_supported
from ._kconfig import kernel_config, kernel_config_values, parse_kernel_config, unquote_config_value
from ._links import (
    BPF_LINK,
    KPROBE_MULTI,
    KPROBE_PMU,
    LINK_TYPE_VERSIONS,
    NETKIT,
    TCX,
    UPROBE_COOKIES,
    UPROBE_MULTI,
    UPROBE_PMU,
    UPROBE_REF_CTR,
    link_type_feature,
    link_type_supported,
)
from ._maps import (
    ARENA,
    BATCH_OPS,
    GLOBAL_DATA,
    MAP_TYPE_VERSIONS,
    MMAPABLE_MAPS,
    RINGBUF,
    map_type_feature,
    map_type_supported,
)
from ._programs import (
    BOUNDED_LOOPS,
    BPF_TO_BPF_CALLS,
    BPF_TOKEN,
    FENTRY,
    ISA_V2,
    ISA_V3,
    ISA_V4,
    KFUNC_CALLS,
    LARGE_PROGRAMS,
    LOG_TRUE_SIZE,
    PROG_TEST_RUN,
    PROG_TYPE_VERSIONS,
    SLEEPABLE_PROGRAMS,
    prog_type_feature,
    prog_type_supported,
)

__all__ = [
    "ARENA",
    "BATCH_OPS",
    "BOUNDED_LOOPS",
    "BPF_LINK",
    "BPF_TOKEN",
    "BPF_TO_BPF_CALLS",
    "BTF",
    "BTF_ATTRIBUTE_TAGS",
    "BTF_FUNC_INFO",
    "BTF_GLOBAL_FUNC",
    "BTF_KIND_VERSIONS",
    "CORE_RELOCATIONS",
    "FENTRY",
    "GLOBAL_DATA",
    "ISA_V2",
    "ISA_V3",
    "ISA_V4",
    "KFUNC_CALLS",
    "KPROBE_MULTI",
    "KPROBE_PMU",
    "LARGE_PROGRAMS",
    "LINK_TYPE_VERSIONS",
    "LOG_TRUE_SIZE",
    "MAP_TYPE_VERSIONS",
    "MMAPABLE_MAPS",
    "NETKIT",
    "PROG_TEST_RUN",
    "PROG_TYPE_VERSIONS",
    "RINGBUF",
    "SLEEPABLE_PROGRAMS",
    "TCX",
    "UPROBE_COOKIES",
    "UPROBE_MULTI",
    "UPROBE_PMU",
    "UPROBE_REF_CTR",
    "Feature",
    "Probe",
    "all_features",
    "btf_kind_feature",
    "btf_kind_supported",
    "declare",
    "helper_feature",
    "helper_supported",
    "kernel_config",
    "kernel_config_values",
    "link_type_feature",
    "link_type_supported",
    "map_type_feature",
    "map_type_supported",
    "parse_kernel_config",
    "parse_version",
    "prog_type_feature",
    "prog_type_supported",
    "unquote_config_value",
]
