// Package compat is kiln's compatibility suite for the official Databricks
// Go SDK (github.com/databricks/databricks-sdk-go, pinned in go.mod).
//
// Every test starts a real kiln server in-process on a loopback port, with
// its own temporary data directory, and drives it only through the SDK's
// public clients (databricks.NewWorkspaceClient with PAT credentials), the
// way Terraform, the Databricks CLI and user programs do. Nothing is
// mocked: the SDK's own host discovery, request encoding, pagination,
// error parsing and retry logic all run against kiln's wire format.
//
// The suite lives in its own Go module so that the server's go.mod does not
// carry the SDK and its dependency tree. Run it with
//
//	cd compat/go && go vet ./... && go test -race -count=1 ./...
//
// Each server records every HTTP exchange the SDK makes (see recorder in
// harness_test.go). A response outside 2xx fails the test unless it happened
// inside an explicit expectAPIError call, so a missing endpoint or a wrong
// status anywhere in a flow is caught even when the SDK would swallow it
// (as it does for the host-metadata call).
//
// The test environment is sealed from the developer's machine: every
// environment variable the SDK reads is cleared, and HOME and
// DATABRICKS_CONFIG_FILE point into a temporary directory, so a local
// ~/.databrickscfg or DATABRICKS_TOKEN can never leak into a test.
package compat
