# colo-ft: production COLO fault tolerance for QEMU and libvirt, as two
# patch series against the pinned upstreams in components/. Each component
# has one workflow: fetch, prepare a git work tree, build, export,
# series-check. 'make help' lists targets.

SHELL := /bin/bash
ROOT := $(CURDIR)
QEMU_TREE := $(ROOT)/build/qemu
LIBVIRT_TREE := $(ROOT)/build/libvirt
UPSTREAM_TREE := $(ROOT)/build/upstream
QEMU_BIN := $(QEMU_TREE)/build/qemu-system-x86_64
UPSTREAM_BIN := $(UPSTREAM_TREE)/build/qemu-system-x86_64
PYTHON := /usr/bin/python3
LAB := $(PYTHON) tests/lab/run.py
GUEST = $$(tests/guest/build-guest.sh)

.PHONY: help qemu libvirt qemu-path upstream-qemu export series-check series-build guest lab-deps \
	demo demo-qemu check check-upstream check-libvirt check-lab bench clean

help:
	@echo "make qemu          prepare build/qemu (upstream + patches/) and build it"
	@echo "make libvirt       prepare build/libvirt (upstream + patches/libvirt/) and build it"
	@echo "make demo          the COLO story through virsh: protect, fail over, protect again"
	@echo "make demo-qemu     the QEMU-level demo: a COLO pair through a failover (QMP)"
	@echo "make check         upstream's tests for what the series touch, then the lab"
	@echo "make check-libvirt only libvirt's test suite, with the libvirt series"
	@echo "make bench         plain vs colo-compare vs colo-nic (and upstream), results/bench/"
	@echo "make export        write each work tree's commits back to its series"
	@echo "make series-check  fail when a work tree and its series disagree"
	@echo "make series-build  build every patch of the series on its own"
	@echo "make -s qemu-path  print the path of the patched qemu-system-x86_64"

qemu:
	@scripts/build-qemu.sh "$(QEMU_TREE)"

libvirt:
	@scripts/build-libvirt.sh "$(LIBVIRT_TREE)"

qemu-path:
	@echo "$(QEMU_BIN)"

upstream-qemu: qemu
	@scripts/prepare-upstream-tree.sh "$(UPSTREAM_TREE)"
	@scripts/build-qemu.sh "$(UPSTREAM_TREE)"

export:
	@for c in qemu libvirt; do \
		[ ! -d build/$$c/.git ] || scripts/export-series.sh $$c || exit 1; \
	done

series-check:
	@scripts/series-check.sh

series-build:
	@scripts/series-build.sh

guest:
	@tests/guest/build-guest.sh

lab-deps:
	@scripts/install-lab-deps.sh

demo: qemu libvirt lab-deps
	@$(PYTHON) tests/lab/demo_libvirt.py --qemu "$(QEMU_BIN)" --guest "$(GUEST)" \
		--libvirt "$(LIBVIRT_TREE)/build"

demo-qemu: qemu lab-deps
	@$(PYTHON) tests/lab/demo.py --qemu "$(QEMU_BIN)" --guest "$(GUEST)"

check: qemu lab-deps
	@tests/check.sh "$(QEMU_TREE)"

check-upstream: qemu
	@CHECK_ONLY=upstream tests/check.sh "$(QEMU_TREE)"

check-libvirt:
	@CHECK_ONLY=libvirt tests/check.sh "$(QEMU_TREE)"

check-lab: qemu lab-deps
	@CHECK_ONLY=lab tests/check.sh "$(QEMU_TREE)"

# BASELINE=path/to/qemu-system-x86_64: also an earlier build of the series
bench: upstream-qemu lab-deps
	@$(PYTHON) tests/bench/bench.py --upstream "$(UPSTREAM_BIN)" --series "$(QEMU_BIN)" \
		--guest "$(GUEST)" $(if $(BASELINE),--baseline "$(BASELINE)")

clean:
	rm -rf build results
