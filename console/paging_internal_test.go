package console

import (
	"net/url"
	"testing"
)

func TestPagingParams(t *testing.T) {
	for q, want := range map[string]pageRequest{
		"":                    {1, listPageSize},
		"page=3":              {3, listPageSize},
		"page=0":              {1, listPageSize},
		"page=-1":             {1, listPageSize},
		"page=x":              {1, listPageSize},
		"page=1e3":            {1, listPageSize},
		"page=12345678901":    {1, listPageSize},
		"size=10&page=2":      {2, 10},
		"size=0":              {1, 1},
		"size=-5":             {1, 1},
		"size=201":            {1, maxListPageSize},
		"size=999999999999":   {1, listPageSize},
		"size=ten":            {1, listPageSize},
		"page=2&page=9&size=": {2, listPageSize},
	} {
		v, _ := url.ParseQuery(q)
		if got := readPage(v); got != want {
			t.Errorf("%q: %+v, want %+v", q, got, want)
		}
	}
	p := pageRequest{Page: 7, Size: 10}
	if !p.clamp(25) || p.Page != 3 || p.Offset() != 20 {
		t.Errorf("clamp to the last of 25 rows: %+v", p)
	}
	if p := (pageRequest{Page: 1, Size: 10}); p.clamp(0) || p.lastPage(0) != 1 {
		t.Errorf("an empty list has one page")
	}
	pg := newPager("users", "/admin/users", url.Values{"owner": {"a&b"}, "empty": {""}}, pageRequest{Page: 2, Size: 10}, 25, 10)
	if pg.Prev != "/admin/users?owner=a%26b&size=10" || pg.Next != "/admin/users?owner=a%26b&page=3&size=10" || pg.Status() != "Page 2 of 3 · users 11–20 of 25" {
		t.Errorf("pager %+v, %q", pg, pg.Status())
	}
	if pg := newPager("users", "/admin/users", nil, pageRequest{Page: 1, Size: listPageSize}, 0, 0); pg.Prev != "" || pg.Next != "" || pg.Status() != "Page 1 of 1" {
		t.Errorf("empty pager %+v", pg)
	}
}
