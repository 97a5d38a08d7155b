#!/usr/bin/env bash
# Packs a static `pause` binary as a one-layer image in the docker-archive
# format `ctr images import` reads (manifest.json + config + layer tar), so the
# cluster has its sandbox image without a registry.
#   pause-image.sh <pause binary> <image name:tag> <out.tar>
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 <pause binary> <name:tag> <out.tar>" >&2; exit 2; }
binary=$1 name=$2 out=$3
case $(uname -m) in
    x86_64) arch=amd64 ;;
    aarch64) arch=arm64 ;;
    *) arch=$(uname -m) ;;
esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs" "$work/image"
install -m 0755 "$binary" "$work/rootfs/pause"
# Same bytes for the same binary: fixed owner and time.
tar -C "$work/rootfs" --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$work/layer.tar" pause
layer=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
mkdir "$work/image/$layer"
mv "$work/layer.tar" "$work/image/$layer/layer.tar"
# The upstream pause image runs as 65535 too.
printf '{"architecture":"%s","os":"linux","config":{"Entrypoint":["/pause"],"User":"65535:65535"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created_by":"scripts/cluster/pause-image.sh"}]}' \
    "$arch" "$layer" >"$work/config.json"
config=$(sha256sum "$work/config.json" | cut -d' ' -f1)
mv "$work/config.json" "$work/image/$config.json"
printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]' "$config" "$name" "$layer" >"$work/image/manifest.json"
tar -C "$work/image" --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$out.tmp.$$" \
    manifest.json "$config.json" "$layer/layer.tar" && mv "$out.tmp.$$" "$out"
