//go:build tools

// Package tools pins the Pulumi CLI so that `go build` compiles it from the
// Go module proxy at the version of the @pulumi/pulumi npm package.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
