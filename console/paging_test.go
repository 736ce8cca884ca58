package console_test

// Paging of the console's long lists, over loopback against a real kiln.

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/kilntest"
	"github.com/kiln-dev/kiln/service"
)

// TestListPaging creates more users, service principals and tokens than a
// page holds and walks their lists with Next and Previous, with the
// default page size and a chosen one; bad and out-of-range parameters
// show a page, never an error.
func TestListPaging(t *testing.T) {
	e := startEnv(t)
	e.EnableTokens(t)
	admin := e.sessionFor(e.admin)
	for i := range 60 {
		e.newUser(t, fmt.Sprintf("u%02d@example.com", i))
	}
	// 61 users with the admin, ordered by id (ids are random).
	rows := func(body string) int { return strings.Count(body, ">Set password</a>") }
	emails := regexp.MustCompile(`<td data-label="Email">([^<]+?)[ <]`)
	seen := map[string]int{}
	see := func(body string) {
		for _, m := range emails.FindAllStringSubmatch(body, -1) {
			seen[m[1]]++
		}
	}

	t.Run("Users", func(t *testing.T) {
		p := e.get(t, "/admin/users", admin)
		if p.Status != http.StatusOK || rows(p.Body) != 50 {
			t.Fatalf("page 1: %d, %d users, want 50", p.Status, rows(p.Body))
		}
		mustContain(t, p.Body, "Page 1 of 2 · users 1–50 of 61", `aria-label="Pages of users"`,
			`href="/admin/users?page=2" rel="next" aria-label="Next page of users">Next</a>`)
		mustNotContain(t, p.Body, "Previous page of users")
		see(p.Body)

		p = e.get(t, "/admin/users?page=2", admin)
		if rows(p.Body) != 11 {
			t.Errorf("page 2 lists %d users, want 11", rows(p.Body))
		}
		mustContain(t, p.Body, "Page 2 of 2 · users 51–61 of 61",
			`href="/admin/users" rel="prev" aria-label="Previous page of users">Previous</a>`)
		mustNotContain(t, p.Body, "Next page of users")
		see(p.Body)
		// The two pages hold every user once.
		if len(seen) != 61 || seen[kilntest.AdminEmail] != 1 || seen["u00@example.com"] != 1 || seen["u59@example.com"] != 1 {
			t.Errorf("pages 1 and 2 list %d users: %v", len(seen), seen)
		}
		for u, n := range seen {
			if n != 1 {
				t.Errorf("%s is on %d pages", u, n)
			}
		}

		// A chosen size, kept in the links.
		p = e.get(t, "/admin/users?size=20&page=2", admin)
		if rows(p.Body) != 20 {
			t.Errorf("size 20, page 2: %d users", rows(p.Body))
		}
		mustContain(t, p.Body, "Page 2 of 4 · users 21–40 of 61", `href="/admin/users?size=20"`, `href="/admin/users?page=3&amp;size=20"`)

		// Out of range: the last page; bad: page 1, or the size's bound.
		for q, want := range map[string]string{
			"?page=3":                "Page 2 of 2",
			"?page=999999999":        "Page 2 of 2",
			"?page=9999999999999999": "Page 1 of 2",
			"?page=0":                "Page 1 of 2",
			"?page=-4":               "Page 1 of 2",
			"?page=two":              "Page 1 of 2",
			"?page=1.5":              "Page 1 of 2",
			"?page=%00":              "Page 1 of 2",
			"?size=x&page=2":         "Page 2 of 2",
			"?size=0":                "Page 1 of 61",
			"?size=-10&page=61":      "Page 61 of 61",
			"?size=100000":           "",
			"?size=61&page=2":        "",
		} {
			p := e.get(t, "/admin/users"+q, admin)
			if p.Status != http.StatusOK {
				t.Errorf("%s: %d", q, p.Status)
				continue
			}
			if want == "" {
				// One page: no pager, every user.
				if rows(p.Body) != 61 || strings.Contains(p.Body, `class="pages"`) {
					t.Errorf("%s: %d users, pager %v", q, rows(p.Body), strings.Contains(p.Body, `class="pages"`))
				}
				continue
			}
			mustContain(t, p.Body, want+" ·")
		}
	})

	t.Run("ServicePrincipals", func(t *testing.T) {
		for i := range 3 {
			if _, err := e.Svc().CreatePrincipal(kilntest.Offline(), service.NewPrincipal{Kind: kiln.KindServicePrincipal, DisplayName: fmt.Sprintf("robot-%d", i)}); err != nil {
				t.Fatal(err)
			}
		}
		// The names each row shows, once per row.
		robots := func(body string) []string {
			var names []string
			for _, m := range regexp.MustCompile(`<td data-label="Display name">(robot-\d)</td>`).FindAllStringSubmatch(body, -1) {
				names = append(names, m[1])
			}
			return names
		}
		p := e.get(t, "/admin/service-principals?size=2", admin)
		mustContain(t, p.Body, "Page 1 of 2 · service principals 1–2 of 3",
			`href="/admin/service-principals?page=2&amp;size=2" rel="next" aria-label="Next page of service principals"`)
		first := robots(p.Body)
		p = e.get(t, "/admin/service-principals?size=2&page=2", admin)
		mustContain(t, p.Body, "Page 2 of 2 · service principals 3–3 of 3", "Previous page of service principals")
		all := append(first, robots(p.Body)...)
		sort.Strings(all)
		if fmt.Sprint(all) != "[robot-0 robot-1 robot-2]" {
			t.Errorf("the two pages list %v", all)
		}
		// The default size: one page, no pager.
		p = e.get(t, "/admin/service-principals", admin)
		mustContain(t, p.Body, "robot-0", "robot-2")
		mustNotContain(t, p.Body, `class="pages"`)
	})

	t.Run("Tokens", func(t *testing.T) {
		owner, err := e.Svc().PrincipalByName(kilntest.Offline(), "u07@example.com")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for range 12 {
			ids = append(ids, e.NewToken(t, owner.UserName, 0).Info.ID)
		}
		e.NewToken(t, kilntest.AdminEmail, 0)
		tokenRows := func(body string) int { return strings.Count(body, `<td data-label="Comment">`) }

		// User Settings, Access Tokens: the user's own, over three pages.
		revokes := regexp.MustCompile(`/settings/tokens/([0-9a-f]{64})/revoke`)
		seen := map[string]int{}
		me := e.sessionFor(owner)
		for page, want := range map[int]string{1: "Page 1 of 3 · tokens 1–5 of 12", 2: "Page 2 of 3 · tokens 6–10 of 12", 3: "Page 3 of 3 · tokens 11–12 of 12"} {
			p := e.get(t, fmt.Sprintf("/settings?size=5&page=%d", page), me)
			if n := tokenRows(p.Body); n != min(5, 12-(page-1)*5) {
				t.Errorf("Access Tokens page %d lists %d tokens", page, n)
			}
			mustContain(t, p.Body, want)
			ids := map[string]bool{}
			for _, m := range revokes.FindAllStringSubmatch(p.Body, -1) {
				ids[m[1]] = true
			}
			for id := range ids {
				seen[id]++
			}
		}
		for _, id := range ids {
			if seen[id] != 1 {
				t.Errorf("token %s is on %d pages", id[:8], seen[id])
			}
		}
		p := e.get(t, "/settings?size=5", me)
		mustContain(t, p.Body, `href="/settings?page=2&amp;size=5" rel="next" aria-label="Next page of tokens"`)
		p = e.get(t, "/settings?size=5&page=3", me)
		mustContain(t, p.Body, `href="/settings?page=2&amp;size=5" rel="prev" aria-label="Previous page of tokens"`)
		if p := e.get(t, "/settings?size=5&page=40", me); !strings.Contains(p.Body, "Page 3 of 3") {
			t.Error("Access Tokens past the end is not the last page")
		}
		if p := e.get(t, "/settings", me); tokenRows(p.Body) != 12 || strings.Contains(p.Body, `class="pages"`) {
			t.Errorf("Access Tokens at the default size: %d tokens", tokenRows(p.Body))
		}

		// The admin Tokens tab: every token, and by owner, the filter kept.
		p = e.get(t, "/admin/tokens?size=10", admin)
		mustContain(t, p.Body, "Page 1 of 2 · tokens 1–10 of 13")
		p = e.get(t, "/admin/tokens?owner=u07%40example.com&size=5&page=2", admin)
		if tokenRows(p.Body) != 5 {
			t.Errorf("Tokens, by owner, page 2 lists %d tokens, want 5", tokenRows(p.Body))
		}
		mustContain(t, p.Body, "Page 2 of 3 · tokens 6–10 of 12",
			`href="/admin/tokens?owner=u07%40example.com&amp;size=5" rel="prev"`,
			`href="/admin/tokens?owner=u07%40example.com&amp;page=3&amp;size=5" rel="next"`)
		if p := e.get(t, "/admin/tokens?page=zzz", admin); p.Status != http.StatusOK || strings.Contains(p.Body, `class="pages"`) {
			t.Errorf("Tokens with a bad page: %d", p.Status)
		}
	})
}
