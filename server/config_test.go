package server

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	const pg = "postgres://kiln@127.0.0.1/kiln"
	cases := []struct {
		name string
		cfg  Config
		want []string // a substring of each problem, in order; none for valid
	}{
		{"zero", Config{}, nil},
		{"typical", Config{Addr: "0.0.0.0:8443", TLSCert: "c.pem", TLSKey: "k.pem", BaseURL: "https://kiln.example.com", TrustedProxies: []string{"10.0.0.0/8"}}, nil},
		{"replicas", Config{DatabaseURL: pg, TokenKey: "k", SecretsKey: "s", NoAPI: true}, nil},
		{"cert without key", Config{TLSCert: "c.pem"}, []string{"--tls-cert and --tls-key go together"}},
		{"key without cert", Config{TLSKey: "k.pem"}, []string{"--tls-cert and --tls-key go together"}},
		{"addr", Config{Addr: "8080"}, []string{`--addr "8080" is not host:port`}},
		{"base url without scheme", Config{BaseURL: "kiln.example.com"}, []string{"--base-url"}},
		{"base url with credentials", Config{BaseURL: "https://u:p@kiln.example.com"}, []string{"--base-url"}},
		{"base url with query", Config{BaseURL: "https://kiln.example.com/?next=//evil"}, []string{"--base-url"}},
		{"base url javascript", Config{BaseURL: "javascript:alert(1)"}, []string{"--base-url"}},
		{"proxies", Config{TrustedProxies: []string{"not-an-address"}}, []string{"--trusted-proxies"}},
		{"no-api on sqlite", Config{NoAPI: true}, []string{"--no-api needs --database-url"}},
		{"not postgres", Config{DatabaseURL: "mysql://x"}, []string{"postgres:// or postgresql://"}},
		{"postgres without keys", Config{DatabaseURL: pg}, []string{"KILN_TOKEN_KEY_FILE (or KILN_TOKEN_KEY) and KILN_SECRETS_KEY_FILE"}},
		{"postgres without secrets key", Config{DatabaseURL: pg, TokenKey: "k"}, []string{"set KILN_SECRETS_KEY_FILE (or KILN_SECRETS_KEY) to a file"}},
		{"negative durations", Config{UnknownTokenRefresh: -1, ShutdownTimeout: -time.Second, TaskLease: -time.Second},
			[]string{"--unknown-token-refresh is -1ns", "--shutdown-timeout is -1s", "--task-lease is -1s"}},
		{"short lease", Config{TaskLease: 500 * time.Millisecond}, []string{"--task-lease is 500ms; it must be at least 1s"}},
		{"runs", Config{MaxConcurrentRuns: -1, TaskMaxOutput: -1}, []string{"--max-concurrent-runs is -1", "--task-max-output must be positive"}},
		{"keep task dirs", Config{KeepTaskDirs: "some"}, []string{`--keep-task-dirs is "some"`}},
		{"sso", Config{BaseURL: "https://kiln.example.com", PasswordLogin: "admins",
			SSO: SSOConfig{Issuer: "https://login.example.com", ClientID: "kiln", SyncGroups: true}}, nil},
		{"sso on loopback http", Config{BaseURL: "http://127.0.0.1:8080", SSO: SSOConfig{Issuer: "http://127.0.0.1:5556/dex", ClientID: "kiln"}}, nil},
		{"sso without base url", Config{SSO: SSOConfig{Issuer: "https://login.example.com", ClientID: "kiln"}}, []string{"single sign-on needs --base-url"}},
		{"sso over http", Config{BaseURL: "https://kiln.example.com", SSO: SSOConfig{Issuer: "http://login.example.com", ClientID: "kiln"}},
			[]string{"--oidc-issuer \"http://login.example.com\" must use https"}},
		{"sso without client id", Config{BaseURL: "https://kiln.example.com", SSO: SSOConfig{Issuer: "https://login.example.com"}},
			[]string{"--oidc-client-id is required"}},
		{"sso settings without issuer", Config{SSO: SSOConfig{ClientID: "kiln", CreateUsers: true}}, []string{"need --oidc-issuer"}},
		{"password login off without sso", Config{PasswordLogin: "none"}, []string{"--password-login none needs single sign-on"}},
		{"password login value", Config{PasswordLogin: "some"}, []string{`--password-login is "some"`}},
		{"everything at once", Config{TLSCert: "c.pem", TrustedProxies: []string{"x"}, NoAPI: true, KeepTaskDirs: "x"},
			[]string{"--tls-cert", "--trusted-proxies", "--no-api", "--keep-task-dirs"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("Validate = %v, want a *ConfigError", err)
			}
			if len(ce.Problems) != len(c.want) {
				t.Fatalf("problems %q, want %d of them", ce.Problems, len(c.want))
			}
			for i, w := range c.want {
				if !strings.Contains(ce.Problems[i], w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, ce.Problems[i], w)
				}
			}
			if len(c.want) > 1 && !strings.Contains(err.Error(), "problems:\n  - ") {
				t.Errorf("several problems are not listed one per line: %q", err)
			}
		})
	}
}

// TestDefaultsFillZeroes: every defaulted field of a zero Config gets its
// Default constant, and set values stay.
func TestDefaultsFillZeroes(t *testing.T) {
	var c Config
	c.defaults()
	if c.Addr != DefaultAddr || c.DataDir != DefaultDataDir || c.PollInterval != DefaultPollInterval ||
		c.ShutdownTimeout != DefaultShutdownTimeout || c.AuditFlushInterval != DefaultAuditFlushInterval ||
		c.AuthFailureRate != DefaultAuthFailureRate || c.AuthFailureBurst != DefaultAuthFailureBurst ||
		c.MaxConcurrentRuns != DefaultMaxConcurrentRuns || c.MaxQueuedRunsPerUser != DefaultMaxQueuedRunsPerUser ||
		c.TaskLease != DefaultTaskLease || c.TaskMaxOutput != DefaultTaskMaxOutput || c.Log == nil {
		t.Errorf("defaults: %+v", c)
	}
	if c.UnknownTokenRefresh != 0 {
		t.Errorf("a zero UnknownTokenRefresh is off, got %v", c.UnknownTokenRefresh)
	}
	set := Config{Addr: "127.0.0.1:1", MaxQueuedRunsPerUser: -1, AuthFailureBurst: -1}
	set.defaults()
	if set.Addr != "127.0.0.1:1" || set.MaxQueuedRunsPerUser != -1 || set.AuthFailureBurst != -1 {
		t.Errorf("set values changed: %+v", set)
	}
}
