package cli

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/client"
)

func TestRelative(t *testing.T) {
	now := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "just now"},
		{500 * time.Millisecond, "just now"},
		{time.Second, "in 1 second"},
		{-2 * time.Second, "2 seconds ago"},
		{59*time.Minute + 29*time.Second, "in 59 minutes"},
		{59*time.Minute + 59*time.Second, "in 1 hour"},
		{59*time.Second + 600*time.Millisecond, "in 1 minute"},
		{90 * time.Second, "in 2 minutes"},
		{-(23*time.Hour + 40*time.Minute), "1 day ago"},
		{89*24*time.Hour + 11*time.Hour, "in 89 days"},
		{-time.Hour, "1 hour ago"},
		{23 * time.Hour, "in 23 hours"},
		{90*24*time.Hour - time.Second, "in 90 days"}, // a fresh 90-day token
		{-3*24*time.Hour - time.Hour, "3 days ago"},
		{24 * time.Hour, "in 1 day"},
	}
	for _, tt := range tests {
		t.Run(tt.d.String(), func(t *testing.T) {
			if got := relative(now.Add(tt.d), now); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	now := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	ms := func(d time.Duration) int64 { return now.Add(d).UnixMilli() }
	tests := []struct {
		name           string
		expiry         int64
		cell, sentence string
	}{
		{"never", -1, "never", "never expires"},
		{"future", ms(90*24*time.Hour - time.Minute), "in 90 days", "expires in 90 days (2026-04-10 11:59 UTC)"},
		{"past", ms(-3 * 24 * time.Hour), "EXPIRED 3 days ago", "expired 3 days ago (2026-01-07 12:00 UTC)"},
		{"exactly now", ms(0), "EXPIRED just now", "expired just now (2026-01-10 12:00 UTC)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ti := &client.TokenInfo{ExpiryTime: tt.expiry}
			if got := expiry(ti, now); got != tt.cell {
				t.Errorf("cell %q, want %q", got, tt.cell)
			}
			if got := expirySentence(ti, now); got != tt.sentence {
				t.Errorf("sentence %q, want %q", got, tt.sentence)
			}
		})
	}
}

func TestDay(t *testing.T) {
	now := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	day0 := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		ms   int64
		want string
	}{
		{0, "never"},
		{day0.UnixMilli(), "today"},
		{day0.AddDate(0, 0, -1).UnixMilli(), "yesterday"},
		{day0.AddDate(0, 0, -12).UnixMilli(), "12 days ago"},
	}
	for _, tt := range tests {
		if got := day(tt.ms, now); got != tt.want {
			t.Errorf("day(%d) = %q, want %q", tt.ms, got, tt.want)
		}
	}
}

func TestTable(t *testing.T) {
	var b bytes.Buffer
	p := &printer{w: &b}
	p.Table([]string{"ID", "COMMENT"}, [][]string{{"1", "tab\there\nnewline"}, {"22", ""}})
	want := "ID  COMMENT\n1   tab here newline\n22  -\n"
	if b.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", b.String(), want)
	}
}

func TestExitCode(t *testing.T) {
	api := func(status int, code, msg string) error {
		return &client.APIError{StatusCode: status, ErrorCode: code, Message: msg}
	}
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"usage", usageError{errors.New("x")}, ExitUsage},
		{"cobra usage", errors.New(`unknown flag: --x`), ExitUsage},
		{"config", &client.ConfigError{Msg: "no host"}, ExitAuth},
		{"auth", authError{errors.New("expired")}, ExitAuth},
		{"wrapped config", fmt.Errorf("loading: %w", &client.ConfigError{Msg: "x"}), ExitAuth},
		{"401", api(401, "UNAUTHENTICATED", "no"), ExitAuth},
		{"invalid token", api(403, "PERMISSION_DENIED", "Invalid access token."), ExitAuth},
		{"permission", api(403, "PERMISSION_DENIED", "Only workspace admins can do this."), ExitPermission},
		{"permission class", permissionError{errors.New("x")}, ExitPermission},
		{"not found", api(404, "RESOURCE_DOES_NOT_EXIST", "Token x does not exist."), ExitNotFound},
		{"not found class", notFoundError{errors.New("x")}, ExitNotFound},
		{"unknown endpoint", api(404, "RESOURCE_DOES_NOT_EXIST", "No API found for 'GET /x'."), ExitError},
		{"disabled", api(404, "FEATURE_DISABLED", "Tokens are disabled."), ExitError},
		{"bad request", api(400, "INVALID_PARAMETER_VALUE", "x"), ExitError},
		{"server", api(500, "INTERNAL_ERROR", "Internal error."), ExitError},
		{"transport", &client.TransportError{Msg: "refused"}, ExitError},
		{"other", errors.New("boom"), ExitError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exitCode(tt.err); got != tt.want {
				t.Fatalf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestExplain(t *testing.T) {
	now := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	memo := &tokenMemo{path: filepath.Join(t.TempDir(), "tokens.json")}
	memo.remember("dapiEXPIRED", "http://k", &client.TokenInfo{TokenID: "a", ExpiryTime: now.Add(-72 * time.Hour).UnixMilli()}, now)
	memo.remember("dapiLIVE", "http://k", &client.TokenInfo{TokenID: "b", ExpiryTime: now.Add(time.Hour).UnixMilli()}, now)
	invalid := &client.APIError{StatusCode: http.StatusForbidden, ErrorCode: "PERMISSION_DENIED", Message: "Invalid access token."}
	tests := []struct {
		name, token string
		err         error
		want        string
		code        int
	}{
		{"expired", "dapiEXPIRED", invalid, `the token of profile "p" expired 3 days ago: create a new one with ` + "`kiln tokens create`", ExitAuth},
		{"known, not expired", "dapiLIVE", invalid, `the token of profile "p" was refused (Invalid access token.): it was revoked`, ExitAuth},
		{"unknown", "dapiOTHER", invalid, `was refused (Invalid access token.): it is expired, revoked or mistyped`, ExitAuth},
		{"no CAN_USE", "dapiOTHER", &client.APIError{StatusCode: 403, Message: "User does not have permission to use tokens."},
			"permission denied: User does not have permission to use tokens. Ask a workspace admin to grant you CAN_USE", ExitPermission},
		{"throttled", "dapiOTHER", &client.APIError{StatusCode: 429, Message: "Too many failed attempts.", RetryAfter: 3 * time.Second},
			"http://k is refusing requests for now (Too many failed attempts.): retry in 3 seconds", ExitError},
		{"server error", "dapiOTHER", &client.APIError{StatusCode: 500, Message: "Internal error.", RequestID: "r1"},
			"the server failed: Internal error. (HTTP 500, request id r1); check the server's log", ExitError},
		{"unknown endpoint", "dapiOTHER", &client.APIError{StatusCode: 404, Message: "No API found for 'GET /api/kiln/v1/audit'.", Method: "GET", Path: "/api/kiln/v1/audit"},
			"http://k does not serve GET /api/kiln/v1/audit: is it a kiln server", ExitError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &clientEnv{memo: memo, now: func() time.Time { return now },
				cfg: &client.Config{Host: "http://k", Token: tt.token, Profile: "p", TokenSource: `profile "p"`}}
			err := e.explain(tt.err)
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %q, want it to contain %q", err, tt.want)
			}
			if got := exitCode(err); got != tt.code {
				t.Fatalf("exit %d, want %d", got, tt.code)
			}
		})
	}
}
