package client_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-dev/kiln/client"
)

const (
	tokA = "dapi0123456789abcdef0123456789abcdef"
	tokB = "dapiffffffffffffffffffffffffffffffff"
)

const profiles = `; a comment
[DEFAULT]
host  = https://default.example.com
token = ` + tokA + `

[ci]
host: http://127.0.0.1:8080/
token = "` + tokB + `"
http_timeout_seconds = 5

[nohost]
token = ` + tokA + `

[notoken]
host = https://x.example.com

[badhost]
host = kiln.example.com
token = ` + tokA + `
`

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	main := write("databrickscfg", profiles)
	settings := write("settings", "[__settings__]\ndefault_profile = ci\n\n[ci]\nhost = https://ci.example.com\ntoken = "+tokB+"\n")
	badSettings := write("badsettings", "[__settings__]\ndefault_profile = gone\n[a]\nhost=https://a\n")
	noDefault := write("nodefault", "[a]\nhost = https://a.example.com\ntoken = "+tokA+"\n")
	implicit := write("implicit", "host = https://implicit.example.com\ntoken = "+tokA+"\n[other]\nhost=https://o\n")
	malformed := write("malformed", "[DEFAULT]\nhost = https://x\ntoken "+tokA+"\n")
	unreadable := filepath.Join(dir, "adir")
	os.Mkdir(unreadable, 0o700)

	tests := []struct {
		name    string
		profile string
		env     map[string]string
		// want
		host, token, prof string
		errHas            string
		configErr         bool
	}{
		{name: "default profile", env: map[string]string{"DATABRICKS_CONFIG_FILE": main}, host: "https://default.example.com", token: tokA, prof: "DEFAULT"},
		{name: "named profile, quoted token, trailing slash", profile: "ci", env: map[string]string{"DATABRICKS_CONFIG_FILE": main}, host: "http://127.0.0.1:8080", token: tokB, prof: "ci"},
		{name: "profile from env", env: map[string]string{"DATABRICKS_CONFIG_FILE": main, "DATABRICKS_CONFIG_PROFILE": "ci"}, host: "http://127.0.0.1:8080", token: tokB, prof: "ci"},
		{name: "flag wins over env profile", profile: "DEFAULT", env: map[string]string{"DATABRICKS_CONFIG_FILE": main, "DATABRICKS_CONFIG_PROFILE": "ci"}, host: "https://default.example.com", token: tokA, prof: "DEFAULT"},
		{name: "env host and token skip the file", env: map[string]string{"DATABRICKS_CONFIG_FILE": malformed, "DATABRICKS_HOST": "https://env.example.com", "DATABRICKS_TOKEN": tokB}, host: "https://env.example.com", token: tokB},
		{name: "env host alone skips the file", env: map[string]string{"DATABRICKS_CONFIG_FILE": main, "DATABRICKS_HOST": "https://env.example.com"},
			errHas: "no token configured for https://env.example.com: DATABRICKS_HOST is set, and credentials from the environment make kiln (like the Databricks SDKs) ignore " + main + ` (its profile "DEFAULT" has a token); set DATABRICKS_TOKEN too, or name the profile with -p (or DATABRICKS_CONFIG_PROFILE)`, configErr: true},
		{name: "env token alone skips the file", env: map[string]string{"DATABRICKS_CONFIG_FILE": settings, "DATABRICKS_TOKEN": tokA},
			errHas: `no host configured: DATABRICKS_TOKEN is set, and credentials from the environment make kiln (like the Databricks SDKs) ignore ` + settings + ` (its profile "ci" has a host); set DATABRICKS_HOST too, or name the profile with -p`, configErr: true},
		{name: "env token alone, no file", env: map[string]string{"DATABRICKS_CONFIG_FILE": filepath.Join(dir, "none"), "DATABRICKS_TOKEN": tokA},
			errHas: `ignore ` + filepath.Join(dir, "none") + `; set DATABRICKS_HOST too`, configErr: true},
		{name: "env overrides a named profile", profile: "ci", env: map[string]string{"DATABRICKS_CONFIG_FILE": main, "DATABRICKS_HOST": "https://env.example.com"}, host: "https://env.example.com", token: tokB, prof: "ci"},
		{name: "env token overrides a named profile", profile: "ci", env: map[string]string{"DATABRICKS_CONFIG_FILE": main, "DATABRICKS_TOKEN": tokA}, host: "http://127.0.0.1:8080", token: tokA, prof: "ci"},
		{name: "settings default_profile", env: map[string]string{"DATABRICKS_CONFIG_FILE": settings}, host: "https://ci.example.com", token: tokB, prof: "ci"},
		{name: "settings default_profile missing", env: map[string]string{"DATABRICKS_CONFIG_FILE": badSettings}, errHas: `default_profile "gone"`, configErr: true},
		{name: "keys before any section are DEFAULT", env: map[string]string{"DATABRICKS_CONFIG_FILE": implicit}, host: "https://implicit.example.com", token: tokA, prof: "DEFAULT"},
		{name: "no DEFAULT profile", env: map[string]string{"DATABRICKS_CONFIG_FILE": noDefault}, errHas: "has no DEFAULT profile; pick one with --profile (profiles: a)", configErr: true},
		{name: "unknown profile", profile: "nope", env: map[string]string{"DATABRICKS_CONFIG_FILE": main}, errHas: `profile "nope" is not in`, configErr: true},
		{name: "__settings__ is not a profile", profile: "__settings__", env: map[string]string{"DATABRICKS_CONFIG_FILE": settings}, errHas: `profile "__settings__" is not in`, configErr: true},
		{name: "missing file, no profile", env: map[string]string{"DATABRICKS_CONFIG_FILE": filepath.Join(dir, "none")}, errHas: "no host configured: run `kiln configure --token`", configErr: true},
		{name: "missing file, named profile", profile: "ci", env: map[string]string{"DATABRICKS_CONFIG_FILE": filepath.Join(dir, "none")}, errHas: `profile "ci" not found:`, configErr: true},
		{name: "malformed file", env: map[string]string{"DATABRICKS_CONFIG_FILE": malformed}, errHas: "is malformed at line 3", configErr: true},
		{name: "unreadable file", env: map[string]string{"DATABRICKS_CONFIG_FILE": unreadable}, errHas: "cannot read", configErr: true},
		{name: "profile without host", profile: "nohost", env: map[string]string{"DATABRICKS_CONFIG_FILE": main}, errHas: `profile "nohost" in`, configErr: true},
		{name: "profile without token", profile: "notoken", env: map[string]string{"DATABRICKS_CONFIG_FILE": main}, errHas: "no token configured for https://x.example.com", configErr: true},
		{name: "host without scheme", profile: "badhost", env: map[string]string{"DATABRICKS_CONFIG_FILE": main}, errHas: `host "kiln.example.com" has no scheme: write https://kiln.example.com`, configErr: true},
		{name: "env host with a path", env: map[string]string{"DATABRICKS_HOST": "https://kiln.example.com/api/2.0", "DATABRICKS_TOKEN": tokA}, errHas: "has a path: use just https://kiln.example.com (from DATABRICKS_HOST)", configErr: true},
		{name: "token with a space", env: map[string]string{"DATABRICKS_HOST": "https://k.example.com", "DATABRICKS_TOKEN": "dapi 123"}, errHas: "the token from DATABRICKS_TOKEN contains spaces", configErr: true},
		{name: "home expansion", env: map[string]string{"DATABRICKS_CONFIG_FILE": "~/cfg"}, errHas: "no host configured", configErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := client.LoadConfig(client.LoadOptions{
				Profile: tt.profile, HomeDir: dir,
				Getenv: func(k string) string { return tt.env[k] },
			})
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.errHas)
				}
				var ce *client.ConfigError
				if tt.configErr && !errors.As(err, &ce) {
					t.Fatalf("err is %T, want *client.ConfigError", err)
				}
				if strings.Contains(err.Error(), tokA) || strings.Contains(err.Error(), tokB) {
					t.Fatalf("error message leaks the token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Host != tt.host || cfg.Token != tt.token || cfg.Profile != tt.prof {
				t.Fatalf("got host %q token %q profile %q, want %q %q %q", cfg.Host, cfg.Token, cfg.Profile, tt.host, tt.token, tt.prof)
			}
		})
	}
}

func TestNormalizeHost(t *testing.T) {
	tests := []struct{ in, want, errHas string }{
		{in: "https://kiln.example.com", want: "https://kiln.example.com"},
		{in: "HTTPS://kiln.example.com/", want: "https://kiln.example.com"},
		{in: "http://127.0.0.1:8080", want: "http://127.0.0.1:8080"},
		{in: " http://[::1]:8080/ ", want: "http://[::1]:8080"},
		{in: "kiln.example.com", errHas: "has no scheme"},
		{in: "127.0.0.1:8080", errHas: "has no scheme"},
		{in: "ftp://kiln.example.com", errHas: "must start with https://"},
		{in: "https://kiln.example.com/api/2.0", errHas: "has a path: use just https://kiln.example.com"},
		{in: "https://kiln.example.com/?o=123", errHas: "has a path"},
		{in: "https://user:pw@kiln.example.com", errHas: "must not contain a user name"},
		{in: "https://", errHas: "has no server name"},
		{in: "", errHas: "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := client.NormalizeHost(tt.in)
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("err = %v, want %q", err, tt.errHas)
				}
				if strings.Contains(err.Error(), "pw") {
					t.Fatalf("error leaks the password: %v", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
