#!/usr/bin/env bash
# Builds the Kubernetes resource provider plugin once and prints the folder
# holding `pulumi-resource-kubernetes`, at the version of @pulumi/kubernetes in
# package.json (the engine asks for exactly that version). The module is the one
# pinned in toolchain/pulumi-kubernetes/go.mod, from the Go module proxy.
# Its main package embeds files that the module zip lacks; they are generated
# here by the package's own generate.go, in a scratch copy outside the clone.
# Usage: scripts/pulumi-kubernetes.sh [--if-built]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
recipe="$root/toolchain/pulumi-kubernetes"
version=$(node -p "require('$root/package.json').dependencies['@pulumi/kubernetes']")
# Keyed by the recipe and by this script's build steps.
sources_hash=$( { (cd "$recipe" && find . -type f -print0 | sort -z | xargs -0 sha256sum); sha256sum < "$0"; } | sha256sum | cut -c1-12)
cache=${FGL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flask-gevent-lab}
bin="$cache/pulumi-kubernetes/v$version-$sources_hash"
module=github.com/pulumi/pulumi-kubernetes/provider/v4
source "$root/scripts/progress.sh" pulumi-kubernetes

say() { progress_stop; echo "pulumi-kubernetes: $*" >&2; }

if [ -x "$bin/pulumi-resource-kubernetes" ]; then echo "$bin"; exit 0; fi
# --if-built: only report a finished build (exit 1 without one), never start one.
[ "${1:-}" != --if-built ] || exit 1

command -v go >/dev/null || { say "Go 1.24.7 or newer is needed to build the Kubernetes provider $version: install Go and run again"; exit 1; }
say "building the Kubernetes provider $version from the Go module proxy into $bin (first time only, ~7 min on 2 cores, 4 GB of memory)"
tmp="$bin.tmp.$$"
rm -rf "$tmp"; mkdir -p "$tmp/src"
trap 'progress_stop; rm -rf "$tmp"' EXIT
start=$SECONDS
step 1 3 "downloading $module"

package_dir=$(cd "$recipe" && go mod download "$module" && go list -m -f '{{.Dir}}' "$module")/cmd/pulumi-resource-kubernetes
cp "$recipe/go.mod" "$recipe/go.sum" "$package_dir"/*.go "$package_dir"/*.json "$tmp/src/"
chmod -R u+w "$tmp/src"
step 2 3 "generating the provider's schema (generate.go)"
(cd "$tmp/src" && VERSION="$version" go run generate.go)
step 3 3 "building pulumi-resource-kubernetes"
# Static, as the provider's releases are (cgo would also export every symbol, for Go plugins: twice the size).
(cd "$tmp/src" && CGO_ENABLED=0 go build -trimpath \
  -ldflags "-s -w -X $module/pkg/version.Version=$version" -o "$tmp/pulumi-resource-kubernetes" .)
rm -rf "$tmp/src"

grep -q "\"version\":\"$version\"" "$tmp/pulumi-resource-kubernetes" \
  || { say "the built provider does not embed a schema of version $version"; exit 1; }
rm -rf "$bin"; mv "$tmp" "$bin"
progress_done
say "built in $((SECONDS - start)) s"
echo "$bin"
