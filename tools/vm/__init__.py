"""Run the integration suite inside other kernels.

``python3 -m vm`` (with ``tools/`` on ``PYTHONPATH``; ``make vm-test`` does
that) boots a Debian kernel directly under QEMU with the host's root file
system shared read-only into the guest over 9p and a throw-away tmpfs overlay
on top, so that the guest sees the checkout and its virtualenv at the same
paths. Inside, the hatch environment's interpreter runs
``pytest integration`` as root; the exit status, the junit report and a
feature-probe report come back through a second, writable 9p share.

Modules:

- :mod:`vm.kernels`: the kernel matrix, and fetching a kernel package with
  ``apt-get download`` into the cache (``.cache/vm/``).
- :mod:`vm.initramfs`: the tiny initramfs (busybox-static, the 9p, virtio
  and overlay modules, the guest's init script).
- :mod:`vm.qemu`: booting the guest, the host-side timeout, collecting the
  results.
- :mod:`vm.report`: the ``docs/kernels.md`` table of features verified per
  kernel, generated from the last runs.

Everything here is standard library only: it runs with the system's
``python3`` before the hatch environment exists.
"""
