"""Results of the runs, and the ``docs/kernels.md`` table generated from the last run on each kernel.

Each run leaves in its job directory (``.cache/vm/runs/<kernel>/``):

- ``meta.json``: written by the runner (kernel package and release, exit
  status, times, accelerator),
- ``junit.xml``: pytest's report,
- ``features.json``: every feature probe's answer on that kernel (written by
  the ``integration._vm`` pytest plugin).

:func:`write_markdown` turns the latest of these into a page: one column
per kernel, one row per feature probe (verified present, verified absent,
failed), a row per test module with pass/skip/fail counts, and every skip
reason and failure message.
"""

from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from vm.kernels import CACHE, ROOT, SERIES

__all__ = ["RUNS", "Case", "Run", "load_runs", "render_markdown", "write_markdown"]

RUNS = CACHE / "runs"
DOC = ROOT / "docs" / "kernels.md"


@dataclass(frozen=True)
class Case:
    """One test case of a junit report."""

    nodeid: str
    outcome: str
    """``passed``, ``failed``, ``error`` or ``skipped``."""
    message: str
    seconds: float

    @property
    def module(self) -> str:
        """The test file, relative to ``integration/``."""
        return self.nodeid.split("::", 1)[0].removeprefix("integration/")


@dataclass
class Run:
    """The last run on one kernel."""

    label: str
    meta: dict[str, object]
    cases: list[Case] = field(default_factory=list)
    features: dict[str, dict[str, object]] = field(default_factory=dict)
    machine_of_features: str = ""
    """``machine`` of ``features.json`` (runs recorded before ``meta.json`` had it)."""

    @property
    def release(self) -> str:
        return str(self.meta.get("release", "?"))

    @property
    def machine(self) -> str:
        """The architecture the suite ran on (``uname -m`` in the guest), as the run recorded it."""
        return str(self.meta.get("machine") or self.machine_of_features or "?")

    def counts(self, module: str | None = None) -> Counter[str]:
        """Outcomes of all cases (or of one test module's)."""
        return Counter(case.outcome for case in self.cases if module is None or case.module == module)

    def case(self, nodeid: str) -> Case | None:
        for case in self.cases:
            if case.nodeid == nodeid:
                return case
        return None


def _nodeid(classname: str, name: str) -> str:
    """junit's ``classname`` (``integration.progs.test_x`` or ``...test_x.TestClass``) back to a node id."""
    parts = classname.split(".")
    for end in range(len(parts), 0, -1):
        if not all(parts[:end]):
            continue  # an empty part (a test under a dot directory, ".cache/x") names no module file
        path = Path(*parts[:end]).with_suffix(".py")
        if (ROOT / path).is_file():
            return "::".join([path.as_posix(), *parts[end:], name])
    return f"{classname.replace('.', '/')}.py::{name}"


