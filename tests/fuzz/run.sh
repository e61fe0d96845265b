#!/usr/bin/env bash
# Builds the libFuzzer targets in tests/fuzz/ (clang, ASan+UBSan, lib/ compiled with the same
# sanitizers) into build/fuzz/ and runs each for SECONDS (arg, else $FUZZ_SECONDS, else 60)
# on a copy of its seed corpus (build/fuzz/corpus-<target>, kept between runs).
# SECONDS=0 only replays the corpus (a regression run). Exits non-zero if a target fails to
# build, crashes, leaks, times out or runs out of memory; crash inputs go to build/fuzz/artifacts/.
# Usage: tests/fuzz/run.sh [SECONDS] [TARGET...]      e.g. FUZZ_SECONDS=20 tests/fuzz/run.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
SECS="${1:-${FUZZ_SECONDS:-60}}"
shift $(( $# > 0 ? 1 : 0 ))
TARGETS=("${@:-fuzz_order fuzz_config fuzz_cosmos_response fuzz_json_str fuzz_epk fuzz_json_scan}")
read -r -a TARGETS <<<"${TARGETS[*]}"
CC="${FUZZ_CC:-clang}"
OUT=build/fuzz
PKGS="libcurl libcjson libconfig libcrypto libmicrohttpd"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
# librdkafka as the Makefile links it (the pinned static build unless LIBRDKAFKA=system).
RDK_FLAGS=$(make -s --no-print-directory rdkafka-flags) || { echo "run.sh: librdkafka not available"; exit 2; }
eval "$RDK_FLAGS"
CFLAGS="-std=gnu17 -g -O1 -Wall -Wextra -Ilib -DORDERSINK_VERSION=\"fuzz\" $SAN $RDK_CFLAGS $(pkg-config --cflags $PKGS)"
LIBS="$RDK_LIBS $(pkg-config --libs $PKGS) -lpthread -lm"
declare -A MAXLEN=([fuzz_order]=65536 [fuzz_config]=16384 [fuzz_cosmos_response]=8192 [fuzz_json_str]=512
                   [fuzz_epk]=8192 [fuzz_json_scan]=8192)

command -v "$CC" >/dev/null || { echo "run.sh: $CC not found (apt-get install clang libclang-rt-14-dev)"; exit 2; }
mkdir -p "$OUT/obj" "$OUT/artifacts"
# Objects built against another librdkafka (header or library) are rebuilt.
if [ "$(cat "$OUT/rdkafka.flags" 2>/dev/null)" != "$RDK_FLAGS" ]; then
  rm -f "$OUT"/obj/*.o "$OUT/libordersink.a"
  printf '%s\n' "$RDK_FLAGS" >"$OUT/rdkafka.flags"
fi

# lib/ as one archive: a target links only the objects it needs. Rebuilt when a source or any
# header is newer than the object.
build_lib() {
  local src obj newest_h objs=()
  newest_h=$(ls -t lib/*.h | head -1)
  for src in lib/*.c; do
    obj="$OUT/obj/$(basename "${src%.c}").o"
    objs+=("$obj")
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ "$newest_h" -nt "$obj" ]; then
      echo "cc $src"
      $CC $CFLAGS -fsanitize=fuzzer-no-link -c "$src" -o "$obj" || return 1
    fi
  done
  for obj in "$OUT/obj/"*.o; do  # objects of lib files that no longer exist
    [ -f "lib/$(basename "${obj%.o}").c" ] || rm -f "$obj"
  done
  rm -f "$OUT/libordersink.a" && ar rcs "$OUT/libordersink.a" "${objs[@]}"
}

build_target() { # $1 target
  local t=$1
  if [ ! -x "$OUT/$t" ] || [ "tests/fuzz/$t.c" -nt "$OUT/$t" ] || [ "$OUT/libordersink.a" -nt "$OUT/$t" ]; then
    echo "link $OUT/$t"
    $CC $CFLAGS -fsanitize=fuzzer "tests/fuzz/$t.c" "$OUT/libordersink.a" $LIBS -o "$OUT/$t" || return 1
  fi
}

# Dictionaries: JSON/Cosmos tokens are fixed; config keys come from the settings table.
make_dicts() {
  {
    grep -ohE '^\s*[SI]\("[a-z_]+\.[a-z_]+"' lib/config.c | grep -oE '[a-z_]+\.[a-z_]+' |
      tr '.' '\n' | sort -u | sed 's/.*/"&"/'
    printf '"%s"\n' "librdkafka" "=" ";" "{" "}" "(" ")" "[" "]" "," "\\\"" "@include" "0x" "L" \
      "true" "false" "/*" "*/" "//" "#"
  } > "$OUT/fuzz_config.dict"
  cp tests/fuzz/json.dict "$OUT/fuzz_order.dict"
  cp tests/fuzz/json.dict "$OUT/fuzz_cosmos_response.dict"
  { cat tests/fuzz/json.dict; printf '"%s"\n' '01' '1.' '-.5' '\\uZZZZ' '\\ud800' '\\udc00' 'e+' 'E-' '\x0c' '\x0b' '\x09'; } > "$OUT/fuzz_json_scan.dict"
  { cat tests/fuzz/json.dict; printf '"%s"\n' '\\u0000' '\\ud83d\\uded2' '\\udc00' '\\ud800' \
      '\\"' '\\\\' '\\/' 'e+' 'E-' '.5' '-0' '9007199254740993'; } > "$OUT/fuzz_json_str.dict"
  {
    cat tests/fuzz/json.dict
    printf '"%s"\n' '\"PartitionKeyRanges\"' '\"minInclusive\"' '\"maxExclusive\"' \
      '\"parents\"' '\"FF\"' '\"\"' '\"1F\"' '\"3FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF\"'
  } > "$OUT/fuzz_epk.dict"
}

