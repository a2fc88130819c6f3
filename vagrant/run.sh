#!/usr/bin/env bash
# Run the integration suite in Vagrant machines: bring each up (its provisioning
# installs the project and runs the suite), collect the results, report, destroy.
#
#   vagrant/run.sh [all|6.1|6.12|5.4|5.10|5.15|MACHINE[,...]]    (make vagrant-test KERNEL=...)
#
# Before that it starts libvirtd and virtlogd when they are not running (on
# machines without systemd they are started by hand), makes sure libvirt has a
# "default" storage pool, and builds the wheelhouse the guests install from
# (.cache/vm/wheelhouse: our wheels and their dependencies, with the hatch
# environment's pip). A machine whose public box cannot be downloaded is
# skipped with the reason; the local Debian boxes come from build-box.sh
# (make vm-box). Results land in .cache/vm/runs/vagrant-<kernel>/ and
# docs/kernels.md is regenerated. Exit status: 0 when every suite that ran passed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
cache="${EBPF_VM_CACHE:-$root/.cache/vm}"
export VAGRANT_CWD="$here" VAGRANT_DEFAULT_PROVIDER=libvirt LIBVIRT_DEFAULT_URI=qemu:///system
export EBPF_VM_CACHE="$cache"

say() { echo "vagrant-test: $*"; }
die() { echo "vagrant-test: error: $*" >&2; exit 2; }

declare -A BOX=(
    [ubuntu-5.4]=generic/ubuntu2004 [debian-5.10]=generic/debian11 [ubuntu-5.15]=generic/ubuntu2204
    [debian-6.1]=ebpf/debian-6.1 [debian-6.12]=ebpf/debian-6.12
)
ORDER=(ubuntu-5.4 debian-5.10 ubuntu-5.15 debian-6.1 debian-6.12)

machines=()
IFS=, read -r -a wanted <<<"${1:-all}"
for want in "${wanted[@]}"; do
    case "$want" in
        all) machines+=("${ORDER[@]}") ;;
        5.4) machines+=(ubuntu-5.4) ;;
        5.10) machines+=(debian-5.10) ;;
        5.15) machines+=(ubuntu-5.15) ;;
        6.1 | 6.12) machines+=("debian-$want") ;;
        *)
            [ -n "${BOX[$want]:-}" ] || die "unknown kernel or machine '$want' (known: all 5.4 5.10 5.15 6.1 6.12 ${ORDER[*]})"
            machines+=("$want")
            ;;
    esac
done

[ "$(id -u)" -eq 0 ] || die "run as root (libvirt's system instance)"
for tool in vagrant virsh rsync ssh; do
    command -v "$tool" >/dev/null || die "'$tool' is missing: 'make vagrant-test' installs the Debian packages"
done

start_libvirt() {
    if virsh version >/dev/null 2>&1; then return 0; fi
    say "starting virtlogd and libvirtd"
    if [ -d /run/systemd/system ]; then
        systemctl start virtlogd.socket libvirtd.socket libvirtd.service
    else
        pgrep -x virtlogd >/dev/null || virtlogd -d
        pgrep -x libvirtd >/dev/null || libvirtd -d
    fi
    for _ in $(seq 50); do virsh version >/dev/null 2>&1 && return 0; sleep 0.2; done
    die "libvirtd does not answer (virsh version): see /var/log/libvirt/"
}

ensure_pool() {
    virsh pool-info default >/dev/null 2>&1 && { virsh pool-start default >/dev/null 2>&1 || true; return 0; }
    say "creating libvirt's default storage pool in /var/lib/libvirt/images"
    mkdir -p /var/lib/libvirt/images
    virsh pool-define-as default dir --target /var/lib/libvirt/images >/dev/null
    virsh pool-start default >/dev/null
    virsh pool-autostart default >/dev/null
}

build_wheelhouse() {
    local python
    python="$(cd "$root" && { hatch env find 2>/dev/null || "$root/.tools/hatch/bin/hatch" env find; })/bin/python"
    [ -x "$python" ] || die "no hatch environment: run 'make setup' first"
    say "building the wheelhouse the guests install from ($cache/wheelhouse)"
    rm -rf "$cache/wheelhouse"
    mkdir -p "$cache/wheelhouse"
    # Our nine distributions from this checkout, and every dependency of them and of the test suite.
    (cd "$root" && "$python" -m pip wheel -q -w "$cache/wheelhouse" packages/ebpf-* pytest hypothesis numpy) \
        || die "pip wheel failed (see above)"
}

