"""Boot a kernel under QEMU with the host's root shared into it, run a script as root, collect the result.

The guest (see ``guest/init`` and ``guest/stage2``) sees the host's root
file system read-only through 9p with a tmpfs overlay on top, so every path
of the host, the checkout and its virtualenv included, is the same inside.
A per-run *job directory* on the host is shared writable and mounted at the
same path: the host writes ``run.sh`` there, the guest runs it with the
host's bash and writes ``status`` (the exit status) beside whatever the
script wrote (a junit report). The console goes to ``console.log`` in the
job directory and, line by line, to the caller.

KVM is used only when the host has a hardware KVM module loaded
(``/sys/module/kvm_intel`` or ``/sys/module/kvm_amd``): some machines expose
``/dev/kvm`` from a paravirtual KVM that hangs or fails on stock kernels.
Otherwise QEMU emulates the CPU (TCG, ``-cpu max``), which boots a Debian
kernel in seconds but runs Python about 18 times slower.

A guest that does not power off within the timeout is killed: a hung
kernel never blocks the caller.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vm.initramfs import build_initramfs
from vm.kernels import Kernel, KernelError

__all__ = ["GuestConfig", "GuestResult", "accelerator", "qemu_binary", "run_guest"]

STATUS_MARK = re.compile(r"VMTEST-STATUS=(\d+)")
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[@-_a-z])")
"""Terminal control sequences (SeaBIOS and the kernel clear the screen): not for logs."""
UP_MARK = re.compile(r"vmtest: Linux \S+ up after ([\d.]+) s")
_PRINT_LOCK = threading.Lock()
SETUP_FAILED = 125
"""Status of a guest that could not set itself up (printed by ``guest/init``)."""


_QEMU = {
    # Debian architecture: (QEMU binary, Debian package, the host's uname -m that KVM needs)
    "amd64": ("qemu-system-x86_64", "qemu-system-x86", "x86_64"),
    "arm64": ("qemu-system-aarch64", "qemu-system-arm", "aarch64"),
}
_HARDWARE_KVM = ("kvm_intel", "kvm_amd", "kvm_arm")
"""Modules of hardware KVM (``kvm_arm`` is not a module on arm64: ``/sys/module/kvm`` stands for it there)."""


def qemu_binary(arch: str = "amd64") -> str:
    """Path of the QEMU emulator for kernels of ``arch`` (``qemu-system-x86_64``, ``qemu-system-aarch64``).

    Raises:
        KernelError: an x86_64 guest on a host of another architecture (only arm64 guests are
            emulated across architectures), an unknown architecture, or QEMU is not installed.
    """
    if arch not in _QEMU:
        raise KernelError(f"no QEMU known for {arch} kernels (known: {', '.join(_QEMU)})")
    binary, package, machine = _QEMU[arch]
    if arch == "amd64" and os.uname().machine != machine:
        raise KernelError(
            f"the VM runner boots Debian amd64 kernels on x86_64 hosts; this host is {os.uname().machine}"
        )
    path = shutil.which(binary)
    if path is None:
        raise KernelError(f"{binary} is not installed: install Debian's '{package}' package")
    return path


def accelerator(choice: str = "auto", arch: str = "amd64") -> list[str]:
    """QEMU's ``-accel``/``-cpu`` arguments: KVM only on hardware KVM of the guest's architecture, else TCG.

    Args:
        choice: ``"auto"``, ``"kvm"`` or ``"tcg"``.
        arch: the guest's Debian architecture (``amd64``, ``arm64``).
    """
    if choice == "auto":
        native = arch in _QEMU and os.uname().machine == _QEMU[arch][2]
        hardware = any(Path("/sys/module", name).is_dir() for name in _HARDWARE_KVM) or (
            arch == "arm64" and Path("/sys/module/kvm").is_dir()
        )
        choice = "kvm" if native and hardware and os.access("/dev/kvm", os.R_OK | os.W_OK) else "tcg"
    if choice == "kvm":
        return ["-accel", "kvm", "-cpu", "host"]
    if choice == "tcg":
        # Pointer authentication with the architected QARMA algorithm costs TCG a lot of time;
        # the implementation-defined one is as good for a test guest and much faster.
        cpu = "max,pauth-impdef=on" if arch == "arm64" else "max"
        return ["-accel", "tcg,thread=multi", "-cpu", cpu]
    raise ValueError(f"accelerator must be 'auto', 'kvm' or 'tcg', not {choice!r}")


@dataclass(frozen=True)
class GuestConfig:
    """One boot: which kernel, what to run, how big a machine, how long to wait."""

    kernel: Kernel
    job: Path
    """The job directory (created and emptied of old results; shared writable)."""
    script: str
    """The body of ``run.sh``, run by ``/bin/bash`` as root in the guest; its status is the guest's."""
    memory: str = "2G"
    cpus: int = 1
    timeout: float = 3600.0
    """Seconds before the guest is killed."""
    accel: str = "auto"
    cache: str = "loose"
    """9p cache mode of the shared root: ``loose`` (fastest; the host must not change files meanwhile),
    ``mmap`` or ``none``."""
    msize: int = 512_000
    extra_cmdline: tuple[str, ...] = ()
    root: Path = Path("/")
    """The guest's root file system, shared read-only (the host's own, or a :mod:`vm.userland` root)."""
    overlays: tuple[Path, ...] = ()
    """Host directories shared read-only at the same path in the guest, each under a tmpfs overlay
    (the checkout, when the guest's root is not the host's)."""


