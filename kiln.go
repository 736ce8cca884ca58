// Package kiln holds the domain of a kiln workspace, as plain types that
// every layer shares:
//
//   - identities: users, service principals and groups ([Principal],
//     [Group]), and the authenticated [Caller] a context carries;
//   - personal access tokens ([Token]), their permission ACL ([ACLEntry])
//     and the workspace settings that govern them ([ConfDefaults]);
//   - jobs and runs: saved [Job] definitions, each [Run] with its task
//     runs ([TaskRun]), and the rules of the run life cycle, which every
//     store applies the same way;
//   - secret scopes and secrets ([SecretScope], [Secret], sealed values);
//   - workspace objects: the directories, notebooks and files of the
//     workspace tree ([WorkspaceObject], [CleanObjectPath]);
//   - DBFS: the storage contract of the DBFS file tree and its errors;
//   - audit events ([AuditEvent]), which never carry a secret;
//   - the one error type, [Error]: a [Code] from a closed set that the
//     API maps to an HTTP status and Databricks error code, a message safe
//     to show the caller, and an internal cause that is only logged;
//   - the storage contract, [Store] and its [Tx], which package sqlstore
//     implements on SQLite and PostgreSQL.
//
// The package does no I/O of its own. Implementations live in subpackages
// named after what they are (sqlstore, auth, service, runner, api,
// console, cli); they talk to each other only in these terms.
package kiln

import (
	"crypto/sha256"
	"fmt"
	"strconv"
	"time"
)

// Workspace is the single workspace a kiln server serves.
type Workspace struct {
	// ID is the numeric workspace id, reported as X-Databricks-Org-Id and in
	// /.well-known/databricks-config. It stays below 2^53 so JavaScript
	// clients read it exactly.
	ID int64
	// Created is when the store was first initialised.
	Created time.Time
	// KeyFingerprint identifies the token key the store was initialised with
	// (never the key itself), so a server started with a different key can
	// refuse to run instead of rejecting every token.
	KeyFingerprint string
}

// AccountID is the Databricks account id kiln reports for the workspace
// (host metadata's account_id): a UUID (version 8, RFC 9562) derived
// from the workspace id and the token key's fingerprint, both fixed when
// the store is initialised. So it needs no storage of its own, survives
// restarts, is the same on every replica of one store, and differs
// between workspaces.
func (w Workspace) AccountID() string {
	b := sha256.Sum256([]byte("kiln account id\x00" + strconv.FormatInt(w.ID, 10) + "\x00" + w.KeyFingerprint))
	b[6] = b[6]&0x0f | 0x80 // version 8: custom
	b[8] = b[8]&0x3f | 0x80 // the RFC 9562 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Built-in group names. Both always exist and cannot be renamed or deleted.
const (
	// GroupAdmins holds the workspace administrators.
	GroupAdmins = "admins"
	// GroupUsers holds every user and service principal.
	GroupUsers = "users"
)

// MillisOf returns t as epoch milliseconds, the unit of every time on the
// Databricks wire; the zero time becomes 0.
func MillisOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// TimeOfMillis is the inverse of [MillisOf]: 0 becomes the zero time.
func TimeOfMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
