# shellcheck shell=bash
# Sourced by scripts/cluster.sh: the cluster's certificates and kubeconfigs, made
# with openssl. One CA (kept while it is valid) signs every certificate; EC P-256
# keys, quick to make. Needs PKI, KUBECONFIGS, ADMIN_KUBECONFIG, NODE_IP,
# NODE_NAME, KUBERNETES_SERVICE_IP and APISERVER_PORT.

# A config of our own, so the system's openssl.cnf adds no extensions of its own.
pki_config() {  # <extensions...>: one "key = value" per argument
    printf '[req]\ndistinguished_name = dn\nprompt = no\n[dn]\n[ext]\n'
    printf '%s\n' "$@"
}

pki_ca() {
    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -days 3650 -subj "/CN=flask-gevent-lab-ca" \
        -config <(pki_config 'basicConstraints = critical,CA:TRUE' 'keyUsage = critical,keyCertSign,cRLSign,digitalSignature') \
        -extensions ext 2>/dev/null
}

# pki_cert <name> <subject> <extendedKeyUsage> [subjectAltName]
pki_cert() {
    local name=$1 subject=$2 usage=$3 san=${4:-}
    local ext=('basicConstraints = critical,CA:FALSE' 'keyUsage = critical,digitalSignature,keyEncipherment' "extendedKeyUsage = $usage")
    [ -z "$san" ] || ext+=("subjectAltName = $san")
    openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -keyout "$PKI/$name.key" \
        -subj "$subject" -config <(pki_config) 2>/dev/null |
        openssl x509 -req -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
            -days 365 -extfile <(pki_config "${ext[@]}") -extensions ext -out "$PKI/$name.crt" 2>/dev/null
}

# pki_kubeconfig <file> <certificate name> <server>
pki_kubeconfig() {
    local file=$1 name=$2 server=$3
    cat >"$file.tmp" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: flask-gevent-lab
  cluster:
    server: $server
    certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
- name: $name
  user:
    client-certificate-data: $(base64 -w0 "$PKI/$name.crt")
    client-key-data: $(base64 -w0 "$PKI/$name.key")
contexts:
- name: flask-gevent-lab
  context:
    cluster: flask-gevent-lab
    user: $name
current-context: flask-gevent-lab
KUBECONFIG
    chmod 600 "$file.tmp"
    mv "$file.tmp" "$file"
}

# The leaf certificates: made again when what they name changes or they near expiry.
pki_make() {
    local recipe server="https://127.0.0.1:$APISERVER_PORT"
    recipe=$(printf '%s\n' "$NODE_IP" "$NODE_NAME" "$KUBERNETES_SERVICE_IP" "$APISERVER_PORT" "$(declare -f pki_config pki_ca pki_cert pki_kubeconfig pki_make)" | sha256sum | cut -c1-12)
    mkdir -p "$PKI" "$KUBECONFIGS"
    chmod 700 "$PKI"
    if [ -f "$PKI/recipe" ] && [ "$(cat "$PKI/recipe")" = "$recipe" ] && [ -f "$ADMIN_KUBECONFIG" ]; then
        # The leaves are made together: one tells when they all expire.
        openssl x509 -checkend $((30 * 86400)) -noout -in "$PKI/apiserver.crt" >/dev/null && return 0
    fi
    say "making certificates and kubeconfigs in $PKI"
    [ -f "$PKI/ca.key" ] && openssl x509 -checkend $((400 * 86400)) -noout -in "$PKI/ca.crt" >/dev/null || pki_ca
    pki_cert etcd-server "/CN=etcd-server" serverAuth,clientAuth "IP:127.0.0.1,DNS:localhost"
    pki_cert apiserver-etcd-client "/CN=kube-apiserver-etcd-client" clientAuth
    pki_cert apiserver "/CN=kube-apiserver" serverAuth \
        "IP:127.0.0.1,IP:$NODE_IP,IP:$KUBERNETES_SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    pki_cert apiserver-kubelet-client "/CN=kube-apiserver-kubelet-client" clientAuth
    pki_cert admin "/O=system:masters/CN=flask-gevent-lab-admin" clientAuth
    pki_cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" clientAuth
    pki_cert kubelet-serving "/CN=$NODE_NAME" serverAuth "IP:$NODE_IP,IP:127.0.0.1,DNS:$NODE_NAME"
    pki_cert controller-manager "/CN=system:kube-controller-manager" clientAuth
    pki_cert scheduler "/CN=system:kube-scheduler" clientAuth
    pki_cert kube-proxy "/CN=system:kube-proxy" clientAuth
    # The service-account token signing pair.
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$PKI/service-account.key" 2>/dev/null
    openssl pkey -in "$PKI/service-account.key" -pubout -out "$PKI/service-account.pub" 2>/dev/null
    pki_kubeconfig "$KUBECONFIGS/kubelet.kubeconfig" kubelet "$server"
    pki_kubeconfig "$KUBECONFIGS/controller-manager.kubeconfig" controller-manager "$server"
    pki_kubeconfig "$KUBECONFIGS/scheduler.kubeconfig" scheduler "$server"
    pki_kubeconfig "$KUBECONFIGS/kube-proxy.kubeconfig" kube-proxy "$server"
    pki_kubeconfig "$ADMIN_KUBECONFIG" admin "$server"
    echo "$recipe" >"$PKI/recipe"
}

# pki_node <certificate name> <node name> <node IP> <apiserver IP>: a further node's kubelet
# certificates (made again when missing, older than the CA or near expiry) and the kubeconfigs
# that reach the apiserver from its network namespace (not loopback).
pki_node() {
    local name=$1 node=$2 ip=$3 server="https://$4:$APISERVER_PORT"
    if [ ! -f "$PKI/$name-serving.crt" ] || [ "$PKI/ca.crt" -nt "$PKI/$name-serving.crt" ] ||
        ! openssl x509 -checkend $((30 * 86400)) -noout -in "$PKI/$name-serving.crt" >/dev/null; then
        pki_cert "$name" "/O=system:nodes/CN=system:node:$node" clientAuth
        pki_cert "$name-serving" "/CN=$node" serverAuth "IP:$ip,IP:127.0.0.1,DNS:$node"
    fi
    pki_kubeconfig "$KUBECONFIGS/$name.kubeconfig" "$name" "$server"
    pki_kubeconfig "$KUBECONFIGS/kube-proxy-remote.kubeconfig" kube-proxy "$server"
}
