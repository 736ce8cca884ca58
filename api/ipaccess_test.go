package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/kilntest"
	"github.com/kiln-dev/kiln/server"
)

const ipl = "/api/2.0/ip-access-lists"

type ipListInfo struct {
	ListID       string   `json:"list_id"`
	Label        string   `json:"label"`
	ListType     string   `json:"list_type"`
	IPAddresses  []string `json:"ip_addresses"`
	AddressCount int      `json:"address_count"`
	Enabled      bool     `json:"enabled"`
	CreatedAt    int64    `json:"created_at"`
	CreatedBy    int64    `json:"created_by"`
	UpdatedAt    int64    `json:"updated_at"`
	UpdatedBy    int64    `json:"updated_by"`
}

// behindProxy sends a request from a client at addr through the test's
// proxy (the test process, at 127.0.0.1); addr "" sends none.
func behindProxy(t *testing.T, e *kilntest.Env, method, path, tok, addr string, body any) kilntest.Response {
	t.Helper()
	h := http.Header{}
	if tok != "" {
		h.Set("Authorization", "Bearer "+tok)
	}
	if addr != "" {
		h.Set("X-Forwarded-For", addr)
	}
	return e.DoHeaders(t, method, path, body, h)
}

func createIPList(t *testing.T, e *kilntest.Env, tok, addr, label, typ string, ips ...string) ipListInfo {
	t.Helper()
	r := ok(t, behindProxy(t, e, "POST", ipl, tok, addr, map[string]any{"label": label, "list_type": typ, "ip_addresses": ips}), "create "+label)
	var resp struct {
		IPAccessList ipListInfo `json:"ip_access_list"`
	}
	if err := json.Unmarshal(r.Body, &resp); err != nil {
		t.Fatal(err)
	}
	return resp.IPAccessList
}

func getIPList(t *testing.T, e *kilntest.Env, tok, id string) ipListInfo {
	t.Helper()
	return getIPListFrom(t, e, tok, "", id)
}

