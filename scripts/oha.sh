#!/usr/bin/env bash
# Makes the pinned load driver oha available and prints its executable's path.
# Built once with cargo into the cache outside the clone (like the Pulumi
# toolchain), only when a run asks for loadDriver: oha; ~4 min on 2 cores:
# it compiles aws-lc-sys with cmake and gcc (installed here with apt-get when
# missing). `--no-default-features` does not compile in 1.16.0.
set -euo pipefail

version=1.16.0
cache=${FGL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flask-gevent-lab}
root="$cache/oha-$version"
source "$(dirname "$0")/progress.sh" oha

say() { progress_stop; echo "oha: $*" >&2; }
die() { say "$*"; exit 1; }

# The output read whole first: under pipefail, grep -q's early exit can fail the writer.
is_pinned() { [ -x "$1" ] && grep -qx "oha $version" <<<"$("$1" --version 2>/dev/null)"; }

if is_pinned "$root/bin/oha"; then
  echo "$root/bin/oha"; exit 0
fi

command -v cargo >/dev/null || die "cargo (Rust 1.88 or newer) is needed to build oha $version: install Rust with rustup"
rust=$(rustc --version | awk '{print $2}')
[ "$(printf '%s\n' 1.88.0 "$rust" | sort -V | head -1)" = 1.88.0 ] || die "oha $version needs Rust 1.88 or newer, this is $rust (rustup update)"
for tool in cmake gcc make; do
  command -v "$tool" >/dev/null && continue
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    die "$tool is needed to build oha (its TLS library, aws-lc-sys): install cmake, gcc and make"
  fi
  say "installing cmake, gcc and make (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends cmake gcc make >/dev/null
  break
done

say "building oha $version with cargo into $root (first time only, ~4 min on 2 cores)"
tmp="$root.tmp.$$"
rm -rf "$tmp"
trap 'progress_stop; rm -rf "$tmp"' EXIT
start=$SECONDS
step 1 1 "cargo install oha@$version"
cargo install --locked --quiet --root "$tmp" "oha@$version" >&2
is_pinned "$tmp/bin/oha" || die "the built oha does not report version $version"
rm -rf "$root"; mv "$tmp" "$root"
progress_done
say "built in $((SECONDS - start)) s"
echo "$root/bin/oha"
