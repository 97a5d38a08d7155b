# shellcheck shell=bash
# Sourced by scripts/cluster.sh: the nodes after the first (`up --nodes N`). Node k
# (2..N) is a kubelet, a kube-proxy and a containerd of its own in the network
# namespace fgl-node-<k>: its address 10.212.<k>.2 on a veth whose machine end
# (fgln<k>, 10.212.<k>.1) routes its pods' range 10.213.<k-1>.0/24 to it; its pods
# under the cgroup /fgl-node-<k>, pinned where --node-cpus says. Same PID
# namespace and disks as the machine: a node is apart in network, cgroup and CPUs.

NODE_NET=10.212.0.0/16
# What an up of N nodes must find free: the first node and its control plane, then each further node.
FIRST_NODE_MEMORY_MIB=2048
NODE_MEMORY_MIB=1024

node_count() { cat "$RUN/nodes" 2>/dev/null || echo 1; }

# The further nodes of the cluster (2..N; none with one node).
further_nodes() { seq 2 "$(node_count)"; }

# on_nodes <command...>: the command in each further node's environment (node_env, a subshell
# each); fails at the first node where it fails. For checks and queries: set -e is off in them.
on_nodes() {
    local k
    for k in $(further_nodes); do (node_env "$k"; "$@") || return 1; done
}

# The node's CPUs as --node-cpus gave them ("" where not pinned); k from 1.
node_cpus_of() { sed -n "${1}p" "$RUN/node-cpus" 2>/dev/null || true; }

