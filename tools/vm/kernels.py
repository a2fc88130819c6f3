"""The kernel matrix, and fetching a Debian kernel package into the cache.

A kernel is named by its series (``"6.1"``, ``"6.12"``), by an exact Debian
package name (``"linux-image-6.1.0-47-amd64"``) or by the path of a
``linux-image-*.deb`` file. A series is resolved to the newest matching
package that ``apt-cache`` knows; the package is fetched with
``apt-get download`` (running ``apt-get update`` first when the package
lists are empty, as on a fresh machine), extracted with ``dpkg-deb -x`` and
indexed with ``depmod -b`` under ``.cache/vm/kernels/<package>/``.

Caching is idempotent: once a package of a series is extracted, later runs
use it without asking apt (so they work offline) unless ``refresh`` is set,
which picks up a newer point release. A half-finished fetch never counts:
the tree is built in a temporary directory and renamed into place, with a
``kernel.json`` written last.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CACHE",
    "GROUPS",
    "MACHINES",
    "ROOT",
    "SERIES",
    "Kernel",
    "KernelError",
    "Series",
    "cached_kernels",
    "locked",
    "resolve",
    "run_command",
    "series_arch",
]

ROOT = Path(__file__).resolve().parents[2]
"""The repository's root (``tools/vm/`` is two levels below it)."""

CACHE = Path(os.environ.get("EBPF_VM_CACHE", str(ROOT / ".cache" / "vm"))).resolve()
"""Kernels, initramfs images and run results (gitignored; ``EBPF_VM_CACHE`` moves it)."""

_META_FILE = "kernel.json"


class KernelError(RuntimeError):
    """A kernel cannot be had: the message says which command failed and what to do."""


@dataclass(frozen=True)
class Series:
    """One kernel series of the matrix, as Debian packages it."""

    name: str
    """What users type: ``make vm-test KERNEL=6.1``."""
    package: re.Pattern[str]
    """Debian binary package names of this series (generic flavour: the cloud one has no 9p)."""
    description: str
    arch: str = "amd64"
    """Debian's name of the kernel's architecture (``amd64``, ``arm64``)."""


SERIES: dict[str, Series] = {
    series.name: series
    for series in (
        Series("6.1", re.compile(r"linux-image-6\.1\.0-\d+-amd64"), "Debian 12 (bookworm) 6.1 LTS"),
        Series(
            "6.12",
            re.compile(r"linux-image-6\.12\.\d+\+deb\d+-amd64"),
            "Debian 6.12 LTS (bookworm backports / trixie)",
        ),
        Series(
            "arm64-6.1",
            re.compile(r"linux-image-6\.1\.0-\d+-arm64"),
            "Debian 12 (bookworm) 6.1 LTS, arm64",
            "arm64",
        ),
        Series(
            "arm64-6.12",
            re.compile(r"linux-image-6\.12\.\d+\+deb\d+-arm64"),
            "Debian 6.12 LTS (bookworm), arm64",
            "arm64",
        ),
    )
}
"""The kernels of the matrix, oldest first per architecture."""

GROUPS: dict[str, tuple[str, ...]] = {
    "all": tuple(name for name, series in SERIES.items() if series.arch == "amd64"),
    "arm64": tuple(name for name, series in SERIES.items() if series.arch == "arm64"),
}
"""What ``KERNEL=all`` (the x86_64 matrix, CI's) and ``KERNEL=arm64`` (the emulated arm64 one) run."""

MACHINES = {"amd64": "x86_64", "arm64": "aarch64"}
"""Debian's architecture names to the kernel's (``uname -m``)."""


def series_arch(name: str) -> str:
    """The Debian architecture of kernel ``name`` (a series, a package name or a ``.deb`` path), unfetched."""
    series = SERIES.get(name)
    if series is not None:
        return series.arch
    return "arm64" if Path(name).name.split("_")[0].endswith("-arm64") else "amd64"


