"""Each distribution installs and imports on its own from its wheel (docs/architecture.md, Distributions).

Every wheel is built once (``hatch build --all -t wheel``, or ``pip wheel``
where hatch is not on the PATH), the third-party dependencies are fetched
once as wheels into the same directory, and then each distribution goes into
a fresh venv of its own with ``pip install --no-index``: only what it
declares can get in, and nothing from a package index can stand in for one
of ours. What gets installed is exactly what docs/getting-started.md says.

The sdists are built too (``hatch build --all -t sdist``, or ``python -m
build --sdist``), and every wheel and sdist must pass ``twine check
--strict`` and carry the repository's LICENSE and the project's metadata,
as PyPI will show them. Deselect with ``-m 'not wheels'``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path

import pytest

from tests.repo._monorepo import (
    DOCUMENTATION_URL,
    ISSUES_URL,
    REPOSITORY_URL,
    ROOT,
    Distribution,
    canonical,
    closure,
    distributions,
    documented_installs,
    ours,
)

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
    "version": portion.__version__,
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
    # Nothing but the declared run-time requirements goes in next to our wheels:
    # what a venv gets from here is what a user gets from PyPI.
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
    assert report["version"] == dist.version, f"{dist.import_name}.__version__ from the wheel"

    # docs/getting-started.md says what each distribution pulls in: ebpf-maps brings
    # construct and no other third-party distribution (no construct-typing, arrow,
    # python-dateutil or tzdata); ebpf-syscall and ebpf-asm bring nothing at all.
    installed = {canonical(dist_name) for dist_name in report["distributions"]}
    documented = documented_installs()[name] | {name}
    assert installed == documented, (
        f"installing {name} alone installed {sorted(installed)}; "
        f"docs/getting-started.md says {sorted(documented)}"
    )


# --- what PyPI gets: sdists, twine check, licence and metadata -----------------------


@pytest.fixture(scope="module")
def sdists(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Our nine sdists, freshly built."""
    out = tmp_path_factory.mktemp("sdists")
    hatch = _hatch()
    if hatch is not None:
        _run([hatch, "build", "--all", "-t", "sdist", str(out)])
    else:
        for dist in distributions().values():
            _run([sys.executable, "-m", "build", "--sdist", "--outdir", str(out), str(dist.directory)])
    built = sorted(path.name for path in out.glob("ebpf_*.tar.gz"))
    assert len(built) == len(DISTRIBUTIONS), f"expected one sdist per distribution, got {built}"
    return out


def _artifact(directory: Path, dist: Distribution, suffix: str) -> Path:
    stem = f"{dist.name.replace('-', '_')}-{dist.version}"
    (path,) = directory.glob(f"{stem}{suffix}")
    return path


def test_twine_check_strict_passes_for_every_wheel_and_sdist(wheelhouse: Path, sdists: Path) -> None:
    artifacts = sorted(map(str, [*wheelhouse.glob("ebpf_*.whl"), *sdists.glob("ebpf_*.tar.gz")]))
    assert len(artifacts) == 2 * len(DISTRIBUTIONS)
    result = _run([sys.executable, "-m", "twine", "check", "--strict", *artifacts])
    assert result.stdout.count("PASSED") == len(artifacts), result.stdout


def _check_metadata(metadata: Message, dist: Distribution, where: str) -> None:
    assert metadata["Name"] == dist.name, where
    assert metadata["Version"] == dist.version, where
    assert metadata["License-Expression"] == "MIT", where
    assert metadata.get_all("License-File") == ["LICENSE"], where
    assert metadata.get_all("Project-URL") == [
        f"Documentation, {DOCUMENTATION_URL}",
        f"Source, {REPOSITORY_URL}",
        f"Issues, {ISSUES_URL}",
    ], where
    assert metadata.get_all("Classifier") == dist.project["classifiers"], where
    assert metadata["Description-Content-Type"] == "text/markdown", where


@pytest.mark.parametrize("name", DISTRIBUTIONS)
def test_wheel_and_sdist_carry_the_license_and_the_metadata(
    name: str, wheelhouse: Path, sdists: Path
) -> None:
    dist = distributions()[name]
    license_text = (ROOT / "LICENSE").read_bytes()

    wheel = _artifact(wheelhouse, dist, "-py3-none-any.whl")
    dist_info = f"{dist.name.replace('-', '_')}-{dist.version}.dist-info"
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read(f"{dist_info}/licenses/LICENSE") == license_text, f"{wheel.name}: the licence"
        metadata = HeaderParser().parsestr(archive.read(f"{dist_info}/METADATA").decode())
    _check_metadata(metadata, dist, wheel.name)

    sdist = _artifact(sdists, dist, ".tar.gz")
    top = sdist.name.removesuffix(".tar.gz")
    with tarfile.open(sdist) as archive:
        member = archive.getmember(f"{top}/LICENSE")
        assert member.isfile(), f"{sdist.name}: LICENSE must be a regular file, not a link"
        extracted = archive.extractfile(member)
        assert extracted is not None
        assert extracted.read() == license_text, f"{sdist.name}: the licence"
        pkg_info = archive.extractfile(f"{top}/PKG-INFO")
        assert pkg_info is not None
        metadata = HeaderParser().parsestr(pkg_info.read().decode())
    _check_metadata(metadata, dist, sdist.name)
