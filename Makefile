# Developer entry points. On a fresh Debian/Ubuntu machine, as root, from a
# clean clone: `make demo` or `make test`. Both run `setup` first, which
# installs whatever is missing (Debian packages, hatch, the hatch environment)
# and does nothing else when everything is already there.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
# Targets run one after another even under `make -j`: `test` stops at the
# first failing step.
.NOTPARALLEL:

PYTHON ?= python3
# Debian packages the test suite and the BPF C test programs need (gcc and
# systemtap-sdt-dev's <sys/sdt.h>: the USDT test programs of tests/elf/usdt/).
DEB_PACKAGES := clang llvm bpftool libbpf-dev iproute2 kmod gcc systemtap-sdt-dev python3.11
# Where hatch goes when the interpreter refuses `pip install` (PEP 668).
HATCH_VENV := .tools/hatch

# Evaluated each time it is used, so that it finds a hatch that `setup`
# installed earlier in the same run.
HATCH = $(shell if command -v hatch >/dev/null 2>&1; then echo hatch; \
	elif [ -x $(HATCH_VENV)/bin/hatch ]; then echo $(HATCH_VENV)/bin/hatch; \
	else echo "$(PYTHON) -m hatch"; fi)

.PHONY: help setup setup-system setup-hatch lint typecheck docs unit integration test demo bench fuzz build regen clean

help:
	@echo "make demo         set up, then trace this machine live for 2 s (needs root)"
	@echo "make test         set up, then lint + typecheck + docs + unit + integration"
	@echo "make docs         build the documentation into site/ (warnings are errors)"
	@echo "make setup        install missing Debian packages, hatch and the hatch env"
	@echo "make lint | typecheck | unit | integration   one step of 'make test'"
	@echo "make bench        benchmarks beside libbpf in the same run (needs root); figures in bench/README.md"
	@echo "make fuzz         run every fuzz target for FUZZ_SECONDS (default 60) each"
	@echo "make build        build every wheel and sdist into dist/ (what PyPI gets)"
	@echo "make regen        regenerate ebpf.syscall's ABI tables from this kernel's BTF, ebpf.core's stub and tool objects"
	@echo "make clean        remove build outputs and caches (keeps hatch and its env)"

setup: setup-system setup-hatch
	$(HATCH) env create
	@# `env create` leaves an existing environment alone; `run` syncs it (new
	@# dependencies, workspace members) and is quick when nothing changed.
	$(HATCH) run true

setup-system:
	@missing=""; \
	for pkg in $(DEB_PACKAGES); do \
		dpkg -s "$$pkg" >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	if ! command -v $(PYTHON) >/dev/null 2>&1; then \
		missing="$$missing python3 python3-pip python3-venv"; \
	elif ! command -v hatch >/dev/null 2>&1 && [ ! -x $(HATCH_VENV)/bin/hatch ] && \
		! { $(PYTHON) -m pip --version && $(PYTHON) -c 'import ensurepip'; } >/dev/null 2>&1; then \
		missing="$$missing python3-pip python3-venv"; \
	fi; \
	[ -z "$$missing" ] && exit 0; \
	if [ "$$(id -u)" -ne 0 ]; then \
		echo "setup: missing Debian packages:$$missing; run 'make setup' as root" >&2; exit 1; \
	fi; \
	apt-get update -qq; \
	install=""; \
	for pkg in $$missing; do \
		if apt-cache show "$$pkg" >/dev/null 2>&1; then install="$$install $$pkg"; \
		else echo "setup: warning: no package '$$pkg' in this distribution's archive; skipped" >&2; fi; \
	done; \
	[ -z "$$install" ] && exit 0; \
	echo "setup: installing$$install"; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$install

setup-hatch:
	@if command -v hatch >/dev/null 2>&1 || [ -x $(HATCH_VENV)/bin/hatch ]; then exit 0; fi; \
	echo "setup: installing hatch"; \
	if $(PYTHON) -m pip install 'hatch>=1.16'; then \
		if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi; \
	else \
		echo "setup: '$(PYTHON) -m pip install' refused (externally managed?); using a venv in $(HATCH_VENV)"; \
		$(PYTHON) -m venv $(HATCH_VENV); \
		$(HATCH_VENV)/bin/python -m pip install 'hatch>=1.16'; \
	fi

lint: setup
	$(HATCH) run lint

typecheck: setup
	$(HATCH) run typecheck

unit: setup
	$(HATCH) run unit

integration: setup
	$(HATCH) run integration

