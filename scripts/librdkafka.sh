#!/usr/bin/env bash
# Fetches librdkafka's source and builds it into PREFIX (static and shared libraries, headers,
# pkg-config files). `make deps`/`make all` and the Dockerfile both run this script, so the image
# links exactly what CI tested.
#
# Source: npm's @confluentinc/kafka-javascript carries librdkafka's full source tree in
# deps/librdkafka; the librdkafka release tarballs themselves are not served by any registry here.
# `npm pack` fetches the package tarball without installing it (no install script runs) and checks
# it against the registry's integrity hash; without npm (the Dockerfile's build stage: Debian's npm
# is ~400 packages) curl fetches the same tarball from the registry's tarball URL. Either way this
# script then checks the tarball's sha512 against the value pinned below and the version rdkafka.h
# declares against LIBRDKAFKA_VERSION, so a changed registry answer stops the build.
# CURL_CA_BUNDLE (curl's own variable): the CA file for curl, e.g. behind a TLS-intercepting proxy.
#
# Usage: scripts/librdkafka.sh [PREFIX]   (default <repo>/.cache/librdkafka-<version>)
# Idempotent: does nothing when PREFIX/.stamp records this version, tarball and configure options.
# Needs npm or curl, a C toolchain, libssl-dev, zlib1g-dev, libzstd-dev, liblz4-dev; downloads nothing
# else (configure without --install-deps uses the system libraries).
set -euo pipefail

LIBRDKAFKA_VERSION=2.15.1
NPM_PACKAGE=@confluentinc/kafka-javascript@1.10.1
# The same tarball, for curl: <registry>/<name>/-/<basename>-<version>.tgz (npm's dist.tarball).
NPM_REGISTRY=${NPM_REGISTRY:-https://registry.npmjs.org}
NPM_TARBALL=@confluentinc/kafka-javascript/-/kafka-javascript-1.10.1.tgz
# npm's dist.integrity of that tarball (`npm view @confluentinc/kafka-javascript@1.10.1
# dist.integrity`), i.e. base64 of its SHA-512.
NPM_INTEGRITY=sha512-KVePUBn21EqCVP9mfxzEuM3SYJHHEF7X+iiC2e43QQgDSyEaksInmCGooT3w5q+cNAdkSCrK71j0ICfqoSqZLw==
# No GSSAPI (Kerberos) and no libcurl (OAUTHBEARER OIDC token fetch): ordersink uses neither.
CONFIGURE_OPTS="--enable-ssl --enable-zlib --enable-zstd --enable-lz4-ext --disable-gssapi --disable-curl"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX="${1:-$ROOT/.cache/librdkafka-$LIBRDKAFKA_VERSION}"
STAMP="$LIBRDKAFKA_VERSION $NPM_INTEGRITY $CONFIGURE_OPTS"

built() {
  [ -f "$PREFIX/.stamp" ] && [ "$(cat "$PREFIX/.stamp")" = "$STAMP" ] && [ -f "$PREFIX/lib/librdkafka.a" ]
}
built && exit 0
# One build at a time per PREFIX: checkouts sharing .cache (git worktrees) otherwise removed and
# installed over each other's tree (seen: a build finished into a PREFIX another had just
# emptied). The second waits, then finds the first one's build.
mkdir -p "$(dirname "$PREFIX")"
exec 9>"$PREFIX.lock"
flock 9
built && exit 0

[ -n "${CURL_CA_BUNDLE:-}" ] || unset CURL_CA_BUNDLE # empty (an unset Dockerfile ARG): curl's default
if command -v npm >/dev/null; then
  fetch=npm
elif command -v curl >/dev/null; then
  fetch=curl
else
  echo "librdkafka.sh: neither npm nor curl found (apt-get install npm)" >&2
  exit 1
fi
# pkg-config --exists needs the .pc files of the libraries librdkafka links.
for dev in libssl zlib libzstd liblz4; do
  pkg-config --exists "$dev" || {
    echo "librdkafka.sh: $dev development files missing (make deps-system)" >&2
    exit 1
  }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/librdkafka.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "librdkafka: fetching $NPM_PACKAGE (librdkafka $LIBRDKAFKA_VERSION) with $fetch"
if [ "$fetch" = npm ]; then
  (cd "$work" && npm pack --silent --ignore-scripts --pack-destination "$work" "$NPM_PACKAGE" >/dev/null)
else
  curl -fsSL --retry 3 ${CURL_CA_BUNDLE:+--cacert "$CURL_CA_BUNDLE"} -o "$work/package.tgz" \
    "$NPM_REGISTRY/$NPM_TARBALL"
fi
tgz=$(ls "$work"/*.tgz)
got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
if [ "$got" != "$NPM_INTEGRITY" ]; then
  echo "librdkafka.sh: $NPM_PACKAGE integrity mismatch: got $got, want $NPM_INTEGRITY" >&2
  exit 1
fi
tar -xzf "$tgz" -C "$work" package/deps/librdkafka
src="$work/package/deps/librdkafka"
for f in configure mklove/Makefile.base src/Makefile src/rdkafka.h; do
  [ -f "$src/$f" ] || { echo "librdkafka.sh: $f missing from the source tree" >&2; exit 1; }
done
# RD_KAFKA_VERSION is 0xMMmmrrxx: major, minor, revision, pre-release (ff = final).
want_hex=$(IFS=. && set -- $LIBRDKAFKA_VERSION && printf '0x%02x%02x%02xff' "$1" "$2" "$3")
got_hex=$(awk '$1 == "#define" && $2 == "RD_KAFKA_VERSION" {print $3}' "$src/src/rdkafka.h")
if [ "$got_hex" != "$want_hex" ]; then
  echo "librdkafka.sh: rdkafka.h declares $got_hex, want $want_hex ($LIBRDKAFKA_VERSION)" >&2
  exit 1
fi

echo "librdkafka: building $LIBRDKAFKA_VERSION into $PREFIX"
start=$(date +%s)
rm -rf "$PREFIX"
(
  cd "$src"
  # shellcheck disable=SC2086 # CONFIGURE_OPTS is a list of options
  ./configure --prefix="$PREFIX" $CONFIGURE_OPTS >"$work/configure.log" 2>&1 ||
    { cat "$work/configure.log" >&2; exit 1; }
  make -C src -j"$(nproc)" >"$work/make.log" 2>&1 || { tail -50 "$work/make.log" >&2; exit 1; }
  make -C src install >>"$work/make.log" 2>&1 || { tail -50 "$work/make.log" >&2; exit 1; }
)
# Relocatable pkg-config files: paths relative to the .pc file, so the tree can move (Docker
# stage, another checkout sharing .cache) without a rebuild.
sed -i -e 's|^prefix=.*|prefix=${pcfiledir}/../..|' -e 's|^libdir=.*|libdir=${prefix}/lib|' \
  -e 's|^includedir=.*|includedir=${prefix}/include|' "$PREFIX"/lib/pkgconfig/*.pc
echo "$STAMP" >"$PREFIX/.stamp"
echo "librdkafka: $LIBRDKAFKA_VERSION built in $(($(date +%s) - start)) s"
