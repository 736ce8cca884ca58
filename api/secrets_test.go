package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/kilntest"
	"github.com/kiln-dev/kiln/server"
)

const sec = "/api/2.0/secrets/"

// secretValues are the plaintexts of the test; no response and no
// database file may contain them, raw or base64.
var secretValues = [][]byte{[]byte("s3cr3t-VALUE-7f9a2c"), {0xde, 0xad, 0xbe, 0xef, 0x00, 0x42, 0x13, 0x37, 0x99}}

// noValues fails if b contains a secret value in any form the API could
// render it.
func noValues(t *testing.T, what string, b []byte) {
	t.Helper()
	for _, v := range secretValues {
		for _, form := range [][]byte{v, []byte(base64.StdEncoding.EncodeToString(v)), []byte(base64.RawStdEncoding.EncodeToString(v))} {
			if bytes.Contains(b, form) {
				t.Fatalf("%s contains a secret value: %q", what, b)
			}
		}
	}
}

func scopeNames(t *testing.T, r kilntest.Response) []string {
	t.Helper()
	var l struct {
		Scopes []struct {
			Name        string `json:"name"`
			BackendType string `json:"backend_type"`
		} `json:"scopes"`
	}
	if err := json.Unmarshal(r.Body, &l); err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, s := range l.Scopes {
		if s.BackendType != "DATABRICKS" {
			t.Errorf("scope %s: backend_type %q", s.Name, s.BackendType)
		}
		names = append(names, s.Name)
	}
	return names
}

func TestSecrets(t *testing.T) {
	e, admin, alice, bob := wsEnv(t)
	// Every response of this test is checked for secret values.
	do := func(method, path, tok string, body any) kilntest.Response {
		t.Helper()
		r := e.Do(t, method, path, tok, body)
		noValues(t, method+" "+path, r.Body)
		noValues(t, method+" "+path+" headers", []byte(strings.Join(r.Header.Values("X-Databricks-Reason-Phrase"), "")))
		return r
	}

	ok(t, do("POST", sec+"scopes/create", alice, map[string]any{"scope": "etl"}), "create scope")
	ok(t, do("POST", sec+"scopes/create", alice, map[string]any{"scope": "team", "initial_manage_principal": "users"}), "create shared scope")
	wantError(t, do("POST", sec+"scopes/create", bob, map[string]any{"scope": "etl"}), 409, "RESOURCE_ALREADY_EXISTS", "already exists")
	if got := scopeNames(t, ok(t, do("GET", sec+"scopes/list", bob, nil), "list scopes")); !slices.Equal(got, []string{"etl", "team"}) {
		t.Errorf("scopes: %v", got)
	}

	ok(t, do("POST", sec+"put", alice, map[string]any{"scope": "etl", "key": "db-password", "string_value": string(secretValues[0])}), "put string")
	ok(t, do("POST", sec+"put", alice, map[string]any{"scope": "etl", "key": "blob", "bytes_value": base64.StdEncoding.EncodeToString(secretValues[1])}), "put bytes")
	ok(t, do("POST", sec+"put", bob, map[string]any{"scope": "team", "key": "shared", "string_value": string(secretValues[0])}), "bob puts in the users scope")

	r := ok(t, do("GET", sec+"list?scope=etl", alice, nil), "list")
	var l struct {
		Secrets []struct {
			Key                  string `json:"key"`
			LastUpdatedTimestamp int64  `json:"last_updated_timestamp"`
		} `json:"secrets"`
	}
	json.Unmarshal(r.Body, &l)
	if len(l.Secrets) != 2 || l.Secrets[0].Key != "blob" || l.Secrets[1].Key != "db-password" || l.Secrets[0].LastUpdatedTimestamp < 1e12 {
		t.Errorf("list: %s", r.Body)
	}

	// Permissions: bob has nothing on etl; admins manage everything.
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"GET", sec + "list?scope=etl", nil},
		{"POST", sec + "put", map[string]any{"scope": "etl", "key": "x", "string_value": "v"}},
		{"POST", sec + "delete", map[string]any{"scope": "etl", "key": "blob"}},
		{"POST", sec + "scopes/delete", map[string]any{"scope": "etl"}},
	} {
		wantError(t, do(c.method, c.path, bob, c.body), 403, "PERMISSION_DENIED", "permission on scope etl")
	}
	ok(t, do("GET", sec+"list?scope=etl", admin, nil), "admin lists")
	ok(t, do("GET", sec+"list", alice, map[string]any{"scope": "team"}), "alice lists the users scope (JSON body on GET)")

	// No endpoint returns a value, secrets/get included, for anyone.
	for _, tok := range []string{admin, alice} {
		wantError(t, do("GET", sec+"get?scope=etl&key=db-password", tok, nil), 403, "PERMISSION_DENIED", "not readable over the API")
	}

	// Values reach task runs only, through the service, with the run
	// owner's permissions.
	svc := e.Svc()
	aliceP, _ := svc.PrincipalByName(kilntest.Offline(), "alice@example.com")
	bobP, _ := svc.PrincipalByName(kilntest.Offline(), "bob@example.com")
	for _, c := range []struct {
		owner      int64
		scope, key string
		want       []byte
		code       kiln.Code
	}{
		{aliceP.ID, "etl", "db-password", secretValues[0], ""},
		{aliceP.ID, "etl", "blob", secretValues[1], ""},
		{aliceP.ID, "team", "shared", secretValues[0], ""},
		{bobP.ID, "team", "shared", secretValues[0], ""},
		{bobP.ID, "etl", "db-password", nil, kiln.EPermission},
		{aliceP.ID, "etl", "nope", nil, kiln.ENotFound},
		{aliceP.ID, "nope", "x", nil, kiln.ENotFound},
		{123, "etl", "db-password", nil, kiln.ENotFound},
	} {
		v, err := svc.SecretForRun(context.Background(), c.owner, c.scope, c.key)
		if kiln.ErrorCode(err) != c.code || !bytes.Equal(v, c.want) {
			t.Errorf("SecretForRun(%d, %s, %s): got %q, %v; want %q, code %q", c.owner, c.scope, c.key, v, err, c.want, c.code)
		}
	}

	// Nothing in the data directory holds a value in plaintext.
	files, _ := filepath.Glob(filepath.Join(e.DataDir, "kiln.db*"))
	if len(files) == 0 {
		t.Fatal("no database files")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		noValues(t, f, b)
	}

	// Validation.
	for _, c := range []struct {
		path string
		body map[string]any
		msg  string
	}{
		{"scopes/create", map[string]any{"scope": "bad scope"}, "invalid"},
		{"scopes/create", map[string]any{"scope": strings.Repeat("a", 129)}, "invalid"},
		{"scopes/create", map[string]any{"scope": "x", "initial_manage_principal": "admins"}, "initial_manage_principal"},
		{"scopes/create", map[string]any{"scope": "x", "scope_backend_type": "AZURE_KEYVAULT"}, "Azure Key Vault"},
		{"put", map[string]any{"scope": "etl", "key": "a/b", "string_value": "v"}, "invalid"},
		{"put", map[string]any{"scope": "etl", "key": "k"}, "value is required"},
		{"put", map[string]any{"scope": "etl", "key": "k", "string_value": "v", "bytes_value": "dg=="}, "not both"},
		{"put", map[string]any{"scope": "etl", "key": "k", "bytes_value": "%%"}, "base64"},
		{"put", map[string]any{"scope": "etl", "key": "k", "string_value": strings.Repeat("v", 128<<10+1)}, "limit"},
	} {
		wantError(t, do("POST", sec+c.path, alice, c.body), 400, "INVALID_PARAMETER_VALUE", c.msg)
	}
	wantError(t, do("POST", sec+"put", alice, map[string]any{"scope": "nope", "key": "k", "string_value": "v"}), 404, "RESOURCE_DOES_NOT_EXIST", "Scope nope does not exist")
	wantError(t, do("GET", sec+"list?scope=nope", alice, nil), 404, "RESOURCE_DOES_NOT_EXIST", "")

	// Deleting.
	ok(t, do("POST", sec+"delete", alice, map[string]any{"scope": "etl", "key": "blob"}), "delete secret")
	wantError(t, do("POST", sec+"delete", alice, map[string]any{"scope": "etl", "key": "blob"}), 404, "RESOURCE_DOES_NOT_EXIST", "")
	ok(t, do("POST", sec+"scopes/delete", admin, map[string]any{"scope": "team"}), "admin deletes a scope")
	ok(t, do("POST", sec+"scopes/delete", alice, map[string]any{"scope": "etl"}), "creator deletes a scope")
	wantError(t, do("POST", sec+"scopes/delete", alice, map[string]any{"scope": "etl"}), 404, "RESOURCE_DOES_NOT_EXIST", "")
	r = ok(t, do("GET", sec+"scopes/list", alice, nil), "list no scopes")
	if strings.TrimSpace(string(r.Body)) != "{}" {
		t.Errorf("empty scope list: %s", r.Body)
	}
}

