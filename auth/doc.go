// Package auth owns kiln's credentials: minting personal access tokens and
// their keyed digests, parsing the Authorization header, hashing passwords,
// the in-memory token index that answers every authenticated request
// without touching the database, and the throttle that slows down clients
// that keep presenting bad credentials.
package auth
