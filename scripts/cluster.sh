#!/usr/bin/env bash
# The project's own Kubernetes (v1.34.4, built from source by scripts/kubernetes.sh),
# machine-wide, its files under $CACHE/cluster/. Root only.
#
#   scripts/cluster.sh up [--nodes N] [--node-cpus "<node 1's CPUs>;<node 2's>;..."]
#                                start it (idempotent); stdout: the admin kubeconfig path,
#                                once every node is Ready and the default ServiceAccount exists.
#                                N nodes (default 1): the first is this machine's network, the
#                                others each in a network namespace of its own (cluster/nodes.sh);
#                                --node-cpus pins each node's pods to its CPUs (e.g. "0;1")
#   scripts/cluster.sh status    exit 0 iff healthy; a short summary
#   scripts/cluster.sh down      stop everything; leaves no process, mount, iptables rule,
#                                interface, cgroup or changed sysctl behind
#   scripts/cluster.sh images [oha]   build the project's images with Docker and import them;
#                                stdout: base=<ref> slow_api=<ref> flask_app=<ref> database_app=<ref>,
#                                and with oha, oha=<ref>: the base with the pinned oha (scripts/oha.sh)
#   scripts/cluster.sh image <docker image ref>...   import images from the Docker engine
#   scripts/cluster.sh kubectl <args>...             kubectl with the admin kubeconfig
#
# Every `up` is a fresh cluster: etcd's data, the kubelets' and containerds'
# state are dropped by `down` (no stale objects from an earlier run); the
# certificates, the kubeconfig and the imported images (in every node's
# containerd) stay. `images` imports into every node's containerd.
#
# Ports, none a default, so a user's own cluster and services keep theirs:
#   16443  kube-apiserver (all addresses; a guard rule lets only loopback, the pod bridge and the nodes in)
#   16379  etcd clients (127.0.0.1, TLS)      16380  etcd peers (127.0.0.1)
#   16250  kubelet API (node IP, guarded)     16248  kubelet healthz (127.0.0.1)
#   16256  kube-proxy healthz (127.0.0.1)     16249  kube-proxy metrics (127.0.0.1)
#   (a further node's kubelet and kube-proxy: the same ports in its own network namespace)
#   16257  kube-controller-manager (127.0.0.1) 16259 kube-scheduler (127.0.0.1)
#   containerd's streaming server: 127.0.0.1, a port the kernel picks
# Addresses: the first node's pods 10.213.0.0/24 on the bridge fgl0 (gateway .1),
# node k's 10.213.<k-1>.0/24 on a bridge fgl0 in its namespace, its own address
# 10.212.<k>.2; Services 10.214.0.0/24 (`kubernetes` is 10.214.0.1). None ever leaves
# the VM (guard rules). No cluster DNS: services reach each other by ClusterIP.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE="$ROOT/scripts/cluster"
CACHE=${FGL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flask-gevent-lab}
CLUSTER="$CACHE/cluster"

APISERVER_PORT=16443
ETCD_CLIENT_PORT=16379
ETCD_PEER_PORT=16380
KUBELET_PORT=16250
KUBELET_HEALTHZ_PORT=16248
PROXY_HEALTHZ_PORT=16256
PROXY_METRICS_PORT=16249
CONTROLLER_MANAGER_PORT=16257
SCHEDULER_PORT=16259
POD_CIDR=10.213.0.0/24
# Every node's pods (one /24 each).
CLUSTER_CIDR=10.213.0.0/16
SERVICE_CIDR=10.214.0.0/24
KUBERNETES_SERVICE_IP=10.214.0.1
BRIDGE=fgl0
NODE_NAME=flask-gevent-lab
# What differs per node (cluster/nodes.sh's node_env sets them for the others): the first node's.
SUFFIX=""
CGROUP_ROOT=/
KUBELET_CERT=kubelet

# Kept across up/down: certificates, kubeconfigs, rendered configs, images, logs.
PKI="$CLUSTER/pki"
KUBECONFIGS="$CLUSTER/kubeconfigs"
ADMIN_KUBECONFIG="$CLUSTER/kubeconfig"
ETC="$CLUSTER/etc"
CONTAINERD_ROOT="$CLUSTER/containerd"
LOGS="$CLUSTER/logs"
# Dropped by down.
STATE="$CLUSTER/state"
CONTAINERD_STATE="$STATE/containerd"
CONTAINERD_SOCKET="$STATE/containerd.sock"
RUNC_ROOT="$STATE/runc"
KUBELET_ROOT="$STATE/kubelet"
POD_LOGS_DIR="$STATE/pod-logs"
CNI_DATA_DIR="$STATE/cni"
ETCD_DATA="$STATE/etcd"
# Pid files ("<pid> <start time>"), the binaries' folder, what down puts back (save_machine).
RUN="$CLUSTER/run"
KUBELET_KUBECONFIG="$KUBECONFIGS/kubelet.kubeconfig"
PROXY_KUBECONFIG="$KUBECONFIGS/kube-proxy.kubeconfig"

CNI_BIN_DIR=/usr/lib/cni
CNI_CONF_DIR="$ETC/cni"
COMPONENTS=(containerd etcd kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet)
# What the kubelet, kube-proxy and the bridge plugin may change machine-wide; down puts them back.
SYSCTLS=(net.ipv4.ip_forward vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
    kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.ipv4.conf.all.route_localnet
    net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables)
