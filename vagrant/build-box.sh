#!/usr/bin/env bash
# Build the local Vagrant boxes (libvirt provider) offline from Debian packages.
#
#   vagrant/build-box.sh [6.1|6.12|all]     (make vm-box KERNEL=...)
#
# For each kernel: debootstrap a Debian bookworm root file system with what
# the integration suite needs (Python, iproute2, clang, bpftool, ...), install
# the same Debian kernel package the QEMU runner uses (tools/vm resolves it),
# add a "vagrant" user with a key generated here, turn the tree into an ext4
# image without mounting anything (mkfs.ext4 -d) and then into a qcow2 box,
# and register it as "ebpf/debian-<kernel>". The box boots its kernel
# directly (libvirt's kernel/initrd/cmdline; the Vagrantfile points at the
# copies kept in .cache/vm/vagrant/<kernel>/), so no boot loader is needed.
#
# Only Debian's package archive is used. A box that is already registered
# and was built by this same script from the same kernel package is kept:
# running it again does nothing (EBPF_BOX_REBUILD=1 forces a rebuild).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
cache="${EBPF_VM_CACHE:-$root/.cache/vm}"
suite="${EBPF_BOX_SUITE:-bookworm}"
size="${EBPF_BOX_SIZE:-6G}"
# What the guest needs to provision the project offline and run the integration suite.
packages=(
    systemd-sysv udev dbus openssh-server sudo rsync ca-certificates kmod iproute2 procps
    python3 python3-venv python3-pip clang llvm libbpf-dev bpftool
    initramfs-tools zstd
)

die() { echo "vm-box: error: $*" >&2; exit 1; }
say() { echo "vm-box: $*"; }

[ "$(id -u)" -eq 0 ] || die "building a box needs root (debootstrap, chroot): run 'make vm-box' as root"
for tool in debootstrap mkfs.ext4 qemu-img vagrant ssh-keygen chroot; do
    command -v "$tool" >/dev/null || die "'$tool' is missing: run 'make vm-box' (it installs the Debian packages)"
done

