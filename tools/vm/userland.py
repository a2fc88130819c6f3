"""A userland for guests whose CPU is not the host's (arm64 under ``qemu-system-aarch64``).

An x86_64 guest reuses the host's root file system; an arm64 guest cannot
run a single host binary, so it boots into a root of its own, built here
from Debian's arm64 packages and cached under
``.cache/vm/userland/<arch>/root``:

- the packages of :data:`PACKAGES` and everything they depend on
  (Python 3.11, bash, busybox-static, kmod, iproute2, util-linux, clang,
  llvm, gcc, libbpf-dev, bpftool...), resolved by ``apt-get`` against an
  empty package database and fetched with ``--download-only`` (the host's
  dpkg must know the architecture: ``dpkg --add-architecture arm64`` and
  ``apt-get update``, done here when run as root), then unpacked with
  ``dpkg-deb -x``. No maintainer script runs, so the few things they would
  create (``/bin/sh``, ``/etc/passwd``, ``cc``) are made here, and the
  guest runs ``ldconfig`` at boot;
- the Python packages the suite needs (pytest, hypothesis, NumPy, and the
  library's own dependencies construct and pyroute2) at the versions of the
  hatch environment, installed with the host's pip for the guest's platform
  (``--platform manylinux2014_aarch64 --only-binary=:all:``) into
  ``/usr/local/lib/python3.11/dist-packages``.

The root is built in a temporary directory and renamed into place with a
``userland.json`` written last, keyed by a hash of what went into it: an
unchanged recipe is built once and later runs work offline.

The library itself is not part of the root: :func:`install_project` builds
the project's wheels (``hatch build --all -t wheel``) before every run and
installs them into ``.cache/vm/userland/<arch>/site``, which the guest
sees through the shared checkout and puts on ``PYTHONPATH``. The guest
therefore tests the wheels as they are published, built from the checkout
as it is now.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from vm.kernels import CACHE, ROOT, KernelError, locked, run_command

__all__ = [
    "GUEST_PYTHON",
    "PACKAGES",
    "PYTHON_REQUIREMENTS",
    "Userland",
    "hatch_command",
    "install_project",
    "userland",
]

PACKAGES = (
    "python3", "bash", "dash", "coreutils", "util-linux", "mount", "base-passwd", "libc-bin",
    "iproute2", "kmod", "busybox-static", "procps",
    "clang", "llvm", "clang-14", "llvm-14", "libbpf-dev", "bpftool",
    "gcc", "libc6-dev", "binutils", "systemtap-sdt-dev",
)  # fmt: skip
"""Debian packages of the guest's root (dependencies are added): what the suite runs and compiles with."""

PYTHON_REQUIREMENTS = ("pytest", "hypothesis", "numpy", "construct", "pyroute2", "prometheus-client")
"""Python distributions installed into the root, pinned to the hatch environment's versions."""

GUEST_PYTHON = "/usr/bin/python3.11"
"""The guest's interpreter (Debian 12's)."""

_PYTHON_VERSION = "3.11"
_WHEEL_PLATFORMS = {"arm64": ("manylinux2014_aarch64", "linux_aarch64")}
_META_FILE = "userland.json"


@dataclass(frozen=True)
class Userland:
    """A cached root file system of another architecture."""

    arch: str
    """Debian's name of the architecture (``arm64``)."""
    root: Path
    """The root directory, shared read-only into the guest as its ``/``."""

    @property
    def busybox(self) -> Path:
        """The static busybox of this architecture (for the initramfs)."""
        return self.root / "bin" / "busybox"

    @property
    def site(self) -> Path:
        """Where :func:`install_project` installs the project's wheels (in the checkout's cache)."""
        return self.root.parent / "site"


def hatch_command() -> str:
    """The ``hatch`` executable (on ``PATH``, or the one ``make setup`` put in ``.tools/hatch``).

    Raises:
        KernelError: hatch is not installed.
    """
    hatch = shutil.which("hatch") or str(ROOT / ".tools" / "hatch" / "bin" / "hatch")
    if not Path(hatch).exists():
        raise KernelError("hatch is not installed: run 'make setup' first")
    return hatch


