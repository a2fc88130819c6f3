"""The feature probe framework, its tables and its decisions, without a kernel."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ebpf.syscall import _probes_btf, _probes_sys, features, raw
from ebpf.syscall._generated import LinkType, MapType, ProgType
from ebpf.syscall.errors import ENOTSUPP, BpfSyscallError, NotSupportedError, PermissionDeniedError
from ebpf.syscall.features import (
    BTF_KIND_VERSIONS,
    LINK_TYPE_VERSIONS,
    MAP_TYPE_VERSIONS,
    PROG_TYPE_VERSIONS,
    Feature,
    _framework,
    _helpers,
    _kconfig,
    _links,
    _maps,
    _programs,
    all_features,
    btf_kind_feature,
    helper_feature,
    link_type_feature,
    map_type_feature,
    parse_kernel_config,
    parse_version,
    prog_type_feature,
    unquote_config_value,
)
from ebpf.syscall.maptypes import MAP_TYPE_RULES, map_type_rule


class CountingProbe:
    """A fake probe: answers from a script of results (bools or exceptions to raise)."""

    def __init__(self, *script: bool | BaseException, delay: float = 0.0) -> None:
        self.script = list(script)
        self.calls = 0
        self.delay = delay

    def __call__(self) -> bool:
        self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        return step


# --- caching -----------------------------------------------------------------


@pytest.mark.parametrize("answer", [True, False])
def test_conclusive_answer_is_cached(answer: bool) -> None:
    probe = CountingProbe(answer)
    feature = Feature("widgets", "5.8", probe)
    assert feature.cached is None
    assert feature.supported() is answer
    assert feature.supported() is answer
    assert feature.cached is answer
    assert probe.calls == 1


def test_inconclusive_answer_is_reraised_unchanged_and_not_cached() -> None:
    denied = PermissionDeniedError(errno.EPERM, "BPF_MAP_CREATE", "probing")
    probe = CountingProbe(denied, True)
    feature = Feature("widgets", "5.8", probe)
    with pytest.raises(PermissionDeniedError) as info:
        feature.supported()
    assert info.value is denied
    assert feature.cached is None
    # The next call probes again, and its conclusive answer sticks.
    assert feature.supported() is True
    assert feature.supported() is True
    assert probe.calls == 2


def test_any_exception_is_inconclusive() -> None:
    probe = CountingProbe(BpfSyscallError(errno.EIO, "BPF_PROG_LOAD"), OSError(errno.ENOENT, "gone"), False)
    feature = Feature("widgets", "5.8", probe)
    with pytest.raises(BpfSyscallError):
        feature.supported()
    with pytest.raises(FileNotFoundError):
        feature.supported()
    assert feature.supported() is False
    assert probe.calls == 3


def test_probe_must_answer_a_bool() -> None:
    feature = Feature("widgets", "5.8", lambda: 1)  # type: ignore[arg-type, return-value]
    with pytest.raises(TypeError, match="widgets"):
        feature.supported()
    assert feature.cached is None


def test_concurrent_callers_share_one_probe() -> None:
    probe = CountingProbe(True, delay=0.05)
    feature = Feature("widgets", "5.8", probe)
    answers: list[bool] = []
    barrier = threading.Barrier(8)

    def ask() -> None:
        barrier.wait()
        answers.append(feature.supported())

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [True] * 8
    assert probe.calls == 1


def test_concurrent_inconclusive_callers_each_retry() -> None:
    # An inconclusive answer is never shared: a waiting caller probes itself.
    probe = CountingProbe(OSError(errno.EAGAIN, "busy"), True, delay=0.02)
    feature = Feature("widgets", "5.8", probe)
    results: list[object] = []

    def ask() -> None:
        try:
            results.append(feature.supported())
        except OSError as exc:
            results.append(exc.errno)

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(map(str, results)) == sorted(map(str, [errno.EAGAIN, True]))
    assert probe.calls == 2


# --- require -------------------------------------------------------------------


def test_require_names_feature_and_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_kconfig, "kernel_config", lambda option: None)
    feature = Feature("ring buffer maps", "5.8", CountingProbe(False))
    with pytest.raises(NotSupportedError) as info:
        feature.require()
    assert info.value.feature == "ring buffer maps"
    assert info.value.version == "5.8"
    assert "ring buffer maps" in str(info.value)
    assert "5.8" in str(info.value)


def test_require_passes_when_supported() -> None:
    feature = Feature("ring buffer maps", "5.8", CountingProbe(True))
    feature.require()
    feature.require()


def test_require_reraises_inconclusive() -> None:
    denied = PermissionDeniedError(errno.EPERM, "BPF_PROG_LOAD")
    feature = Feature("widgets", "5.8", CountingProbe(denied, False))
    with pytest.raises(PermissionDeniedError) as info:
        feature.require()
    assert info.value is denied
    with pytest.raises(NotSupportedError):
        feature.require()


def test_require_names_missing_config(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {"CONFIG_FPROBE": "n", "CONFIG_BPF": "y"}
    monkeypatch.setattr(_kconfig, "kernel_config", values.get)
    feature = Feature("kprobe_multi links", "5.18", CountingProbe(False), config=("FPROBE", "CONFIG_BPF"))
    assert feature.config == ("CONFIG_FPROBE", "CONFIG_BPF")
    assert feature.missing_config() == ("CONFIG_FPROBE",)
    with pytest.raises(NotSupportedError, match="CONFIG_FPROBE"):
        feature.require()


def test_missing_config_is_empty_without_a_config_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_kconfig, "kernel_config", lambda option: None)
    feature = Feature("kprobes", "4.17", CountingProbe(False), config="CONFIG_KPROBES")
    assert feature.config == ("CONFIG_KPROBES",)
    assert feature.missing_config() == ()


# --- versions ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("3.19", (3, 19)), ("5.8", (5, 8)), ("6.10", (6, 10)), ("4.14.1", (4, 14, 1))],
)
def test_parse_version(text: str, expected: tuple[int, ...]) -> None:
    assert parse_version(text) == expected


@pytest.mark.parametrize("text", ["5", "5.", "v5.8", "5.8-rc1", "5.8.1.2", "", " 5.8", "five.eight"])
def test_parse_version_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="kernel version"):
        parse_version(text)


def test_feature_rejects_a_bad_version() -> None:
    with pytest.raises(ValueError, match="kernel version"):
        Feature("widgets", "5", CountingProbe(True))
    assert Feature("helper", None, CountingProbe(True)).version_info is None
    assert Feature("widgets", "5.10", CountingProbe(True)).version_info == (5, 10)


# --- tables ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("enum", "table"),
    [(MapType, MAP_TYPE_VERSIONS), (ProgType, PROG_TYPE_VERSIONS), (LinkType, LINK_TYPE_VERSIONS)],
    ids=["MapType", "ProgType", "LinkType"],
)
def test_every_enum_member_has_a_version(
    enum: type[MapType] | type[ProgType] | type[LinkType], table: dict[int, str]
) -> None:
    # A member added by regenerating the ABI tables must get a version (and a probe).
    missing = [member.name for member in enum if member.name != "UNSPEC" and member not in table]
    assert missing == []
    assert enum.UNSPEC not in table
    for version in table.values():
        assert parse_version(version) >= (3, 19)


def test_btf_kind_table_has_every_kind() -> None:
    kinds = [
        "INT", "PTR", "ARRAY", "STRUCT", "UNION", "ENUM", "FWD", "TYPEDEF", "VOLATILE", "CONST",
        "RESTRICT", "FUNC", "FUNC_PROTO", "VAR", "DATASEC", "FLOAT", "DECL_TAG", "TYPE_TAG", "ENUM64",
    ]  # fmt: skip
    assert list(BTF_KIND_VERSIONS) == kinds
    assert BTF_KIND_VERSIONS["FLOAT"] == "5.13"
    assert BTF_KIND_VERSIONS["ENUM64"] == "6.0"


@pytest.mark.parametrize(
    ("table", "key", "version"),
    [
        (MAP_TYPE_VERSIONS, MapType.HASH, "3.19"),
        (MAP_TYPE_VERSIONS, MapType.RINGBUF, "5.8"),
        (MAP_TYPE_VERSIONS, MapType.BLOOM_FILTER, "5.16"),
        (MAP_TYPE_VERSIONS, MapType.USER_RINGBUF, "6.1"),
        (MAP_TYPE_VERSIONS, MapType.CGRP_STORAGE, "6.2"),
        (MAP_TYPE_VERSIONS, MapType.ARENA, "6.9"),
        (PROG_TYPE_VERSIONS, ProgType.SOCKET_FILTER, "3.19"),
        (PROG_TYPE_VERSIONS, ProgType.KPROBE, "4.1"),
        (PROG_TYPE_VERSIONS, ProgType.LSM, "5.7"),
        (PROG_TYPE_VERSIONS, ProgType.SK_LOOKUP, "5.9"),
        (PROG_TYPE_VERSIONS, ProgType.SYSCALL, "5.14"),
        (PROG_TYPE_VERSIONS, ProgType.NETFILTER, "6.4"),
        (LINK_TYPE_VERSIONS, LinkType.RAW_TRACEPOINT, "5.8"),
        (LINK_TYPE_VERSIONS, LinkType.NETKIT, "6.7"),
        (LINK_TYPE_VERSIONS, LinkType.SOCKMAP, "6.10"),
    ],
)
def test_known_first_versions(table: dict[int, str], key: int, version: str) -> None:
    assert table[key] == version


def test_all_features_are_well_formed() -> None:
    declared = all_features()
    names = [feature.name for feature in declared]
    assert len(names) == len(set(names)), "feature names must be unique (they are test ids)"
    for feature in declared:
        assert feature.version is not None
        assert parse_version(feature.version)
        assert all(option.startswith("CONFIG_") for option in feature.config)
    expected = (
        len(MAP_TYPE_VERSIONS) + len(PROG_TYPE_VERSIONS) + len(LINK_TYPE_VERSIONS) + len(BTF_KIND_VERSIONS)
    )
    assert len(declared) > expected
    # Every table entry and every named feature is listed, in one copy.
    for mt in MAP_TYPE_VERSIONS:
        assert map_type_feature(mt) in declared
    for pt in PROG_TYPE_VERSIONS:
        assert prog_type_feature(pt) in declared
    for lt in LINK_TYPE_VERSIONS:
        assert link_type_feature(lt) in declared
    for kind in BTF_KIND_VERSIONS:
        assert btf_kind_feature(kind) in declared
    for name in features.__all__:
        value = getattr(features, name)
        if isinstance(value, Feature):
            assert value in declared, name
    assert all_features() is not declared  # a copy


def test_all_features_lists_named_features_first() -> None:
    declared = all_features()
    kinds = [feature.name.split(" ")[0] for feature in declared]
    first_map = kinds.index("map")
    assert features.BPF_LINK in declared[:first_map]
    assert declared[-1] is btf_kind_feature("ENUM64")


def test_declare_lists_a_feature(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(_framework._DECLARED, "named", list(_framework._DECLARED["named"]))
    probe = CountingProbe(True)
    feature = features.declare("widgets in maps", "6.12", probe, config="CONFIG_WIDGETS")
    assert feature.name == "widgets in maps"
    assert feature.config == ("CONFIG_WIDGETS",)
    assert feature in all_features()
    assert probe.calls == 0  # declaring probes nothing
    with pytest.raises(ValueError, match="kernel version"):
        features.declare("gadgets", "six", probe)


def test_named_features_match_the_tables() -> None:
    assert features.RINGBUF is map_type_feature(MapType.RINGBUF)
    assert features.ARENA is map_type_feature(MapType.ARENA)
    assert features.TCX is link_type_feature(LinkType.TCX)
    assert features.NETKIT is link_type_feature(LinkType.NETKIT)
    assert features.UPROBE_MULTI.version == "6.6"
    assert features.KPROBE_MULTI.version == "5.18"
    assert "CONFIG_FPROBE" in features.KPROBE_MULTI.config
    assert "CONFIG_KPROBES" in features.KPROBE_PMU.config
    assert features.CORE_RELOCATIONS.version == "5.17"
    assert features.LOG_TRUE_SIZE.version == "6.4"
    assert features.BOUNDED_LOOPS.version == "5.3"
    assert features.BPF_TOKEN.version == "6.9"


def test_map_type_names_avoid_deprecated_aliases() -> None:
    assert map_type_feature(MapType.CGROUP_STORAGE).name == "map type CGROUP_STORAGE"
    assert map_type_feature(MapType.PERCPU_CGROUP_STORAGE).name == "map type PERCPU_CGROUP_STORAGE"


# --- lookups -------------------------------------------------------------------


def test_lookups_reject_unknown_types() -> None:
    with pytest.raises(ValueError, match="map type"):
        map_type_feature(MapType.UNSPEC)
    with pytest.raises(ValueError, match="program type"):
        prog_type_feature(ProgType.UNSPEC)
    with pytest.raises(ValueError, match="link type"):
        link_type_feature(999)
    with pytest.raises(ValueError, match="BTF kind"):
        btf_kind_feature("WIDGET")
    with pytest.raises(ValueError, match="BTF kind"):
        btf_kind_feature(0)


def test_lookups_accept_plain_ints() -> None:
    assert map_type_feature(27) is map_type_feature(MapType.RINGBUF)
    assert prog_type_feature(6) is prog_type_feature(ProgType.XDP)


@pytest.mark.parametrize("kind", ["FLOAT", "float", "BTF_KIND_FLOAT", 16])
def test_btf_kind_spellings(kind: str | int) -> None:
    assert btf_kind_feature(kind) is btf_kind_feature("FLOAT")


def test_helper_features_are_made_once_per_pair() -> None:
    first = helper_feature(ProgType.XDP, 23)
    assert helper_feature(6, 23) is first
    assert helper_feature(ProgType.SCHED_CLS, 23) is not first
    assert first.version is None
    assert "23" in first.name
    assert "XDP" in first.name
    assert first not in all_features()


@pytest.mark.parametrize("prog_type", [ProgType.TRACING, ProgType.LSM, ProgType.EXT, ProgType.STRUCT_OPS])
def test_helpers_of_btf_attached_types_cannot_be_probed(prog_type: ProgType) -> None:
    with pytest.raises(ValueError, match="BTF attach target"):
        helper_feature(prog_type, 1)


@pytest.mark.parametrize("helper_id", [-1, 2**31, True, "1"])
def test_helper_ids_are_checked(helper_id: object) -> None:
    with pytest.raises(ValueError, match="helper id"):
        helper_feature(ProgType.XDP, helper_id)  # type: ignore[arg-type]


def test_helper_of_unknown_program_type() -> None:
    with pytest.raises(ValueError, match="program type"):
        helper_feature(0, 1)


# --- kernel config --------------------------------------------------------------

_CONFIG = """\
#
# Automatically generated file; DO NOT EDIT.
#
CONFIG_BPF=y
CONFIG_BPF_SYSCALL=y
CONFIG_NETFILTER_XT_MATCH_BPF=m
# CONFIG_KPROBES is not set
CONFIG_LSM="landlock,lockdown,bpf"
CONFIG_LOG_BUF_SHIFT=17

  # CONFIG_FPROBE is not set
