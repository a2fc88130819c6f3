"""Command line of the kernel VM runner: ``PYTHONPATH=tools python3 -m vm run --kernel all``.

Commands:

- ``run``: boot each kernel under QEMU and run the integration suite inside
  as root (``--kernel 6.1``, ``6.12``, ``all``, ``host``, a Debian package
  name or a ``.deb`` path; repeatable or comma separated). Arguments after
  ``--`` go to pytest instead of the default ``integration``. Results land
  in ``.cache/vm/runs/<kernel>/`` (``junit.xml``, ``features.json``,
  ``console.log``, ``meta.json``) and ``docs/kernels.md`` is regenerated.
  The exit status is 0 only if every kernel's suite passed.
- ``fetch``: download and extract kernels into the cache, nothing else.
- ``list``: the matrix and what is cached.
- ``report``: regenerate ``docs/kernels.md`` from the last runs.
- ``shell``: boot a kernel and run an interactive shell in it (a terminal is needed).

``make vm-test KERNEL=...`` calls ``run`` with the hatch environment's
interpreter; see ``vagrant/README.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from vm.kernels import CACHE, GROUPS, ROOT, SERIES, Kernel, KernelError, cached_kernels, resolve, series_arch
from vm.qemu import GuestConfig, GuestResult, accelerator, print_prefixed, qemu_binary, run_guest
from vm.report import DOC, RUNS, load_run, write_markdown
from vm.userland import GUEST_PYTHON, Userland, hatch_command, install_project, userland

DEFAULT_TESTS = ("integration",)
SHADOWED = ("/tmp", "/run")
"""Directories the guest mounts a fresh tmpfs on, unless the checkout or the interpreter is below them."""


def _say(message: str) -> None:
    print(f"vm: {message}", flush=True)


def find_python(given: str | None) -> Path:
    """The interpreter of the hatch environment (``--python``, ``$EBPF_VM_PYTHON`` or ``hatch env find``).

    Raises:
        KernelError: none can be found, with what to run.
    """
    candidate = given or os.environ.get("EBPF_VM_PYTHON")
    if not candidate:
        hatch = hatch_command()
        found = subprocess.run([hatch, "env", "find"], cwd=ROOT, capture_output=True, text=True, check=False)
        if found.returncode != 0 or not found.stdout.strip():
            raise KernelError(f"'hatch env find' failed: {found.stderr.strip()}; run 'make setup' first")
        candidate = str(Path(found.stdout.strip().splitlines()[-1]) / "bin" / "python")
    python = Path(candidate)
    if python.is_dir():
        python = python / "bin" / "python"
    if not os.access(python, os.X_OK):
        raise KernelError(f"no Python interpreter at {python}: run 'make setup' (the hatch environment)")
    # Keep the virtualenv's path (its bin/python symlink is what makes it a venv): only make it absolute.
    return Path(os.path.abspath(python))


def kernel_names(values: Sequence[str]) -> list[str]:
    """``["all"]`` -> the x86_64 matrix; ``["arm64"]`` -> the arm64 one; ``["6.1,6.12"]`` -> both;
    duplicates dropped, order kept."""
    names: list[str] = []
    for value in values or ["all"]:
        for part in value.split(","):
            name = part.strip()
            expanded = list(GROUPS[name]) if name in GROUPS else [name] if name else []
            names += [each for each in expanded if each not in names]
    return names


@dataclass
class Outcome:
    """One kernel's run, as the summary prints it."""

    label: str
    release: str
    status: int | None
    seconds: float
    boot_seconds: float | None
    job: Path
    tail: list[str]


def _pytest_argv(python: Path, job: Path, tests: Sequence[str]) -> list[str]:
    return [
        str(python), "-m", "pytest", *tests,
        "-p", "integration._vm", "-p", "no:cacheprovider",
        "-v", "-ra", "--durations=15", f"--junitxml={job / 'junit.xml'}",
    ]  # fmt: skip


