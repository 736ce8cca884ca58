package api

import (
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/kiln-dev/kiln"
)

// checkClientError fails unless err is nil or a client error with a safe
// message: a decoder must never produce an internal error.
func checkClientError(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	code := kiln.ErrorCode(err)
	if code != kiln.EInvalid && code != kiln.EMalformed {
		t.Fatalf("decoder returned %v (%s), want a 400", err, code)
	}
	if kiln.ErrorMessage(err) == "" {
		t.Fatal("empty message")
	}
}

// FuzzDecodeBodies feeds arbitrary bytes to every request body decoder.
func FuzzDecodeBodies(f *testing.F) {
	for _, s := range []string{
		`{"lifetime_seconds": "3600", "comment": "x"}`, `{"lifetime_seconds": 1e400}`, `{"token_id": 5}`,
		`{"token": {"comment": "x"}, "update_mask": "comment"}`, `{"access_control_list": [{"user_name": "a", "permission_level": "CAN_USE"}]}`,
		`{"Operations": [{"op": "add", "path": "members", "value": [{"value": "1"}]}]}`, `{"active": "True"}`, `null`, `[]`, `"`, `{"a":`,
		`{"job_id": "42", "new_settings": {"timeout_seconds": " 3600 ", "tasks": [{"max_retries": "1"}]}}`,
		`{"run_id": 1e400}`, `{"notebook_params": {"n": 5}, "python_params": [1, true]}`,
		`{"grace_seconds": "86400"}`, `{"grace_seconds": -1}`, `{"token_value": "dapi00", "revoke": "true"}`,
	} {
		f.Add([]byte(s))
	}
	// Spellings strconv takes for numbers but JSON does not, in a numeric
	// field at the top and deep down, and in a token lifetime.
	for _, bad := range notJSONNumbers {
		q := strconv.Quote(bad)
		f.Add([]byte(`{"job_id": ` + q + `}`))
		f.Add([]byte(`{"new_settings": {"tasks": [{"new_cluster": {"num_workers": ` + q + `}}]}}`))
		f.Add([]byte(`{"lifetime_seconds": ` + q + `}`))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var c createTokenRequest
		checkClientError(t, unmarshal(b, &c))
		var u updateTokenRequest
		checkClientError(t, unmarshal(b, &u))
		var rot rotateTokenRequest
		checkClientError(t, unmarshal(b, &rot))
		var look lookupRequest
		checkClientError(t, unmarshal(b, &look))
		var r scimResource
		checkClientError(t, unmarshal(b, &r))
		var p struct {
			Operations []patchOp `json:"Operations"`
		}
		if err := unmarshal(b, &p); err == nil {
			for _, k := range scimKinds {
				_, _, err := parsePatch(k, p.Operations)
				checkClientError(t, err)
			}
		} else {
			checkClientError(t, err)
		}
		var conf map[string]json.RawMessage
		checkClientError(t, unmarshal(b, &conf))
		canon, err := canonicalJSON(b)
		checkClientError(t, err)
		if err == nil && !json.Valid(canon) {
			t.Fatalf("canonicalJSON(%q) = %q, not JSON", b, canon)
		}
	})
}

// FuzzSCIMFilter checks the filter parser never panics, fails only with
// client errors, bounds the nesting of what it accepts, and that what it
// accepts compiles against every resource type or fails cleanly.
func FuzzSCIMFilter(f *testing.F) {
	for _, s := range []string{`userName eq "a@b.c"`, `displayName eq "x \" y"`, `userName co "a"`, `userName gt "a"`, `eq`, `a eq "`, `a.b eq "\u0000"`,
		`userName eq ""`, `displayName ne ""`, `applicationId co ""`, `userName sw ""`, ` userName EQ "" `,
		`displayName sw 'go-sdk-'`, `(userName pr) and not (active eq false) or id ge 5`, `not not not (a eq 'it\'s')`,
		`((((((((((((((((((((((((((((((((((x pr))))))))))))))))))))))))))))))))))`, `urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := parseSCIMFilter(s)
		checkClientError(t, err)
		if err != nil {
			return
		}
		if e == nil && strings.TrimSpace(s) != "" {
			t.Fatalf("accepted %q as no filter", s)
		}
		if d := filterDepth(e); d > 2*maxFilterDepth {
			t.Fatalf("accepted %q nested %d deep", s, d)
		}
		for _, as := range []scimAttrs[*kiln.Principal]{userFilterAttrs, spFilterAttrs} {
			match, err := compileFilter(e, as, "Users", principalAttrOrder)
			checkClientError(t, err)
			if err == nil {
				match(&kiln.Principal{ID: 1, UserName: "a@b.c", Active: true})
			}
		}
		if _, err := compileFilter(e, groupFilterAttrs, "Groups", groupAttrOrder); err != nil {
			checkClientError(t, err)
		}
	})
}

// filterDepth is the nesting depth of a parsed filter, not counting the
// left-leaning chains of one and/or level.
func filterDepth(e *filterExpr) int {
	if e == nil {
		return 0
	}
	d := 0
	for _, s := range e.sub {
		sd := filterDepth(s)
		if s.op != e.op || e.op == "not" {
			sd++
		}
		d = max(d, sd)
	}
	return d
}

// FuzzParams feeds arbitrary query strings and GET bodies to the parameter
// reader.
func FuzzParams(f *testing.F) {
	f.Add("keys=a,b&keys=c", `{"keys": "d"}`)
	f.Add("created_by_id=1&created_by_id=2", "")
	f.Add("?&=&", `[1]`)
	f.Fuzz(func(t *testing.T, query, body string) {
		r := httptest.NewRequest("GET", "/x", strings.NewReader(body))
		r.URL.RawQuery = query
		p, err := readParams(r)
		checkClientError(t, err)
		if err != nil {
			return
		}
		_, err = p.int("created_by_id", 0)
		checkClientError(t, err)
		_, err = p.get("keys")
		checkClientError(t, err)
		p.list("keys")
	})
}
