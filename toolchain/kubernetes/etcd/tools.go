//go:build tools

// Package tools pins etcd v3.6.4 (the version Kubernetes v1.34.4 is built
// against) in a module of its own, so that it keeps etcd's own dependency
// versions rather than those of k8s.io/kubernetes.
package tools

import _ "go.etcd.io/etcd/server/v3"
