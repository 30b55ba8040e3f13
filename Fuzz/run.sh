#!/usr/bin/env bash
# Builds each libFuzzer target (Fuzz/<name>, product fuzz-<name>) with -sanitize=fuzzer,address and runs it on a
# scratch corpus seeded from the committed one. Fails on any crash, hang (10 s per input), leak, out-of-memory or
# sanitizer report; the input that caused it is kept in $FUZZ_SCRATCH/findings/<name>/.
#
#   Fuzz/run.sh [name...]        every target when none is named
#   FUZZ_SECONDS=30              seconds per target
#   FUZZ_RUNS=N                  N executions per target instead, in processes of at most FUZZ_PROCESS_RUNS
#   FUZZ_PROCESS_RUNS=1000000    (TOMLKit leaks on every parse: a process must not run forever)
#   FUZZ_FLAGS="..."             extra libFuzzer flags
#   FUZZ_SCRATCH=.build-fuzz     the build, the growing corpora, findings and logs
set -uo pipefail
cd "$(dirname "$0")/.."

SWIFT=${SWIFT:-swift}
seconds=${FUZZ_SECONDS:-30}
scratch=${FUZZ_SCRATCH:-.build-fuzz}
all=(tftp-packet http-request http-range plugin-toml repo-file fleet-toml repomd-xml node-report)
# Their parser leaks inside the library on every input (Fuzz/lsan.supp says what and where). libFuzzer's own leak
# check after each input would then run LeakSanitizer after nearly every input (30 executions a second instead of
# thousands), so for these it is off and LeakSanitizer runs once when the process exits, over everything the run
# did, with the same suppressions: a leak of ours still fails the run, and the corpus is then replayed input by
# input to find the one that leaks.
leaky=" plugin-toml fleet-toml "
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

export OVERLAY_FUZZ=1
# SwiftPM passes one -sanitize= per sanitizer to swiftc, in the order of a Set, and swiftc keeps only the last one:
# half the builds compiled the Swift modules without coverage (the fuzzer ran blind without saying so), and a flag
# order that changes from run to run rebuilt everything every time. The combined flag comes last and wins, and
# deterministic hashing keeps SwiftPM's order, so an unchanged tree builds in a second. (--sanitize itself stays:
# it instruments the C and C++ targets, and makes SwiftPM leave `main` to libFuzzer.)
build=(env SWIFT_DETERMINISTIC_HASHING=1 "$SWIFT" build -c release --scratch-path "$scratch"
       --sanitize fuzzer --sanitize address -Xswiftc -sanitize=fuzzer,address)
for name in "${targets[@]}"; do
  [ -d "Fuzz/$name" ] || { echo "fuzz: no target Fuzz/$name; targets: ${all[*]}" >&2; exit 64; }
  echo "== build fuzz-$name"
  "${build[@]}" --product "fuzz-$name" || { echo "fuzz: fuzz-$name does not build" >&2; exit 1; }
done
bin=$("${build[@]}" --show-bin-path)

# The Swift runtime's own crash handler reads memory ASan poisons; libFuzzer and ASan report crashes themselves.
export SWIFT_BACKTRACE=enable=no
export LSAN_OPTIONS="suppressions=$PWD/Fuzz/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export ASAN_OPTIONS="detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"

findings='^==[0-9]+== ?ERROR|^SUMMARY: (Address|Leak)Sanitizer|deadly signal|Fatal error|out-of-memory|timeout after'
failed=()
for name in "${targets[@]}"; do
  corpus="$scratch/corpus/$name"
  # Not "artifacts": SwiftPM owns <scratch>/artifacts (binary targets) and empties it on every build, so a second
  # run.sh building into the same scratch directory deleted the inputs a first one had kept, and the directory
  # libFuzzer writes them to.
  artifacts="$scratch/findings/$name"
  log="$scratch/logs/$name.log"
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  : >"$log"
  flags=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -dict="Fuzz/$name/fuzz.dict" -artifact_prefix="$artifacts/")
  [[ $leaky == *" $name "* ]] && flags+=(-detect_leaks=0)
  # A binary whose Swift code lost its instrumentation still fuzzes, blindly: refuse it.
  counters=$("$bin/fuzz-$name" -runs=0 -artifact_prefix="$artifacts/" 2>&1 | sed -n 's/^INFO: Loaded 1 modules *(\([0-9]*\) inline 8-bit counters).*/\1/p')
  if [ "${counters:-0}" -lt 1000 ]; then
    echo "fuzz-$name has ${counters:-no} coverage counters: it was built without -sanitize=fuzzer" >&2
    failed+=("$name")
    continue
  fi
  # shellcheck disable=SC2206
  flags+=(${FUZZ_FLAGS:-})
  if [ -n "${FUZZ_RUNS:-}" ]; then echo "== fuzz-$name $FUZZ_RUNS runs"; else echo "== fuzz-$name ${seconds}s"; fi
  executed=0
  started=$SECONDS
  status=0
  while :; do
    if [ -n "${FUZZ_RUNS:-}" ]; then
      left=$((FUZZ_RUNS - executed))
      [ $left -gt 0 ] || break
      chunk=${FUZZ_PROCESS_RUNS:-1000000}
      [ $left -lt "$chunk" ] && chunk=$left
      limit=(-runs="$chunk")
    else
      limit=(-max_total_time="$seconds")
    fi
    # New inputs go to the first directory only: the committed seeds (Fuzz/<name>/corpus) are read, never written.
    "$bin/fuzz-$name" "${flags[@]}" "${limit[@]}" "$corpus" "Fuzz/$name/corpus" >>"$log" 2>&1
    status=$?
    runs=$(grep '^stat::number_of_executed_units' "$log" | tail -n 1 | awk '{print $2}')
    executed=$((executed + ${runs:-0}))
    [ $status -eq 0 ] && [ -n "${FUZZ_RUNS:-}" ] && [ "${runs:-0}" -gt 0 ] || break
  done
  elapsed=$((SECONDS - started))
  echo "   executions: $executed, seconds: $elapsed, exec/s: $((executed / (elapsed > 0 ? elapsed : 1))), scratch corpus: $(find "$corpus" -type f | wc -l) inputs"
  if [ $status -ne 0 ] || grep -qE "$findings" "$log"; then
    if [[ $leaky == *" $name "* ]] && grep -q 'ERROR: LeakSanitizer' "$log" && ! ls "$artifacts"/leak-* >/dev/null 2>&1; then
      echo "   a leak: replaying the corpus input by input to find it"
      "$bin/fuzz-$name" -runs=0 -detect_leaks=1 -artifact_prefix="$artifacts/" "$corpus" "Fuzz/$name/corpus" >>"$log" 2>&1
    fi
    echo "fuzz-$name FAILED (exit $status): see $log; reproduce with $bin/fuzz-$name <file from $artifacts>" >&2
    grep -m 12 -E "$findings|Assertion|Test unit written" "$log" >&2
    failed+=("$name")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, no findings"
