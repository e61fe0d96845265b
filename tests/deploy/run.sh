#!/usr/bin/env bash
# Deploy checks, no cluster needed: installs deps (deps.sh), renders every overlay with kustomize,
# runs the node tests (schema validation + drift checks). Last line: "N passed, M failed".
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
kustomize="$(bash "$here/deps.sh" | tail -n 1)" || { echo "deps.sh failed"; echo "0 passed, 1 failed"; exit 1; }

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
failed_build=0
for d in "$root"/k8s/overlays/*/; do
  o="$(basename "$d")"
  if ! "$kustomize" build "$d" > "$out/$o.yaml" 2> "$out/$o.err"; then
    echo "not ok - kustomize build k8s/overlays/$o"; sed 's/^/  /' "$out/$o.err"
    failed_build=$((failed_build + 1))
  fi
done

DEPLOY_RENDER_DIR="$out" node --test --test-reporter=tap "$here/deploy.test.mjs" > "$out/tap.txt" 2>&1
rc=$?
grep -E '^(not ok|ok) |^# (tests|pass|fail|skipped)' "$out/tap.txt" | grep -v '^ok ' || true
if [ $rc -ne 0 ]; then grep -B2 -A30 '^not ok' "$out/tap.txt" | head -200; fi
pass="$(sed -n 's/^# pass //p' "$out/tap.txt" | tail -1)"
fail="$(sed -n 's/^# fail //p' "$out/tap.txt" | tail -1)"
skip="$(sed -n 's/^# skipped //p' "$out/tap.txt" | tail -1)"
pass=${pass:-0}; fail=$(( ${fail:-1} + failed_build ))
[ "${skip:-0}" != 0 ] && echo "($skip skipped)"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ $rc -eq 0 ]
