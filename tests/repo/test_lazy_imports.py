"""The packages that import their public names on first use (PEP 562), and what a ready tool imports.

``ebpf.btf``, ``ebpf.elf``, ``ebpf.events``, ``ebpf.progs`` and ``ebpf.syscall``
map each public name to its module (``_HOMES``; a public submodule to itself)
and import it on first use, so that
``ebpf tool NAME`` starts without importing what it does not run (issue 23:
start to attached in 0.5 s). Every listed name must still resolve.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys

import pytest

LAZY_PACKAGES = ("ebpf.btf", "ebpf.elf", "ebpf.events", "ebpf.progs", "ebpf.syscall")


def _python(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout


@pytest.mark.parametrize("name", LAZY_PACKAGES)
def test_every_public_name_has_a_home_and_resolves(name: str) -> None:
    package = importlib.import_module(name)
    homes: dict[str, str] = package._HOMES
    assert set(homes) == set(package.__all__) - {"__version__"}
    for public, home in homes.items():
        module = importlib.import_module(home, name)
        expected = module if home == f".{public}" else getattr(module, public)
        assert getattr(package, public) is expected, public


@pytest.mark.parametrize("name", LAZY_PACKAGES)
def test_an_unknown_name_raises_attribute_error(name: str) -> None:
    package = importlib.import_module(name)
    with pytest.raises(AttributeError, match="no_such_name"):
        package.no_such_name  # noqa: B018


def test_importing_a_lazy_package_imports_none_of_its_modules() -> None:
    code = (
        "import sys, json, ebpf.elf, ebpf.events;"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('ebpf.elf.', 'ebpf.events.')))))"
    )
    assert json.loads(_python(code)) == []


def test_a_tool_start_path_leaves_out_what_tools_do_not_use() -> None:
    # What `ebpf tool NAME` imports before loading: the command's parser, the tool, the
    # collection loader, the ring buffer reader and the attach dispatcher.
    code = (
        "import sys, json\n"
        "from ebpf.core.cli import build_parser\n"
        "build_parser()\n"
        "from ebpf.core.tools import TOOL_NAMES, get_tool\n"
        "for name in TOOL_NAMES: get_tool(name)\n"
        "from ebpf.elf import Collection, CollectionSpec\n"
        "from ebpf.events import RingBuffer\n"
        "from ebpf.btf import CoreRelocator\n"
        "from ebpf.progs import Program, attach\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    loaded = set(json.loads(_python(code)))
    unused = {
        "asyncio",  # the async consumer and `async for`
        "difflib",  # suggestions for an unknown helper name
        "ebpf.core.cli._maps",  # the other commands of `ebpf`
        "ebpf.core.cli._btf",
        "ebpf.core.cli._progs",
        "ebpf.core.prometheus",  # --prometheus only
        "ebpf.elf._usdt_attach",  # USDT, uprobes by symbol, symbolization, compiling C
        "ebpf.elf._uprobes",
        "ebpf.elf._symbolize",
        "ebpf.elf._compile",
        "ebpf.events._perfbuf",
        "ebpf.events._async_consumer",
        "ebpf.progs._uprobe",
        "ebpf.progs._socket",
    }
    assert sorted(unused & loaded) == []
