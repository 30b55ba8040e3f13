# overlay: build plugin overlays for diskless RPM-based nodes and serve them over PXE.
SHELL := /bin/bash
SWIFT ?= swift
# The binary users run. `make demo`, the example, every test that runs the command line and the benches run it:
# a release-only miscompile once crashed it while a debug build passed every test.
BIN := .build/release/overlay

# Debian 12 packages the build, the tests and the example need.
DEPS := pkgconf libsolv-dev libsolvext-dev librpm-dev libarchive-dev libzstd-dev libcurl4-openssl-dev libmodulemd-dev \
        rpm createrepo-c cpio zstd squashfs-tools busybox-static \
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

# Sanitizer runs: the whole package (tests and the overlay binary the CLI tests run) built release-optimised
# with the sanitizer, in a scratch directory of its own. Reports make the run fail: ASan aborts, LeakSanitizer
# and TSan exit non-zero. The suppressions name third-party leaks only (Tests/Sanitizers/README.md).
SANITIZER_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
                 LSAN_OPTIONS=suppressions=$(CURDIR)/Tests/Sanitizers/lsan.supp:print_suppressions=0 \
                 TSAN_OPTIONS=suppressions=$(CURDIR)/Tests/Sanitizers/tsan.supp:halt_on_error=0:exitcode=66

.PHONY: all deps build test test-asan test-tsan demo clean bench fuzz install man

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
test: build
	$(MAKE) --no-print-directory example
	$(SWIFT) build --build-tests --scratch-path .build-tests
	OVERLAY_BIN=$(CURDIR)/$(BIN) $(SWIFT) test --skip-build --scratch-path .build-tests
	SAMPLE=500 OVERLAY=$(CURDIR)/$(BIN) bench/plan-vs-dnf/run.sh

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

