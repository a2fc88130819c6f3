"""Each distribution installs and imports on its own from its wheel (DESIGN.md section 1).

Every wheel is built once (``hatch build --all -t wheel``, or ``pip wheel``
where hatch is not on the PATH), the third-party dependencies are fetched
once as wheels into the same directory, and then each distribution goes into
a fresh venv of its own with ``pip install --no-index``: only what it
declares can get in, and nothing from a package index can stand in for one
of ours. Deselect with ``-m 'not wheels'``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.repo._monorepo import ROOT, canonical, closure, distributions, ours

pytestmark = pytest.mark.wheels

DISTRIBUTIONS = sorted(distributions())

# Run inside the fresh venv: import the distribution's portion and every module in
# it (not __main__, which runs a program), then report what got installed.
_PROBE = """
import importlib, importlib.metadata, json, pathlib, pkgutil, sys
import ebpf
portion = importlib.import_module(sys.argv[1])
for module in pkgutil.walk_packages(portion.__path__, sys.argv[1] + "."):
    if module.name.rpartition(".")[2] != "__main__":
        importlib.import_module(module.name)
print(json.dumps({
    "namespace_file": getattr(ebpf, "__file__", None),
    "portions": sorted(
        path.name for root in ebpf.__path__ for path in pathlib.Path(root).iterdir()
        if path.is_dir() and path.name != "__pycache__"
    ),
    "distributions": sorted(dist.metadata["Name"] for dist in importlib.metadata.distributions()),
}))
"""


def _run(args: list[str], cwd: Path = ROOT, what: str | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False, timeout=600)
    if result.returncode != 0:
        pytest.fail(
            f"{what or ' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}",
            pytrace=False,
        )
    return result


def _hatch() -> str | None:
    for candidate in (shutil.which("hatch"), ROOT / ".tools" / "hatch" / "bin" / "hatch"):
        if candidate is not None and Path(candidate).is_file():
            return str(candidate)
    return None


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Our nine wheels, freshly built, plus wheels of every third-party dependency."""
    out = tmp_path_factory.mktemp("wheelhouse")
    hatch = _hatch()
    if hatch is not None:
        _run([hatch, "build", "--all", "-t", "wheel", str(out)])
    else:
        packages = [str(dist.directory) for dist in distributions().values()]
        _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(out), *packages])
    built = sorted(path.name for path in out.glob("ebpf_*.whl"))
    assert len(built) == len(DISTRIBUTIONS), f"expected one wheel per distribution, got {built}"
    third_party = sorted(
        {str(req) for dist in distributions().values() for req in dist.requirements if not ours(req.name)}
    )
    if third_party:
        _run([sys.executable, "-m", "pip", "wheel", "--wheel-dir", str(out), *third_party])
    return out


@pytest.mark.parametrize("name", DISTRIBUTIONS)
def test_wheel_installs_and_imports_alone(name: str, wheelhouse: Path, tmp_path: Path) -> None:
    dist = distributions()[name]
    venv = tmp_path / "venv"
    # No pip inside: the outer pip installs into it (--python), which is faster
    # and needs no ensurepip (Debian ships that separately, in python3-venv).
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-index",
            "--find-links",
            str(wheelhouse),
            f"{name}=={dist.version}",
        ]
    )

    probe = _run(
        [str(python), "-I", "-c", _PROBE, dist.import_name],  # -I: no PYTHONPATH, no user site
        cwd=tmp_path,
        what=f"importing {dist.import_name} and its modules from the {name} wheel alone",
    )
    report = json.loads(probe.stdout)

    expected = closure(name)
    assert report["namespace_file"] is None, (
        f"ebpf must stay a namespace package, got {report['namespace_file']}"
    )
    assert set(report["portions"]) == {distributions()[dep].portion for dep in expected}
    installed_ours = {canonical(dist_name) for dist_name in report["distributions"] if ours(dist_name)}
    assert installed_ours == expected, (
        f"{name} pulled in {sorted(installed_ours)}, declares {sorted(expected)}"
    )