func TestIPAccessListsCRUD(t *testing.T) {
	e, admin, alice, _ := wsEnv(t)
	adminID := mustPrincipal(t, e, kilntest.AdminEmail)

	before := time.Now().UnixMilli()
	l := createIPList(t, e, admin, "", "office", "ALLOW", "192.0.2.1", "198.51.100.0/24")
	if l.ListID == "" || l.Label != "office" || l.ListType != "ALLOW" || !slices.Equal(l.IPAddresses, []string{"192.0.2.1", "198.51.100.0/24"}) ||
		l.AddressCount != 2 || !l.Enabled || l.CreatedBy != adminID || l.UpdatedBy != adminID ||
		l.CreatedAt < before || l.UpdatedAt != l.CreatedAt {
		t.Fatalf("created: %+v", l)
	}
	if got := getIPList(t, e, admin, l.ListID); !slices.Equal(got.IPAddresses, l.IPAddresses) || got.CreatedAt != l.CreatedAt {
		t.Errorf("get: %+v, want %+v", got, l)
	}
	b := createIPList(t, e, admin, "", "bad actors", "BLOCK", "203.0.113.0/24")

	var listed struct {
		Lists []ipListInfo `json:"ip_access_lists"`
	}
	if err := json.Unmarshal(ok(t, e.Do(t, "GET", ipl, admin, nil), "list").Body, &listed); err != nil {
		t.Fatal(err)
	}
	if len(listed.Lists) != 2 || listed.Lists[0].ListID != l.ListID || listed.Lists[1].ListID != b.ListID {
		t.Fatalf("list: %+v", listed.Lists)
	}

	// PATCH changes only what it names.
	ok(t, e.Do(t, "PATCH", ipl+"/"+l.ListID, admin, map[string]any{"label": "hq", "enabled": false}), "update")
	u := getIPList(t, e, admin, l.ListID)
	if u.Label != "hq" || u.Enabled || u.ListType != "ALLOW" || !slices.Equal(u.IPAddresses, l.IPAddresses) || u.CreatedAt != l.CreatedAt || u.UpdatedAt < l.UpdatedAt {
		t.Errorf("after update: %+v", u)
	}

	// PUT replaces everything.
	ok(t, e.Do(t, "PUT", ipl+"/"+l.ListID, admin, map[string]any{"label": "vpn", "list_type": "BLOCK", "ip_addresses": []string{"10.0.0.0/8"}, "enabled": true}), "replace")
	rp := getIPList(t, e, admin, l.ListID)
	if rp.Label != "vpn" || rp.ListType != "BLOCK" || !slices.Equal(rp.IPAddresses, []string{"10.0.0.0/8"}) || rp.AddressCount != 1 || !rp.Enabled {
		t.Errorf("after replace: %+v", rp)
	}

	ok(t, e.Do(t, "DELETE", ipl+"/"+l.ListID, admin, nil), "delete")
	wantError(t, e.Do(t, "GET", ipl+"/"+l.ListID, admin, nil), 404, "RESOURCE_DOES_NOT_EXIST", "")
	wantError(t, e.Do(t, "DELETE", ipl+"/"+l.ListID, admin, nil), 404, "RESOURCE_DOES_NOT_EXIST", "")
	wantError(t, e.Do(t, "PATCH", ipl+"/"+l.ListID, admin, map[string]any{"label": "x"}), 404, "RESOURCE_DOES_NOT_EXIST", "")

	// Admins only, reads included.
	for _, c := range []struct{ method, path string }{{"GET", ipl}, {"GET", ipl + "/" + b.ListID}, {"POST", ipl}, {"DELETE", ipl + "/" + b.ListID}} {
		wantError(t, e.Do(t, c.method, c.path, alice, map[string]any{"label": "x", "list_type": "ALLOW", "ip_addresses": []string{"192.0.2.1"}}), 403, "PERMISSION_DENIED", "")
	}

	// Every change is audited.
	var audit struct {
		Events []struct {
			Action string            `json:"action"`
			Target string            `json:"target"`
			Detail map[string]string `json:"detail"`
		} `json:"events"`
	}
	if err := json.Unmarshal(ok(t, e.Do(t, "GET", "/api/kiln/v1/audit?limit=1000", admin, nil), "audit").Body, &audit); err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, ev := range audit.Events {
		if strings.HasPrefix(ev.Action, "ip_access_list.") && ev.Target == "ip_access_list:"+l.ListID {
			actions = append(actions, ev.Action)
			if ev.Detail["label"] == "" || ev.Detail["ip_addresses"] == "" {
				t.Errorf("audit %s: detail %v names no list", ev.Action, ev.Detail)
			}
		}
	}
	if want := []string{"ip_access_list.delete", "ip_access_list.replace", "ip_access_list.update", "ip_access_list.create"}; !slices.Equal(actions, want) {
		t.Errorf("audit of list %s: %v, want %v", l.ListID, actions, want)
	}
}

