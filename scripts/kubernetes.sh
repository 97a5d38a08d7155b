#!/usr/bin/env bash
# Builds the project's Kubernetes once and prints the folder holding it:
#   kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl
#                  k8s.io/kubernetes at the version pinned in toolchain/kubernetes/go.mod
#   etcd           go.etcd.io/etcd/server/v3 as pinned in toolchain/kubernetes/etcd/go.mod
#   pause          the pod sandbox's process, static, from build/pause/linux/pause.c
#                  of the same k8s.io/kubernetes module (`pause -v` prints its version)
# Everything comes from the Go module proxy (no release downloads here). The
# cache lives outside the clone, keyed by version and by the recipe folder.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
recipe="$root/toolchain/kubernetes"
version=$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" { print $3 }' "$recipe/go.mod")
sources_hash=$(cd "$recipe" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)
cache=${FGL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flask-gevent-lab}
bin="$cache/kubernetes/$version-$sources_hash"
commands=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
source "$root/scripts/progress.sh" kubernetes

say() { progress_stop; echo "kubernetes: $*" >&2; }

complete() {
  local name
  for name in "${commands[@]}" etcd pause; do [ -x "$1/$name" ] || return 1; done
}

if complete "$bin"; then echo "$bin"; exit 0; fi

command -v go >/dev/null || { say "Go 1.24 or newer is needed to build Kubernetes $version: install Go and run again"; exit 1; }
command -v gcc >/dev/null || { say "gcc is needed to build the pause binary: apt-get install gcc libc6-dev"; exit 1; }
say "building Kubernetes $version from the Go module proxy into $bin (first time only, ~10 min on 2 cores)"
tmp="$bin.tmp.$$"
rm -rf "$tmp"; mkdir -p "$tmp"
trap 'progress_stop; rm -rf "$tmp"' EXIT
start=$SECONDS
step 1 4 "downloading k8s.io/kubernetes $version"

# The stamps upstream's hack/lib/version.sh sets, or `/version` says v0.0.0-master.
# The module zip carries no commit; the build date is the tag's, so builds repeat.
minor=${version#v1.}; minor=${minor%%.*}
tagged=$(cd "$recipe" && go mod download k8s.io/kubernetes && go list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' k8s.io/kubernetes)
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.gitCommit= -X $pkg.buildDate=$tagged"
done
step 2 4 "building ${commands[*]}"
(cd "$recipe" && go build -trimpath -tags selinux,notest,grpcnotrace -ldflags "$ldflags" \
  -o "$tmp/" "${commands[@]/#/k8s.io/kubernetes/cmd/}")

step 3 4 "building etcd"
(cd "$recipe/etcd" && go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3)

step 4 4 "building pause"
# Flags and version string as build/pause/Makefile (TAG ?= ..., REV = the release tag).
source_dir=$(cd "$recipe" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)/build/pause
pause_tag=$(awk '$1 == "TAG" && $2 == "?=" { print $3 }' "$source_dir/Makefile")
gcc -Os -Wall -Werror -static -DVERSION="v$pause_tag-$version" -o "$tmp/pause" "$source_dir/linux/pause.c"

# Read whole before matching: grep -q stops at its match, and kubectl, still writing its next
# line, dies of SIGPIPE, which pipefail counts as a failed check (a cold machine's run did).
grep -qx "Client Version: $version" <<<"$("$tmp/kubectl" version --client)" \
  || { say "the built kubectl does not report $version"; exit 1; }
"$tmp/etcd" --version >/dev/null || { say "the built etcd does not run"; exit 1; }
grep -qx "pause.c v$pause_tag-$version" <<<"$("$tmp/pause" -v)" || { say "the built pause does not run"; exit 1; }
complete "$tmp" || { say "some binaries are missing from $tmp"; exit 1; }
rm -rf "$bin"; mv "$tmp" "$bin"
progress_done
say "built in $((SECONDS - start)) s"
echo "$bin"
