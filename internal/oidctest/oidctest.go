// Package oidctest runs a real OpenID Connect provider on loopback for
// tests of single sign-on: zitadel/oidc's op package (a certified
// provider implementation) with the example storage and login page that
// module ships, given the test's users and a "groups" claim. Nothing of
// the protocol is written here, so kiln's sign-in is tested against what
// a provider really sends. Only tests import it.
package oidctest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// The registration kiln signs in with.
const (
	ClientID     = "kiln-console"
	ClientSecret = "kiln-console-secret"
)

// User is a person the provider knows. Email doubles as the user name
// typed at the provider's login page.
type User struct {
	Email, Password       string
	GivenName, FamilyName string
	// Unverified makes the provider say email_verified false.
	Unverified bool
	// Groups are sent in the groups claim of the ID token and userinfo;
	// nil sends no claim.
	Groups []string
}

// Provider is a running provider.
type Provider struct {
	// Issuer is its issuer URL, http://127.0.0.1:PORT.
	Issuer string
}

// Start serves a provider on a free loopback port until the test ends.
// It knows users and one confidential client, ClientID with
// ClientSecret, whose only redirect URI is redirectURI.
func Start(t testing.TB, redirectURI string, users ...User) *Provider {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	us := userStore{users: map[string]*storage.User{}}
	groups := map[string][]string{}
	unverified := map[string]bool{}
	for i, u := range users {
		id := "user" + string(rune('a'+i))
		us.users[id] = &storage.User{
			ID: id, Username: u.Email, Password: u.Password, Email: u.Email, EmailVerified: !u.Unverified,
			FirstName: u.GivenName, LastName: u.FamilyName, PreferredLanguage: language.English,
		}
		groups[id] = u.Groups
		unverified[id] = u.Unverified
	}
	clients := map[string]*storage.Client{ClientID: storage.WebClient(ClientID, ClientSecret, redirectURI)}
	st := &groupStorage{Storage: storage.NewStorageWithClients(us, clients), groups: groups, unverified: unverified}
	// The example logs every request through slog's default logger;
	// SetupServer replaces it, and a discarding one keeps test output to
	// what the tests say.
	router := exampleop.SetupServer(issuer, st, slog.New(slog.DiscardHandler), false)
	srv := &http.Server{Handler: router, ErrorLog: nil}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &Provider{Issuer: issuer}
}

// userStore is the example storage's UserStore over the test's users.
type userStore struct{ users map[string]*storage.User }

func (u userStore) GetUserByID(id string) *storage.User { return u.users[id] }

func (u userStore) GetUserByUsername(name string) *storage.User {
	for _, v := range u.users {
		if v.Username == name {
			return v
		}
	}
	return nil
}

func (u userStore) ExampleClientID() string { return storage.ServiceUserID }

// groupStorage adds the groups claim to the example storage, in the ID
// token and in userinfo, and says email_verified false outright (the
// example omits a false one, as absent claims mean "unknown").
type groupStorage struct {
	*storage.Storage
	groups     map[string][]string
	unverified map[string]bool
}

func (s *groupStorage) addGroups(ui *oidc.UserInfo, subject string) {
	if s.groups[subject] != nil {
		ui.AppendClaims("groups", s.groups[subject])
	}
	if s.unverified[subject] && ui.Email != "" {
		ui.AppendClaims("email_verified", false)
	}
}

// SetUserinfoFromRequest fills the ID token's claims.
func (s *groupStorage) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, ui, req, scopes); err != nil {
		return err
	}
	s.addGroups(ui, req.GetSubject())
	return nil
}

// SetUserinfoFromToken fills the userinfo endpoint's answer.
func (s *groupStorage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, ui, tokenID, subject, origin); err != nil {
		return err
	}
	s.addGroups(ui, ui.Subject)
	return nil
}

// Browser is an HTTP client with a cookie jar that follows redirects, as
// a browser without scripts would.
func Browser(t testing.TB) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

// SignIn follows startURL (kiln's /login/sso) to this provider's login
// page, signs in there as email with password, and follows the redirects
// back. It returns the final response, its body read, and its URL.
func (p *Provider) SignIn(t testing.TB, c *http.Client, startURL, email, password string) (resp *http.Response, body string) {
	t.Helper()
	r, err := c.Get(startURL)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, r.Body)
	r.Body.Close()
	if !strings.HasPrefix(r.Request.URL.String(), p.Issuer+"/login/username") {
		t.Fatalf("expected the provider's login page, got %d at %s", r.StatusCode, r.Request.URL)
	}
	id := r.Request.URL.Query().Get("authRequestID")
	r, err = c.PostForm(p.Issuer+"/login/username", url.Values{"id": {id}, "username": {email}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return r, string(b)
}
