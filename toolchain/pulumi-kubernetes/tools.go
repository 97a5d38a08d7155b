//go:build tools

// Package tools pins the Kubernetes resource provider 4.25.0 (the version of
// the @pulumi/kubernetes npm package) and what its main package and its
// generate.go import. scripts/pulumi-kubernetes.sh copies that main package
// from the module cache next to this go.mod, generates its embedded schema
// and builds it, so nothing fetched or generated lives in this folder.
package tools

import (
	_ "github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	_ "github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
	_ "github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)
