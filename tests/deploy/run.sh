#!/usr/bin/env bash
# Deploy checks, no cluster needed: installs deps (deps.sh), renders every overlay with kustomize,
# renders every component in k8s/components on top of the eks overlay, runs the node tests
# (schema validation + drift checks, the alert rules through promtool). Last line: "N passed, M failed".
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

# Every optional component in k8s/components/, rendered on top of the eks overlay (a kustomization
# in a temp dir: kustomize takes only relative paths) as "<component>+eks".
for d in "$root"/k8s/components/*/; do
  c="$(basename "$d")"
  mkdir -p "$out/with-$c"
  rel="$(realpath --relative-to="$out/with-$c" "$root")"
  printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - %s/k8s/overlays/eks\ncomponents:\n  - %s/k8s/components/%s\n' \
    "$rel" "$rel" "$c" > "$out/with-$c/kustomization.yaml"
  if ! "$kustomize" build "$out/with-$c" > "$out/$c+eks.yaml" 2> "$out/$c+eks.err"; then
    echo "not ok - kustomize build k8s/overlays/eks + k8s/components/$c"; sed 's/^/  /' "$out/$c+eks.err"
    failed_build=$((failed_build + 1))
  fi
done

DEPLOY_RENDER_DIR="$out" node --test --test-reporter=tap "$here/deploy.test.mjs" "$here/monitoring.test.mjs" > "$out/tap.txt" 2>&1
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