# ---------------------------------------------------------------------------
# Example: a small oVirt Node base image and four plugins, built from real RPMs
# (pxe-examples/specs, pxe-examples/plugins/*/specs), then `overlay base create`
# and `overlay build`. Output in pxe-examples/build; served layout in build/serve.
EX       := pxe-examples
EXB      := $(EX)/build
EX_ABS   := $(abspath $(EXB))
# One fixed date for every file time stamp and build time: reproducible RPMs.
EX_EPOCH ?= 1767225600
EX_MONITOR_PORT := 8631
# overlay, with the example's time stamp and a metadata cache of its own.
EX_OVERLAY = SOURCE_DATE_EPOCH=$(EX_EPOCH) $(BIN)
EX_CACHE   = --cachedir $(EXB)/metadata-cache
EX_BASE_PACKAGES := filesystem busybox kernel ovirt-node-release ovirt-node-init
EX_BASE_SPECS    := $(wildcard $(EX)/specs/*.spec)
EX_FILES         := $(wildcard $(EX)/files/*)
# Plugins whose packages ship inside the plugin (rpms/); monitor's come from an online repo.
EX_BUNDLED       := vdsm cim newkernel

# $(EX_RPMBUILD) --define "_rpmdir DIR" SPEC: the spec's binary RPM, flat in DIR,
# reproducible (SOURCE_DATE_EPOCH, clamped mtimes, fixed build host). --nodeps:
# Debian's rpmdb is empty, so build requirements can't be checked.
EX_RPMBUILD = SOURCE_DATE_EPOCH=$(EX_EPOCH) rpmbuild --quiet --nodeps -bb \
  --define "_topdir $(EX_ABS)/rpmbuild" --define "_sourcedir $(EX_ABS)/sources" \
  --define "_build_name_fmt %{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}.rpm" \
  --define "use_source_date_epoch_as_buildtime 1" --define "clamp_mtime_to_source_date_epoch 1" \
  --define "_buildhost example.invalid" --define "_build_id_links none" --define "debug_package %{nil}"
# createrepo_c records each RPM's mtime: pin it too.
EX_CREATEREPO = ex_repo() { touch -d @$(EX_EPOCH) "$$1"/*.rpm && createrepo_c --quiet --no-database --revision $(EX_EPOCH) --set-timestamp-to-revision "$$1"; }; ex_repo

.PHONY: example example-rpms example-kernel example-clean example-boot

# The kernel: Debian's cloud kernel (virtio built in, zstd initrds), downloaded once.
$(EXB)/cache/vmlinuz:
	@mkdir -p $(EXB)/cache
	@echo "  GET   Debian cloud kernel into $(EXB)/cache"
	@set -e; cd $(EXB)/cache; \
	deb=$$(ls linux-image-*-cloud-amd64_*.deb 2>/dev/null | head -n 1); \
	if [ -z "$$deb" ]; then \
	  pkg=$$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$$/\1/p' | head -n 1); \
	  if [ -z "$$pkg" ]; then apt-get update -q; \
	    pkg=$$(apt-cache depends linux-image-cloud-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$$/\1/p' | head -n 1); fi; \
	  [ -n "$$pkg" ] || { echo "error: apt knows no linux-image-cloud-amd64; check /etc/apt/sources.list" >&2; exit 1; }; \
	  apt-get download -q -o APT::Sandbox::User=root "$$pkg"; \
	  deb=$$(ls linux-image-*-cloud-amd64_*.deb | head -n 1); \
	fi; \
	rm -rf kernel-root; dpkg-deb -x "$$deb" kernel-root; \
	cp kernel-root/boot/config-* config; cp kernel-root/boot/vmlinuz-* vmlinuz.tmp; \
	rm -rf kernel-root; mv vmlinuz.tmp vmlinuz
example-kernel: $(EXB)/cache/vmlinuz

# Files the spec files take as Source: the init script, os-release, busybox, vmlinuz.
$(EXB)/sources/.stamp: $(EX_FILES) $(EXB)/cache/vmlinuz /bin/busybox
	@rm -rf $(EXB)/sources && mkdir -p $(EXB)/sources
	@cp $(EX_FILES) $(EXB)/cache/vmlinuz $(EXB)/sources/
	@cp /bin/busybox $(EXB)/sources/busybox
	@touch $@

# Base repo: filesystem, busybox, kernel 3.1, ovirt-node-release, ovirt-node-init.
$(EXB)/repos/base/repodata/repomd.xml: $(EX_BASE_SPECS) $(EXB)/sources/.stamp
	@rm -rf $(EXB)/repos/base && mkdir -p $(EXB)/repos/base
	@bbver=$$(/bin/busybox 2>&1 | sed -n '1s/^BusyBox v\([0-9.]*\).*/\1/p'); \
	for spec in $(EX_BASE_SPECS); do \
	  echo "  RPM   $$spec"; \
	  $(EX_RPMBUILD) --define "_rpmdir $(EX_ABS)/repos/base" --define "bbver $${bbver:-1.35.0}" $$spec || exit 1; \
	done
	@echo "  REPO  $(EXB)/repos/base"; $(EX_CREATEREPO) $(EXB)/repos/base

# Bundled plugin repos: the built plugin dir is plugin.toml + repos/ + rpms/ (+ repodata).
# newkernel's repo also carries kernel 3.2, which the locked base (kernel 3.1) can't take.
.SECONDEXPANSION:
$(EXB)/plugins/%/.stamp: $(EX)/plugins/%/plugin.toml $(EX)/specs/kernel.spec $$(wildcard $(EX)/plugins/%/specs/*.spec $(EX)/plugins/%/repos/*) $(EXB)/sources/.stamp
	@rm -rf $(EXB)/plugins/$* && mkdir -p $(EXB)/plugins/$*/rpms
	@cp $(EX)/plugins/$*/plugin.toml $(EXB)/plugins/$*/
	@if [ -d $(EX)/plugins/$*/repos ]; then cp -r $(EX)/plugins/$*/repos $(EXB)/plugins/$*/; fi
	@for spec in $(EX)/plugins/$*/specs/*.spec; do \
	  echo "  RPM   $$spec"; \
	  $(EX_RPMBUILD) --define "_rpmdir $(EX_ABS)/plugins/$*/rpms" $$spec || exit 1; \
	done
	@if [ $* = newkernel ]; then \
	  echo "  RPM   $(EX)/specs/kernel.spec (kernel 3.2)"; \
	  $(EX_RPMBUILD) --define "_rpmdir $(EX_ABS)/plugins/$*/rpms" --define "kver 3.2" $(EX)/specs/kernel.spec; fi
	@echo "  REPO  $(EXB)/plugins/$*/rpms"; $(EX_CREATEREPO) $(EXB)/plugins/$*/rpms
	@touch $@

# monitor: plugin dir without rpms/; its packages live in an HTTP repo.
$(EXB)/plugins/monitor/.stamp: $(EX)/plugins/monitor/plugin.toml $(wildcard $(EX)/plugins/monitor/specs/*.spec $(EX)/plugins/monitor/repos/*) $(EXB)/sources/.stamp
	@rm -rf $(EXB)/plugins/monitor $(EXB)/repos/monitor && mkdir -p $(EXB)/plugins/monitor $(EXB)/repos/monitor
	@cp -r $(EX)/plugins/monitor/plugin.toml $(EX)/plugins/monitor/repos $(EXB)/plugins/monitor/
	@for spec in $(EX)/plugins/monitor/specs/*.spec; do \
	  echo "  RPM   $$spec"; \
	  $(EX_RPMBUILD) --define "_rpmdir $(EX_ABS)/repos/monitor" $$spec || exit 1; \
	done
	@echo "  REPO  $(EXB)/repos/monitor"; $(EX_CREATEREPO) $(EXB)/repos/monitor
	@touch $@

example-rpms: deps $(EXB)/repos/base/repodata/repomd.xml $(foreach p,$(EX_BUNDLED) monitor,$(EXB)/plugins/$(p)/.stamp)

# The base image, the overlays (newkernel must fail with exit 3), and serve/.
example: build example-rpms
	rm -rf $(EXB)/rootfs $(EXB)/overlays $(EXB)/serve $(EXB)/base.cpio.zst $(EXB)/base.json $(EXB)/vmlinuz
	$(EX_OVERLAY) base create $(EX_CACHE) --repo $(EXB)/repos/base $(addprefix --package ,$(EX_BASE_PACKAGES)) --out $(EXB)
	[ -f $(EXB)/vmlinuz ] || cp $(EXB)/rootfs/boot/vmlinuz $(EXB)/vmlinuz
	$(EX_OVERLAY) build $(EX_CACHE) --base $(EXB)/rootfs --plugin $(EXB)/plugins/vdsm --plugin $(EXB)/plugins/cim --out $(EXB)/overlays
	SOURCE_DATE_EPOCH=$(EX_EPOCH) $(EX)/with-http.sh $(EXB)/repos/monitor $(EX_MONITOR_PORT) \
	  $(BIN) build $(EX_CACHE) --base $(EXB)/rootfs --plugin $(EXB)/plugins/monitor --enablerepo monitor --out $(EXB)/overlays
	@echo "newkernel needs kernel >= 3.2; the base has kernel 3.1, so this build must fail with exit 3:"
	@$(EX_OVERLAY) build $(EX_CACHE) --base $(EXB)/rootfs --plugin $(EXB)/plugins/newkernel --out $(EXB)/overlays; rc=$$?; \
	if [ $$rc -eq 3 ]; then echo "newkernel: refused with exit 3, as expected"; \
	else echo "error: newkernel build exited with $$rc, expected 3" >&2; exit 1; fi
	mkdir -p $(EXB)/serve
	cp $(EXB)/vmlinuz $(EXB)/base.cpio.zst $(EXB)/base.json $(EXB)/overlays/* $(EXB)/serve/
	@echo "served layout ready in $(EXB)/serve:"; ls -l $(EXB)/serve

# Serves build/serve with `overlay serve` and the example fleet, boots three QEMU
# nodes (TCG, about 10 s each) and checks the plugins each node's /init lists.
example-boot: example
	$(EX)/boot-example.sh $(BIN) $(EXB)/serve $(EX)/fleet.toml

# The whole story in one command: spec files → RPMs → base → overlays → served → booted.
demo: example
	@echo; echo "== what the overlays hold (overlay inspect, first lines):"
	@for f in $(EXB)/overlays/*.cpio.zst; do $(BIN) inspect $$f | sed -n '1,9p'; echo; done
	@echo "== overlay serve on 127.0.0.1, nodes PXE-booted in QEMU (iPXE, TCG: about 10 s a node):"
	$(EX)/boot-example.sh $(BIN) $(EXB)/serve $(EX)/fleet.toml
	@echo; echo "== the console of node 52:54:00:12:34:56 (role compute: vdsm, cim):"
	@grep -E '^(BASE|PLUGIN|NO PLUGINS|OVERLAY-NODE)' $(EXB)/boot-52-54-00-12-34-56.log
	@echo; echo "== the console of node 52:54:00:12:34:57 (role monitoring: monitor):"
	@grep -E '^(BASE|PLUGIN|NO PLUGINS|OVERLAY-NODE)' $(EXB)/boot-52-54-00-12-34-57.log

example-clean:
	rm -rf $(EXB)/rpmbuild $(EXB)/sources $(EXB)/repos $(EXB)/plugins $(EXB)/rootfs $(EXB)/overlays $(EXB)/metadata-cache \
	       $(EXB)/serve $(EXB)/base.cpio.zst $(EXB)/base.json $(EXB)/vmlinuz $(EXB)/serve.log $(EXB)/boot-*.log
