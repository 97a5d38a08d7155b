#!/usr/bin/env bash
# Builds, once, the project's base image and prints its tag: the Docker test
# suite and the project's Kubernetes cluster (scripts/cluster.sh images) use it.
# No image can be pulled on this machine, so the base is plain Debian made with
# debootstrap from the Debian mirror apt already uses, then `docker import`ed.
# It holds python3 (+ venv, headers, a compiler for uWSGI), nginx, PostgreSQL
# and ab (apache2-utils), so it stands in for the images the platforms name:
# PYTHON_IMAGE, nginxImage, postgresImage and the load driver's. Keyed by this
# recipe; the root filesystem is cached as a tarball outside the clone.
set -euo pipefail
suite=bookworm
packages=bash,ca-certificates,python3,python3-venv,python3-dev,python3-pip,gcc,libc6-dev,nginx,postgresql-15,procps,apache2-utils
key=$(cat "$0" | sha256sum | cut -c1-12)
tag="fgl-base:$key"
if docker image inspect "$tag" >/dev/null 2>&1; then echo "$tag"; exit 0; fi

cache=${FGL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flask-gevent-lab}
tarball="$cache/docker-base-$key.tar"
if [ ! -f "$tarball" ]; then
    source "$(dirname "$0")/progress.sh" base-image
    command -v debootstrap >/dev/null || { echo "base-image: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }
    mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list)
    root=$(mktemp -d)
    trap 'progress_stop; rm -rf "$root"' EXIT
    echo "base-image: debootstrap $suite into $root (first time only, a few minutes)" >&2
    step 1 2 "debootstrap $suite"
    # Its hundreds of lines to a log, shown if it fails: they would break the progress line.
    log="$cache/debootstrap.log"
    mkdir -p "$cache"
    debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >"$log" 2>&1 \
        || { progress_stop; tail -n 30 "$log" >&2; echo "base-image: debootstrap failed (all of its output: $log)" >&2; exit 1; }
    # Trust what this machine trusts: its locally added CAs (a TLS-inspecting
    # proxy's, say), or pip inside `docker build` can't reach the package index.
    if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
        cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
        chroot "$root" update-ca-certificates >/dev/null
    fi
    chroot "$root" apt-get clean
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/lib/postgresql/15/main
    step 2 2 "packing the root filesystem into $tarball"
    tar -C "$root" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    progress_done
    # Earlier recipes' root filesystems are only dead weight (~750 MB each).
    find "$cache" -maxdepth 1 -name 'docker-base-*.tar' ! -name "${tarball##*/}" -delete
fi
docker import \
    --change 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' "$tarball" "$tag" >/dev/null
echo "$tag"
