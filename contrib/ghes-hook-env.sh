#!/bin/sh
# Builds a GitHub Enterprise Server pre-receive hook environment for countersign: a chroot
# tarball holding the binary, the few libraries `ldd` lists for it (libc, libgcc_s, the loader),
# /bin/sh (dash, for the hook script) and, optionally, a policy at /etc/countersign/policy.toml.
#
#   contrib/ghes-hook-env.sh target/release/countersign countersign-env.tar.gz [policy.toml]
#
# Run it on an x86-64 glibc Linux like the one that built the binary (Debian 12 here).
set -eu
if [ $# -lt 2 ]; then
	echo "usage: $0 BINARY OUT.tar.gz [POLICY]" >&2
	exit 2
fi
bin=$1
out=$2
policy=${3:-}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

mkdir -p "$root/usr/local/bin" "$root/bin" "$root/tmp"
chmod 1777 "$root/tmp"
cp "$bin" "$root/usr/local/bin/countersign"
cp /bin/dash "$root/bin/sh"
# Each library at the path the loader looks for it: "name => /path (addr)" or "/path (addr)".
{ ldd "$bin" && ldd /bin/dash; } | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u |
	while read -r lib; do
		mkdir -p "$root${lib%/*}"
		cp -L "$lib" "$root$lib"
	done
if [ -n "$policy" ]; then
	mkdir -p "$root/etc/countersign"
	cp "$policy" "$root/etc/countersign/policy.toml"
fi
tar -C "$root" -czf "$out" .