passed=0 failed=0 failed_names=()
if ! build_lib; then
  echo "run.sh: building lib/ with sanitizers failed"
  echo "0 passed, ${#TARGETS[@]} failed"
  exit 1
fi
make_dicts
for t in "${TARGETS[@]}"; do
  echo "== $t (${SECS}s)"
  if ! build_target "$t"; then
    echo "$t: BUILD FAILED"; failed=$((failed + 1)); failed_names+=("$t"); continue
  fi
  corpus="$OUT/corpus-$t"
  mkdir -p "$corpus"
  cp -n tests/fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null
  if [ "$SECS" = 0 ]; then limit=(-runs=0); else limit=(-max_total_time="$SECS"); fi
  log="$OUT/$t.log"
  # stdin from /dev/null: a config may name /dev/stdin as a key file.
  ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}" \
  LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0}" \
  UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
    "$OUT/$t" "${limit[@]}" -max_len="${MAXLEN[$t]:-4096}" -timeout=10 -rss_limit_mb=2048 \
      -dict="$OUT/$t.dict" -artifact_prefix="$OUT/artifacts/$t-" -print_final_stats=1 \
      "$corpus" </dev/null >"$log" 2>&1
  rc=$?
  stats=$(grep -E '^#[0-9]+\s+(DONE|INITED)' "$log" | tail -1 | sed -E 's/^#([0-9]+)\s+\S+\s+/runs: \1 /')
  eps=$(grep -E '^stat::average_exec_per_sec' "$log" | awk '{print $2}')
  if [ $rc -eq 0 ]; then
    echo "$t: ok, $stats exec/s(avg): ${eps:-?}, corpus files: $(ls "$corpus" | wc -l)"
    passed=$((passed + 1))
  else
    echo "$t: FAILED (exit $rc), see $log"
    grep -E 'ERROR: |runtime error|invariant failed|Test unit written|SUMMARY' "$log" | head -8 | sed 's/^/  /'
    failed=$((failed + 1)); failed_names+=("$t")
  fi
done
echo "$passed passed, $failed failed${failed_names:+ (${failed_names[*]})}"
[ "$failed" -eq 0 ]
