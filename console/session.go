package console

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kiln-dev/kiln"
)

// Session lifetimes.
const (
	// idleTimeout signs a user out after this long without a request.
	idleTimeout = 30 * time.Minute
	// absoluteTimeout signs a user out this long after signing in, however
	// active: a stolen cookie is useful for half a day at most.
	absoluteTimeout = 12 * time.Hour
	// refreshEvery is how stale the last-activity stamp may grow before the
	// cookie is re-issued. Re-issuing on every request would set a cookie
	// on every response for no gain; once a minute keeps the idle timeout
	// accurate to a minute.
	refreshEvery = time.Minute
)

// Cookie names. Under TLS the session cookie takes the __Host- prefix, so
// the browser refuses it unless it is Secure, host-only and Path=/: a
// sibling subdomain cannot plant or overwrite it.
const (
	sessionCookie       = "kiln_session"
	secureSessionCookie = "__Host-kiln_session"
	flashCookie         = "kiln_flash"
)

// session is what the session cookie holds. Times are in milliseconds, the
// resolution of Principal.PasswordChanged, so that signing in right after a
// password change is not mistaken for a session older than the change.
//
// Sessions are stateless: the cookie is the session, signed with
// HMAC-SHA256 under a key derived from the token key, so a request costs no
// database write and any replica sharing the key accepts it. The trade-off
// is that a session cannot be revoked on its own before it expires: a
// stolen cookie keeps working until the idle or absolute timeout, unless
// the user's password changes or the user is deactivated, which void every
// session of that user at the next request (both are read from the
// in-memory principal index). Log out clears the cookie in this browser
// only. The short idle timeout bounds the damage.
type session struct {
	UserID int64
	// Issued is when the user signed in.
	Issued time.Time
	// Active is when the cookie was last (re-)issued: the last activity, to
	// within refreshEvery.
	Active time.Time
}

// sealer signs and checks cookie values. Each purpose ("session", "flash")
// is bound into the MAC, so a value minted for one cannot be replayed as
// the other.
type sealer struct{ key []byte }

func newSealer(key []byte) *sealer { return &sealer{key: key} }

func (s *sealer) mac(purpose, payload string) []byte {
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte("kiln console " + purpose + "\x00"))
	h.Write([]byte(payload))
	return h.Sum(nil)
}

// seal returns payload with its MAC; payload must not contain "~".
func (s *sealer) seal(purpose, payload string) string {
	return payload + "~" + base64.RawURLEncoding.EncodeToString(s.mac(purpose, payload))
}

// open returns the payload of a sealed value whose MAC is valid.
func (s *sealer) open(purpose, value string) (string, bool) {
	i := strings.LastIndexByte(value, '~')
	if i < 0 {
		return "", false
	}
	payload := value[:i]
	got, err := base64.RawURLEncoding.DecodeString(value[i+1:])
	if err != nil {
		return "", false
	}
	// hmac.Equal compares in constant time: the time taken reveals nothing
	// about how much of a forged MAC was right.
	if !hmac.Equal(got, s.mac(purpose, payload)) {
		return "", false
	}
	return payload, true
}

// encodeSession renders s as "v1.<id>.<issued ms>.<active ms>", sealed.
func (s *sealer) encodeSession(ss session) string {
	payload := "v1." + strconv.FormatInt(ss.UserID, 10) + "." +
		strconv.FormatInt(ss.Issued.UnixMilli(), 10) + "." + strconv.FormatInt(ss.Active.UnixMilli(), 10)
	return s.seal("session", payload)
}

// decodeSession parses a sealed session; it checks the MAC and the shape,
// not the times.
func (s *sealer) decodeSession(value string) (session, bool) {
	payload, ok := s.open("session", value)
	if !ok {
		return session{}, false
	}
	f := strings.Split(payload, ".")
	if len(f) != 4 || f[0] != "v1" {
		return session{}, false
	}
	id, err1 := strconv.ParseInt(f[1], 10, 64)
	iss, err2 := strconv.ParseInt(f[2], 10, 64)
	act, err3 := strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || id <= 0 {
		return session{}, false
	}
	return session{UserID: id, Issued: time.UnixMilli(iss), Active: time.UnixMilli(act)}, true
}

