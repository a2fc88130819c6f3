#!/usr/bin/env bash
# Provisioning of every machine of vagrant/Vagrantfile, run as root inside the guest:
# install the project into /opt/ebpf-venv and run the integration suite as root.
#
# The checkout is rsynced to /ebpf and the wheels (our nine distributions and
# their dependencies, built on the host by vagrant/run.sh) to /wheelhouse, so
# installing needs no network. Results go to /var/tmp/ebpf-results: junit.xml,
# features.json (the integration._vm plugin), pytest.log and status (pytest's
# exit status, which is also this script's).
#
# Public boxes may lack what the local ones ship (clang, a Python >= 3.10):
# with network access it is installed from the distribution, and a Python
# >= 3.10 from PyPI's "uv" where the distribution has none.
set -euo pipefail

src=/ebpf
wheels=/wheelhouse
venv=/opt/ebpf-venv
results=/var/tmp/ebpf-results
label="${EBPF_VM_KERNEL:-vagrant-$(uname -r)}"

say() { echo "provision: $*"; }
die() { echo "provision: error: $*" >&2; exit 2; }

[ "$(id -u)" -eq 0 ] || die "run as root (vagrant's shell provisioner does)"
[ -d "$src/integration" ] || die "$src has no checkout: the rsync synced folder did not run"
if ! compgen -G "$wheels/ebpf_core-*.whl" >/dev/null; then
    die "$wheels has no ebpf wheels: vagrant/run.sh builds them before 'vagrant up'"
fi

python_ok() { "$1" -c 'import sys, venv; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; }

missing=()
for tool in ip clang; do command -v "$tool" >/dev/null || missing+=("$tool"); done
python=""
for candidate in python3 python3.13 python3.12 python3.11 python3.10; do
    if command -v "$candidate" >/dev/null && python_ok "$candidate"; then python="$(command -v "$candidate")"; break; fi
done
if [ ${#missing[@]} -gt 0 ] || [ -z "$python" ]; then
    if command -v apt-get >/dev/null; then
        say "installing distribution packages (needs network): iproute2 clang llvm python3-venv"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq || say "warning: apt-get update failed"
        apt-get install -y -qq --no-install-recommends iproute2 clang llvm libbpf-dev python3-venv python3-pip \
            || say "warning: some packages could not be installed; the tests that need them will skip"
    fi
fi
if [ -z "$python" ]; then
    for candidate in python3 python3.13 python3.12 python3.11 python3.10; do
        if command -v "$candidate" >/dev/null && python_ok "$candidate"; then python="$(command -v "$candidate")"; break; fi
    done
fi
if [ -z "$python" ]; then
    # An old distribution (Ubuntu 20.04: 3.8, Debian 11: 3.9): a standalone CPython through uv.
    say "no Python >= 3.10 here: fetching one with uv (needs network)"
    python3 -m pip install -q --user uv || die "cannot install uv from PyPI to get a Python >= 3.10"
    "$HOME/.local/bin/uv" python install 3.11 || die "uv cannot install Python 3.11"
    python="$("$HOME/.local/bin/uv" python find 3.11)"
fi
say "Python: $python ($("$python" --version 2>&1)); kernel $(uname -r)"

if [ ! -x "$venv/bin/python" ] || [ "$("$venv/bin/python" -c 'import sys; print(sys._base_executable)' 2>/dev/null)" != "$python" ]; then
    rm -rf "$venv"
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --no-index --find-links "$wheels" --upgrade --force-reinstall \
    ebpf-core pytest hypothesis numpy || die "installing the project from $wheels failed"

rm -rf "$results"
mkdir -p "$results"
cd "$src"
set +e
# shellcheck disable=SC2086  # EBPF_PYTEST_ARGS is a list of arguments
EBPF_VM_JOB="$results" EBPF_VM_KERNEL="$label" PYTHONDONTWRITEBYTECODE=1 \
    "$venv/bin/python" -m pytest ${EBPF_PYTEST_ARGS:-integration} -p integration._vm -p no:cacheprovider \
    -v -ra --durations=15 --junitxml="$results/junit.xml" 2>&1 | tee "$results/pytest.log"
status=${PIPESTATUS[0]}
set -e
echo "$status" > "$results/status"
chmod -R a+rX "$results"
say "integration suite on $(uname -r): exit status $status"
exit "$status"