func TestSecretsKeyIsCheckedAtStart(t *testing.T) {
	e := kilntest.Start(t)
	admin := e.AdminToken(t)
	ok(t, e.Do(t, "POST", sec+"scopes/create", admin, map[string]any{"scope": "s"}), "create scope")
	ok(t, e.Do(t, "POST", sec+"put", admin, map[string]any{"scope": "s", "key": "k", "string_value": "v"}), "put")
	st, err := os.Stat(server.SecretsKeyPath(e.DataDir))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secrets.key: %v, mode %v; want a 0600 file", err, st)
	}
	e.Stop()

	open := func(c server.Config) error {
		c.DataDir = e.DataDir
		p, err := server.OpenParts(context.Background(), c)
		if err == nil {
			p.DBFS.Close()
			p.Store.Close()
		}
		return err
	}
	other := strings.Repeat("ab", 32)
	if err := open(server.Config{SecretsKey: other}); err == nil || !strings.Contains(err.Error(), "secrets key") {
		t.Fatalf("start with another secrets key: got %v, want a refusal naming the secrets key", err)
	}
	// Without the key file, a new key would be made: refused as well.
	keyFile, _ := os.ReadFile(server.SecretsKeyPath(e.DataDir))
	os.Remove(server.SecretsKeyPath(e.DataDir))
	if err := open(server.Config{}); err == nil || !strings.Contains(err.Error(), "secrets key") {
		t.Fatalf("start with a lost key file: got %v, want a refusal", err)
	}
	// The original key, given as KILN_SECRETS_KEY would give it, works.
	if err := open(server.Config{SecretsKey: string(keyFile)}); err != nil {
		t.Fatalf("start with the original key: %v", err)
	}
}
