// Package replicas holds the multi-replica tests: several real
// `kiln serve` processes sharing one PostgreSQL database (internal/pgtest),
// driven over HTTP as a load balancer's clients would drive them. It has
// no code of its own; the tests are the point:
//
//   - replicas that start together migrate and initialise the database
//     exactly once;
//   - a token created through one replica works at once through the
//     others; revoked, expired, disabled for the workspace, or its owner
//     deactivated or stripped of CAN_USE through one, it is refused by all
//     within a second;
//   - many clients creating and revoking tokens through different replicas
//     at once lose nothing acknowledged, and afterwards the database and
//     every replica agree;
//   - a replica started with other keys than the database was initialised
//     with refuses to start.
//
// Run with: go test ./internal/replicas/ (PostgreSQL as internal/pgtest
// finds or starts it; never skipped).
package replicas