have_box() { vagrant box list 2>/dev/null | grep "^$1 " >/dev/null; }

# The box of a libvirt machine is uploaded once into the storage pool: drop a stale copy after a rebuild.
refresh_pool_volume() {
    local box="$1"
    local stamp_file="$cache/vagrant/${box#ebpf/debian-}/stamp"
    local marker="$cache/vagrant/${box#ebpf/debian-}/pool-stamp"
    [ -f "$stamp_file" ] || return 0
    if ! cmp -s "$stamp_file" "$marker" 2>/dev/null; then
        { virsh vol-list default 2>/dev/null | awk '{print $1}' \
            | grep "^${box//\//-VAGRANTSLASH-}_vagrant_box_image" || true; } \
            | while read -r volume; do virsh vol-delete --pool default "$volume" >/dev/null; done
        cp "$stamp_file" "$marker"
    fi
}

current=""
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
    if [ -n "$current" ]; then
        say "destroying $current"
        vagrant destroy -f "$current" >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_libvirt
ensure_pool
build_wheelhouse

declare -a summary=()
failed=0
for machine in "${machines[@]}"; do
    box="${BOX[$machine]}"
    kernel="${machine#*-}"
    if ! have_box "$box"; then
        if [[ "$box" == ebpf/* ]]; then
            summary+=("$machine: FAILED: box $box is not built (run 'make vm-box KERNEL=$kernel')")
            failed=1
            continue
        fi
        say "$machine: fetching the public box $box"
        if ! timeout 900 vagrant box add --provider libvirt "$box" 2>&1 | tail -n 5; then :; fi
        if ! have_box "$box"; then
            summary+=("$machine: skipped: the box $box cannot be had here (no access to Vagrant Cloud?)")
            continue
        fi
    fi
    refresh_pool_volume "$box"
    job="$cache/runs/vagrant-$kernel"
    rm -rf "$job"
    mkdir -p "$job"
    current="$machine"
    started=$(date +%s)
    say "$machine: vagrant up (boots $box, provisions, runs the integration suite)"
    set +e
    vagrant up "$machine" --provision 2>&1 | tee "$job/vagrant.log"
    up=${PIPESTATUS[0]}
    vagrant ssh "$machine" -c "sudo tar -C /var/tmp/ebpf-results -cf - ." 2>/dev/null | tar -xf - -C "$job"
    set -e
    seconds=$(($(date +%s) - started))
    status="$(cat "$job/status" 2>/dev/null || echo "")"
    say "$machine: destroying"
    vagrant destroy -f "$machine" >/dev/null 2>&1 || say "warning: 'vagrant destroy -f $machine' failed"
    current=""
    release="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["release"])' "$job/features.json" \
        2>/dev/null || echo "$kernel")"
    python3 - "$job" "$machine" "$box" "$release" "${status:-null}" "$seconds" <<'EOF'
import datetime, json, sys
from pathlib import Path
job, machine, box, release, status, seconds = sys.argv[1:]
meta = {
    "label": "vagrant-" + machine.split("-", 1)[1], "release": release, "package": box,
    "status": None if status == "null" else int(status), "seconds": int(seconds),
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
    "where": "Vagrant " + machine,
}
Path(job, "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
EOF
    if [ "$status" = 0 ]; then
        summary+=("$machine ($release): ok in ${seconds} s; junit: $job/junit.xml")
    elif [ -n "$status" ]; then
        summary+=("$machine ($release): FAILED: integration suite exit status $status in ${seconds} s; see $job/pytest.log")
        failed=1
    else
        summary+=("$machine: FAILED: vagrant up exited with $up before the suite reported; see $job/vagrant.log")
        failed=1
    fi
done

(cd "$root" && PYTHONPATH=tools python3 -m vm report) || true
say "summary:"
for line in "${summary[@]}"; do echo "  $line"; done
exit "$failed"
