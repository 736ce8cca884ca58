package api_test

import (
	"testing"

	"github.com/kiln-dev/kiln/kilntest"
	"github.com/kiln-dev/kiln/service"
)

func serviceParams() service.CreateTokenParams { return service.CreateTokenParams{} }

// statusCase is one request and the status it must get.
type statusCase struct {
	name, token, method, path, body string // body "" sends none
	want                            int
}

// checkStatuses sends each case as a subtest and checks its status.
func checkStatuses(t *testing.T, e *kilntest.Env, cases []statusCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b any
			if c.body != "" {
				b = c.body
			}
			if r := e.Do(t, c.method, c.path, c.token, b); r.Status != c.want {
				t.Fatalf("status %d, want %d: %s", r.Status, c.want, r.Body)
			}
		})
	}
}