mirror() {  # the host's Debian mirror, from its apt sources (deb.debian.org if none)
    local uri
    uri="$(grep -hoE '(https?://[^ ]+/debian)/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
        /etc/apt/sources.list.d/*.list 2>/dev/null | head -n1 | tr -d ' ' || true)"
    echo "${uri:-http://deb.debian.org/debian}"
}

key="$cache/vagrant/id_ed25519"
if [ ! -f "$key" ]; then
    mkdir -p "$(dirname "$key")"
    ssh-keygen -q -t ed25519 -N "" -C "ebpf-vagrant-box" -f "$key"
fi

build() {
    local kernel="$1" package release info box_dir work rootfs stamp name
    info="$(cd "$root" && PYTHONPATH=tools python3 -c \
        "from vm.kernels import resolve; k = resolve('$kernel'); print(k.package, k.release)")" \
        || die "cannot resolve the $kernel kernel package (see above)"
    read -r package release <<<"$info"
    name="ebpf/debian-$kernel"
    box_dir="$cache/vagrant/$kernel"
    stamp="$package $(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)"
    if [ "${EBPF_BOX_REBUILD:-0}" != 1 ] && [ -f "$box_dir/stamp" ] && [ "$(cat "$box_dir/stamp")" = "$stamp" ] \
        && [ -f "$box_dir/vmlinuz" ] && vagrant box list 2>/dev/null | grep "^$name " >/dev/null; then
        say "$name is up to date ($package); EBPF_BOX_REBUILD=1 rebuilds it"
        return 0
    fi
    say "building $name: Debian $suite + $package"
    mkdir -p "$box_dir"
    work="$(mktemp -d "$cache/vagrant/.build-$kernel.XXXXXX")"
    rootfs="$work/rootfs"
    # shellcheck disable=SC2064  # expand now: the trap must clean this build's directory
    trap "umount -R '$rootfs/proc' '$rootfs/sys' '$rootfs/dev' 2>/dev/null || true; rm -rf '$work'" EXIT

    mkdir -p "$cache/debootstrap"
    debootstrap --variant=minbase --cache-dir="$cache/debootstrap" \
        --include="$(IFS=,; echo "${packages[*]}")" "$suite" "$rootfs" "$(mirror)" \
        || die "debootstrap failed (see above)"

    # The kernel package comes from the same archive as the QEMU runner's: use the host's Debian sources.
    rm -f "$rootfs/etc/apt/sources.list"
    for src in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
        [ -f "$src" ] && grep -q "debian.org" "$src" && cp "$src" "$rootfs${src}"
    done
    mount -t proc proc "$rootfs/proc"
    mount --rbind /sys "$rootfs/sys"
    mount --rbind /dev "$rootfs/dev"
    chroot "$rootfs" /bin/bash -euo pipefail -c "
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends '$package'
        apt-get clean
        rm -rf /var/lib/apt/lists/*
    " || die "installing $package in the box failed (see above)"
    umount -R "$rootfs/proc" "$rootfs/sys" "$rootfs/dev"

    # The vagrant user, with the key generated above; passwordless sudo.
    chroot "$rootfs" useradd -m -s /bin/bash vagrant
    install -d -m 700 -o 1000 -g 1000 "$rootfs/home/vagrant/.ssh"
    install -m 600 -o 1000 -g 1000 "$key.pub" "$rootfs/home/vagrant/.ssh/authorized_keys"
    echo "vagrant ALL=(ALL) NOPASSWD:ALL" > "$rootfs/etc/sudoers.d/vagrant"
    chmod 440 "$rootfs/etc/sudoers.d/vagrant"
    echo "UseDNS no" > "$rootfs/etc/ssh/sshd_config.d/vagrant.conf"
    # DHCP on the first NIC (net.ifnames=0 on the command line makes it eth0).
    cat > "$rootfs/etc/systemd/network/80-dhcp.network" <<'EOF'
[Match]
Name=eth* en*

[Network]
DHCP=yes
EOF
    chroot "$rootfs" systemctl enable systemd-networkd ssh >/dev/null 2>&1
    echo "ebpf-$kernel" > "$rootfs/etc/hostname"
    printf '127.0.0.1 localhost\n127.0.1.1 ebpf-%s\n' "$kernel" > "$rootfs/etc/hosts"
    echo "LABEL=ebpf-root / ext4 defaults,noatime 0 1" > "$rootfs/etc/fstab"
    rm -f "$rootfs/etc/ssh/ssh_host_"*
    # New host keys at first boot (every box instance gets its own).
    cat > "$rootfs/etc/systemd/system/ssh-hostkeys.service" <<'EOF'
[Unit]
Description=Generate SSH host keys
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
EOF
    chroot "$rootfs" systemctl enable ssh-hostkeys.service >/dev/null 2>&1
    : > "$rootfs/etc/machine-id"

    cp "$rootfs/boot/vmlinuz-$release" "$box_dir/vmlinuz.new"
    cp "$rootfs/boot/initrd.img-$release" "$box_dir/initrd.img.new"
    rm -f "$work/disk.raw"
    mkfs.ext4 -q -F -L ebpf-root -d "$rootfs" "$work/disk.raw" "$size" || die "mkfs.ext4 -d failed"
    qemu-img convert -O qcow2 "$work/disk.raw" "$work/box.img"
    rm -f "$work/disk.raw"
    printf '{"provider": "libvirt", "format": "qcow2", "virtual_size": %s}\n' "${size%G}" > "$work/metadata.json"
    cat > "$work/Vagrantfile" <<'EOF'
# Box-level defaults; vagrant/Vagrantfile in the ebpf repository sets the kernel to boot.
Vagrant.configure("2") do |config|
  config.vm.provider :libvirt do |libvirt|
    libvirt.disk_bus = "virtio"
  end
end
EOF
    tar -C "$work" -cf "$work/box.box" metadata.json Vagrantfile box.img
    vagrant box add --force --name "$name" "$work/box.box"
    mv "$box_dir/vmlinuz.new" "$box_dir/vmlinuz"
    mv "$box_dir/initrd.img.new" "$box_dir/initrd.img"
    echo "$release" > "$box_dir/release"
    echo "$stamp" > "$box_dir/stamp"
    rm -rf "$work"
    trap - EXIT
    say "$name registered ($package, $release)"
}

case "${1:-all}" in
    all) kernels=(6.1 6.12) ;;
    *) IFS=, read -r -a kernels <<<"$1" ;;
esac
for kernel in "${kernels[@]}"; do
    case "$kernel" in
        6.1 | 6.12) build "$kernel" ;;
        *) say "$kernel: no local box is built for it (the Vagrantfile uses a public box; see vagrant/README.md)" ;;
    esac
done