def _apt_options(status: Path, archives: Path, arch: str) -> list[str]:
    """apt options that resolve for ``arch`` from scratch: an empty dpkg database, our own download dir."""
    return [
        "-o", f"Dir::State::status={status}",
        "-o", f"APT::Architecture={arch}",
        "-o", f"APT::Architectures::={arch}",
        "-o", f"Dir::Cache::archives={archives}",
        "-o", "Debug::NoLocking=1",  # neither the host's dpkg nor its archive cache is touched
        "-o", "APT::Sandbox::User=root",  # as root apt drops to _apt, who may not write into the cache
    ]  # fmt: skip


def _ensure_architecture(arch: str) -> None:
    """Make the host's dpkg and apt know ``arch`` (as root: add it and update the package lists).

    Raises:
        KernelError: the architecture is unknown to dpkg and this is not root.
    """
    native = run_command(["dpkg", "--print-architecture"], "asking dpkg for the architecture").strip()
    foreign = run_command(["dpkg", "--print-foreign-architectures"], "asking dpkg for foreign architectures")
    if arch == native or arch in foreign.split():
        return
    if os.geteuid() != 0:
        raise KernelError(
            f"dpkg does not know the {arch} architecture: run 'dpkg --add-architecture {arch} && "
            "apt-get update' as root (or run 'make vm-test' as root)"
        )
    run_command(["dpkg", "--add-architecture", arch], f"adding the {arch} architecture to dpkg")
    run_command(["apt-get", "update", "-qq"], "updating apt's package lists")


def _download_debs(arch: str, work: Path) -> list[Path]:
    """Every ``.deb`` of :data:`PACKAGES` and their dependencies for ``arch``, downloaded into ``work``."""
    status = work / "dpkg-status"
    status.write_text("")
    archives = work / "debs"
    (archives / "partial").mkdir(parents=True)
    argv = [
        "apt-get", "install", "-q", "-y", "--download-only", "--no-install-recommends",
        *_apt_options(status, archives, arch), *PACKAGES,
    ]  # fmt: skip
    try:
        run_command(argv, f"downloading the {arch} packages of the guest's userland")
    except KernelError:
        if os.geteuid() != 0:
            raise
        # The lists may predate the architecture or a point release: refresh them once.
        run_command(["apt-get", "update", "-qq"], "updating apt's package lists")
        run_command(argv, f"downloading the {arch} packages of the guest's userland")
    debs = sorted(archives.glob("*.deb"))
    if not debs:
        raise KernelError(f"apt-get downloaded no {arch} package into {archives}")
    return debs


def _unpack(debs: list[Path], root: Path) -> None:
    for deb in debs:
        run_command(["dpkg-deb", "-x", str(deb), str(root)], f"unpacking {deb.name}")


def _link(root: Path, path: str, target: str) -> None:
    link = root / path.lstrip("/")
    if link.exists() or link.is_symlink():
        return
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)