def parse_junit(path: Path) -> list[Case]:
    """The test cases of a junit XML report (an unreadable report gives none)."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return []
    cases = []
    for element in root.iter("testcase"):
        outcome, message = "passed", ""
        for child in element:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed"}.get(child.tag, child.tag)
                message = child.get("message") or (child.text or "").strip()
                break
        nodeid = _nodeid(element.get("classname", ""), element.get("name", ""))
        cases.append(Case(nodeid, outcome, message, float(element.get("time") or 0.0)))
    return cases


def load_run(job: Path) -> Run | None:
    """The run recorded in ``job``, or ``None`` if it has no ``meta.json``."""
    try:
        meta = json.loads((job / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    run = Run(str(meta.get("label", job.name)), meta, parse_junit(job / "junit.xml"))
    try:
        report = json.loads((job / "features.json").read_text())
        run.machine_of_features = str(report.get("machine") or "")
        for entry in report.get("features", []):
            run.features[str(entry["name"])] = entry
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return run


def _order(label: str) -> tuple[int, int, str]:
    names = list(SERIES)
    if label == "host":
        return (0, 0, label)
    if label in names:
        return (1, names.index(label), label)
    return (2, 0, label)


def load_runs(base: Path = RUNS) -> list[Run]:
    """The last run on each kernel, host first, then the matrix in order."""
    if not base.is_dir():
        return []
    runs = [run for job in base.iterdir() if job.is_dir() and (run := load_run(job)) is not None]
    return sorted(runs, key=lambda run: _order(run.label))


def _feature_cell(run: Run, name: str) -> str:
    entry = run.features.get(name)
    if entry is None:
        return ""
    case = run.case(f"integration/syscall/test_features.py::test_feature[{name}]")
    if case is not None and case.outcome in ("failed", "error"):
        return "**FAIL**"
    supported = entry.get("supported")
    if supported is None:
        return "? (probe refused)" if case is None or case.outcome == "skipped" else "?"
    if case is not None and case.outcome == "skipped":
        return "yes (unchecked)" if supported else "no (unchecked)"
    return "yes" if supported else "no"


def _escape(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def _short(text: str, limit: int = 240) -> str:
    text = _escape(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _architectures(runs: list[Run]) -> str:
    """The sentence that says which architectures the suite was verified on, and on which kernels."""
    kernels: dict[str, list[str]] = {}
    for run in runs:
        kernels.setdefault(run.machine, []).append(run.label)
    parts = [f"**{machine}** ({', '.join(labels)})" for machine, labels in kernels.items()]
    text = "Architectures verified: " + ", ".join(parts) + " (what each run covered: the tables below)."
    if "aarch64" in kernels:
        text += (
            " The arm64 kernels run under `qemu-system-aarch64` in an arm64 Debian userland"
            " (`make vm-test-arm64`)."
        )
    return textwrap.fill(text, width=80, break_on_hyphens=False, break_long_words=False)


def render_markdown(runs: list[Run]) -> str:
    """The ``docs/kernels.md`` page for ``runs``."""
    lines = [
        "# Kernels the integration suite was verified on",
        "",
        "<!-- generated by tools/vm/report.py from the last run on each kernel; do not edit. -->",
        "",
        "Generated by `make vm-test` from the last run of the integration suite on each",
        "kernel (`make vm-test KERNEL=all` boots the Debian x86_64 kernels under QEMU,",
        "`make vm-test-arm64` the arm64 ones; `make vm-test KERNEL=host` adds the",
        "machine's own kernel). How to run it: `vagrant/README.md` in the repository.",
        "",
    ]
    if not runs:
        return "\n".join([*lines, "No run has been recorded yet.", ""])
    lines += [_architectures(runs), ""]
    header = "| | " + " | ".join(f"{run.label}" for run in runs) + " |"
    rule = "|---|" + "---|" * len(runs)

    def row(title: str, cells: list[str]) -> str:
        return f"| {title} | " + " | ".join(cells) + " |"

    lines += ["## Runs", "", header, rule]
    lines.append(row("architecture", [run.machine for run in runs]))
    lines.append(row("kernel release", [f"`{run.release}`" for run in runs]))
    lines.append(row("package", [str(run.meta.get("package", "")) or "—" for run in runs]))
    lines.append(row("date (UTC)", [str(run.meta.get("date", "")) for run in runs]))
    lines.append(row("where", [str(run.meta.get("where", "")) for run in runs]))
    for outcome in ("passed", "skipped", "failed", "error"):
        lines.append(row(outcome, [str(run.counts()[outcome]) for run in runs]))
    lines.append(row("exit status", [str(run.meta.get("status")) for run in runs]))
    lines.append(row("suite time (s)", [f"{float(str(run.meta.get('seconds', 0))):.0f}" for run in runs]))
    lines.append("")

    names: dict[str, str] = {}
    for run in runs:
        for name, entry in run.features.items():
            names.setdefault(name, str(entry.get("version") or ""))
    if names:
        lines += [
            "## Feature probes",
            "",
            "`yes`: the probe found the feature and `test_features` agreed with the kernel's",
            "version and config; `no`: absent, as expected for that kernel (older than the",
            "first version, or built without a required option); `**FAIL**`: the probe",
            "contradicts the kernel (see Failures); `?`: the kernel refused the probe even",
            "to root, so it cannot tell.",
            "",
            "| feature | since | " + " | ".join(run.label for run in runs) + " |",
            "|---|---|" + "---|" * len(runs),
        ]

        def version_key(item: tuple[str, str]) -> tuple[tuple[int, ...], str]:
            version = tuple(int(part) for part in item[1].split(".") if part.isdigit())
            return version, item[0]

        for name, version in sorted(names.items(), key=version_key):
            cells = [_feature_cell(run, name) for run in runs]
            lines.append(f"| {_escape(name)} | {version} | " + " | ".join(cells) + " |")
        lines.append("")

    modules = sorted({case.module for run in runs for case in run.cases})
    if modules:
        lines += [
            "## Tests per module",
            "",
            "passed / skipped / failed (errors count as failed).",
            "",
            "| module | " + " | ".join(run.label for run in runs) + " |",
            "|---|" + "---|" * len(runs),
        ]
        for module in modules:
            cells = []
            for run in runs:
                count = run.counts(module)
                total = sum(count.values())
                bad = count["failed"] + count["error"]
                cells.append(
                    f"{count['passed']} / {count['skipped']} / {'**' + str(bad) + '**' if bad else 0}"
                    if total
                    else "—"
                )
            lines.append(f"| `{module}` | " + " | ".join(cells) + " |")
        lines.append("")

    for title, outcomes in (("Failures", ("failed", "error")), ("Skips", ("skipped",))):
        section = [f"## {title}", ""]
        for run in runs:
            selected = [case for case in run.cases if case.outcome in outcomes]
            if not selected:
                continue
            section += [f"### {run.label} (`{run.release}`)", ""]
            section += [f"- `{case.nodeid}`: {_short(case.message)}" for case in selected]
            section.append("")
        if len(section) > 2:
            lines += section
    return "\n".join(lines).rstrip("\n") + "\n"


def write_markdown(path: Path = DOC, base: Path = RUNS) -> Path:
    """Regenerate ``docs/kernels.md`` from the last runs; returns its path."""
    path.write_text(render_markdown(load_runs(base)))
    return path
