#!/usr/bin/env bash
# Makes the Debian 12 (bookworm) base image without any image registry: debootstrap --variant=minbase,
# the host's apt sources, stripped like the official debian:bookworm-slim (debuerreotype's
# "minimizing config" and "slimify" steps, rewritten here), imported into the given podman storage
# as localhost/bookworm-slim:<key>, <key> a hash of this script and the host's apt sources: the base
# is only rebuilt when the recipe changes (to pick up newer security updates: remove
# .cache/image). The RIG.md numbers: about 24 s, 307 MB unstripped, about
# 94 MB stripped.
#
# Usage: tests/image/base.sh STORAGE_OPTS...   (podman global options: --root, --runroot, ...)
# Prints the image name on its last line of stdout. Needs root (debootstrap), debootstrap, podman.
set -euo pipefail

SUITE=bookworm
MIRROR=http://deb.debian.org/debian
# The apt sources of the host (Debian 12 as well): its bookworm-updates and bookworm-security
# entries make the image's packages the versions the host's tests ran against.
HOST_SOURCES=$(ls /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null || true)

key=$( { cat "${BASH_SOURCE[0]}"; for f in $HOST_SOURCES; do echo "== $f"; cat "$f"; done; } |
  sha256sum | cut -c1-12)
name="localhost/bookworm-slim:$key"
rc=0
podman "$@" image exists "$name" || rc=$?
case $rc in
  0) echo "$name"; exit 0 ;;
  1) ;;          # not there: build it
  *) exit "$rc" ;; # podman failed (message on stderr)
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/ordersink-base.XXXXXX")
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
start=$(date +%s)
echo "base image: debootstrap --variant=minbase $SUITE" >&2
debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 ||
  { tail -30 "$work/debootstrap.log" >&2; exit 1; }

# apt sources: the host's, instead of debootstrap's single "bookworm main" line.
if [ -n "$HOST_SOURCES" ]; then
  rm -f "$root/etc/apt/sources.list"
  for f in $HOST_SOURCES; do
    cp "$f" "$root$f"
  done
fi

# Security and point-release updates, as the official image has them (debootstrap installs
# bookworm's release packages only); name resolution of the host for the chroot's apt.
cp /etc/resolv.conf /etc/hosts "$root/etc/"
chroot "$root" apt-get -qq update >"$work/upgrade.log" 2>&1 &&
  DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get -qq -y upgrade >>"$work/upgrade.log" 2>&1 ||
  { tail -30 "$work/upgrade.log" >&2; exit 1; }

# Minimizing config (as the official image): no services started by package scripts, no sync
# per package, apt caches removed after every install, compressed indexes, no translations.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
echo force-unsafe-io >"$root/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
clean='"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true";'
cat >"$root/etc/apt/apt.conf.d/docker-clean" <<CONF
DPkg::Post-Invoke { $clean };
APT::Update::Post-Invoke { $clean };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CONF
echo 'Acquire::GzipIndexes "true";' >"$root/etc/apt/apt.conf.d/docker-gzip-indexes"
echo 'Acquire::Languages "none";' >"$root/etc/apt/apt.conf.d/docker-no-languages"
echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$root/etc/apt/apt.conf.d/docker-autoremove-suggests"

# Slim: documentation, man pages, info pages and translations removed now, and kept out of
# later installs by dpkg's path-exclude (copyright files and locale.alias are kept).
set -f # the patterns below are for dpkg and find, not for the shell
excludes="/usr/share/doc/* /usr/share/groff/* /usr/share/info/* /usr/share/linda/* /usr/share/lintian/overrides/* /usr/share/locale/* /usr/share/man/*"
{
  echo '# The "slim" variant: files unnecessary in containers are excluded (tests/image/base.sh).'
  for e in $excludes; do echo "path-exclude $e"; done
  echo 'path-include /usr/share/doc/*/copyright'
  echo 'path-include /usr/share/locale/locale.alias'
} >"$root/etc/dpkg/dpkg.cfg.d/docker"
for e in $excludes; do
  dir="$root${e%/\*}"
  [ -d "$dir" ] || continue
  find "$dir" -mindepth 1 -depth -not -type d \
    -not -path "$root/usr/share/doc/*/copyright" -not -path "$root/usr/share/locale/locale.alias" -delete
  find "$dir" -mindepth 1 -depth -type d -empty -delete
done
set +f
# What debootstrap leaves behind: package lists and caches, logs, machine-specific files.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
  "$root"/var/lib/dpkg/*-old "$root"/var/log/* "$root"/tmp/* "$root"/root/.bash_history
mkdir -p "$root/var/lib/apt/lists/partial" "$root/var/cache/apt/archives/partial"
: >"$root/etc/machine-id"
rm -f "$root/etc/hostname" "$root/etc/resolv.conf" "$root/etc/hosts"

tar --numeric-owner --xattrs -C "$root" -c . |
  podman "$@" import --quiet --change 'CMD ["bash"]' - "$name" >/dev/null
echo "base image: $name built in $(($(date +%s) - start)) s" >&2
echo "$name"