func mustPrincipal(t *testing.T, e *kilntest.Env, name string) int64 {
	t.Helper()
	var p *kiln.Principal
	err := e.Srv.Store.View(context.Background(), func(tx kiln.Tx) error {
		var err error
		p, err = tx.PrincipalByName(name)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return p.ID
}

func TestIPAccessListsValidation(t *testing.T) {
	e := kilntest.Start(t)
	admin := e.AdminToken(t)
	l := createIPList(t, e, admin, "", "office", "ALLOW", "192.0.2.1")
	many := make([]string, 1001)
	for i := range many {
		many[i] = "10.0." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256)
	}
	for _, c := range []struct {
		name, method, path string
		body               any
		status             int
		code, msg          string
	}{
		{"BadCIDR", "POST", ipl, map[string]any{"label": "x", "list_type": "ALLOW", "ip_addresses": []string{"192.0.2.0/33"}}, 400, "INVALID_PARAMETER_VALUE", `"192.0.2.0/33"`},
		{"NotAnAddress", "POST", ipl, map[string]any{"label": "x", "list_type": "ALLOW", "ip_addresses": []string{"192.0.2.1", "office"}}, 400, "INVALID_PARAMETER_VALUE", `"office"`},
		{"Range", "POST", ipl, map[string]any{"label": "x", "list_type": "ALLOW", "ip_addresses": []string{"192.0.2.1-192.0.2.9"}}, 400, "INVALID_PARAMETER_VALUE", "Invalid IP address or CIDR"},
		{"EmptyList", "POST", ipl, map[string]any{"label": "x", "list_type": "ALLOW", "ip_addresses": []string{}}, 400, "INVALID_PARAMETER_VALUE", "at least one"},
		{"NoAddresses", "POST", ipl, map[string]any{"label": "x", "list_type": "ALLOW"}, 400, "INVALID_PARAMETER_VALUE", "at least one"},
		{"UnknownType", "POST", ipl, map[string]any{"label": "x", "list_type": "DENY", "ip_addresses": []string{"192.0.2.1"}}, 400, "INVALID_PARAMETER_VALUE", "ALLOW or BLOCK"},
		{"LowercaseType", "POST", ipl, map[string]any{"label": "x", "list_type": "allow", "ip_addresses": []string{"192.0.2.1"}}, 400, "INVALID_PARAMETER_VALUE", "ALLOW or BLOCK"},
		{"NoType", "POST", ipl, map[string]any{"label": "x", "ip_addresses": []string{"192.0.2.1"}}, 400, "INVALID_PARAMETER_VALUE", "list_type"},
		{"NoLabel", "POST", ipl, map[string]any{"list_type": "ALLOW", "ip_addresses": []string{"192.0.2.1"}}, 400, "INVALID_PARAMETER_VALUE", "label"},
		{"BlankLabel", "POST", ipl, map[string]any{"label": " ", "list_type": "ALLOW", "ip_addresses": []string{"192.0.2.1"}}, 400, "INVALID_PARAMETER_VALUE", "label"},
		{"AddressesNotStrings", "POST", ipl, map[string]any{"label": "x", "list_type": "ALLOW", "ip_addresses": []int{1}}, 400, "", ""},
		{"TooMany", "POST", ipl, map[string]any{"label": "x", "list_type": "BLOCK", "ip_addresses": many}, 400, "QUOTA_EXCEEDED", "1000"},
		{"UpdateBadCIDR", "PATCH", ipl + "/" + l.ListID, map[string]any{"ip_addresses": []string{"300.1.1.1"}}, 400, "INVALID_PARAMETER_VALUE", `"300.1.1.1"`},
		{"UpdateEmptyList", "PATCH", ipl + "/" + l.ListID, map[string]any{"ip_addresses": []string{}}, 400, "INVALID_PARAMETER_VALUE", "at least one"},
		{"UpdateUnknownType", "PATCH", ipl + "/" + l.ListID, map[string]any{"list_type": "GREY"}, 400, "INVALID_PARAMETER_VALUE", "ALLOW or BLOCK"},
		{"ReplaceWithoutEnabled", "PUT", ipl + "/" + l.ListID, map[string]any{"label": "x", "list_type": "ALLOW", "ip_addresses": []string{"192.0.2.1"}}, 400, "INVALID_PARAMETER_VALUE", "enabled"},
		{"ReplaceUnknownType", "PUT", ipl + "/" + l.ListID, map[string]any{"label": "x", "list_type": "X", "ip_addresses": []string{"192.0.2.1"}, "enabled": true}, 400, "INVALID_PARAMETER_VALUE", "ALLOW or BLOCK"},
		{"ReplaceMissing", "PUT", ipl + "/nope", map[string]any{"label": "x", "list_type": "ALLOW", "ip_addresses": []string{"192.0.2.1"}, "enabled": true}, 404, "RESOURCE_DOES_NOT_EXIST", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.Do(t, c.method, c.path, admin, c.body)
			if c.code == "" {
				if r.Status != c.status {
					t.Fatalf("got %d %s, want %d", r.Status, r.Body, c.status)
				}
				return
			}
			wantError(t, r, c.status, c.code, c.msg)
		})
	}
	// Nothing above changed the list.
	if got := getIPList(t, e, admin, l.ListID); got.Label != "office" || !slices.Equal(got.IPAddresses, []string{"192.0.2.1"}) {
		t.Errorf("list changed by refused requests: %+v", got)
	}
	// Accepted forms: IPv6, host bits in a CIDR, spaces around.
	createIPList(t, e, admin, "", "v6", "BLOCK", "2001:db8::/32", "2001:db8::1", "192.0.2.7/24", " 192.0.2.8 ")
}

