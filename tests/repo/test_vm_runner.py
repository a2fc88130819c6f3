"""The kernel VM runner (``tools/vm``) without booting: names, architectures, QEMU lines, the report."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from vm import qemu
from vm.__main__ import kernel_names
from vm.kernels import GROUPS, SERIES, Kernel, series_arch
from vm.report import load_runs, render_markdown
from vm.userland import PYTHON_REQUIREMENTS, _pip_platform_args


def test_all_is_the_x86_64_matrix_and_arm64_its_own() -> None:
    assert kernel_names(["all"]) == ["6.1", "6.12"]
    assert kernel_names(["arm64"]) == ["arm64-6.1", "arm64-6.12"]
    assert kernel_names(["6.12,arm64-6.12", "6.12"]) == ["6.12", "arm64-6.12"]
    assert {SERIES[name].arch for name in GROUPS["arm64"]} == {"arm64"}


@pytest.mark.parametrize(
    ("name", "arch"),
    [
        ("6.1", "amd64"),
        ("arm64-6.12", "arm64"),
        ("linux-image-6.12.118+deb12-arm64", "arm64"),
        ("linux-image-6.1.0-57-cloud-arm64", "arm64"),
        ("/tmp/linux-image-6.1.0-57-arm64_6.1.158-1_arm64.deb", "arm64"),
        ("linux-image-6.1.0-57-amd64", "amd64"),
    ],
)
def test_architecture_of_a_kernel_name(name: str, arch: str) -> None:
    assert series_arch(name) == arch


def test_series_match_their_architecture_only() -> None:
    assert SERIES["arm64-6.12"].package.fullmatch("linux-image-6.12.118+deb12-arm64")
    assert not SERIES["arm64-6.12"].package.fullmatch("linux-image-6.12.118+deb12-amd64")
    assert not SERIES["6.12"].package.fullmatch("linux-image-6.12.118+deb12-arm64")
    assert not SERIES["arm64-6.1"].package.fullmatch("linux-image-6.1.0-57-cloud-arm64")


def test_arm64_guest_command_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")
    kernel = Kernel("linux-image-6.12.118+deb12-arm64", "6.12.118-1", "6.12.118+deb12-arm64", tmp_path)
    assert (kernel.arch, kernel.machine) == ("arm64", "aarch64")
    root = tmp_path / "root"
    config = qemu.GuestConfig(kernel=kernel, job=tmp_path / "job", script="", accel="tcg", root=root,
                              overlays=(Path("/work/checkout"),))  # fmt: skip
    argv = qemu.command_line(config, tmp_path / "initrd")
    assert argv[0] == "/usr/bin/qemu-system-aarch64"
    assert argv[argv.index("-M") + 1] == "virt"
    assert argv[argv.index("-cpu") + 1].startswith("max")
    cmdline = argv[argv.index("-append") + 1].split()
    assert "console=ttyAMA0" in cmdline
    assert "vmtest.overlays=ov0:/work/checkout" in cmdline
    assert "vmtest.ldconfig=1" in cmdline
    shares = [arg for arg in argv if arg.startswith("local,")]
    assert any(f"path={root}," in share and "readonly=on" in share for share in shares)
    assert any("id=ov0,path=/work/checkout," in share for share in shares)


def test_x86_64_guest_keeps_the_hosts_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(os, "uname", lambda: os.uname_result(("Linux", "h", "6.1", "#1", "x86_64")))
    kernel = Kernel("linux-image-6.1.0-57-amd64", "6.1.158-1", "6.1.0-57-amd64", tmp_path)
    argv = qemu.command_line(qemu.GuestConfig(kernel=kernel, job=tmp_path, script="", accel="tcg"), tmp_path)
    assert argv[0] == "/usr/bin/qemu-system-x86_64"
    assert "-M" not in argv
    cmdline = argv[argv.index("-append") + 1].split()
    assert "console=ttyS0" in cmdline
    assert not [arg for arg in cmdline if arg.startswith(("vmtest.overlays=", "vmtest.ldconfig="))]
    assert any("id=hostroot,path=/," in arg for arg in argv)


def test_wheels_for_the_guest_are_binary_for_aarch64() -> None:
    args = _pip_platform_args("arm64")
    assert "--only-binary=:all:" in args
    assert "manylinux2014_aarch64" in args
    assert {"pytest", "numpy", "construct", "pyroute2"} <= set(PYTHON_REQUIREMENTS)


def _record(base: Path, label: str, machine: str, *, in_meta: bool) -> None:
    job = base / label
    job.mkdir(parents=True)
    meta: dict[str, object] = {"label": label, "release": f"{label}-release", "status": 0}
    if in_meta:
        meta["machine"] = machine
    (job / "meta.json").write_text(json.dumps(meta))
    (job / "features.json").write_text(json.dumps({"machine": machine, "features": []}))


def test_report_names_the_architectures(tmp_path: Path) -> None:
    _record(tmp_path, "6.12", "x86_64", in_meta=False)  # recorded before meta.json had the machine
    _record(tmp_path, "arm64-6.12", "aarch64", in_meta=True)
    text = render_markdown(load_runs(tmp_path))
    assert "| architecture | x86_64 | aarch64 |" in text
    assert "Architectures verified: **x86_64** (6.12), **aarch64** (arm64-6.12)" in " ".join(text.split())
