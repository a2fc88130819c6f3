"""The guest's initramfs: busybox-static, the modules that reach the host's root, and the init scripts.

Debian's kernels build 9p, virtio and overlayfs as modules, so the guest
cannot mount the host's root without loading them first. The initramfs
holds just enough to do that:

- ``/bin/busybox`` (from Debian's ``busybox-static``: no shared libraries;
  for a guest of another architecture, the one of its :mod:`vm.userland`),
- ``/modules/*.ko``: ``9pnet_virtio``, ``9p``, ``overlay``, ``virtio_pci``
  and what they depend on, in load order (``modprobe --show-depends``
  against the extracted package), decompressed so busybox's ``insmod`` can
  load them on any kernel,
- ``/config``: the kernel's build configuration, which ``init`` copies to
  ``/boot/config-<release>`` in the guest (Debian kernels have no
  ``/proc/config.gz``; the feature tests read their config from there),
- ``/init`` (``guest/init``) and ``/stage2`` (``guest/stage2``).

The archive is an uncompressed "newc" cpio written here (no ``cpio``
tool needed), cached next to the kernel under a name derived from a hash
of its contents, so an unchanged initramfs is built once.
"""

from __future__ import annotations

import gzip
import hashlib
import lzma
import os
import shutil
import stat
import subprocess
from collections.abc import Iterable
from pathlib import Path

from vm.kernels import Kernel, KernelError

__all__ = ["GUEST_DIR", "MODULES", "build_initramfs", "module_load_order"]

GUEST_DIR = Path(__file__).resolve().parent / "guest"
"""The guest's init scripts."""

MODULES = ("virtio_pci", "9pnet_virtio", "9p", "overlay")
"""What the guest needs before it can mount the host's root (dependencies are added)."""

BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")


def module_load_order(kernel: Kernel, names: Iterable[str] = MODULES) -> list[Path]:
    """The module files to insert, dependencies first, for ``names`` (built-in ones are left out).

    Raises:
        KernelError: ``modprobe`` (Debian package ``kmod``) is missing or a module is unknown.
    """
    if shutil.which("modprobe") is None:
        raise KernelError("modprobe is not installed: install Debian's 'kmod' package")
    result = subprocess.run(
        ["modprobe", "-d", str(kernel.root), "-S", kernel.release, "--show-depends", "-a", *names],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise KernelError(
            f"modprobe cannot resolve {', '.join(names)} for {kernel.release}: {result.stderr.strip()}"
        )
    order: list[Path] = []
    for line in result.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "insmod":
            path = Path(fields[1])
            if path not in order:
                order.append(path)
    return order


def _decompressed(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix == ".xz":
        return lzma.decompress(data)
    if path.suffix == ".gz":
        return gzip.decompress(data)
    if path.suffix == ".zst":
        if shutil.which("zstd") is None:
            raise KernelError(f"{path.name} is zstd-compressed: install Debian's 'zstd' package")
        return subprocess.run(["zstd", "-dc", str(path)], capture_output=True, check=True).stdout
    return data


def _busybox() -> Path:
    for candidate in BUSYBOX_CANDIDATES:
        path = Path(candidate)
        if path.is_file():
            # A dynamically linked busybox would find no libc in the initramfs.
            if b"ld-linux" in path.read_bytes()[: 4096 * 4]:
                continue
            return path
    raise KernelError(
        "no static busybox found (looked at " + ", ".join(BUSYBOX_CANDIDATES) + "): "
        "install Debian's 'busybox-static' package"
    )


class _Cpio:
    """A "newc" cpio archive in memory, as the kernel unpacks an initramfs."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._inode = 1

    @staticmethod
    def _pad(length: int) -> bytes:
        return b"\0" * (-length % 4)

    def _entry(self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)) -> None:
        encoded = name.encode() + b"\0"
        fields = (
            self._inode, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0,
        )  # fmt: skip
        header = b"070701" + b"".join(b"%08X" % field for field in fields)
        self._inode += 1
        self._parts += [header, encoded, self._pad(len(header) + len(encoded)), data, self._pad(len(data))]

    def directory(self, name: str) -> None:
        self._entry(name, stat.S_IFDIR | 0o755)

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self._entry(name, stat.S_IFREG | mode, data)

    def char_device(self, name: str, major: int, minor: int) -> None:
        self._entry(name, stat.S_IFCHR | 0o600, rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        return b"".join(self._parts)


def build_initramfs(kernel: Kernel, busybox: Path | None = None) -> Path:
    """The initramfs for ``kernel``, built into the kernel's cache directory unless already there.

    Args:
        kernel: the kernel whose modules go in.
        busybox: a static busybox of the kernel's architecture; by default the host's
            (Debian's ``busybox-static``), which serves guests of the host's architecture.

    Raises:
        KernelError: busybox-static or kmod is missing, or a module cannot be resolved.
    """
    if busybox is None:
        busybox = _busybox()
    elif not busybox.is_file():
        raise KernelError(f"no busybox at {busybox} (the guest's userland has no busybox-static?)")
    modules = module_load_order(kernel)
    contents: list[tuple[str, bytes, int]] = [
        ("init", (GUEST_DIR / "init").read_bytes(), 0o755),
        ("stage2", (GUEST_DIR / "stage2").read_bytes(), 0o755),
        ("bin/busybox", busybox.read_bytes(), 0o755),
        ("config", kernel.config.read_bytes(), 0o644),
    ]
    order: list[str] = []
    for index, module in enumerate(modules):
        name = f"{index:02d}-{module.name.split('.ko')[0]}.ko"
        contents.append((f"modules/{name}", _decompressed(module), 0o644))
        order.append(name)
    contents.append(("modules/order", "".join(f"{name}\n" for name in order).encode(), 0o644))

    digest = hashlib.sha256()
    for name, data, mode in contents:
        digest.update(f"{name}\0{mode}\0{len(data)}\0".encode())
        digest.update(data)
    target = kernel.root / f"initramfs-{digest.hexdigest()[:16]}.cpio"
    if target.is_file():
        return target

    archive = _Cpio()
    for directory in ("bin", "dev", "proc", "sys", "modules", "lower", "rw", "newroot", "kmods"):
        archive.directory(directory)
    archive.char_device("dev/console", 5, 1)
    archive.char_device("dev/null", 1, 3)
    for name, data, mode in contents:
        archive.file(name, data, mode)
    for old in kernel.root.glob("initramfs-*.cpio"):
        old.unlink()
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(archive.finish())
    os.replace(tmp, target)
    return target