docs: setup
	$(HATCH) run docs:build

test: setup lint typecheck docs unit integration

demo: setup
	$(HATCH) run python -m ebpf.core demo

# Each benchmark builds its C baseline (gcc + libbpf-dev) and prints Python/C ratios.
bench: setup
	$(HATCH) run python bench/btf/bench_btf.py --repeats 5
	$(HATCH) run python bench/core/bench_core.py --repeats 7
	$(HATCH) run python bench/maps/bench_maps.py
	PYTHONPATH=integration $(HATCH) run python bench/events/bench_events.py --repeats 3 --seconds 2
	$(HATCH) run python bench/tools/bench_tools.py --repeats 5

FUZZ_SECONDS ?= 60
fuzz: setup
	$(HATCH) run fuzz:run --seconds $(FUZZ_SECONDS)

build: setup
	rm -rf dist
	$(HATCH) build --all -t wheel -t sdist

regen: setup
	$(HATCH) run python tools/gen_abi.py extract
	$(HATCH) run python tools/gen_abi.py render
	$(HATCH) run python tools/gen_facade_stub.py render
	$(HATCH) run python tools/gen_tool_objects.py render
	$(HATCH) run python tools/gen_syscall_names.py render

clean:
	rm -rf dist build .mypy_cache .ruff_cache .pytest_cache .hypothesis
	find . -name .tools -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
	find tests integration -path '*/bpf/*' -name '*.o' -delete 2>/dev/null || true

# ---------------------------------------------------------------------------
# The integration suite on other kernels (vagrant/README.md).
#
#   make vm-test KERNEL=6.1|6.12|all|host   boot each kernel under QEMU with this
#                                           machine's root shared read-only, run
#                                           the integration suite inside as root
#   make vm-test-arm64 [KERNEL=arm64-6.12]  the same on Debian's arm64 kernels
#                                           (arm64-6.1, arm64-6.12; default both)
#                                           under qemu-system-aarch64, in an arm64
#                                           userland built from Debian's packages
#   make vagrant-test KERNEL=6.1            the same in a Vagrant (libvirt) VM
#   make vm-box KERNEL=6.1                  build the local Vagrant box offline
#
# VM_ARGS goes to `python3 -m vm run` (e.g. VM_ARGS='-q -- integration/progs -k kprobe').
# Kernels, boxes and results are cached under .cache/vm/.
KERNEL ?= all
VM_ARGS ?=
VM_OPTS :=
comma := ,
# QEMU for the architectures KERNEL names (qemu-system-arm only when an arm64 kernel is asked for).
VM_DEB_PACKAGES = busybox-static kmod \
	$(if $(findstring arm64,$(KERNEL)),qemu-system-arm) \
	$(if $(filter-out arm64%,$(subst $(comma), ,$(KERNEL))),qemu-system-x86)
VAGRANT_DEB_PACKAGES := vagrant vagrant-libvirt libvirt-daemon-system libvirt-clients qemu-system-x86 \
	qemu-utils debootstrap e2fsprogs kmod dnsmasq-base iptables rsync openssh-client
VM_RUN = PYTHONPATH=tools $(PYTHON) -m vm

# $(call install-debs,PACKAGES): apt-get install those of PACKAGES that are missing (as root).
define install-debs
missing=""; for pkg in $(1); do dpkg -s "$$pkg" >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
if [ -n "$$missing" ]; then \
	if [ "$$(id -u)" -ne 0 ]; then echo "missing Debian packages:$$missing; run as root" >&2; exit 1; fi; \
	echo "installing$$missing"; apt-get update -qq; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
fi
endef

.PHONY: vm-test vm-test-arm64 vagrant-test vm-box

vm-test: setup
	@$(call install-debs,$(VM_DEB_PACKAGES))
	$(VM_RUN) run --kernel '$(KERNEL)' --python "$$($(HATCH) env find)/bin/python" $(VM_OPTS) $(VM_ARGS)

# Emulated (TCG) arm64 guests are slow: one at a time, two CPUs each.
vm-test-arm64: KERNEL := $(if $(findstring arm64,$(KERNEL)),$(KERNEL),arm64)
vm-test-arm64: VM_OPTS := --jobs 1 --cpus 2
vm-test-arm64: vm-test

vm-box:
	@$(call install-debs,$(VAGRANT_DEB_PACKAGES))
	vagrant/build-box.sh '$(KERNEL)'

vagrant-test: vm-box
	vagrant/run.sh '$(KERNEL)'
