# overlay: build plugin overlays for diskless RPM-based nodes and serve them over PXE.
SHELL := /bin/bash
SWIFT ?= swift
# The binary users run. `make demo`, the example, every test that runs the command line and the benches run it:
# a release-only miscompile once crashed it while a debug build passed every test.
BIN := .build/release/overlay

# Debian 12 packages the build, the tests and the example need.
DEPS := pkgconf libsolv-dev libsolvext-dev librpm-dev libarchive-dev libzstd-dev libcurl4-openssl-dev libmodulemd-dev \
        rpm createrepo-c cpio zstd squashfs-tools erofs-utils busybox-static \
        curl atftp tftp-hpa qemu-system-x86 ipxe-qemu
# Pack tests: hostile plugin bundles are written with Python's tarfile.
DEPS += python3
# pxe-examples: OVMF for UEFI boots (boot-node.sh BOOT_FIRMWARE=uefi).
DEPS += ovmf
# Install tests: packages signed with rpmsign by throwaway GnuPG keys.
DEPS += gnupg
# Repo mirror tests: GNU time measures the CLI's CPU while a mirror stays silent; openssl serves https.
DEPS += time openssl
# TFTP loss tests: network namespaces and a veth pair (iproute2), loss and reordering on it (tc netem, or
# iptables-legacy NFQUEUE on kernels without sch_netem).
DEPS += iproute2 iptables
# Fault tests: strace kills a build at an exact system call (a rename, a mount).
DEPS += strace
# Bad-input tests: a Berkeley DB rpmdb (RHEL 8 and older) is made with db_load.
DEPS += db5.3-util
# plan-vs-dnf: dnf 4 and its Python API, the peer overlay's plans are compared with.
DEPS += dnf python3-dnf
# Base images: squashfs read in place with libsquashfs; the example's live ISO is made with xorriso.
DEPS += libsquashfs-dev xorriso
# Status page test: headless Chromium renders overlay serve's page (a screenshot and the rendered DOM).
DEPS += chromium

# Sanitizer runs: the whole package (tests and the overlay binary the CLI tests run) built release-optimised
# with the sanitizer, in a scratch directory of its own. Reports make the run fail: ASan aborts, LeakSanitizer
# and TSan exit non-zero. The suppressions name third-party leaks only (Tests/Sanitizers/README.md).
SANITIZER_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:suppressions=$(CURDIR)/Tests/Sanitizers/asan.supp \
                 LSAN_OPTIONS=suppressions=$(CURDIR)/Tests/Sanitizers/lsan.supp:print_suppressions=0 \
                 TSAN_OPTIONS=suppressions=$(CURDIR)/Tests/Sanitizers/tsan.supp:halt_on_error=0:exitcode=66

.PHONY: all deps build lint format test test-asan test-tsan demo clean bench fuzz install man

# `make install` puts the release binary, its man page, bash/zsh/fish completions and the systemd unit of
# `overlay serve` under $(DESTDIR)$(PREFIX), as packagers expect (DESTDIR is the staging root, PREFIX the path
# on the installed system, which the unit's ExecStart names).
PREFIX     ?= /usr/local
DESTDIR    ?=
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
UNITDIR    ?= $(PREFIX)/lib/systemd/system
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
# The man page: swift-argument-parser's generate-manual plugin, run on the release build (the plugin builds its
# tool from the package mirror the first time, which takes a few minutes).
MAN := .build/plugins/GenerateManual/outputs/overlay/overlay.1

all: build