@dataclass(frozen=True)
class Kernel:
    """An extracted kernel package, ready to boot."""

    package: str
    """Debian package name, e.g. ``linux-image-6.1.0-47-amd64``."""
    version: str
    """Debian package version, e.g. ``6.1.158-1``."""
    release: str
    """``uname -r`` in the guest, e.g. ``6.1.0-47-amd64``."""
    root: Path
    """The extracted package: ``boot/`` and ``lib/modules/<release>/``."""

    @property
    def vmlinuz(self) -> Path:
        """The bootable image."""
        return self.root / "boot" / f"vmlinuz-{self.release}"

    @property
    def config(self) -> Path:
        """The kernel's build configuration (``/boot/config-<release>`` in the guest)."""
        return self.root / "boot" / f"config-{self.release}"

    @property
    def modules(self) -> Path:
        """``lib/modules/<release>``, indexed by ``depmod``."""
        return self.root / "lib" / "modules" / self.release

    @property
    def arch(self) -> str:
        """Debian's name of the kernel's architecture (``amd64``, ``arm64``), from the package name."""
        return "arm64" if self.package.endswith("-arm64") else "amd64"

    @property
    def machine(self) -> str:
        """The architecture as the guest's ``uname -m`` says it (``x86_64``, ``aarch64``)."""
        return MACHINES[self.arch]

    @property
    def series(self) -> str | None:
        """The matrix series this package belongs to, if any."""
        for series in SERIES.values():
            if series.package.fullmatch(self.package):
                return series.name
        return None

    @property
    def label(self) -> str:
        """A short name for logs and result directories: the series, or the release."""
        return self.series or self.release


def _version_key(package: str) -> tuple[int, ...]:
    """Sort key of a kernel package name: its numbers in order (6.12.117+deb12 -> 6, 12, 117, 12)."""
    return tuple(int(number) for number in re.findall(r"\d+", package))


def run_command(argv: list[str], what: str, cwd: Path | None = None) -> str:
    """Run a command; on failure raise :class:`KernelError` naming ``what`` with the command's stderr."""
    if shutil.which(argv[0]) is None:
        raise KernelError(f"{what}: '{argv[0]}' is not installed (Debian: run 'make vm-test' as root)")
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip()
        raise KernelError(f"{what}: '{' '.join(argv)}' failed with status {result.returncode}:\n{output}")
    return result.stdout


def _load(root: Path) -> Kernel | None:
    """The kernel extracted at ``root``, or ``None`` if it is not complete."""
    try:
        meta = json.loads((root / _META_FILE).read_text())
        kernel = Kernel(meta["package"], meta["version"], meta["release"], root)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not (
        kernel.vmlinuz.is_file() and kernel.config.is_file() and (kernel.modules / "modules.dep").is_file()
    ):
        return None
    return kernel


def cached_kernels() -> list[Kernel]:
    """Every complete kernel in the cache, oldest package first."""
    base = CACHE / "kernels"
    if not base.is_dir():
        return []
    found = [kernel for path in base.iterdir() if (kernel := _load(path)) is not None]
    return sorted(found, key=lambda kernel: _version_key(kernel.package))


def _apt_candidates(series: Series) -> list[str]:
    """Package names of ``series`` that apt can download, newest last."""
    names = run_command(["apt-cache", "pkgnames", "linux-image-"], "listing kernel packages").split()
    matching = [name for name in names if series.package.fullmatch(name)]
    # pkgnames also lists names only mentioned by other packages: keep those with a candidate version.
    downloadable = []
    for name in matching:
        policy = run_command(["apt-cache", "policy", name], f"asking apt about {name}")
        if re.search(r"Candidate:\s*(?!\(none\))\S+", policy):
            downloadable.append(name)
    return sorted(downloadable, key=_version_key)


def _newest_package(series: Series) -> str:
    candidates = _apt_candidates(series)
    if not candidates:
        if os.geteuid() != 0:
            raise KernelError(
                f"apt knows no package of the {series.name} series ({series.package.pattern}): "
                "run 'apt-get update' as root (or run 'make vm-test' as root), then try again"
            )
        run_command(["apt-get", "update", "-qq"], "updating apt's package lists")
        candidates = _apt_candidates(series)
    if not candidates:
        raise KernelError(
            f"no Debian package of the {series.name} series ({series.package.pattern}) in this "
            "machine's apt sources: add a Debian source that has it (bookworm, bookworm-backports, "
            "trixie), or pass the package name or a .deb path as KERNEL"
        )
    return candidates[-1]