def _script(
    python: Path, job: Path, label: str, tests: Sequence[str], full: bool, site: Path | None = None
) -> str:
    env = {"EBPF_VM_JOB": str(job), "EBPF_VM_KERNEL": label, "PYTHONUNBUFFERED": "1"}
    if full:
        env["EBPF_VM_FULL"] = "1"
    if site is not None:
        env["PYTHONPATH"] = str(site)  # the project's wheels, installed by vm.userland.install_project
    exports = " ".join(f"{key}={shlex.quote(value)}" for key, value in env.items())
    command = shlex.join(_pytest_argv(python, job, tests))
    return (
        "# written by tools/vm: the guest runs it as root with the host's bash\n"
        f"cd {shlex.quote(str(ROOT))} || exit 125\n"
        f"export {exports}\n"
        f"{command}\n"
    )


def _write_meta(job: Path, outcome: Outcome, kernel: Kernel | None, where: str) -> None:
    meta: dict[str, object] = {
        "label": outcome.label,
        "release": outcome.release,
        "status": outcome.status,
        "seconds": round(outcome.seconds, 1),
        "boot_seconds": outcome.boot_seconds,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "where": where,
    }
    if kernel is not None:
        meta.update(package=kernel.package, version=kernel.version, machine=kernel.machine)
    else:
        meta.update(machine=os.uname().machine)
    (job / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")


def run_host(python: Path, tests: Sequence[str], quiet: bool, full: bool) -> Outcome:
    """The suite on the machine's own kernel, recorded like a VM run (for the kernel table)."""
    job = RUNS / "host"
    if job.exists():
        shutil.rmtree(job)
    job.mkdir(parents=True)
    env = dict(os.environ, EBPF_VM_JOB=str(job), EBPF_VM_KERNEL="host", PYTHONUNBUFFERED="1")
    if full:
        env["EBPF_VM_FULL"] = "1"
    echo = None if quiet else print_prefixed("[host] ")
    started = time.monotonic()
    with open(job / "console.log", "w") as log:
        process = subprocess.Popen(
            _pytest_argv(python, job, tests), cwd=ROOT, env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        assert process.stdout is not None
        tail: list[str] = []
        for line in process.stdout:
            log.write(line)
            tail = [*tail[-59:], line.rstrip("\n")]
            if echo is not None:
                echo(line.rstrip("\n"))
        status = process.wait()
    outcome = Outcome("host", os.uname().release, status, time.monotonic() - started, None, job, tail)
    _write_meta(job, outcome, None, "host")
    return outcome


def run_vm(
    kernel: Kernel, args: argparse.Namespace, python: Path, tests: Sequence[str], land: Userland | None = None
) -> Outcome:
    """The suite inside ``kernel`` under QEMU (in ``land``, a userland of its architecture, if given)."""
    job = RUNS / kernel.label
    guest_python = Path(GUEST_PYTHON) if land is not None else python
    paths = (ROOT, guest_python, job)
    keep = [path for path in SHADOWED if any(str(p).startswith(path + "/") for p in paths)]
    config = GuestConfig(
        kernel=kernel,
        job=job,
        script=_script(guest_python, job, kernel.label, tests, args.full, land.site if land else None),
        memory=args.memory,
        cpus=args.cpus,
        timeout=args.timeout,
        accel=args.accel,
        cache=args.cache,
        extra_cmdline=(f"vmtest.keep={','.join(keep)}",) if keep else (),
        root=land.root if land is not None else Path("/"),
        overlays=(ROOT,) if land is not None else (),
    )
    echo = None if args.quiet else print_prefixed(f"[{kernel.label}] ")
    _say(f"booting {kernel.package} ({kernel.release}) with {args.cpus} CPU(s), {args.memory}")
    result: GuestResult = run_guest(config, echo)
    where = "QEMU " + ("KVM" if "kvm" in accelerator(args.accel, kernel.arch) else "TCG")
    outcome = Outcome(kernel.label, kernel.release, result.status, result.seconds, result.boot_seconds,
                      job, result.tail)  # fmt: skip
    _write_meta(job, outcome, kernel, where)
    return outcome


def _summary(outcome: Outcome) -> str:
    run = load_run(outcome.job)
    counts = run.counts() if run is not None else None
    tally = (
        f"{counts['passed']} passed, {counts['skipped']} skipped, {counts['failed'] + counts['error']} failed"
        if counts is not None and counts.total()
        else "no junit report"
    )
    verdict = "ok" if outcome.status == 0 else f"FAILED (status {outcome.status})"
    boot = f", boot {outcome.boot_seconds:.1f} s" if outcome.boot_seconds is not None else ""
    return (
        f"{outcome.label:>6} {outcome.release}: {verdict}: {tally} in {outcome.seconds:.0f} s{boot}; "
        f"junit: {outcome.job / 'junit.xml'}"
    )


def command_run(args: argparse.Namespace) -> int:
    """``run``: the suite on each kernel; 0 only if all passed."""
    names = kernel_names(args.kernel)
    tests = list(args.pytest_args) or list(DEFAULT_TESTS)
    python = find_python(args.python)
    vm_names = [name for name in names if name != "host"]
    for arch in {series_arch(name) for name in vm_names}:
        qemu_binary(arch)  # fail before downloading anything
    kernels = [resolve(name, refresh=args.refresh) for name in vm_names]
    # Guests of another architecture than the host's boot into a userland of their own, with the
    # project's wheels built from the checkout now.
    lands: dict[str, Userland] = {}
    for kernel in kernels:
        if kernel.machine != os.uname().machine and kernel.arch not in lands:
            lands[kernel.arch] = userland(kernel.arch, python)
            _say(f"{kernel.arch} userland: {lands[kernel.arch].root}; project wheels: "
                 f"{install_project(lands[kernel.arch], python)}")  # fmt: skip
    labels = [kernel.label for kernel in kernels]
    if len(set(labels)) != len(labels):
        raise KernelError(f"two kernels with the same label in {labels}: run them one at a time")
    cpus = os.cpu_count() or 1
    jobs = args.jobs or max(1, min(len(kernels), cpus))
    if args.cpus is None:
        args.cpus = max(1, cpus // jobs)
    started = time.monotonic()
    outcomes: list[Outcome] = []
    if "host" in names:
        outcomes.append(run_host(python, tests, args.quiet, args.full))
    if kernels:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = [
                pool.submit(run_vm, kernel, args, python, tests, lands.get(kernel.arch)) for kernel in kernels
            ]
            outcomes += [future.result() for future in futures]
    total = time.monotonic() - started
    if not args.no_report:
        _say(f"kernel table regenerated: {write_markdown()}")
    for outcome in outcomes:
        if outcome.status != 0:
            _say(f"{outcome.label}: last console lines ({outcome.job / 'console.log'}):")
            for line in outcome.tail[-25:]:
                print(f"    {line}")
    _say(f"summary ({total:.0f} s in all):")
    for outcome in outcomes:
        print(f"  {_summary(outcome)}")
    return 0 if all(outcome.status == 0 for outcome in outcomes) else 1


def command_fetch(args: argparse.Namespace) -> int:
    """``fetch``: download and extract kernels (no boot)."""
    for name in kernel_names(args.kernel):
        if name == "host":
            continue
        kernel = resolve(name, refresh=args.refresh)
        _say(f"{name}: {kernel.package} {kernel.version} ({kernel.release}) in {kernel.root}")
    return 0


def command_list(args: argparse.Namespace) -> int:
    """``list``: the matrix and the cache."""
    del args
    print("matrix (KERNEL=all):")
    for series in SERIES.values():
        print(f"  {series.name:>5}  {series.description}  (packages {series.package.pattern})")
    print(f"cached kernels ({CACHE / 'kernels'}):")
    for kernel in cached_kernels():
        print(f"  {kernel.label:>5}  {kernel.package} {kernel.version}")
    return 0


def command_report(args: argparse.Namespace) -> int:
    """``report``: regenerate docs/kernels.md."""
    del args
    _say(f"wrote {write_markdown()}")
    return 0


def command_shell(args: argparse.Namespace) -> int:
    """``shell``: an interactive root shell in the guest (exit it to power off)."""
    if not sys.stdin.isatty():
        raise KernelError("'shell' needs a terminal")
    kernel = resolve(kernel_names(args.kernel)[0], refresh=args.refresh)
    from vm.initramfs import build_initramfs
    from vm.qemu import command_line

    job = RUNS / f"shell-{kernel.label}"
    job.mkdir(parents=True, exist_ok=True)
    (job / "run.sh").write_text(
        f"cd {shlex.quote(str(ROOT))}\nexec /bin/bash -i </dev/console >/dev/console 2>&1\n"
    )
    land = userland(kernel.arch, find_python(None)) if kernel.machine != os.uname().machine else None
    config = GuestConfig(kernel=kernel, job=job, script="", cpus=args.cpus or 1, memory=args.memory,
                         accel=args.accel, cache=args.cache, root=land.root if land else Path("/"),
                         overlays=(ROOT,) if land else ())  # fmt: skip
    argv = command_line(config, build_initramfs(kernel, land.busybox if land else None))
    _say("Ctrl-A X quits QEMU; 'exit' powers the guest off")
    return subprocess.run([arg if arg != "stdio" else "mon:stdio" for arg in argv], check=False).returncode


def parser() -> argparse.ArgumentParser:
    """The command line."""
    top = argparse.ArgumentParser(prog="python3 -m vm", description=__doc__.split("\n\n")[0])
    commands = top.add_subparsers(dest="command", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--kernel", "-k", action="append", default=[],
                         help="6.1, 6.12, all (default), host, a linux-image package name or a .deb; "
                              "repeatable or comma separated")  # fmt: skip
        sub.add_argument("--refresh", action="store_true", help="ask apt for the newest package of a series")

    run = commands.add_parser("run", help="run the integration suite inside each kernel")
    common(run)
    run.add_argument("--python", help="the hatch environment's interpreter (default: hatch env find)")
    run.add_argument("--jobs", "-j", type=int, default=0, help="guests at once (default: one per CPU)")
    run.add_argument("--cpus", type=int, default=None, help="CPUs per guest (default: CPUs / jobs)")
    run.add_argument("--memory", default="2G", help="memory per guest (default 2G)")
    run.add_argument("--timeout", type=float, default=5400.0, help="seconds before a guest is killed")
    run.add_argument("--accel", choices=("auto", "kvm", "tcg"), default="auto")
    run.add_argument("--cache", choices=("loose", "mmap", "none"), default="loose",
                     help="9p cache mode of the shared root")  # fmt: skip
    run.add_argument("--full", action="store_true", help="do not skip the tests integration/_vm.py lists")
    run.add_argument("--quiet", "-q", action="store_true", help="do not echo the guests' consoles")
    run.add_argument("--no-report", action="store_true", help=f"do not regenerate {DOC.relative_to(ROOT)}")
    run.add_argument("pytest_args", nargs="*", help="after --: pytest arguments (default: integration)")
    run.set_defaults(handler=command_run)

    fetch = commands.add_parser("fetch", help="download and extract kernels into the cache")
    common(fetch)
    fetch.set_defaults(handler=command_fetch)

    commands.add_parser("list", help="the matrix and the cached kernels").set_defaults(handler=command_list)
    commands.add_parser("report", help="regenerate docs/kernels.md").set_defaults(handler=command_report)

    shell = commands.add_parser("shell", help="an interactive shell in a kernel")
    common(shell)
    shell.add_argument("--cpus", type=int, default=1)
    shell.add_argument("--memory", default="2G")
    shell.add_argument("--accel", choices=("auto", "kvm", "tcg"), default="auto")
    shell.add_argument("--cache", choices=("loose", "mmap", "none"), default="loose")
    shell.set_defaults(handler=command_shell)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; errors the user can fix are one line on stderr and status 2."""
    args = parser().parse_args(argv)
    try:
        status: int = args.handler(args)
    except KernelError as exc:
        print(f"vm: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vm: interrupted", file=sys.stderr)
        return 130
    return status


if __name__ == "__main__":
    threading.current_thread().name = "vm"
    sys.exit(main())