# Folders outside ours that the components create if missing (children first); down removes
# them again if empty. Not configurable: the kubelet's device-plugin socket and container log
# links, and the CNI library's result cache (containerd 1.6 sets no folder of its own). Every
# node's kubelet shares the device-plugin folder, each replacing the socket there: no device
# plugin runs here.
SYSTEM_DIRS=(/var/lib/kubelet/device-plugins /var/lib/kubelet /var/log/containers /var/log/pods
    /var/lib/cni/results /var/lib/cni /run/containerd/s /run/containerd /run/netns)

# The image builds' progress (images).
source "$ROOT/scripts/progress.sh" cluster-images
# shellcheck source=cluster/nodes.sh
source "$HERE/nodes.sh"
say() { progress_stop; echo "cluster: $*" >&2; }
die() { say "$*"; exit 1; }

# ---- processes: started detached, recorded by pid and start time, stopped by those ----

# The start time (clock ticks since boot) of a live, non-zombie process; fails otherwise.
start_time() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    # shellcheck disable=SC2086 # the fields after "(comm) ", split on purpose
    set -- ${stat##*) }
    [ "$1" != Z ] || return 1
    echo "${20}"
}

alive() {  # <component>
    local pid start
    read -r pid start 2>/dev/null <"$RUN/$1.pid" || return 1
    # No start time recorded: the process was gone before launch could read it.
    [ -n "$start" ] && [ "$(start_time "$pid" 2>/dev/null)" = "$start" ]
}

pid_of() { cut -d' ' -f1 "$RUN/$1.pid"; }

# launch <component> <argv...>: in its own session, log in $LOGS/<component>.log.
launch() {
    local name=$1; shift
    [ ! -f "$LOGS/$name.log" ] || mv -f "$LOGS/$name.log" "$LOGS/$name.log.prev"
    # Not a process group leader here (no job control), so setsid execs in place: $! is the daemon.
    # fd 9 is our lock: a daemon must not hold it.
    setsid "$@" </dev/null >"$LOGS/$name.log" 2>&1 9>&- &
    echo "$! $(start_time $!)" >"$RUN/$name.pid"
}

# stop <component> [seconds]: SIGTERM, then SIGKILL after the grace.
stop() {
    local name=$1 grace=${2:-10} pid i
    if alive "$name"; then
        pid=$(pid_of "$name")
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < grace * 10; i++)); do alive "$name" || break; sleep 0.1; done
        if alive "$name"; then
            say "$name ($pid) still runs after ${grace} s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            for ((i = 0; i < 50; i++)); do alive "$name" || break; sleep 0.1; done
        fi
    fi
    rm -f "$RUN/$name.pid"
}

log_tail() {  # <component>
    say "last lines of $LOGS/$1.log:"
    tail -n 25 "$LOGS/$1.log" 2>/dev/null | sed 's/^/    /' >&2 || true
}

# wait_for <component> <seconds> <what> <command...>: until the command succeeds;
# on a timeout or the component's exit: its log tail, and exit 1 (up's trap stops everything).
wait_for() {
    local name=$1 seconds=$2 what=$3 deadline
    shift 3
    deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        if ! alive "$name"; then
            say "$name exited before $what"
            log_tail "$name"; exit 1
        fi
        if [ $SECONDS -ge $deadline ]; then
            say "$name: no $what after $seconds s"
            log_tail "$name"; exit 1
        fi
        sleep 0.2
    done
}

# up's exit trap: a failed up (a component, or this script) leaves nothing running.
up_failed() {
    local rc=$?
    [ $rc != 0 ] || return 0
    say "up failed: stopping what was started (logs stay in $LOGS)"
    teardown
    exit $rc
}

# ---- machine set-up ----

os_packages() {
    local missing=()
    [ -x /usr/bin/containerd ] || missing+=(containerd)
    command -v runc >/dev/null || missing+=(runc)
    [ -x "$CNI_BIN_DIR/bridge" ] || missing+=(containernetworking-plugins)
    command -v iptables >/dev/null || missing+=(iptables)
    # nft: down deletes the empty iptables tables the cluster brought into being.
    command -v nft >/dev/null || missing+=(nftables)
    command -v conntrack >/dev/null || missing+=(conntrack)
    command -v openssl >/dev/null || missing+=(openssl)
    command -v curl >/dev/null || missing+=(curl)
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null || die "missing OS packages: ${missing[*]} (install them)"
    say "installing OS packages: ${missing[*]}"
    "$ROOT/scripts/apt-install.sh" "${missing[@]}"
}

kubernetes_bin() {
    K8S_BIN=$("$ROOT/scripts/kubernetes.sh") || die "scripts/kubernetes.sh failed"
    local b
    for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl pause; do
        [ -x "$K8S_BIN/$b" ] || die "$K8S_BIN/$b is missing (scripts/kubernetes.sh)"
    done
}

# The kubelet refuses a loopback node IP: the address of the default route's interface.
node_ip() {
    local dev
    dev=$(ip -4 route show default | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }')
    [ -n "$dev" ] || die "no default route: can't tell the node's IP (the kubelet refuses loopback)"
    NODE_IP=$(ip -4 -o addr show dev "$dev" scope global | awk '{ sub(/\/.*/, "", $4); print $4; exit }')
    [ -n "$NODE_IP" ] || die "no IPv4 address on $dev"
}