// sessionState says why a session cookie is or is not usable.
type sessionState int

const (
	sessionNone    sessionState = iota // no cookie, or not one of ours
	sessionValid                       // usable
	sessionExpired                     // idle or absolute timeout passed
	sessionVoid                        // password changed, user deactivated or gone
)

// checkSession decides whether ss is usable at now for principal p (nil
// when the principal no longer exists).
func checkSession(ss session, p *kiln.Principal, now time.Time) sessionState {
	switch {
	case now.Sub(ss.Active) > idleTimeout || now.Sub(ss.Issued) > absoluteTimeout:
		return sessionExpired
	case ss.Active.After(now.Add(time.Minute)) || ss.Issued.After(ss.Active):
		// Stamped in the future: not a cookie this server issued as is.
		return sessionVoid
	case p == nil || !p.Active || p.Kind != kiln.KindUser:
		return sessionVoid
	case p.PasswordChanged.After(ss.Issued):
		return sessionVoid
	}
	return sessionValid
}

// secureRequest reports whether cookies must be Secure: the request came
// over TLS, or the public base URL is https (TLS ends at a proxy).
func (c *Console) secureRequest(r *http.Request) bool {
	return r.TLS != nil || c.httpsBase
}

func (c *Console) sessionCookieName(r *http.Request) string {
	if c.secureRequest(r) {
		return secureSessionCookie
	}
	return sessionCookie
}

// readSession returns the session cookie of r, if any and well signed.
func (c *Console) readSession(r *http.Request) (session, bool) {
	ck, err := r.Cookie(c.sessionCookieName(r))
	if err != nil {
		return session{}, false
	}
	return c.sealer.decodeSession(ck.Value)
}

// setSession issues the session cookie. It has no Max-Age: it ends with the
// browser session, and the server enforces both timeouts whatever the
// browser keeps.
func (c *Console) setSession(w http.ResponseWriter, r *http.Request, ss session) {
	http.SetCookie(w, &http.Cookie{
		Name: c.sessionCookieName(r), Value: c.sealer.encodeSession(ss), Path: "/",
		HttpOnly: true, Secure: c.secureRequest(r),
		// Lax, not Strict: a link to the console from a chat or a runbook
		// should open signed in. Lax still withholds the cookie from
		// cross-site POSTs, and CrossOriginProtection refuses those anyway.
		SameSite: http.SameSiteLaxMode,
	})
}

func (c *Console) clearSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: c.sessionCookieName(r), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: c.secureRequest(r), SameSite: http.SameSiteLaxMode,
	})
}

// Flash messages carry the outcome of a POST across its redirect (the
// Post/Redirect/Get pattern). They are sealed so that nobody else can make
// the console display text of their choosing.
type flash struct {
	Kind string // "ok" or "error"
	Text string
}

func (c *Console) setFlash(w http.ResponseWriter, r *http.Request, kind, text string) {
	payload := base64.RawURLEncoding.EncodeToString([]byte(kind + "\n" + text))
	http.SetCookie(w, &http.Cookie{
		Name: flashCookie, Value: c.sealer.seal("flash", payload), Path: "/", MaxAge: 60,
		HttpOnly: true, Secure: c.secureRequest(r), SameSite: http.SameSiteLaxMode,
	})
}

// takeFlash returns the pending flash message and clears it.
func (c *Console) takeFlash(w http.ResponseWriter, r *http.Request) *flash {
	ck, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	http.SetCookie(w, &http.Cookie{
		Name: flashCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: c.secureRequest(r), SameSite: http.SameSiteLaxMode,
	})
	payload, ok := c.sealer.open("flash", ck.Value)
	if !ok {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil
	}
	kind, text, ok := strings.Cut(string(b), "\n")
	if !ok {
		return nil
	}
	return &flash{Kind: kind, Text: text}
}