// ipEnforcedEnv starts a kiln behind a trusted proxy at 127.0.0.1 (the
// test) with lists that allow 198.51.100.0/24 and block 198.51.100.66,
// enforced.
func ipEnforcedEnv(t *testing.T) (e *kilntest.Env, admin string, allow, block ipListInfo) {
	t.Helper()
	e = kilntest.Start(t, kilntest.WithConfig(func(c *server.Config) { c.TrustedProxies = []string{"127.0.0.1"} }))
	admin = e.AdminToken(t)
	allow = createIPList(t, e, admin, "", "office", "ALLOW", "198.51.100.0/24")
	block = createIPList(t, e, admin, "", "stolen laptop", "BLOCK", "198.51.100.66")
	ok(t, behindProxy(t, e, "PATCH", "/api/2.0/workspace-conf", admin, "198.51.100.7", map[string]string{"enableIpAccessLists": "true"}), "enable")
	return e, admin, allow, block
}

func TestIPAccessListsEnforced(t *testing.T) {
	e, admin, _, _ := ipEnforcedEnv(t)
	const me = "/api/2.0/preview/scim/v2/Me"
	for _, c := range []struct {
		name, method, path, addr string
		status                   int
	}{
		{"AllowedAPI", "GET", me, "198.51.100.7", 200},
		{"AllowedThroughProxyChain", "GET", me, "203.0.113.1, 198.51.100.7", 200},
		{"BlockedBeatsAllowed", "GET", me, "198.51.100.66", 403},
		{"OutsideEveryAllowList", "GET", me, "192.0.2.99", 403},
		{"ProxyItselfNotAllowed", "GET", me, "", 403},
		{"SpoofedLeftmostIgnored", "GET", me, "198.51.100.7, 192.0.2.99", 403},
		{"UnauthenticatedRefusedToo", "GET", "/.well-known/databricks-config", "192.0.2.99", 403},
		{"ConsoleRefused", "GET", "/login", "192.0.2.99", 403},
		{"ConsoleAllowed", "GET", "/login", "198.51.100.7", 200},
		{"HealthzExempt", "GET", "/healthz", "192.0.2.99", 200},
		{"ReadyzExempt", "GET", "/readyz", "198.51.100.66", 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			tok := admin
			if !strings.HasPrefix(c.path, "/api/") {
				tok = ""
			}
			r := behindProxy(t, e, c.method, c.path, tok, c.addr, nil)
			if c.status != 403 {
				if r.Status != c.status {
					t.Fatalf("got %d %s, want %d", r.Status, r.Body, c.status)
				}
				return
			}
			client := c.addr
			if i := strings.LastIndex(client, ","); i >= 0 {
				client = strings.TrimSpace(client[i+1:])
			}
			if client == "" {
				client = "127.0.0.1"
			}
			wantError(t, r, 403, "403", "Source IP address: "+client+" is blocked by Databricks IP ACL for workspace: ")
		})
	}

	// Switching the lists off (from an admitted address) admits everyone
	// on the next request.
	ok(t, behindProxy(t, e, "PATCH", "/api/2.0/workspace-conf", admin, "198.51.100.7", map[string]string{"enableIpAccessLists": "false"}), "disable")
	ok(t, behindProxy(t, e, "GET", me, admin, "192.0.2.99", nil), "after disabling")
}

func TestIPAccessListsUntrustedForwardedForIgnored(t *testing.T) {
	e := kilntest.Start(t) // trusts no proxy
	admin := e.AdminToken(t)
	createIPList(t, e, admin, "", "local", "ALLOW", "127.0.0.1")
	createIPList(t, e, admin, "", "spoofed", "BLOCK", "198.51.100.7")
	ok(t, e.Do(t, "PATCH", "/api/2.0/workspace-conf", admin, map[string]string{"enableIpAccessLists": "true"}), "enable")
	// The header names a blocked address, and another outside the allow
	// list: neither counts, the peer (127.0.0.1) does.
	for _, addr := range []string{"198.51.100.7", "192.0.2.99"} {
		ok(t, behindProxy(t, e, "GET", "/api/2.0/preview/scim/v2/Me", admin, addr, nil), "X-Forwarded-For "+addr)
	}
}

