package api

import (
	"io"
	"net/http/httptest"
	"testing"

	"github.com/kiln-dev/kiln"
)

func BenchmarkRenderMe(b *testing.B) {
	p := &kiln.Principal{ID: 1234567890123456, Kind: kiln.KindUser, UserName: "jane@example.com", DisplayName: "Jane", Active: true,
		Groups: []kiln.GroupRef{{ID: 1, Name: "admins"}, {ID: 2, Name: "users"}}}
	r := httptest.NewRequest("GET", "/api/2.0/preview/scim/v2/Me", nil)
	pr, _ := readParams(r)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		writeJSON(w, 200, projectAttributes(renderPrincipal(p), pr))
		io.Discard.Write(w.Body.Bytes())
	}
}