@dataclass
class GuestResult:
    """What came back from one boot."""

    status: int | None
    """The script's exit status; ``None`` when the guest died or was killed before reporting one."""
    timed_out: bool
    seconds: float
    """Wall time from starting QEMU to its exit."""
    boot_seconds: float | None
    """Guest uptime when the script started (kernel + initramfs + mounts)."""
    console: Path
    tail: list[str] = field(default_factory=list)
    """The last lines of the console, for error messages."""

    @property
    def ok(self) -> bool:
        return self.status == 0


def _share(tag: str, path: Path, *, readonly: bool) -> list[str]:
    # QEMU's option syntax escapes a comma by doubling it.
    escaped = str(path).replace(",", ",,")
    fsdev = f"local,id={tag},path={escaped},security_model=none,multidevs=remap"
    if readonly:
        fsdev += ",readonly=on"
    return ["-fsdev", fsdev, "-device", f"virtio-9p-pci,fsdev={tag},mount_tag={tag}"]


def command_line(config: GuestConfig, initrd: Path) -> list[str]:
    """The QEMU command for ``config``."""
    job = str(config.job)
    if re.search(r"\s", job):
        raise KernelError(f"the job directory must not contain white space (kernel command line): {job!r}")
    arch = config.kernel.arch
    overlays = {f"ov{index}": path for index, path in enumerate(config.overlays)}
    shares = ",".join(f"{tag}:{path}" for tag, path in overlays.items())
    for path in config.overlays:
        if re.search(r"[\s,:]", str(path)):
            raise KernelError(f"a shared directory must not contain white space, ',' or ':': {str(path)!r}")
    cmdline = [
        "console=ttyAMA0" if arch == "arm64" else "console=ttyS0",
        "panic=-1",  # a panicking guest reboots, which -no-reboot turns into QEMU exiting
        "loglevel=4",
        "mitigations=off",
        "rdinit=/init",
        f"vmtest.job={job}",
        f"vmtest.cache={config.cache}",
        f"vmtest.msize={config.msize}",
        *([f"vmtest.overlays={shares}"] if shares else []),
        *(["vmtest.ldconfig=1"] if config.root != Path("/") else []),
        *config.extra_cmdline,
    ]
    return [
        qemu_binary(arch),
        *(["-M", "virt"] if arch == "arm64" else []),
        "-nographic",
        "-no-reboot",
        "-nodefaults",
        "-serial", "stdio",
        "-m", config.memory,
        "-smp", str(config.cpus),
        *accelerator(config.accel, arch),
        "-kernel", str(config.kernel.vmlinuz),
        "-initrd", str(initrd),
        "-append", " ".join(cmdline),
        "-nic", "none",
        *_share("hostroot", config.root, readonly=True),
        *[arg for tag, path in overlays.items() for arg in _share(tag, path, readonly=True)],
        *_share("kmods", config.kernel.modules, readonly=True),
        *_share("job", config.job, readonly=False),
    ]  # fmt: skip


def _prepare_job(config: GuestConfig) -> None:
    config.job.mkdir(parents=True, exist_ok=True)
    for entry in config.job.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    script = config.job / "run.sh"
    script.write_text(config.script)
    script.chmod(0o755)


def run_guest(config: GuestConfig, echo: Callable[[str], None] | None = None) -> GuestResult:
    """Boot ``config.kernel``, run ``config.script`` inside, wait for the guest to power off.

    Args:
        config: the boot.
        echo: called with every console line as it arrives (e.g. to print it with a prefix).

    Raises:
        KernelError: QEMU, busybox-static or kmod is missing, or the initramfs cannot be built.
    """
    # A guest in a userland of its own (vm.userland) boots with that userland's busybox.
    busybox = None if config.root == Path("/") else config.root / "bin" / "busybox"
    initrd = build_initramfs(config.kernel, busybox)
    _prepare_job(config)
    argv = command_line(config, initrd)
    console = config.job / "console.log"
    (config.job / "qemu.cmd").write_text(" ".join(argv) + "\n")
    tail: list[str] = []
    marks: dict[str, float] = {}
    started = time.monotonic()
    process = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )

    def pump() -> None:
        assert process.stdout is not None
        with open(console, "w", encoding="utf-8", errors="replace") as log:
            for raw in process.stdout:
                line = _ESCAPES.sub("", raw.decode("utf-8", "replace")).rstrip("\r\n").replace("\r", "")
                log.write(line + "\n")
                log.flush()
                tail.append(line)
                del tail[:-60]
                if (match := STATUS_MARK.search(line)) is not None:
                    marks["status"] = float(match.group(1))
                if (match := UP_MARK.search(line)) is not None:
                    marks["boot"] = float(match.group(1))
                if echo is not None:
                    echo(line)

    reader = threading.Thread(target=pump, name=f"console-{config.kernel.label}", daemon=True)
    reader.start()
    timed_out = False
    try:
        process.wait(timeout=config.timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    reader.join(timeout=10)
    seconds = time.monotonic() - started

    status: int | None = None
    try:
        status = int((config.job / "status").read_text().strip())
    except (OSError, ValueError):
        if "status" in marks:
            status = int(marks["status"])
    if timed_out:
        tail.append(f"vm: the guest did not finish within {config.timeout:.0f} s and was killed")
        status = None
    return GuestResult(status, timed_out, seconds, marks.get("boot"), console, tail)


def print_prefixed(prefix: str) -> Callable[[str], None]:
    """An ``echo`` for :func:`run_guest` that prints each line with ``prefix``, whole lines at a time."""

    def echo(line: str) -> None:
        with _PRINT_LOCK:
            sys.stdout.write(f"{prefix}{line}\n")
            sys.stdout.flush()

    return echo