def _finish_root(root: Path) -> None:
    """What the maintainer scripts would have done: ``/bin/sh``, users, ``cc``, empty mount points."""
    _link(root, "/bin/sh", "dash")
    _link(root, "/usr/bin/cc", "gcc")
    _link(root, "/usr/bin/python", "python3")
    etc = root / "etc"
    etc.mkdir(exist_ok=True)
    master = root / "usr" / "share" / "base-passwd"
    for name in ("passwd", "group"):
        source = master / f"{name}.master"
        if not source.is_file():
            raise KernelError(f"base-passwd left no {source}: cannot create /etc/{name}")
        shutil.copyfile(source, etc / name)
    (etc / "hosts").write_text("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
    (etc / "hostname").write_text("vmtest\n")
    for directory in ("proc", "sys", "dev", "tmp", "run", "root", "var/tmp", "boot", "lib/modules"):
        (root / directory).mkdir(parents=True, exist_ok=True)
    (root / "tmp").chmod(0o1777)
    (root / "var" / "tmp").chmod(0o1777)


def _pip_platform_args(arch: str) -> list[str]:
    try:
        platforms = _WHEEL_PLATFORMS[arch]
    except KeyError:
        known = ", ".join(_WHEEL_PLATFORMS)
        raise KernelError(f"no wheel platform known for {arch} (known: {known})") from None
    args = ["--only-binary=:all:", "--python-version", _PYTHON_VERSION, "--implementation", "cp"]
    for platform in platforms:
        args += ["--platform", platform]
    return args


def _pinned_requirements(python: Path) -> list[str]:
    """:data:`PYTHON_REQUIREMENTS` at most at the versions of the hatch environment (unpinned if absent).

    At most, not exactly: a binary wheel (NumPy's) may not exist for the guest's platform and
    Python at the host's version; the newest one that does is taken.
    """
    listed = run_command([str(python), "-m", "pip", "list", "--format=json"], "listing the hatch environment")
    versions = {
        re.sub(r"[-_.]+", "-", entry["name"]).lower(): entry["version"] for entry in json.loads(listed)
    }
    return [f"{name}<={versions[name]}" if name in versions else name for name in PYTHON_REQUIREMENTS]


def _site_packages(root: Path) -> Path:
    return root / "usr" / "local" / "lib" / f"python{_PYTHON_VERSION}" / "dist-packages"


def _pip_install(python: Path, arch: str, target: Path, requirements: list[str], *, deps: bool) -> None:
    argv = [
        str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-compile",
        "--target", str(target), *_pip_platform_args(arch), *([] if deps else ["--no-deps"]), *requirements,
    ]  # fmt: skip
    run_command(argv, f"installing {', '.join(requirements) or 'nothing'} for {arch}")


def _precompile(python: Path, root: Path, directories: list[Path]) -> None:
    """Byte-compile ``directories`` (below ``root``) with the host's Python, as the guest would at import.

    Debian compiles its Python modules in maintainer scripts, which do not run here; under CPU
    emulation the guest would spend minutes compiling the standard library, pytest and NumPy at
    every boot. A ``.pyc`` is keyed by the minor version and the source's mtime and size, so the
    host's 3.11 writes what the guest's 3.11 accepts; another host version leaves it to the guest.
    Files that do not compile (test data of the standard library) are left alone.
    """
    version = run_command([str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                          "asking the hatch environment's Python for its version").strip()  # fmt: skip
    if version != _PYTHON_VERSION:
        return
    argv = [str(python), "-m", "compileall", "-q", "-j", "0", "-s", str(root), "-p", "/",
            *(str(directory) for directory in directories if directory.is_dir())]  # fmt: skip
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def _recipe(arch: str, requirements: list[str]) -> dict[str, object]:
    return {"arch": arch, "packages": list(PACKAGES), "python": requirements, "version": 2}


def userland(arch: str, python: Path) -> Userland:
    """The cached root of ``arch``, built first if missing or made from another recipe.

    Args:
        arch: Debian's architecture name (``"arm64"``).
        python: the hatch environment's interpreter: its pip installs the guest's Python packages,
            at the versions it has itself.

    Raises:
        KernelError: apt, dpkg-deb or pip failed (the message has the command and its output).
    """
    requirements = _pinned_requirements(python)
    recipe = _recipe(arch, requirements)
    key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]
    base = CACHE / "userland" / arch
    final = base / "root"
    with locked():
        try:
            if json.loads((final / _META_FILE).read_text()).get("key") == key:
                return Userland(arch, final)
        except (OSError, ValueError, AttributeError):
            pass
        _ensure_architecture(arch)
        print(f"vm: building the {arch} userland (first use; cached in {final})", flush=True)
        base.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".build-", dir=base))
        try:
            debs = _download_debs(arch, work)
            root = work / "root"
            _unpack(debs, root)
            _finish_root(root)
            _pip_install(python, arch, _site_packages(root), requirements, deps=True)
            lib = root / "usr" / "lib"
            _precompile(
                python, root, [lib / f"python{_PYTHON_VERSION}", lib / "python3", _site_packages(root)]
            )
            (root / _META_FILE).write_text(json.dumps({**recipe, "key": key}, indent=2) + "\n")
            if final.exists():
                shutil.rmtree(final)
            root.rename(final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return Userland(arch, final)


def install_project(land: Userland, python: Path) -> Path:
    """Build the project's wheels from the checkout and install them into ``land.site``; returns it.

    Raises:
        KernelError: hatch or pip failed.
    """
    with locked():
        wheels = Path(tempfile.mkdtemp(prefix=".wheels-", dir=land.root.parent))
        try:
            run_command([hatch_command(), "build", "--all", "-t", "wheel", str(wheels)],
                        "building the project's wheels", ROOT)  # fmt: skip
            built = sorted(str(path) for path in wheels.glob("*.whl"))
            if not built:
                raise KernelError(f"'hatch build' left no wheel in {wheels}")
            if land.site.exists():
                shutil.rmtree(land.site)
            _pip_install(python, land.arch, land.site, built, deps=False)
            _precompile(python, land.site, [land.site])
        finally:
            shutil.rmtree(wheels, ignore_errors=True)
    return land.site
