package kiln

// Placeholder until the webhooks branch merges (deleted at merge).

// Event is a placeholder.
type Event struct {
	Type string
	Key  string
	Data map[string]string
}

// Placeholder event types.
const (
	EventTokenCreated    = "token.created"
	EventTokenRotated    = "token.rotated"
	EventTokenRevoked    = "token.revoked"
	EventTokenExpiring   = "token.expiring"
	EventTokenExpired    = "token.expired"
	EventTokenNewAddress = "token.new_address"
)