# nodes_args <args...>: NODES and NODE_CPUS (one list per node, or none) from up's flags, and
# SHAPE_GIVEN (any flag); refused with the fix before anything starts.
nodes_args() {
    NODES=1 NODE_CPUS=() SHAPE_GIVEN=$#
    local cpus=""
    while [ $# -gt 0 ]; do
        case "$1" in
            --nodes) [ $# -ge 2 ] || die "--nodes needs a number"; NODES=$2; shift 2 ;;
            --nodes=*) NODES=${1#*=}; shift ;;
            --node-cpus) [ $# -ge 2 ] || die "--node-cpus needs a list, e.g. \"0;1\""; cpus=$2; shift 2 ;;
            --node-cpus=*) cpus=${1#*=}; shift ;;
            *) die "up: unknown argument $1 (usage: up [--nodes N] [--node-cpus \"<cpus of node 1>;<cpus of node 2>;...\"])" ;;
        esac
    done
    [[ $NODES =~ ^[0-9]+$ ]] || die "--nodes $NODES: not a number of nodes (e.g. --nodes 2)"
    NODES=$((10#$NODES))
    [ "$NODES" -ge 1 ] || die "--nodes $NODES: a cluster needs at least one node (--nodes 1, the default)"
    [ "$NODES" -le 200 ] || die "--nodes $NODES: at most 200 (one /24 of pods each in 10.213.0.0/16)"
    # Further nodes are network namespaces with cgroup v1 roots of their own (this machine's kind).
    [ "$NODES" = 1 ] || [ "$(stat -fc %T /sys/fs/cgroup)" != cgroup2fs ] ||
        die "--nodes $NODES: further nodes need cgroup v1 (their pods' cgroup roots), and this machine runs cgroup v2: one node here"
    [ -n "$cpus" ] || return 0
    IFS=';' read -r -a NODE_CPUS <<<"$cpus"
    [ ${#NODE_CPUS[@]} = "$NODES" ] || die "--node-cpus \"$cpus\" names ${#NODE_CPUS[@]} nodes' CPUs for $NODES nodes: one list per node, separated by ';'"
    local online list c
    online=$(cpu_list "$(cat /sys/devices/system/cpu/online)")
    for list in "${NODE_CPUS[@]}"; do
        [[ $list =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]] || die "--node-cpus: \"$list\" is not a CPU list (e.g. 0 or 0-1 or 0,2)"
        for c in $(cpu_list "$list"); do
            grep -qx "$c" <<<"$online" || die "--node-cpus: CPU $c does not exist here (online: $(cat /sys/devices/system/cpu/online))"
        done
    done
    # A CPU in two nodes would be two nodes' CPU time (and the sampler's count) at once.
    c=$(for list in "${NODE_CPUS[@]}"; do cpu_list "$list" | sort -u; done | sort | uniq -d | head -n 1)
    [ -z "$c" ] || die "--node-cpus: CPU $c is in more than one node's list: give each node CPUs of its own"
}

# nodes_memory: refused before anything starts where the memory available can't hold NODES nodes
# (a running cluster's own use is not counted against it: up keeps it as it is).
nodes_memory() {
    [ "$NODES" -gt 1 ] || return 0
    local need avail
    need=$((FIRST_NODE_MEMORY_MIB + (NODES - 1) * NODE_MEMORY_MIB))
    avail=$(($(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo) / 1024))
    [ "$need" -le "$avail" ] || die "--nodes $NODES needs ${need} MiB free (${FIRST_NODE_MEMORY_MIB} for the first," \
        "${NODE_MEMORY_MIB} per further node) and this machine has ${avail} MiB available: at most" \
        "$((avail < FIRST_NODE_MEMORY_MIB ? 1 : (avail - FIRST_NODE_MEMORY_MIB) / NODE_MEMORY_MIB + 1)) node(s) here"
}

cpu_list() {  # "0-2,5" -> one CPU per line
    local part
    for part in ${1//,/ }; do
        if [[ $part == *-* ]]; then seq "${part%-*}" "${part#*-}"; else echo "$part"; fi
    done
}

# node_env <k>: the globals that name node k's files, addresses and components (k >= 2), for a subshell.
node_env() {
    local k=$1
    NODE_INDEX=$k
    APISERVER_IP=${NODE_IP:-}
    NODE_NAME="flask-gevent-lab-$k"
    NETNS="fgl-node-$k"
    VETH="fgln$k"
    NODE_HOST_IP="10.212.$k.1"
    NODE_IP="10.212.$k.2"
    POD_CIDR="10.213.$((k - 1)).0/24"
    NODE_ETC="$ETC/node-$k"
    NODE_STATE="$STATE/node-$k"
    # Kept across down, as the first node's: its imported images.
    CONTAINERD_ROOT="$CLUSTER/containerd-node-$k"
    CONTAINERD_STATE="$NODE_STATE/containerd"
    CONTAINERD_SOCKET="$NODE_STATE/containerd.sock"
    RUNC_ROOT="$NODE_STATE/runc"
    KUBELET_ROOT="$NODE_STATE/kubelet"
    POD_LOGS_DIR="$NODE_STATE/pod-logs"
    CNI_DATA_DIR="$NODE_STATE/cni"
    CNI_CONF_DIR="$NODE_ETC/cni"
    CGROUP_ROOT="/fgl-node-$k"
    KUBELET_CERT="kubelet-$k"
    KUBELET_KUBECONFIG="$KUBECONFIGS/kubelet-$k.kubeconfig"
    PROXY_KUBECONFIG="$KUBECONFIGS/kube-proxy-remote.kubeconfig"
    SUFFIX="-$k"
}

in_node() { nsenter --net="/run/netns/$NETNS" "$@"; }

# A further node's components, each named with its node's suffix.
NODE_COMPONENTS=(containerd kube-proxy kubelet)

node_healthz() { in_node curl -sf --max-time 2 "http://127.0.0.1:$1/healthz" >/dev/null; }

# The node's veth pair and routes; its loopback up, forwarding on inside.
node_network() {
    ip netns add "$NETNS"
    ip link add "$VETH" type veth peer name eth0 netns "$NETNS"
    ip addr add "$NODE_HOST_IP/24" dev "$VETH"
    ip link set "$VETH" up
    in_node ip link set lo up
    in_node ip addr add "$NODE_IP/24" dev eth0
    in_node ip link set eth0 up
    in_node ip route add default via "$NODE_HOST_IP"
    in_node sysctl -q -w net.ipv4.ip_forward=1
    ip route add "$POD_CIDR" via "$NODE_IP" dev "$VETH"
}

# The cgroup its kubelet puts the pods under, in every v1 hierarchy (the kubelet checks it exists);
# its cpuset the node's CPUs (or the machine's), which every pod's inherits.
node_cgroups() {  # <cpus or "">
    local d
    for d in /sys/fs/cgroup/*/; do
        [ -d "$d" ] && mkdir -p "$d${CGROUP_ROOT#/}"
    done
    d=/sys/fs/cgroup/cpuset${CGROUP_ROOT}
    if [ -d "$d" ]; then
        cat /sys/fs/cgroup/cpuset/cpuset.mems >"$d/cpuset.mems"
        echo "${1:-$(cat /sys/fs/cgroup/cpuset/cpuset.cpus)}" >"$d/cpuset.cpus"
    fi
}

# pinning <node's CPUs or "">: RESERVED_CPUS, the machine's others ("" when not pinned), and the
# CPU manager: static with strict reservation where some are reserved (it refuses none reserved).
pinning() {
    RESERVED_CPUS="" CPU_MANAGER_POLICY=none CPU_MANAGER_OPTIONS="{}"
    [ -n "$1" ] || return 0
    local mine
    mine=$(cpu_list "$1")
    RESERVED_CPUS=$(cpu_list "$(cat /sys/devices/system/cpu/online)" | grep -vxF "$mine" | paste -sd, || true)
    [ -n "$RESERVED_CPUS" ] || return 0
    CPU_MANAGER_POLICY=static CPU_MANAGER_OPTIONS='{"strict-cpu-reservation": "true"}'
}

# The further node of this environment (node_env), started.
start_node_here() {
    mkdir -p "$NODE_ETC" "$CNI_CONF_DIR" "$NODE_STATE" "$CONTAINERD_ROOT" "$RUNC_ROOT" "$KUBELET_ROOT" "$POD_LOGS_DIR" "$CNI_DATA_DIR"
    pki_node "$KUBELET_CERT" "$NODE_NAME" "$NODE_IP" "$APISERVER_IP"
    pinning "$(node_cpus_of "$NODE_INDEX")"
    render "$HERE/containerd.toml" "$NODE_ETC/containerd.toml"
    render "$HERE/cni.conflist" "$CNI_CONF_DIR/10-flask-gevent-lab.conflist"
    render "$HERE/kubelet.yaml" "$NODE_ETC/kubelet.yaml"
    render "$HERE/kube-proxy.yaml" "$NODE_ETC/kube-proxy.yaml"
    node_network
    node_cgroups "$(node_cpus_of "$NODE_INDEX")"
    launch "containerd$SUFFIX" nsenter --net="/run/netns/$NETNS" /usr/bin/containerd --config "$NODE_ETC/containerd.toml"
    wait_for "containerd$SUFFIX" 30 "answer on $CONTAINERD_SOCKET" ctr_ version
    import_pause "containerd$SUFFIX"
    launch "kube-proxy$SUFFIX" nsenter --net="/run/netns/$NETNS" "$K8S_BIN/kube-proxy" --config "$NODE_ETC/kube-proxy.yaml"
    launch "kubelet$SUFFIX" nsenter --net="/run/netns/$NETNS" "$K8S_BIN/kubelet" --config "$NODE_ETC/kubelet.yaml" \
        --kubeconfig "$KUBELET_KUBECONFIG" --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" --root-dir "$KUBELET_ROOT"
    wait_for "kube-proxy$SUFFIX" 60 "/healthz" node_healthz "$PROXY_HEALTHZ_PORT"
    wait_for "kubelet$SUFFIX" 60 "/healthz" node_healthz "$KUBELET_HEALTHZ_PORT"
    wait_for "kubelet$SUFFIX" 90 "Ready node" node_ready
}

node_healthy_here() {
    local c
    for c in "${NODE_COMPONENTS[@]}"; do alive "$c$SUFFIX" || return 1; done
    node_healthz "$KUBELET_HEALTHZ_PORT" && node_healthz "$PROXY_HEALTHZ_PORT" && node_ready
}

stop_node_here() {
    stop "kubelet$SUFFIX"
    stop "kube-proxy$SUFFIX"
    stop_containers
    stop "containerd$SUFFIX"
    stop_shims
    # Its network goes with the namespace (veth, bridge, iptables, the route through it), once
    # nothing holds it; the veth is deleted first all the same (either end takes both).
    ! ip link show "$VETH" >/dev/null 2>&1 || ip link delete "$VETH" || say "could not delete $VETH"
    [ ! -e "/run/netns/$NETNS" ] || ip netns delete "$NETNS" || say "could not delete the network namespace $NETNS"
}

# Every further node's cgroups (this cluster made them all).
remove_node_cgroups() {
    local d
    for d in /sys/fs/cgroup/*/fgl-node-*; do
        [ -d "$d" ] || continue
        find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || say "could not remove all of $d (processes left in it?)"
    done
}