"""


def test_parse_kernel_config() -> None:
    assert parse_kernel_config(_CONFIG) == {
        "CONFIG_BPF": "y",
        "CONFIG_BPF_SYSCALL": "y",
        "CONFIG_NETFILTER_XT_MATCH_BPF": "m",
        "CONFIG_KPROBES": "n",
        "CONFIG_LSM": "landlock,lockdown,bpf",
        "CONFIG_LOG_BUF_SHIFT": "17",
        "CONFIG_FPROBE": "n",
    }


def test_parse_kernel_config_raw_keeps_string_quotes() -> None:
    raw = parse_kernel_config(_CONFIG, raw=True)
    assert raw["CONFIG_LSM"] == '"landlock,lockdown,bpf"'
    assert raw["CONFIG_KPROBES"] == "n"
    assert {name: unquote_config_value(value) for name, value in raw.items()} == parse_kernel_config(_CONFIG)
    assert unquote_config_value('"x"') == "x"
    assert unquote_config_value('"') == '"'
    assert unquote_config_value("17") == "17"


def test_kernel_config_unquotes_the_raw_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_kconfig, "kernel_config_values", lambda: parse_kernel_config(_CONFIG, raw=True))
    assert _kconfig.kernel_config("LSM") == "landlock,lockdown,bpf"
    assert _kconfig.kernel_config("CONFIG_KPROBES") == "n"
    assert _kconfig.kernel_config("CONFIG_NOT_THERE") == "n"
    monkeypatch.setattr(_kconfig, "kernel_config_values", lambda: None)
    assert _kconfig.kernel_config("BPF") is None


def test_kernel_config_answers_consistently() -> None:
    # Whatever this machine has: None everywhere (no config file) or values.
    value = features.kernel_config("CONFIG_BPF")
    assert features.kernel_config("BPF") == value
    if value is not None:
        assert features.kernel_config("CONFIG_SURELY_NOT_AN_OPTION_XYZ") == "n"


# --- imports -----------------------------------------------------------------------


def test_import_probes_nothing() -> None:
    src = Path(features.__file__).resolve().parents[3]  # features/__init__.py -> src
    code = (
        "import ebpf.syscall.features as f\n"
        "assert all(x.cached is None for x in f.all_features())\n"
        "print(len(f.all_features()))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(src)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == len(all_features())


# --- probe decisions, with a fake kernel -------------------------------------------


def _fake(result: int) -> object:
    return lambda *args, **kwargs: result


@pytest.mark.parametrize(
    ("ret", "expected"),
    [(-errno.EINVAL, False), (-errno.E2BIG, False)],
)
def test_map_type_probe_unknown_type(monkeypatch: pytest.MonkeyPatch, ret: int, expected: bool) -> None:
    monkeypatch.setattr(raw, "map_create", _fake(ret))
    assert _maps._probe_map_type(MapType.RINGBUF) is expected


def test_map_type_probe_closes_what_it_creates(monkeypatch: pytest.MonkeyPatch) -> None:
    read, write = os.pipe()
    os.close(write)
    monkeypatch.setattr(raw, "map_create", _fake(read))
    assert _maps._probe_map_type(MapType.HASH) is True
    with pytest.raises(OSError, match="Bad file descriptor"):
        os.fstat(read)


def test_map_type_probe_permission_is_inconclusive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(raw, "map_create", _fake(-errno.EPERM))
    with pytest.raises(PermissionDeniedError):
        _maps._probe_map_type(MapType.HASH)


def test_map_type_probe_unexpected_errno_is_inconclusive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(raw, "map_create", _fake(-errno.ENOMEM))
    with pytest.raises(BpfSyscallError) as info:
        _maps._probe_map_type(MapType.HASH)
    assert info.value.errno == errno.ENOMEM


def test_struct_ops_map_probe_reads_enotsupp_as_known(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(raw, "map_create", _fake(-ENOTSUPP))
    assert _maps._probe_map_type(MapType.STRUCT_OPS) is True
    monkeypatch.setattr(raw, "map_create", _fake(-errno.EINVAL))
    assert _maps._probe_map_type(MapType.STRUCT_OPS) is False


def _load(ret: int, log: str = "") -> object:
    return lambda *args, **kwargs: _probes_sys.LoadResult(ret, log, 0)


@pytest.mark.parametrize(
    ("prog_type", "ret", "log", "expected"),
    [
        (ProgType.XDP, -errno.EINVAL, "", False),
        # BTF-attached types: the verifier only logs for a type it knows.
        (ProgType.TRACING, -errno.EINVAL, "attach_btf_id 1 is not a typedef\n", True),
        (ProgType.TRACING, -errno.EINVAL, "", False),
        (ProgType.LSM, -errno.EINVAL, "attach_btf_id 1 is not a function\n", True),
        (ProgType.EXT, -errno.EINVAL, "FENTRY/FEXIT program can only be attached to another program\n", True),
        (ProgType.EXT, -errno.EINVAL, "", False),
        (ProgType.STRUCT_OPS, -ENOTSUPP, "", True),
        (ProgType.STRUCT_OPS, -errno.EINVAL, "", False),
    ],
)
def test_prog_type_probe_decisions(
    monkeypatch: pytest.MonkeyPatch, prog_type: ProgType, ret: int, log: str, expected: bool
) -> None:
    targets: list[int] = []

    def prog_load(pt: int, *args: object, **kwargs: object) -> _probes_sys.LoadResult:
        if pt == prog_type:
            if prog_type == ProgType.EXT:
                assert kwargs["attach_prog_fd"] in targets  # an extension names its target
            return _probes_sys.LoadResult(ret, log, 0)
        targets.append(os.open(os.devnull, os.O_RDONLY))  # the probe closes it
        return _probes_sys.LoadResult(targets[-1], "", 0)

    monkeypatch.setattr(_probes_sys, "load_program", prog_load)
    assert _programs._probe_prog_type(prog_type) is expected
    assert len(targets) == (prog_type == ProgType.EXT)


def test_prog_type_probe_permission_is_inconclusive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_probes_sys, "load_program", _load(-errno.EPERM))
    with pytest.raises(PermissionDeniedError):
        _programs._probe_prog_type(ProgType.LSM)


@pytest.mark.parametrize(
    ("ret", "log", "expected"),
    [
        (-errno.EINVAL, "0: (85) call unknown#10000\ninvalid func unknown#10000\n", False),
        (-errno.EINVAL, "program of this type cannot use helper bpf_redirect#23\n", False),
        (-errno.EINVAL, "unknown func bpf_redirect#23\n", False),
        (-errno.EACCES, "0: (85) call bpf_map_lookup_elem#1\nR1 type=ctx expected=map_ptr\n", True),
        (-errno.EACCES, "R2 !read_ok\n", True),
    ],
)
def test_helper_probe_decisions(monkeypatch: pytest.MonkeyPatch, ret: int, log: str, expected: bool) -> None:
    monkeypatch.setattr(features.prog_type_feature(ProgType.XDP), "_result", True)
    monkeypatch.setattr(_probes_sys, "load_program", _load(ret, log))
    assert _helpers._probe_helper(ProgType.XDP, 23) is expected


def test_helper_probe_without_a_log_is_inconclusive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(features.prog_type_feature(ProgType.XDP), "_result", True)
    monkeypatch.setattr(_probes_sys, "load_program", _load(-errno.EPERM))
    with pytest.raises(PermissionDeniedError):
        _helpers._probe_helper(ProgType.XDP, 23)


@pytest.mark.parametrize(
    ("ret", "expected"),
    [(-errno.EBADF, True), (-errno.EINVAL, False)],
)
def test_bpf_link_probe(monkeypatch: pytest.MonkeyPatch, ret: int, expected: bool) -> None:
    monkeypatch.setattr(raw, "link_create", _fake(ret))
    assert _links._probe_bpf_link() is expected


# --- hand-made BTF -------------------------------------------------------------------


def test_btf_blobs_find_their_functions() -> None:
    blob, func_id = _probes_btf.func_blob(with_ctx=True)
    assert _probes_btf.find_func(blob, "probe") == func_id
    assert _probes_btf.find_func(blob, "prob") is None
    assert _probes_btf.find_func(blob, "missing") is None


@pytest.mark.parametrize("kind", list(BTF_KIND_VERSIONS))
def test_every_kind_blob_walks(kind: str) -> None:
    blob = _probes_btf.KIND_BLOBS[kind]()
    assert int.from_bytes(blob[:2], sys.byteorder) == 0xEB9F  # the magic, in host byte order
    # The walker knows every kind's size: walking to the end raises nothing.
    assert _probes_btf.find_func(blob, "nothing_here") is None
    assert _probes_btf.find_func(blob, "int") is None  # an INT is not a FUNC


# --- map types follow the creation rules of ebpf.syscall.maptypes -------------------


@pytest.mark.parametrize("map_type", list(MAP_TYPE_VERSIONS))
def test_map_probe_attrs_follow_the_creation_rules(map_type: MapType) -> None:
    rule = map_type_rule(map_type)
    attr = _maps.create_attr(map_type)
    assert attr.map_type == map_type
    assert attr.map_flags & rule.flags == rule.flags
    if rule.key_size is not None:
        assert attr.key_size == rule.key_size
    if rule.value_size is not None:
        assert attr.value_size == rule.value_size
    if rule.value_sizes:
        assert attr.value_size in rule.value_sizes
    expected_entries = {"zero": 0, "ringbuf": os.sysconf("SC_PAGE_SIZE")}.get(rule.max_entries, 1)
    assert attr.max_entries == expected_entries


def test_map_probe_sizes_where_the_rules_leave_them_free() -> None:
    assert (_maps.create_attr(MapType.HASH).key_size, _maps.create_attr(MapType.HASH).value_size) == (4, 4)
    assert _maps.create_attr(MapType.LPM_TRIE).key_size == 8  # prefix length and data
    assert _maps.create_attr(MapType.STACK_TRACE).value_size == 8  # one frame
    assert _maps.create_attr(MapType.ARRAY, value_size=8).value_size == 8


def test_every_map_type_with_a_probe_has_creation_rules() -> None:
    assert set(MAP_TYPE_VERSIONS) <= set(MAP_TYPE_RULES)


def test_fentry_needs_ftrace_direct_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    # arm64 before 6.4 loads fentry programs but cannot attach them to kernel functions
    # (ENOTSUPP): no register_ftrace_direct*() in kallsyms means no.
    from ebpf.syscall.features import _programs

    class _Yes:
        def supported(self) -> bool:
            return True

    monkeypatch.setattr(_programs, "prog_type_feature", lambda prog_type: _Yes())
    monkeypatch.setattr(_programs, "kernel_symbol_addresses", lambda names: {})
    assert _programs._probe_fentry() is False