deps:
	@missing=$$(for p in $(DEPS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends $$missing; \
	fi

build: deps
	$(SWIFT) build -c release

# Every test: the Swift suites (real RPMs, rpmdbs, sockets and clients) and real PXE boots of the example OS in
# QEMU. The suites compile into .build-tests (debug, testable imports); every test that runs the command line
# runs $(BIN), and the example they boot is built with it. Then the release binary's plans compared with dnf's on
# CentOS Stream 9 metadata (bench/plan-vs-dnf, 500 sampled requests).
test: build lint
	$(MAKE) --no-print-directory example
	$(MAKE) --no-print-directory example-rebase
	$(SWIFT) build --build-tests --scratch-path .build-tests
	OVERLAY_BIN=$(CURDIR)/$(BIN) $(SWIFT) test --skip-build --scratch-path .build-tests
	SAMPLE=500 OVERLAY=$(CURDIR)/$(BIN) bench/plan-vs-dnf/run.sh

# The code's layout, as .swift-format says (swift-format ships with the toolchain): `make format` rewrites it.
SWIFT_SOURCES := Sources Tests Fuzz Package.swift
lint:
	$(SWIFT) format lint --strict --recursive $(SWIFT_SOURCES)

format:
	$(SWIFT) format format --in-place --recursive $(SWIFT_SOURCES)

# The whole suite under AddressSanitizer + LeakSanitizer, and under ThreadSanitizer: the in-process tests and
# the instrumented overlay binary the CLI tests run. `swift build` turns testable imports on only for debug
# builds, hence -enable-testing. Not run under a sanitizer: the CentOS Stream 9 plan (SANITIZER_SKIP). libsolv
# grows its repodata by many small reallocs, and a sanitizer's realloc always moves the block, so parsing
# AppStream's 17.6k packages takes over ten minutes instead of one second; `make test` runs it with the
# release binary, and the multi-repo runs of ReleaseBinaryTests do run here.
SANITIZER_SKIP := --skip 'plansTwoPluginsAgainstCentOSStream9InOneRun'
# Not run under ThreadSanitizer: a build waiting for another build's lock, then stopped by SIGINT. TSan defers a
# signal until the thread it landed on leaves a system call it does not intercept, and flock(2) is one: the
# waiting build never sees the SIGINT while the first build holds the lock. `make test` and `make test-asan` run it.
TSAN_SKIP := --skip 'aSecondBuildIntoTheSameDirectoryWaitsForTheFirstAndLeavesItsWorkAlone'
test-asan: build
	[ -f $(EXB)/serve/base.json ] || $(MAKE) --no-print-directory example
	$(SWIFT) build -c release --build-tests --sanitize address -Xswiftc -enable-testing --scratch-path .build-asan
	$(SANITIZER_ENV) OVERLAY_BIN=$(CURDIR)/.build-asan/release/overlay \
	  $(SWIFT) test -c release --skip-build --sanitize address --scratch-path .build-asan $(SANITIZER_SKIP)

test-tsan: build
	[ -f $(EXB)/serve/base.json ] || $(MAKE) --no-print-directory example
	$(SWIFT) build -c release --build-tests --sanitize thread -Xswiftc -enable-testing --scratch-path .build-tsan
	$(SANITIZER_ENV) OVERLAY_BIN=$(CURDIR)/.build-tsan/release/overlay \
	  $(SWIFT) test -c release --skip-build --sanitize thread --scratch-path .build-tsan $(SANITIZER_SKIP) $(TSAN_SKIP)

man: $(MAN)
$(MAN): $(BIN)
	$(SWIFT) package plugin generate-manual --configuration release
	@touch $@

install: build man
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(UNITDIR) \
	  $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/overlay
	install -m 0644 $(MAN) $(DESTDIR)$(MANDIR)/man1/overlay.1
	$(BIN) --generate-completion-script bash > $(DESTDIR)$(BASHCOMPDIR)/overlay
	$(BIN) --generate-completion-script zsh > $(DESTDIR)$(ZSHCOMPDIR)/_overlay
	$(BIN) --generate-completion-script fish > $(DESTDIR)$(FISHCOMPDIR)/overlay.fish
	sed 's|/usr/local/bin/overlay|$(BINDIR)/overlay|' contrib/overlay-serve.service > $(DESTDIR)$(UNITDIR)/overlay-serve.service
	chmod 0644 $(DESTDIR)$(BASHCOMPDIR)/overlay $(DESTDIR)$(ZSHCOMPDIR)/_overlay $(DESTDIR)$(FISHCOMPDIR)/overlay.fish \
	  $(DESTDIR)$(UNITDIR)/overlay-serve.service

clean:
	rm -rf .build .build-tests .build-asan .build-tsan .build-fuzz pxe-examples/build

# Benchmarks: every bench/*/run.sh, each printing ratios against its peer; a number never fails the target,
# only a benchmark that could not run at all. BENCH=plan-scale runs one.
bench: build
	@failed=; for script in $(if $(BENCH),bench/$(BENCH)/run.sh,bench/*/run.sh); do \
	  [ -x "$$script" ] || continue; \
	  echo "== $$script"; \
	  OVERLAY=$(CURDIR)/$(BIN) "$$script" || failed="$$failed $$script"; \
	  echo; \
	done; \
	if [ -n "$$failed" ]; then echo "could not run:$$failed"; exit 1; fi

# libFuzzer on every parser of untrusted input (Fuzz/<name>: TFTP packets, HTTP request heads and ranges,
# plugin.toml, .repo files, fleet.toml, repomd.xml), built with -sanitize=fuzzer,address into .build-fuzz and run
# FUZZ_SECONDS each on a scratch copy of the committed seed corpus; any crash, hang, leak or sanitizer report
# fails. FUZZ_TARGETS="tftp-packet http-request" runs some of them.
FUZZ_SECONDS ?= 30
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) SWIFT=$(SWIFT) Fuzz/run.sh $(FUZZ_TARGETS)

# The example (pxe-examples/Makefile): a small oVirt Node base image and four plugins from real RPMs, built,
# served and booted in QEMU with the release binary.
EXB := pxe-examples/build
EXAMPLE = $(MAKE) --no-print-directory -C pxe-examples OVERLAY=$(CURDIR)/$(BIN)
.PHONY: example example-rpms example-boot example-rebase example-clean
example-rpms: deps
	$(EXAMPLE) rpms

example: build
	$(EXAMPLE) example

example-boot: build
	$(EXAMPLE) boot

# ISOv1 -> ISOv2: the example's second base image and `overlay rebase` of its plugins and fleet onto it.
example-rebase: build
	$(EXAMPLE) rebase

# The whole story in one command: spec files → RPMs → base → overlays → served → booted.
demo: build
	$(EXAMPLE) demo

example-clean:
	$(EXAMPLE) clean