@contextmanager
def locked() -> Iterator[None]:
    """Serialize fetches: two runners never extract into the cache at the same time."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _extract(deb: Path) -> Kernel:
    """Extract ``deb`` into the cache (replacing a broken earlier attempt) and index its modules."""
    fields = run_command(
        ["dpkg-deb", "--show", "--showformat=${Package} ${Version}", str(deb)], f"reading {deb}"
    )
    package, version = fields.split()
    final = CACHE / "kernels" / package
    if (kernel := _load(final)) is not None:
        return kernel
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{package}-", dir=final.parent))
    try:
        run_command(["dpkg-deb", "-x", str(deb), str(work)], f"extracting {deb.name}")
        images = sorted((work / "boot").glob("vmlinuz-*"))
        if len(images) != 1:
            raise KernelError(
                f"{deb.name} is not a kernel image package: boot/ holds {images or 'no vmlinuz'}"
            )
        release = images[0].name.removeprefix("vmlinuz-")
        kernel = Kernel(package, version, release, final)
        for needed in (work / "boot" / f"config-{release}", work / "lib" / "modules" / release):
            if not needed.exists():
                raise KernelError(f"{deb.name} has no {needed.relative_to(work)}")
        run_command(["depmod", "-b", str(work), release], f"indexing the modules of {release}")
        (work / _META_FILE).write_text(
            json.dumps({"package": package, "version": version, "release": release}, indent=2) + "\n"
        )
        if final.exists():
            shutil.rmtree(final)
        work.rename(final)
    finally:
        if work.exists():
            shutil.rmtree(work)
    loaded = _load(final)
    if loaded is None:
        raise KernelError(f"{final} is incomplete after extracting {deb.name}")
    return loaded


def _fetch(package: str) -> Kernel:
    """Download ``package`` with apt into the cache and extract it (or reuse the extracted tree)."""
    if (kernel := _load(CACHE / "kernels" / package)) is not None:
        return kernel
    downloads = CACHE / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    print(f"vm: downloading {package} (first use; cached in {CACHE / 'kernels'})", flush=True)
    for old in downloads.glob(f"{package}_*.deb"):
        old.unlink()
    # As root apt drops to the _apt user to download, who may not write here: stay root.
    run_command(
        ["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", package],
        f"downloading {package}",
        downloads,
    )
    debs = sorted(downloads.glob(f"{package}_*.deb"))
    if not debs:
        raise KernelError(f"apt-get download {package} succeeded but left no {package}_*.deb in {downloads}")
    kernel = _extract(debs[-1])
    for deb in debs:
        deb.unlink()
    return kernel


def resolve(name: str, *, refresh: bool = False) -> Kernel:
    """The kernel called ``name``, fetched and extracted into the cache if needed.

    Args:
        name: a series of :data:`SERIES` (``"6.1"``), a Debian package name
            (``"linux-image-6.1.0-47-amd64"``) or the path of a kernel
            image ``.deb``.
        refresh: for a series, ask apt for its newest package even when one
            is already cached.

    Raises:
        KernelError: the kernel cannot be had; the message says why and what to do.
    """
    with locked():
        if name.endswith(".deb"):
            deb = Path(name).resolve()
            if not deb.is_file():
                raise KernelError(f"no such kernel package file: {deb}")
            return _extract(deb)
        if name.startswith("linux-image-"):
            return _fetch(name)
        series = SERIES.get(name)
        if series is None:
            known = ", ".join(SERIES)
            raise KernelError(
                f"unknown kernel {name!r}: use one of {known}, 'all', a Debian package name "
                "(linux-image-...) or the path of a linux-image .deb"
            )
        if not refresh:
            cached = [kernel for kernel in cached_kernels() if series.package.fullmatch(kernel.package)]
            if cached:
                return cached[-1]
        return _fetch(_newest_package(series))
