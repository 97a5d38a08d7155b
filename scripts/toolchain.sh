#!/usr/bin/env bash
# Makes the pinned Pulumi toolchain available and prints the folder holding it:
#   pulumi                         the CLI, at the version of @pulumi/pulumi in package.json
#   pulumi-language-nodejs         its Node.js language host
#   pulumi-resource-pulumi-nodejs  the engine's Node.js dynamic-provider plugin
# Order: a cached build; a `pulumi` already on PATH at that version; a build
# from the Go module proxy (the release download site is unreachable here).
# The cache lives outside the clone, keyed by version and by the toolchain
# sources, so a second clone on the same machine is ready at once.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
version=$(node -p "require('$root/package.json').dependencies['@pulumi/pulumi']")
# Only the Pulumi recipe: other toolchains (kubernetes, pulumi-kubernetes) have their own scripts.
sources_hash=$(cd "$root/toolchain" && find ./language-nodejs ./pulumi ./pulumi-resource-pulumi-nodejs -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)
cache=${FGL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flask-gevent-lab}
bin="$cache/toolchain/pulumi-v$version-$sources_hash"
source "$root/scripts/progress.sh" toolchain

say() { progress_stop; echo "toolchain: $*" >&2; }

# The output read whole first: under pipefail, grep -q's early exit can fail the writer.
has_version() { [ -x "$1" ] && grep -qx "v$version" <<<"$("$1" version 2>/dev/null)"; }

if has_version "$bin/pulumi" && [ -x "$bin/pulumi-language-nodejs" ]; then
  echo "$bin"; exit 0
fi

installed=$(command -v pulumi || true)
if [ -n "$installed" ] && has_version "$installed" \
   && [ -x "$(dirname "$installed")/pulumi-language-nodejs" ]; then
  say "using the installed Pulumi v$version at $installed"
  dirname "$installed"; exit 0
fi

command -v go >/dev/null || { say "Go 1.25.11 or newer is needed to build Pulumi v$version"; exit 1; }
say "building Pulumi v$version from the Go module proxy into $bin (first time only, ~10 min on 2 cores)"
tmp="$bin.tmp.$$"
rm -rf "$tmp"; mkdir -p "$tmp"
trap 'progress_stop; rm -rf "$tmp"' EXIT
start=$SECONDS
step 1 2 "building pulumi (the CLI)"
(cd "$root/toolchain/pulumi" && go build -trimpath \
  -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$version" \
  -o "$tmp/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
step 2 2 "building pulumi-language-nodejs"
(cd "$root/toolchain/language-nodejs" && go build -trimpath \
  -ldflags "-s -w -X main.version=v$version" -o "$tmp/pulumi-language-nodejs" .)
install -m 0755 "$root/toolchain/pulumi-resource-pulumi-nodejs" "$tmp/"
has_version "$tmp/pulumi" || { say "the built CLI does not report v$version"; exit 1; }
rm -rf "$bin"; mv "$tmp" "$bin"
progress_done
say "built in $((SECONDS - start)) s"
echo "$bin"
