package api

import (
	"slices"
	"strings"
	"testing"

	"github.com/kiln-dev/kiln"
)

// TestSCIMFilterGrammar runs filters over three principals: each row is a
// filter and the user names it selects, or the start of the 400 it gets.
func TestSCIMFilterGrammar(t *testing.T) {
	ps := []*kiln.Principal{
		{ID: 10, UserName: "go-sdk-a@example.com", DisplayName: "Go SDK A", Active: true, ExternalID: "X1"},
		{ID: 20, UserName: "jane@example.com", DisplayName: "Jane O'Neil", Active: false, GivenName: "Jane"},
		{ID: 30, UserName: "bob@corp.example", DisplayName: "", Active: true},
	}
	for _, tt := range []struct {
		filter string
		want   string // user names, comma separated, in id order
		err    string // the start of the error message
	}{
		{filter: ``, want: "go-sdk-a@example.com,jane@example.com,bob@corp.example"},
		{filter: `userName eq "JANE@example.com"`, want: "jane@example.com"},
		{filter: `userName eq 'jane@example.com'`, want: "jane@example.com"},
		{filter: `USERNAME EQ "jane@example.com"`, want: "jane@example.com"},
		{filter: `urn:ietf:params:scim:schemas:core:2.0:User:userName eq "jane@example.com"`, want: "jane@example.com"},
		{filter: `displayName sw 'go-sdk-'`, want: ""},
		{filter: `displayName sw 'go sdk'`, want: "go-sdk-a@example.com"},
		{filter: `userName sw 'go-sdk-'`, want: "go-sdk-a@example.com"},
		{filter: `userName ew ".example"`, want: "bob@corp.example"},
		{filter: `userName co "EXAMPLE.com"`, want: "go-sdk-a@example.com,jane@example.com"},
		{filter: `userName ne "jane@example.com"`, want: "go-sdk-a@example.com,bob@corp.example"},
		{filter: `displayName eq 'Jane O\'Neil'`, want: "jane@example.com"},
		{filter: `displayName eq "Jane O'Neil"`, want: "jane@example.com"},
		{filter: `displayName pr`, want: "go-sdk-a@example.com,jane@example.com"},
		{filter: `displayName eq null`, want: "bob@corp.example"},
		{filter: `not (displayName pr)`, want: "bob@corp.example"},
		{filter: `active eq true`, want: "go-sdk-a@example.com,bob@corp.example"},
		{filter: `active ne TRUE`, want: "jane@example.com"},
		{filter: `userName gt "c"`, want: "go-sdk-a@example.com,jane@example.com"},
		{filter: `userName ge "jane@example.com"`, want: "jane@example.com"},
		{filter: `userName lt "c"`, want: "bob@corp.example"},
		{filter: `userName le "bob@corp.example"`, want: "bob@corp.example"},
		{filter: `id gt 15`, want: "jane@example.com,bob@corp.example"},
		{filter: `id le "20"`, want: "go-sdk-a@example.com,jane@example.com"},
		{filter: `id eq "30"`, want: "bob@corp.example"},
		{filter: `externalId eq "X1"`, want: "go-sdk-a@example.com"},
		{filter: `externalId eq "x1"`, want: ""}, // case-exact
		{filter: `name.givenName eq "jane"`, want: "jane@example.com"},
		{filter: `emails.value co "corp"`, want: "bob@corp.example"},
		{filter: `active eq true and userName co "example.com"`, want: "go-sdk-a@example.com"},
		{filter: `active eq false or userName sw "bob"`, want: "jane@example.com,bob@corp.example"},
		// and binds tighter than or.
		{filter: `userName sw "go" or userName sw "jane" and active eq true`, want: "go-sdk-a@example.com"},
		{filter: `(userName sw "go" or userName sw "jane") and active eq false`, want: "jane@example.com"},
		{filter: `not (userName sw "go" or userName sw "jane")`, want: "bob@corp.example"},
		{filter: `not not (id eq 10)`, want: "go-sdk-a@example.com"},
		{filter: "  userName\teq\n\"bob@corp.example\"  ", want: "bob@corp.example"},

		{filter: `userName`, err: `Invalid filter "userName": expected an operator`},
		{filter: `userName eq`, err: `Invalid filter "userName eq": expected a value`},
		{filter: `userName eq "x`, err: `Invalid filter "userName eq \"x": the string at position 13 is not closed`},
		{filter: `userName eq 'x`, err: `Invalid filter`},
		{filter: `userName like "x"`, err: `Invalid filter "userName like \"x\"": expected an operator`},
		{filter: `eq "x"`, err: `Invalid filter "eq \"x\"": expected an attribute`},
		{filter: `(userName pr`, err: `Invalid filter "(userName pr": expected ")"`},
		{filter: `userName pr)`, err: `Invalid filter "userName pr)": unexpected ")" at position 12`},
		{filter: `userName pr and`, err: `Invalid filter "userName pr and": expected an attribute`},
		{filter: `userName eq "a" "b"`, err: `Invalid filter`},
		{filter: `userName eq bare`, err: `Invalid filter "userName eq bare": expected a value`},
		{filter: `userName eq "\q"`, err: `Invalid filter`},
		{filter: `userName = "a"`, err: `Invalid filter "userName = \"a\"": unexpected character '='`},
		{filter: strings.Repeat("(", 40) + "userName pr" + strings.Repeat(")", 40), err: "Invalid filter"},
		{filter: strings.Repeat("not ", 100) + "userName pr", err: "Invalid filter"},
		{filter: `userName eq "` + strings.Repeat("a", maxFilterLen) + `"`, err: "Invalid filter: longer than"},
		{filter: `title eq "x"`, err: `Unsupported filter attribute "title" for Users: use id, userName, displayName, externalId, active, name.givenName, name.familyName, emails.value.`},
		{filter: `applicationId eq "x"`, err: `Unsupported filter attribute "applicationid"`},
		{filter: `active eq "yes"`, err: `Invalid filter: active is true or false`},
		{filter: `active co true`, err: `Invalid filter: active is true or false`},
		{filter: `userName eq true`, err: `Invalid filter: compare userName with a quoted string.`},
		{filter: `userName gt 5`, err: `Invalid filter: compare userName with a quoted string.`},
	} {
		t.Run(tt.filter, func(t *testing.T) {
			e, err := parseSCIMFilter(tt.filter)
			var match func(*kiln.Principal) bool
			if err == nil {
				match, err = compileFilter(e, userFilterAttrs, "Users", principalAttrOrder)
			}
			if tt.err != "" {
				if err == nil || !strings.HasPrefix(kiln.ErrorMessage(err), tt.err) || !kiln.IsCode(err, kiln.EInvalid) {
					t.Fatalf("got error %v, want one starting %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range ps {
				if match(p) {
					got = append(got, p.UserName)
				}
			}
			if g := strings.Join(got, ","); g != tt.want {
				t.Fatalf("selects %q, want %q", g, tt.want)
			}
		})
	}
}

// TestSCIMSortKey orders by each kind of attribute.
func TestSCIMSortKey(t *testing.T) {
	ps := []*kiln.Principal{
		{ID: 100, UserName: "b@x", DisplayName: "beta", Active: true},
		{ID: 9, UserName: "C@x", DisplayName: "Alpha"},
		{ID: 20, UserName: "a@x", DisplayName: "gamma", Active: true},
	}
	for _, tt := range []struct{ sortBy, want string }{
		{"userName", "a@x,b@x,C@x"},
		{"DISPLAYNAME", "C@x,b@x,a@x"},
		{"id", "C@x,a@x,b@x"}, // numerically
		{"active", "C@x,b@x,a@x"},
	} {
		cmp, err := sortKey(tt.sortBy, userFilterAttrs, "Users", principalAttrOrder)
		if err != nil {
			t.Fatal(err)
		}
		sorted := append([]*kiln.Principal(nil), ps...)
		slices.SortStableFunc(sorted, cmp)
		var got []string
		for _, p := range sorted {
			got = append(got, p.UserName)
		}
		if g := strings.Join(got, ","); g != tt.want {
			t.Errorf("sortBy %s: %s, want %s", tt.sortBy, g, tt.want)
		}
	}
	if _, err := sortKey("title", userFilterAttrs, "Users", principalAttrOrder); !kiln.IsCode(err, kiln.EInvalid) {
		t.Fatalf("unknown sortBy: %v", err)
	}
}
