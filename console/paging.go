package console

// Paging of the console's long lists (Users, Service Principals, Access
// Tokens, the admin Tokens tab), by page number in the URL: ?page=N, and
// ?size=M for another page size than listPageSize. The address of a page
// is stable, so it can be bookmarked, shared and reloaded, and the lists
// page on the server, through the service (the store's own limit and
// offset where it has them), never in a template.
//
// Query parameters are never an error: a page that is not a positive
// number is page 1, a page past the end is the last page, and a size out
// of bounds is the nearest bound (or the default, when it is not a
// number), so a hand-edited or stale address still shows a list.

import (
	"fmt"
	"net/url"
	"strconv"
)

const (
	// listPageSize is how many rows a page lists unless ?size= says.
	listPageSize = 50
	// maxListPageSize bounds ?size=.
	maxListPageSize = 200
)

// pageRequest is the page a request asks for, already bounded.
type pageRequest struct {
	Page, Size int
}

// Offset is the number of rows before the page.
func (p pageRequest) Offset() int { return (p.Page - 1) * p.Size }

// readPage reads ?page= and ?size=, bounded. The page is not yet checked
// against the end of the list: pagerFor does that once the total is
// known.
func readPage(q url.Values) pageRequest {
	p := pageRequest{Page: 1, Size: listPageSize}
	if s := q.Get("size"); s != "" && len(s) <= 9 {
		if n, err := strconv.Atoi(s); err == nil {
			p.Size = min(max(n, 1), maxListPageSize)
		}
	}
	if s := q.Get("page"); s != "" && len(s) <= 9 {
		if n, err := strconv.Atoi(s); err == nil && n >= 1 {
			p.Page = n
		}
	}
	return p
}

// lastPage is the number of the last page of total rows (1 when there
// are none).
func (p pageRequest) lastPage(total int) int {
	return max(1, (total+p.Size-1)/p.Size)
}

// clamp moves a page past the end of total rows to the last page, and
// reports whether it moved.
func (p *pageRequest) clamp(total int) bool {
	if last := p.lastPage(total); p.Page > last {
		p.Page = last
		return true
	}
	return false
}

// pager is the Previous / Next navigation of a list, for the "pager"
// template.
type pager struct {
	// What the list holds, in the links' accessible names ("users").
	What        string
	Page, Pages int
	// First and Last number the rows shown, of Total.
	First, Last, Total int
	// Prev and Next are the addresses of the neighbouring pages, empty at
	// either end.
	Prev, Next string
}

// newPager describes page p of a list of total rows at path; keep are
// the list's other query parameters (a filter), carried into its links.
func newPager(what, path string, keep url.Values, p pageRequest, total, shown int) *pager {
	pg := &pager{What: what, Page: p.Page, Pages: p.lastPage(total), Total: total}
	if shown > 0 {
		pg.First = p.Offset() + 1
		pg.Last = p.Offset() + shown
	}
	link := func(n int) string {
		v := url.Values{}
		for k, vs := range keep {
			if len(vs) > 0 && vs[0] != "" {
				v.Set(k, vs[0])
			}
		}
		if n > 1 {
			v.Set("page", strconv.Itoa(n))
		}
		if p.Size != listPageSize {
			v.Set("size", strconv.Itoa(p.Size))
		}
		if len(v) == 0 {
			return path
		}
		return path + "?" + v.Encode()
	}
	if p.Page > 1 {
		pg.Prev = link(p.Page - 1)
	}
	if p.Page < pg.Pages {
		pg.Next = link(p.Page + 1)
	}
	return pg
}

// Status is the line beside the links: "Page 2 of 3 · users 51–100 of 120".
func (p *pager) Status() string {
	if p.Total == 0 {
		return fmt.Sprintf("Page %d of %d", p.Page, p.Pages)
	}
	return fmt.Sprintf("Page %d of %d · %s %d–%d of %d", p.Page, p.Pages, p.What, p.First, p.Last, p.Total)
}