func TestIPAccessListsLockoutRefused(t *testing.T) {
	e, admin, allow, _ := ipEnforcedEnv(t)
	const msg = "Your current IP 198.51.100.7 will not be allowed to access the workspace under current configuration"
	// A second allow list, without the caller: with it, losing the first
	// would lock the caller out (with no allow list at all, everyone not
	// blocked is admitted).
	other := createIPList(t, e, admin, "198.51.100.7", "other office", "ALLOW", "192.0.2.0/24")
	for _, c := range []struct {
		name, method, path string
		body               any
	}{
		{"CreateBlock", "POST", ipl, map[string]any{"label": "me", "list_type": "BLOCK", "ip_addresses": []string{"198.51.100.0/28"}}},
		{"UpdateDisablesMyAllow", "PATCH", ipl + "/" + allow.ListID, map[string]any{"enabled": false}},
		{"UpdateTurnsMyAllowToBlock", "PATCH", ipl + "/" + allow.ListID, map[string]any{"list_type": "BLOCK"}},
		{"ReplaceDropsMe", "PUT", ipl + "/" + allow.ListID, map[string]any{"label": "x", "list_type": "ALLOW", "ip_addresses": []string{"192.0.2.0/24"}, "enabled": true}},
		{"DeleteMyAllow", "DELETE", ipl + "/" + allow.ListID, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, behindProxy(t, e, c.method, c.path, admin, "198.51.100.7", c.body), 400, "INVALID_STATE", msg)
		})
	}
	if got := getIPListFrom(t, e, admin, "198.51.100.7", allow.ListID); !got.Enabled || got.ListType != "ALLOW" {
		t.Fatalf("a refused change was applied: %+v", got)
	}
	// The same change from an address the result still admits goes through.
	if r := behindProxy(t, e, "PATCH", ipl+"/"+other.ListID, admin, "198.51.100.7", map[string]any{"enabled": false}); r.Status != 200 {
		t.Fatalf("disabling the other office's list: %d %s", r.Status, r.Body)
	}
	ok(t, behindProxy(t, e, "PATCH", ipl+"/"+other.ListID, admin, "198.51.100.7", map[string]any{"enabled": true}), "re-enable")
	ok(t, behindProxy(t, e, "PATCH", ipl+"/"+allow.ListID, admin, "192.0.2.10", map[string]any{"enabled": false}), "disable from the other office")

	// Enabling the feature is refused when the lists would refuse the caller.
	ok(t, behindProxy(t, e, "PATCH", "/api/2.0/workspace-conf", admin, "192.0.2.10", map[string]string{"enableIpAccessLists": "false"}), "disable feature")
	wantError(t, behindProxy(t, e, "PATCH", "/api/2.0/workspace-conf", admin, "198.51.100.7", map[string]string{"enableIpAccessLists": "true"}), 400, "INVALID_STATE", msg)
	// With the feature off, lists may exclude the caller (they do nothing yet).
	ok(t, behindProxy(t, e, "DELETE", ipl+"/"+other.ListID, admin, "198.51.100.7", nil), "delete while off")
	// Offline administration has no address and is never refused.
	if err := e.Svc().SetConf(kilntest.Offline(), map[string]string{"enableIpAccessLists": "true"}); err != nil {
		t.Fatalf("offline enable: %v", err)
	}
}

func getIPListFrom(t *testing.T, e *kilntest.Env, tok, addr, id string) ipListInfo {
	t.Helper()
	r := ok(t, behindProxy(t, e, "GET", ipl+"/"+id, tok, addr, nil), "get "+id)
	var resp struct {
		IPAccessList ipListInfo `json:"ip_access_list"`
	}
	if err := json.Unmarshal(r.Body, &resp); err != nil {
		t.Fatal(err)
	}
	return resp.IPAccessList
}

// A change written by another process (kiln admin, another replica)
// applies within the poll interval.
func TestIPAccessListsOtherProcessChangeApplies(t *testing.T) {
	e, admin, _, _ := ipEnforcedEnv(t)
	const me = "/api/2.0/preview/scim/v2/Me"
	ok(t, behindProxy(t, e, "GET", me, admin, "198.51.100.9", nil), "before")
	err := e.Srv.Store.Update(context.Background(), func(tx kiln.Tx) error {
		if err := tx.CreateIPAccessList(&kiln.IPAccessList{ID: "elsewhere", Label: "x", ListType: kiln.IPBlock, Addresses: []string{"198.51.100.9"}, Enabled: true}); err != nil {
			return err
		}
		return tx.Notify(kiln.ChangeIPAccessList, "elsewhere")
	})
	if err != nil {
		t.Fatal(err)
	}
	kilntest.Eventually(t, 5*time.Second, "the other process's block list applies", func() bool {
		return behindProxy(t, e, "GET", me, admin, "198.51.100.9", nil).Status == 403
	})
}