preflight() {
    local port taken cidr route listening
    listening=$(ss -Htlnp)
    for port in $APISERVER_PORT $ETCD_CLIENT_PORT $ETCD_PEER_PORT $KUBELET_PORT $KUBELET_HEALTHZ_PORT \
        $PROXY_HEALTHZ_PORT $PROXY_METRICS_PORT $CONTROLLER_MANAGER_PORT $SCHEDULER_PORT; do
        taken=$(awk -v p=":$port" 'substr($4, length($4) - length(p) + 1) == p' <<<"$listening")
        [ -z "$taken" ] || die "port $port, which the cluster uses, is taken: $taken"
    done
    for cidr in $CLUSTER_CIDR $SERVICE_CIDR $([ "$NODES" = 1 ] || echo $NODE_NET); do
        route=$(ip -4 route show root "$cidr" | grep -v " dev fgl" || true)
        route+=$(ip -4 route show match "$cidr" | grep -v -e '^default' -e " dev fgl" || true)
        [ -z "$route" ] || die "the cluster's range $cidr overlaps a route of this machine: $route"
    done
    # The longest: the last node's.
    local socket=$CONTAINERD_SOCKET
    [ "$NODES" = 1 ] || socket=$(node_env "$NODES"; echo "$CONTAINERD_SOCKET")
    [ ${#socket} -lt 100 ] || die "$socket is too long for a socket path: set FGL_CACHE to a shorter folder"
    # down removes every KUBE-* chain: refuse to share the machine with another kubelet or kube-proxy.
    # Read whole first: grep -q's early exit would fail iptables-save with SIGPIPE, which pipefail turns into "none".
    if grep -q '^:KUBE-' <<<"$({ iptables-save; ip6tables-save; } 2>/dev/null)"; then
        die "iptables holds KUBE-* chains of another Kubernetes on this machine, which this cluster would clash with:" \
            "stop it, or use it (pulumi config set kubeconfig <its kubeconfig>); if they are this project's, left by a crash, ./lab cluster down removes them"
    fi
}

# The machine as it was before the cluster, recorded once, for down to put back: sysctls,
# missing system folders, and which iptables tables existed (nf_tables keeps empty ones).
save_machine() {
    [ -f "$RUN/sysctls" ] && return 0
    local k v d
    for k in "${SYSCTLS[@]}"; do
        v=$(sysctl -n "$k" 2>/dev/null) && printf '%s=%s\n' "$k" "$v"
    done >"$RUN/sysctls.tmp"
    for d in "${SYSTEM_DIRS[@]}"; do [ -e "$d" ] || echo "$d"; done >"$RUN/system-dirs"
    { iptables-save | awk '/^\*/ { print "ip", substr($1, 2) }'
      ip6tables-save | awk '/^\*/ { print "ip6", substr($1, 2) }'; } >"$RUN/iptables-tables"
    # preflight found no KUBE-* chain: every one that appears from now on is our cluster's.
    : >"$RUN/kube-chains-ours"
    for d in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do [ ! -d "$d" ] || echo "$d"; done >"$RUN/cgroups-before"
    mv "$RUN/sysctls.tmp" "$RUN/sysctls"
}

restore_sysctls() {
    [ -f "$RUN/sysctls" ] || return 0
    local line
    while IFS= read -r line; do
        [ "$(sysctl -n "${line%%=*}" 2>/dev/null)" = "${line#*=}" ] || sysctl -q -w "$line" >/dev/null || say "could not restore $line"
    done <"$RUN/sysctls"
    rm -f "$RUN/sysctls"
}

# Guard rules, in chains of our own jumped to first: the pod bridge and the other
# nodes' veths (fgl+) forward only among themselves (pod -> pod, also through a
# ClusterIP, and node -> node) and refuse the rest at once, a
# Service without endpoints too (dropped, a connect waits for minutes and its client
# past its timeout; a TCP reset, unlike ICMP, is not rate-limited); no packet to or from the pod
# or Service ranges leaves by another interface (checked after routing and DNAT,
# in mangle POSTROUTING: filter OUTPUT's -o is the route before kube-proxy's
# DNAT); and the two cluster ports that listen beyond loopback answer only
# loopback, pods and the further nodes.
GUARDS=(filter:INPUT filter:FORWARD filter:OUTPUT mangle:POSTROUTING)
guards_on() {
    local ipt g
    for g in "${GUARDS[@]}"; do
        iptables -w -t "${g%:*}" -N "FGL-${g#*:}" 2>/dev/null || iptables -w -t "${g%:*}" -F "FGL-${g#*:}"
    done
    ip6tables -w -N FGL-INPUT 2>/dev/null || ip6tables -w -F FGL-INPUT
    for ipt in iptables ip6tables; do
        $ipt -w -A FGL-INPUT -i lo -j RETURN
        [ $ipt = ip6tables ] || $ipt -w -A FGL-INPUT -i fgl+ -j RETURN
        $ipt -w -A FGL-INPUT -p tcp -m multiport --dports $APISERVER_PORT,$KUBELET_PORT -j DROP
    done
    iptables -w -A FGL-FORWARD -i fgl+ -o fgl+ -j ACCEPT
    iptables -w -A FGL-FORWARD -i fgl+ -p tcp -j REJECT --reject-with tcp-reset
    iptables -w -A FGL-FORWARD -i fgl+ -j REJECT
    iptables -w -A FGL-FORWARD -o fgl+ -j DROP
    # After kube-proxy's DNAT a Service address is gone: one still here has no rule (yet).
    iptables -w -A FGL-OUTPUT -d $SERVICE_CIDR -j REJECT
    iptables -w -t mangle -A FGL-POSTROUTING -o lo -j RETURN
    iptables -w -t mangle -A FGL-POSTROUTING -d $SERVICE_CIDR -j DROP
    local range
    for range in $CLUSTER_CIDR $NODE_NET; do
        iptables -w -t mangle -A FGL-POSTROUTING -d $range ! -o fgl+ -j DROP
        iptables -w -t mangle -A FGL-POSTROUTING -s $range ! -o fgl+ -j DROP
    done
    guards_first
}

# Our jumps at the top of the built-in chains (kube-proxy and dockerd insert theirs first too).
guards_first() {
    local g table chain
    for g in "${GUARDS[@]}" ip6:filter:INPUT; do
        local ipt=iptables
        [[ $g != ip6:* ]] || { ipt=ip6tables; g=${g#ip6:}; }
        table=${g%:*} chain=${g#*:}
        while $ipt -w -t "$table" -D "$chain" -j "FGL-$chain" 2>/dev/null; do :; done
        $ipt -w -t "$table" -I "$chain" 1 -j "FGL-$chain"
    done
}

# Every rule and chain the cluster made, in both families: ours (FGL-*), any CNI-* chain
# of our network, and the KUBE-* chains of kube-proxy and the kubelet where save_machine
# recorded that there were none before our cluster (another Kubernetes' stay).
# One iptables-restore per family: the jumps to them, then the chains, flushed and deleted.
iptables_clean() {
    local ipt save script prefixes="FGL-"
    [ ! -f "$RUN/kube-chains-ours" ] || prefixes="KUBE-|FGL-"
    for ipt in iptables ip6tables; do
        save=$($ipt-save 2>/dev/null) || continue
        script=$(awk -v prefixes="^:($prefixes)" '
            FNR == NR {  # first pass: which chains are ours, per table
                if (/^\*/) t = substr($1, 2)
                else if (/^:/ && $1 ~ prefixes) ours[t, substr($1, 2)] = 1
                else if (/^-A CNI-/ && /flask-gevent-lab/) ours[t, $2] = 1
                next
            }
            /^\*/ { t = substr($1, 2); n = 0; next }
            /^-A / && !((t, $2) in ours) {
                for (i = 3; i < NF; i++) if (($i == "-j" || $i == "-g") && ((t, $(i + 1)) in ours)) { del[++n] = "-D " substr($0, 4); break }
            }
            /^COMMIT/ {
                chains = ""
                for (k in ours) { split(k, tc, SUBSEP); if (tc[1] == t) chains = chains " " tc[2] }
                if (chains == "" && n == 0) next
                print "*" t
                for (i = 1; i <= n; i++) print del[i]
                m = split(chains, c, " ")
                for (i = 1; i <= m; i++) print "-F " c[i]
                for (i = 1; i <= m; i++) print "-X " c[i]
                print "COMMIT"
            }' <(echo "$save") <(echo "$save"))
        [ -z "$script" ] || $ipt-restore -w --noflush <<<"$script" || say "$ipt-restore could not remove the cluster's rules"
    done
    rm -f "$RUN/kube-chains-ours"
}

# Tables that the cluster's rules brought into being, once empty again (nf_tables keeps them).
iptables_drop_new_tables() {
    [ -f "$RUN/iptables-tables" ] || return 0
    local family ipt table
    if [[ $(iptables -V) == *nf_tables* ]]; then
        for family in ip ip6; do
            ipt=iptables
            [ $family = ip ] || ipt=ip6tables
            for table in $($ipt-save | awk '/^\*/ { print substr($1, 2) }'); do
                grep -qx "$family $table" "$RUN/iptables-tables" && continue
                # Empty: no rule, no chain of its own, no policy but ACCEPT.
                [ -z "$($ipt-save -t "$table" | grep -E '^-A |^:[^ ]+ [^A]')" ] || continue
                nft delete table "$family" "$table" || say "could not delete the empty $family table $table"
            done
        done
    fi
    rm -f "$RUN/iptables-tables"
}

# ---- configuration ----

render() {  # <template> <output>: @NAME@ -> $NAME
    local src=$1 dst=$2 out name
    out=$(cat "$src")
    for name in $(grep -o '@[A-Z_0-9]*@' "$src" | sort -u | tr -d @); do
        out=${out//@$name@/${!name}}
    done
    printf '%s\n' "$out" >"$dst.tmp" && mv "$dst.tmp" "$dst"
}

configure() {
    mkdir -p "$ETC" "$CNI_CONF_DIR" "$LOGS" "$STATE" "$CONTAINERD_ROOT" "$RUNC_ROOT" "$KUBELET_ROOT" "$POD_LOGS_DIR" "$CNI_DATA_DIR"
    # shellcheck source=cluster/pki.sh
    source "$HERE/pki.sh"
    pki_make
    FAIL_SWAP_ON=true
    [ -z "$(swapon --noheadings 2>/dev/null)" ] || FAIL_SWAP_ON=false
    PAUSE_IMAGE="flask-gevent-lab/pause:$(sha256sum "$K8S_BIN/pause" | cut -c1-12)"
    render "$HERE/containerd.toml" "$ETC/containerd.toml"
    render "$HERE/cni.conflist" "$CNI_CONF_DIR/10-flask-gevent-lab.conflist"
    pinning "$(node_cpus_of 1)"
    render "$HERE/kubelet.yaml" "$ETC/kubelet.yaml"
    render "$HERE/kube-proxy.yaml" "$ETC/kube-proxy.yaml"
}

ctr_() { ctr --address "$CONTAINERD_SOCKET" --namespace k8s.io "$@"; }

# Whether containerd holds <ref>: it stores short names expanded (default registry,
# library/ path), so any leading path components match.
has_image() {  # <ref>
    local ref=$1
    [[ $ref == *:* ]] || ref+=":latest"
    local all
    # Listed first: `| grep -q` could stop reading early, and pipefail counts ctr's SIGPIPE as a miss.
    all=$(ctr_ images ls -q 2>/dev/null) || return 1
    grep -qE "^([^/]+/)*$(sed 's/[.[\*^$]/\\&/g' <<<"$ref")\$" <<<"$all"
}

# ---- health ----

kc() { "$K8S_BIN/kubectl" --kubeconfig "$ADMIN_KUBECONFIG" --request-timeout=10s "$@"; }

etcd_healthy() {
    [[ $(curl -sf --max-time 2 --cacert "$PKI/ca.crt" --cert "$PKI/apiserver-etcd-client.crt" --key "$PKI/apiserver-etcd-client.key" \
        "https://127.0.0.1:$ETCD_CLIENT_PORT/health") == *'"health":"true"'* ]]
}
apiserver_ready() {
    curl -sf --max-time 2 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
        "https://127.0.0.1:$APISERVER_PORT/readyz" >/dev/null
}
# The controller-manager and scheduler serve a self-signed certificate on loopback: -k.
secure_healthz() { curl -sfk --max-time 2 "https://127.0.0.1:$1/healthz" >/dev/null; }
plain_healthz() { curl -sf --max-time 2 "http://127.0.0.1:$1/healthz" >/dev/null; }
node_ready() {
    [ "$(kc get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = True ]
}
default_sa() { kc -n default get serviceaccount default; }

# Healthy: every component runs and answers, and every node is Ready.
healthy() {
    local c
    for c in "${COMPONENTS[@]}"; do alive "$c" || return 1; done
    etcd_healthy && apiserver_ready && plain_healthz $KUBELET_HEALTHZ_PORT && plain_healthz $PROXY_HEALTHZ_PORT &&
        secure_healthz $CONTROLLER_MANAGER_PORT && secure_healthz $SCHEDULER_PORT && node_ready || return 1
    on_nodes node_healthy_here
}

# ---- up ----

start_containerd() {
    launch containerd /usr/bin/containerd --config "$ETC/containerd.toml"
    wait_for containerd 30 "answer on $CONTAINERD_SOCKET" ctr_ version
    import_pause containerd
}

import_pause() {  # <containerd component>
    has_image "$PAUSE_IMAGE" && return 0
    local tar="$CLUSTER/images/pause-${PAUSE_IMAGE##*:}.tar"
    mkdir -p "$CLUSTER/images"
    [ -f "$tar" ] || "$HERE/pause-image.sh" "$K8S_BIN/pause" "$PAUSE_IMAGE" "$tar"
    ctr_ images import "$tar" >/dev/null || { log_tail "$1"; die "could not import the sandbox image $tar"; }
}

start_control_plane() {
    launch etcd "$K8S_BIN/etcd" --name "$NODE_NAME" --data-dir "$ETCD_DATA" \
        --listen-client-urls "https://127.0.0.1:$ETCD_CLIENT_PORT" --advertise-client-urls "https://127.0.0.1:$ETCD_CLIENT_PORT" \
        --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-cluster "$NODE_NAME=http://127.0.0.1:$ETCD_PEER_PORT" --initial-cluster-state new \
        --cert-file "$PKI/etcd-server.crt" --key-file "$PKI/etcd-server.key" \
        --trusted-ca-file "$PKI/ca.crt" --client-cert-auth \
        --unsafe-no-fsync --log-level warn
    wait_for etcd 30 "health" etcd_healthy
    launch kube-apiserver "$K8S_BIN/kube-apiserver" \
        --advertise-address "$NODE_IP" --bind-address 0.0.0.0 --secure-port "$APISERVER_PORT" \
        --etcd-servers "https://127.0.0.1:$ETCD_CLIENT_PORT" --etcd-cafile "$PKI/ca.crt" \
        --etcd-certfile "$PKI/apiserver-etcd-client.crt" --etcd-keyfile "$PKI/apiserver-etcd-client.key" \
        --client-ca-file "$PKI/ca.crt" --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
        --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
        --kubelet-certificate-authority "$PKI/ca.crt" --kubelet-preferred-address-types InternalIP \
        --service-cluster-ip-range "$SERVICE_CIDR" \
        --service-account-issuer https://kubernetes.default.svc.cluster.local \
        --service-account-key-file "$PKI/service-account.pub" --service-account-signing-key-file "$PKI/service-account.key" \
        --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
        --allow-privileged=true --profiling=false
    wait_for kube-apiserver 60 "/readyz" apiserver_ready
    # The apiserver's own client identity, for logs/exec/port-forward through the kubelet.
    kc create clusterrolebinding flask-gevent-lab:apiserver-kubelet --clusterrole system:kubelet-api-admin \
        --user kube-apiserver-kubelet-client >/dev/null
    # Not before /readyz: they exit when RBAC's bootstrap roles are not there yet.
    local kcm="$KUBECONFIGS/controller-manager.kubeconfig" sched="$KUBECONFIGS/scheduler.kubeconfig"
    # Their own client CA, no lookup of a front proxy's (this cluster has none).
    launch kube-controller-manager "$K8S_BIN/kube-controller-manager" --kubeconfig "$kcm" \
        --authentication-kubeconfig "$kcm" --authorization-kubeconfig "$kcm" \
        --client-ca-file "$PKI/ca.crt" --authentication-skip-lookup \
        --bind-address 127.0.0.1 --secure-port "$CONTROLLER_MANAGER_PORT" --leader-elect=false \
        --use-service-account-credentials --service-account-private-key-file "$PKI/service-account.key" \
        --root-ca-file "$PKI/ca.crt" --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
        --service-cluster-ip-range "$SERVICE_CIDR" --cluster-name flask-gevent-lab
    launch kube-scheduler "$K8S_BIN/kube-scheduler" --kubeconfig "$sched" \
        --authentication-kubeconfig "$sched" --authorization-kubeconfig "$sched" \
        --client-ca-file "$PKI/ca.crt" --authentication-skip-lookup \
        --bind-address 127.0.0.1 --secure-port "$SCHEDULER_PORT" --leader-elect=false
}

start_node() {
    launch kube-proxy "$K8S_BIN/kube-proxy" --config "$ETC/kube-proxy.yaml"
    launch kubelet "$K8S_BIN/kubelet" --config "$ETC/kubelet.yaml" --kubeconfig "$KUBELET_KUBECONFIG" \
        --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" --root-dir "$KUBELET_ROOT"
    wait_for kube-controller-manager 60 "/healthz" secure_healthz $CONTROLLER_MANAGER_PORT
    wait_for kube-scheduler 60 "/healthz" secure_healthz $SCHEDULER_PORT
    wait_for kube-proxy 60 "/healthz" plain_healthz $PROXY_HEALTHZ_PORT
    wait_for kubelet 60 "/healthz" plain_healthz $KUBELET_HEALTHZ_PORT
    wait_for kubelet 90 "Ready node" node_ready
    wait_for kube-controller-manager 60 "default ServiceAccount" default_sa
}

up() {
    nodes_args "$@"
    alive kube-apiserver || nodes_memory
    os_packages
    kubernetes_bin
    if healthy; then
        # A running cluster as it is, unless another shape is asked for.
        local running cpus
        running=$(node_count) cpus=$(cat "$RUN/node-cpus" 2>/dev/null | paste -sd';' || true)
        [ "$SHAPE_GIVEN" = 0 ] || { [ "$running" = "$NODES" ] && [ "$cpus" = "$(IFS=';'; echo "${NODE_CPUS[*]}")" ]; } ||
            die "the cluster runs $running node(s)${cpus:+ on CPUs \"$cpus\"}, not the $NODES$([ ${#NODE_CPUS[@]} = 0 ] || echo " on CPUs \"$(IFS=';'; echo "${NODE_CPUS[*]}")\"") asked for: ./lab cluster down first (it stops every stack's pods on it), then up again"
        echo "$ADMIN_KUBECONFIG"; return 0
    fi
    if [ -e "$STATE" ]; then
        say "an earlier cluster is partly there: stopping it first"
        teardown
    fi
    node_ip
    preflight
    say "starting the cluster (node $NODE_NAME at $NODE_IP$([ "$NODES" = 1 ] || echo ", and $((NODES - 1)) more"))"
    local start=$SECONDS k
    trap up_failed EXIT
    mkdir -p "$RUN"
    # down and status use the binaries the cluster runs, and know its nodes, without building anything.
    echo "$K8S_BIN" >"$RUN/k8s-bin"
    echo "$NODES" >"$RUN/nodes"
    printf '%s\n' "${NODE_CPUS[@]}" | grep . >"$RUN/node-cpus" || rm -f "$RUN/node-cpus"
    save_machine
    configure
    guards_on
    sysctl -q -w net.ipv4.ip_forward=1 >/dev/null
    start_containerd
    start_control_plane
    start_node
    # Not through on_nodes: its `|| return` would turn off set -e in the subshells, and a step's failure with it.
    for k in $(further_nodes); do (node_env "$k"; start_node_here); done
    guards_first
    trap - EXIT
    say "up in $((SECONDS - start)) s; KUBECONFIG=$ADMIN_KUBECONFIG"
    echo "$ADMIN_KUBECONFIG"
}

# ---- down ----

# Pods first, through the API, so the kubelet stops them as it would (CNI teardown,
# volumes unmounted); controllers stopped before, so nothing makes new ones.
stop_workloads() {
    alive kube-apiserver && alive kubelet && apiserver_ready || return 0
    [ -n "$(kc get pods -A -o name 2>/dev/null)" ] || return 0
    stop kube-controller-manager
    stop kube-scheduler
    say "stopping the pods"
    kc delete pods --all -A --grace-period=1 --wait=false >/dev/null 2>&1 || true
    local deadline=$((SECONDS + 30))
    while [ $SECONDS -lt $deadline ]; do
        [ -z "$(kc get pods -A -o name 2>/dev/null)" ] && [ -z "$(all_tasks)" ] && return 0
        sleep 0.5
    done
    say "pods still there after 30 s: killing their containers"
}

# Every node's containerd's tasks.
all_tasks() {
    tasks_here
    on_nodes tasks_here
}

tasks_here() {
    ctr_ tasks ls -q 2>/dev/null || true
}

# What the kubelet did not stop: tasks killed, containers (not images) removed.
stop_containers() {
    alive "containerd$SUFFIX" || return 0
    local id
    for id in $(ctr_ tasks ls -q 2>/dev/null); do
        ctr_ tasks kill --all --signal SIGKILL "$id" >/dev/null 2>&1 || true
    done
    for id in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks delete --force "$id" >/dev/null 2>&1 || true; done
    for id in $(ctr_ containers ls -q 2>/dev/null); do ctr_ containers delete "$id" >/dev/null 2>&1 || true; done
}

# containerd's shims outlive it by design: each one's pid file is in its bundle.
stop_shims() {
    local f pid
    for f in "$CONTAINERD_STATE"/io.containerd.runtime.v2.task/*/*/shim.pid; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        # Ours only: a recycled pid would not name our socket.
        [[ $(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") == *"$CONTAINERD_SOCKET"* ]] || continue
        say "killing a leftover containerd shim ($pid)"
        kill -KILL "$pid" 2>/dev/null || true
    done
}

unmount_ours() {
    local target i
    for ((i = 0; i < 3; i++)); do
        # Deepest first; /proc/self/mountinfo's 5th field is the mount point (octal escapes for spaces).
        local targets
        targets=$(awk -v p="$CLUSTER/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | sort -r | uniq)
        [ -n "$targets" ] || return 0
        while IFS= read -r target; do
            target=$(printf '%b' "$target")
            umount "$target" 2>/dev/null || umount -l "$target" 2>/dev/null || true
        done <<<"$targets"
    done
    say "still mounted: $(awk -v p="$CLUSTER/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | tr '\n' ' ')"
}

# The kubelet's cgroups, those save_machine did not find there before our cluster.
remove_cgroups() {
    local d
    for d in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
        [ -d "$d" ] || continue
        ! grep -qxF "$d" "$RUN/cgroups-before" 2>/dev/null || continue
        find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || say "could not remove all of $d (processes left in it?)"
    done
    rm -f "$RUN/cgroups-before"
}

remove_system_dirs() {
    local d
    # The kubelet's links to our pods' logs (a user's kubelet's links point elsewhere).
    for d in /var/log/containers/*.log; do
        [ -L "$d" ] && [[ $(readlink "$d") == "$CLUSTER/"* ]] && rm -f "$d"
    done
    [ -f "$RUN/system-dirs" ] || return 0
    while IFS= read -r d; do
        [ -d "$d" ] || continue
        [ ! -S "$d/kubelet.sock" ] || rm -f "$d/kubelet.sock"
        # `ip netns add` (further nodes) mounts /run/netns on itself, shared, when it makes it.
        ! mountpoint -q "$d" || umount "$d" 2>/dev/null || umount -l "$d" 2>/dev/null || true
        rmdir "$d" 2>/dev/null || say "$d is not empty: left in place"
    done <"$RUN/system-dirs"
    rm -f "$RUN/system-dirs"
}

teardown() {
    stop_workloads
    stop kube-controller-manager
    stop kube-scheduler
    local k
    # Every node, whatever one of them left.
    for k in $(further_nodes); do (node_env "$k"; stop_node_here) || say "node $k: not fully stopped"; done
    stop kubelet
    stop kube-proxy
    stop_containers
    stop kube-apiserver 15
    stop etcd
    stop containerd
    stop_shims
    unmount_ours
    iptables_clean
    iptables_drop_new_tables
    ip link show "$BRIDGE" >/dev/null 2>&1 && ip link delete "$BRIDGE"
    remove_cgroups
    remove_node_cgroups
    restore_sysctls
    remove_system_dirs
    rm -rf "$STATE"
    rm -f "$RUN/nodes" "$RUN/node-cpus"
}

down() {
    local start=$SECONDS
    K8S_BIN=$(cat "$RUN/k8s-bin" 2>/dev/null || true)
    teardown
    rm -f "$RUN/k8s-bin"
    say "down in $((SECONDS - start)) s"
}

status() {
    local c line=""
    local k nodes
    nodes=$(node_count)
    for c in "${COMPONENTS[@]}" $(for k in $(further_nodes); do printf "%s-$k " "${NODE_COMPONENTS[@]}"; done); do
        if alive "$c"; then line+=" $c($(pid_of "$c"))"; else line+=" $c(down)"; fi
    done
    echo "components:$line"
    K8S_BIN=$(cat "$RUN/k8s-bin" 2>/dev/null || true)
    if [ -n "$K8S_BIN" ] && healthy; then
        echo "healthy: $nodes node(s) Ready ($(kc get nodes -o jsonpath='{.items[*].metadata.name}')), apiserver https://127.0.0.1:$APISERVER_PORT ($(kc get --raw /version | grep -o '"gitVersion": *"[^"]*"' | cut -d'"' -f4))"
        echo "pods: $(kc get pods -A --no-headers 2>/dev/null | wc -l), services: $(kc get services -A --no-headers 2>/dev/null | wc -l)"
        echo "KUBECONFIG=$ADMIN_KUBECONFIG"
    else
        echo "not healthy (scripts/cluster.sh up starts it; logs in $LOGS)"
        return 1
    fi
}

# ---- images ----

# Makes a Docker engine answer: a running one, or /usr/sbin/dockerd started here
# (and stopped again when this script exits).
docker_up() {
    docker info >/dev/null 2>&1 && return 0
    local dockerd
    dockerd=$(command -v dockerd || echo /usr/sbin/dockerd)
    [ -x "$dockerd" ] || die "no Docker engine answers, and no dockerd to start (apt-get install docker.io)"
    say "starting dockerd (stopped again when done; log $LOGS/dockerd.log)"
    mkdir -p "$LOGS" "$RUN"
    launch dockerd "$dockerd"
    trap 'progress_stop; stop dockerd 30' EXIT
    local deadline=$((SECONDS + 60))
    until docker info >/dev/null 2>&1; do
        alive dockerd || { log_tail dockerd; die "dockerd exited"; }
        [ $SECONDS -lt $deadline ] || { log_tail dockerd; die "dockerd does not answer after 60 s"; }
        sleep 0.5
    done
}

need_containerd() {
    alive containerd && ctr_ version >/dev/null 2>&1 || die "the cluster is not up (scripts/cluster.sh up)"
}

# import_images <docker ref>...: into every node's containerd.
import_images() {
    local ref missing=0
    for ref in "$@"; do has_image_everywhere "$ref" || missing=1; done
    [ $missing = 1 ] || return 0
    # Started here, not in a node's subshell, whose exit would stop a dockerd it started.
    docker_up
    import_into "$@"
    on_nodes import_into "$@"
}

has_image_everywhere() {  # <ref>
    has_image "$1" || return 1
    on_nodes has_image "$1"
}

# import_into <docker ref>...: those this node's containerd lacks, in one `docker save` (shared layers once).
import_into() {
    local ref missing=()
    for ref in "$@"; do has_image "$ref" || missing+=("$ref"); done
    [ ${#missing[@]} -gt 0 ] || return 0
    docker_up
    for ref in "${missing[@]}"; do
        docker image inspect "$ref" >/dev/null 2>&1 || die "no Docker image $ref"
    done
    say "importing ${missing[*]} into the cluster"
    docker save "${missing[@]}" | ctr_ images import - >/dev/null
    for ref in "${missing[@]}"; do has_image "$ref" || die "$ref is not in the cluster's containerd after the import"; done
}

oha_image() {  # <base> <tag>: the base with the pinned oha built on this machine
    local oha context said
    oha=$("$ROOT/scripts/oha.sh") || die "scripts/oha.sh could not build oha for the load pods' image"
    context=$(mktemp -d)
    cp "$oha" "$context/oha"
    printf 'FROM %s\nCOPY oha /usr/local/bin/oha\n' "$1" |
        DOCKER_BUILDKIT=0 docker build -q -f - -t "$2" "$context" >/dev/null || { rm -rf "$context"; die "building $2 failed"; }
    rm -rf "$context"
    # Built against this machine's C library: the base's Debian must be as new.
    said=$(docker run --rm --network none "$2" /usr/local/bin/oha --version 2>&1) ||
        { docker rmi "$2" >/dev/null; die "oha built here does not run in $1 (a newer C library here than in its Debian?): $said"; }
}

images() {  # [oha]
    [ $# = 0 ] || { [ $# = 1 ] && [ "$1" = oha ]; } || die "usage: scripts/cluster.sh images [oha]"
    need_containerd
    local base app tag refs=() key
    # The base's tag is keyed by its recipe (scripts/base-image.sh); the apps' by
    # python-apps/ and the base, so an edit of either gives new tags.
    base="fgl-base:$(sha256sum <"$ROOT/scripts/base-image.sh" | cut -c1-12)"
    # (python-apps/.dockerignore leaves bytecode out of the build: out of the key too.)
    key=$( { echo "$base"; cd "$ROOT/python-apps" && find . -type f ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 |
        sort -z | xargs -0 sha256sum; } | sha256sum | cut -c1-12)
    refs=("base=$base")
    for app in slow_api flask_app database_app; do refs+=("$app=flask-gevent-lab/$app:$key"); done
    # oha's image only when a load asks for it: keyed by the base and oha's pinned recipe.
    if [ "${1:-}" = oha ]; then
        refs+=("oha=flask-gevent-lab/oha:$( { echo "$base"; cat "$ROOT/scripts/oha.sh"; } | sha256sum | cut -c1-12)")
    fi
    local complete=1 r
    for r in "${refs[@]}"; do has_image_everywhere "${r#*=}" || complete=0; done
    if [ $complete = 0 ]; then
        trap progress_stop EXIT  # docker_up's, when it starts dockerd, stops the progress too
        docker_up
        local built
        # Its own progress, before ours: one ticking line at a time.
        built=$("$ROOT/scripts/base-image.sh")
        [ "$built" = "$base" ] || die "scripts/base-image.sh made $built, expected $base"
        local missing=() i=0
        for r in "${refs[@]:1}"; do docker image inspect "${r#*=}" >/dev/null 2>&1 || missing+=("$r"); done
        for r in "${missing[@]}"; do
            app=${r%%=*} tag=${r#*=}
            step $((++i)) $((${#missing[@]} + 1)) "building $tag"
            if [ "$app" = oha ]; then
                oha_image "$base" "$tag"
                continue
            fi
            DOCKER_BUILDKIT=0 docker build --network host -q -f "$ROOT/python-apps/Dockerfile" --build-arg "APP=$app" \
                --build-arg "PYTHON_IMAGE=$base" -t "$tag" "$ROOT/python-apps" >/dev/null
        done
        step $((++i)) $((${#missing[@]} + 1)) "importing the images into the cluster"
        import_images "${refs[@]#*=}"
        progress_done
    fi
    printf '%s\n' "${refs[@]}"
}

# ---- main ----

cmd=${1:-help}
shift || true
case "$cmd" in
    up | down | status | images | image | kubectl) ;;
    *)
        awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"
        [ "$cmd" = help ]; exit ;;
esac
[ "$(id -u)" = 0 ] || die "the cluster needs root (containerd, iptables, mounts)"
mkdir -p "$CLUSTER"
if [ "$cmd" = kubectl ]; then
    kubernetes_bin
    exec "$K8S_BIN/kubectl" --kubeconfig "$ADMIN_KUBECONFIG" "$@"
fi
# One of up/down/images at a time (status reads only).
if [ "$cmd" != status ]; then
    exec 9>"$CLUSTER/lock"
    flock -w 900 9 || die "another scripts/cluster.sh holds $CLUSTER/lock"
fi
case "$cmd" in
    up) up "$@" ;;
    down) down ;;
    status) status ;;
    images) images "$@" ;;
    image)
        [ $# -gt 0 ] || die "usage: scripts/cluster.sh image <docker image ref>..."
        need_containerd
        import_images "$@" ;;
esac
