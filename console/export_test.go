package console

import "time"

// Bridges to the package's internals for its external tests (package
// console_test), which start a real kiln through package server and so
// cannot be in package console: server imports it.

// Names the external tests assert on.
const (
	SessionCookie       = sessionCookie
	SecureSessionCookie = secureSessionCookie
	FlashCookie         = flashCookie
	IdleTimeout         = idleTimeout
	AbsoluteTimeout     = absoluteTimeout
	LogsShown           = logsShown
	JobsPageSize        = jobsPageSize
	DatetimeLocal       = datetimeLocal
)

// Functions the external tests call.
var (
	RunPath   = runPath
	JobPath   = jobPath
	LocalPath = localPath
)

// MintSession returns a session cookie value for userID as if the user
// had just signed in at now.
func (c *Console) MintSession(userID int64, now time.Time) string {
	return c.sealer.encodeSession(session{UserID: userID, Issued: now, Active: now})
}

// SessionActive opens a session cookie value and returns when it was last
// issued.
func (c *Console) SessionActive(value string) (time.Time, bool) {
	s, ok := c.sealer.decodeSession(value)
	return s.Active, ok
}

// FailSignIn counts one failed sign-in of email from addr.
func (c *Console) FailSignIn(addr, email string) { c.guard.failed(addr, email) }

// StaticFile is one embedded static file as served.
type StaticFile struct {
	Version string
	Body    []byte
}

// StaticFiles lists the embedded static files by name.
func StaticFiles() (map[string]StaticFile, error) {
	sf, err := embedded()
	if err != nil {
		return nil, err
	}
	m := map[string]StaticFile{}
	for name, f := range sf.files {
		m[name] = StaticFile{Version: f.version, Body: f.body}
	}
	return m, nil
}

// RoutePatterns lists the patterns of the console's route table, in the
// order routes registers them.
func (c *Console) RoutePatterns() []string {
	var seen []string
	c.routeTable(&seen)
	return seen
}