func TestConfKeysByType(t *testing.T) {
	e := kilntest.Start(t)
	admin := e.AdminToken(t)
	const conf = "/api/2.0/workspace-conf"
	for _, c := range []struct {
		name   string
		kv     map[string]string
		status int
		msg    string
	}{
		{"BoolTrue", map[string]string{"enableWebTerminal": "true"}, 200, ""},
		{"BoolMixedCase", map[string]string{"enableDbfsFileBrowser": "FALSE"}, 200, ""},
		{"HyphenatedKey", map[string]string{"enable-X-Frame-Options": "false"}, 200, ""},
		{"Several", map[string]string{"enableVerboseAuditLogs": "true", "enforceUserIsolation": "true", "enableGp3": "false", "mlflowRunArtifactDownloadEnabled": "true"}, 200, ""},
		{"StringKey", map[string]string{"projectsAllowList": "https://github.com/acme/,https://gitlab.example.com/"}, 200, ""},
		{"ResetToDefault", map[string]string{"enableWebTerminal": ""}, 200, ""},
		{"BadBool", map[string]string{"enableExportNotebook": "yes"}, 400, `Some values are not allowed: {"enableExportNotebook":"yes"}`},
		{"BadBoolAmongGood", map[string]string{"enableUploadDataUis": "true", "enableDcs": "1"}, 400, "enableDcs must be"},
		{"BadInt", map[string]string{"maxTokenLifetimeDays": "ninety"}, 400, "maxTokenLifetimeDays"},
		{"UnknownKey", map[string]string{"enableTimeTravel": "true"}, 400, `Invalid keys: ["enableTimeTravel"]`},
		{"UnknownAmongKnown", map[string]string{"enableWebTerminal": "true", "nope": "x"}, 400, `Invalid keys: ["nope"]`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.Do(t, "PATCH", conf, admin, c.kv)
			if c.status == 200 {
				ok(t, r, "set")
				return
			}
			wantError(t, r, 400, "INVALID_PARAMETER_VALUE", c.msg)
		})
	}
	// Read back verbatim; never-set keys answer their default; "" reset.
	got := ok(t, e.Do(t, "GET", conf+q("keys", "enableDbfsFileBrowser,enableWebTerminal,enableExportNotebook,enableIpAccessLists,projectsAllowList,enableResultsDownloading"), admin, nil), "get").JSON(t)
	want := map[string]any{"enableDbfsFileBrowser": "FALSE", "enableWebTerminal": "true", "enableExportNotebook": "true",
		"enableIpAccessLists": "false", "projectsAllowList": "https://github.com/acme/,https://gitlab.example.com/", "enableResultsDownloading": "true"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %v, want %v", k, got[k], v)
		}
	}
	wantError(t, e.Do(t, "GET", conf+q("keys", "enableWebTerminal,bogus"), admin, nil), 400, "INVALID_PARAMETER_VALUE", `Invalid keys: ["bogus"]`)
}

func TestConfEnableExportNotebook(t *testing.T) {
	e, admin, alice, _ := wsEnv(t)
	for _, o := range []map[string]any{
		{"path": "/Shared/nb", "format": "SOURCE", "language": "PYTHON", "content": base64.StdEncoding.EncodeToString([]byte("print(1)\n"))},
		{"path": "/Shared/data.txt", "format": "RAW", "content": base64.StdEncoding.EncodeToString([]byte("x"))},
	} {
		ok(t, importJSON(t, e, admin, o), "import")
	}
	ok(t, e.Do(t, "GET", ws+"export"+q("path", "/Shared/nb"), alice, nil), "export while allowed")
	e.SetConf(t, map[string]string{"enableExportNotebook": "false"})
	for _, tok := range []string{admin, alice} {
		wantError(t, e.Do(t, "GET", ws+"export"+q("path", "/Shared/nb", "format", "SOURCE"), tok, nil), 403, "PERMISSION_DENIED", "Exporting notebooks is disabled")
		wantError(t, e.Do(t, "GET", ws+"export"+q("path", "/Shared/nb", "direct_download", "true"), tok, nil), 403, "PERMISSION_DENIED", "")
		ok(t, e.Do(t, "GET", ws+"export"+q("path", "/Shared/data.txt"), tok, nil), "a file is not a notebook")
	}
	e.SetConf(t, map[string]string{"enableExportNotebook": "TRUE"})
	ok(t, e.Do(t, "GET", ws+"export"+q("path", "/Shared/nb"), alice, nil), "export allowed again")
}
