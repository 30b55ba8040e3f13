# overlay: build plugin overlays for diskless RPM-based nodes and serve them over PXE.
SHELL := /bin/bash
SWIFT ?= swift
CONFIG ?= release
BIN := .build/$(CONFIG)/overlay

# Debian 12 packages the build, the tests and the example need.
DEPS := pkgconf libsolv-dev libsolvext-dev librpm-dev libarchive-dev libzstd-dev \
        rpm createrepo-c cpio zstd squashfs-tools busybox-static \
        curl atftp tftp-hpa qemu-system-x86 ipxe-qemu
# Pack tests: hostile plugin bundles are written with Python's tarfile.
DEPS += python3

.PHONY: all deps build test demo clean bench

all: build

deps:
	@missing=$$(for p in $(DEPS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

build: deps
	$(SWIFT) build -c $(CONFIG)

test: build
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

clean:
	rm -rf .build pxe-examples/build

# Benchmarks: every bench/*/run.sh, each printing ratios against its peer; a number never fails the target,
# only a benchmark that could not run at all. BENCH=plan-scale runs one.
bench: deps
	$(SWIFT) build -c release
	@failed=; for script in $(if $(BENCH),bench/$(BENCH)/run.sh,bench/*/run.sh); do \
	  [ -x "$$script" ] || continue; \
	  echo "== $$script"; \
	  OVERLAY=$(CURDIR)/.build/release/overlay "$$script" || failed="$$failed $$script"; \
	  echo; \
	done; \
	if [ -n "$$failed" ]; then echo "could not run:$$failed"; exit 1; fi
