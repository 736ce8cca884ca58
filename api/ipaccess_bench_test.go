package api_test

import (
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/kiln-dev/kiln/kilntest"
	"github.com/kiln-dev/kiln/service"
)

// BenchmarkServeIPAccess is BenchmarkServe's /Me with IP access lists off
// and on. "on-small" has one allow list of the client's /24; "on-1000"
// holds Databricks' maximum of 1000 entries, the client matching only the
// last one (the worst case of the linear scan); "blocked" is a refused
// client. Compare with "off" to see what the check costs per request.
func BenchmarkServeIPAccess(b *testing.B) {
	const client = "192.0.2.1"
	for _, c := range []struct {
		name   string
		lists  [][]string // allow lists
		block  []string
		status int
	}{
		{"off", nil, nil, 200},
		{"on-small", [][]string{{"192.0.2.0/24"}}, nil, 200},
		{"on-1000", thousand(), nil, 200},
		{"blocked", [][]string{{"192.0.2.0/24"}}, []string{client}, 403},
	} {
		b.Run(c.name, func(b *testing.B) {
			e := kilntest.Start(b)
			tok := e.AdminToken(b)
			svc, ctx := e.Svc(), kilntest.Offline()
			for i, addrs := range c.lists {
				if _, err := svc.CreateIPAccessList(ctx, service.IPAccessListSpec{Label: fmt.Sprint("allow", i), ListType: "ALLOW", Addresses: addrs}); err != nil {
					b.Fatal(err)
				}
			}
			if c.block != nil {
				if _, err := svc.CreateIPAccessList(ctx, service.IPAccessListSpec{Label: "block", ListType: "BLOCK", Addresses: c.block}); err != nil {
					b.Fatal(err)
				}
			}
			if c.lists != nil {
				e.SetConf(b, map[string]string{"enableIpAccessLists": "true"})
			}
			h := e.Srv.Handler()
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest("GET", "/api/2.0/preview/scim/v2/Me", nil)
				r.RemoteAddr = client + ":1234"
				r.Header.Set("Authorization", "Bearer "+tok)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != c.status {
					b.Fatalf("status %d, want %d", w.Code, c.status)
				}
			}
		})
	}
}

// thousand returns ten allow lists of 100 entries, 1000 in all, of which
// only the last covers 192.0.2.1.
func thousand() [][]string {
	var lists [][]string
	for l := range 10 {
		var addrs []string
		for i := range 100 {
			addrs = append(addrs, fmt.Sprintf("10.%d.%d.0/24", l, i))
		}
		lists = append(lists, addrs)
	}
	lists[9][99] = "192.0.2.0/24"
	return lists
}
