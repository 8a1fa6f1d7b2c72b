#!/usr/bin/env bash
# Builds the libFuzzer harnesses of native/fuzz into build/fuzz/ (not
# committed): build/fuzz/<harness> with -fsanitize=fuzzer,address,undefined,
# and build/fuzz/cov/<harness>, the same code with clang's source coverage
# instrumentation, which tests/fuzz/run.ts replays the corpus through to
# report the lines of the parser covered. Each harness <h> is
# native/fuzz/<h>_fuzz.cc linked with native/core/<h>.cc and nothing else
# (no liburing, no Node), except rule_table, whose table holds its
# wildcard rules in native/core/wildcard_rules.cc. A binary newer than its sources is not rebuilt.
#   tests/fuzz/build.sh [harness ...]     (default: all of them)
# Needs Debian's clang, libfuzzer-14-dev and libclang-rt-14-dev (the
# sanitizer and libFuzzer runtimes clang links). CXX_FUZZ overrides clang++.
set -euo pipefail
cd "$(dirname "$0")/../.."

HARNESSES=(frame_parser netlink_parser interface_drops fd_channel rule_table stream_monitor)
PACKAGES="clang libfuzzer-14-dev libclang-rt-14-dev"
CXX_FUZZ="${CXX_FUZZ:-clang++}"
OUT=build/fuzz
mkdir -p "$OUT/cov"

if ! command -v "$CXX_FUZZ" >/dev/null 2>&1; then
  echo "fuzz: $CXX_FUZZ not found; install the Debian packages: apt-get install $PACKAGES" >&2
  exit 2
fi
# A one-line program that needs every runtime the harnesses link.
probe="$OUT/.probe"
printf '%s\n' '#include <cstddef>' '#include <cstdint>' \
  'extern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }' >"$probe.cc"
if ! "$CXX_FUZZ" -fsanitize=fuzzer,address,undefined "$probe.cc" -o "$probe" 2>"$probe.log"; then
  echo "fuzz: $CXX_FUZZ cannot link -fsanitize=fuzzer,address,undefined ($(grep -m1 -o 'cannot find [^ ]*' "$probe.log" || echo "see $probe.log")); install the Debian packages: apt-get install $PACKAGES" >&2
  exit 2
fi
rm -f "$probe" "$probe.cc" "$probe.log"

if [ "$#" -gt 0 ]; then HARNESSES=("$@"); fi
COMMON=(-std=c++20 -g -Inative -Wall -Wextra -Wno-missing-field-initializers -D_GLIBCXX_ASSERTIONS)
for h in "${HARNESSES[@]}"; do
  src=(native/fuzz/"$h"_fuzz.cc native/core/"$h".cc)
  if [ "$h" = rule_table ]; then src+=(native/core/wildcard_rules.cc); fi
  for f in "${src[@]}"; do
    [ -f "$f" ] || { echo "fuzz: no harness '$h' ($f missing)" >&2; exit 2; }
  done
  deps=("${src[@]}" native/core/"$h".h native/core/netlink_walk.h native/fuzz/fuzz_support.h tests/fuzz/build.sh)
  fresh() { # $1: binary; fresh when it is newer than every source
    [ -x "$1" ] || return 1
    for d in "${deps[@]}"; do [ "$1" -nt "$d" ] || return 1; done
  }
  if ! fresh "$OUT/$h"; then
    echo "fuzz: building $OUT/$h"
    "$CXX_FUZZ" "${COMMON[@]}" -O1 -fno-omit-frame-pointer \
      -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
      "${src[@]}" -o "$OUT/$h"
  fi
  if ! fresh "$OUT/cov/$h"; then
    "$CXX_FUZZ" "${COMMON[@]}" -O0 -fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping \
      "${src[@]}" -o "$OUT/cov/$h"
  fi
done
