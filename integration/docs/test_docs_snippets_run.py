"""Every code block of the documentation runs, as root, against the real kernel.

One test per page (README.md, docs/*.md, examples/README.md, each package's
README): its Python blocks run in order in a fresh interpreter, in a scratch
directory holding the files the page shows (``title="..."`` blocks), inside a
network namespace of its own (``unshare --net``) so that what a page attaches
to ``lo`` touches nothing else. See ``tests/_snippets.py``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from core._cli import CHILD_TIMEOUT, child_env

from tests._snippets import RUNNER, runnable_pages, runner_input


@pytest.mark.parametrize("page", runnable_pages(), ids=str)
def test_page_code_runs(page: Path, tmp_path: Path) -> None:
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.fail("the snippet runs need unshare (Debian: util-linux)", pytrace=False)
    result = subprocess.run(
        [unshare, "--net", sys.executable, "-c", RUNNER],
        input=runner_input(page),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=child_env(),
        timeout=CHILD_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, f"{page}:\n{result.stdout}\n{result.stderr}"
    assert result.stdout.rstrip().endswith("--- every block ran"), result.stdout
