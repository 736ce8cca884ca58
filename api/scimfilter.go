package api

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln"
)

// The SCIM filter grammar kiln accepts: the subset of RFC 7644, section
// 3.4.2.2, that Databricks accepts.
//
//	filter  = or
//	or      = and *("or" and)
//	and     = unary *("and" unary)
//	unary   = "not" unary / "(" filter ")" / attrExp
//	attrExp = attrPath "pr" / attrPath compareOp value
//	compareOp = eq / ne / co / sw / ew / gt / ge / lt / le
//	value   = "…" (JSON escapes) / '…' (\' and \\) / true / false / null / number
//
// Keywords, operators and attribute names are case-insensitive; an
// attribute may carry its schema URN (urn:…:User:userName). Filters are
// bounded in length and nesting, so that a hostile one costs little.
const (
	maxFilterLen   = 4096
	maxFilterDepth = 64
)

// filterExpr is one node of a parsed filter.
type filterExpr struct {
	op    string        // and, or, not, or a comparison operator (lower case)
	attr  string        // comparisons: the attribute, lower case, URN stripped
	value filterValue   // comparisons other than pr
	sub   []*filterExpr // and, or: two; not: one
}

// filterValue is a comparison's literal.
type filterValue struct {
	kind byte // 's' string, 'b' boolean, 'n' number, '0' null
	s    string
	b    bool
}

// filterError is the one error of a filter that cannot be parsed.
func filterError(filter, format string, args ...any) error {
	return kiln.Errorf(kiln.EInvalid, "Invalid filter %.80q: %s.", filter, fmt.Sprintf(format, args...))
}

// parseSCIMFilter parses filter; an empty one is nil, which matches
// everything.
func parseSCIMFilter(filter string) (*filterExpr, error) {
	if strings.TrimSpace(filter) == "" {
		return nil, nil
	}
	if len(filter) > maxFilterLen {
		return nil, kiln.Errorf(kiln.EInvalid, "Invalid filter: longer than %d bytes.", maxFilterLen)
	}
	toks, err := lexFilter(filter)
	if err != nil {
		return nil, err
	}
	p := &filterParser{src: filter, toks: toks}
	e, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, filterError(filter, "unexpected %s at position %d", t.describe(), t.pos+1)
	}
	return e, nil
}

type tokKind byte

const (
	tokEOF tokKind = iota
	tokWord
	tokString
	tokLParen
	tokRParen
)

type filterToken struct {
	kind tokKind
	text string // words as written; strings unquoted
	pos  int
}

func (t filterToken) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of filter"
	case tokString:
		return fmt.Sprintf("string %.40q", t.text)
	case tokLParen:
		return `"("`
	case tokRParen:
		return `")"`
	}
	return fmt.Sprintf("%.40q", t.text)
}

// isWordByte is a byte of an attribute path, keyword, operator or bare
// literal (numbers, true, false, null).
func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '_' || c == '-' || c == ':' || c == '$' || c == '+'
}

func lexFilter(src string) ([]filterToken, error) {
	var toks []filterToken
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			toks = append(toks, filterToken{kind: tokLParen, pos: i})
			i++
		case c == ')':
			toks = append(toks, filterToken{kind: tokRParen, pos: i})
			i++
		case c == '"' || c == '\'':
			s, n, err := lexString(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, filterToken{kind: tokString, text: s, pos: i})
			i += n
		case isWordByte(c):
			j := i
			for j < len(src) && isWordByte(src[j]) {
				j++
			}
			toks = append(toks, filterToken{kind: tokWord, text: src[i:j], pos: i})
			i = j
		default:
			return nil, filterError(src, "unexpected character %q at position %d", rune(c), i+1)
		}
	}
	return append(toks, filterToken{kind: tokEOF, pos: len(src)}), nil
}

// lexString reads the quoted string starting at src[at] and returns its
// value and length. Double quotes take JSON's escapes; single quotes,
// which Databricks also accepts, take \' and \\.
func lexString(src string, at int) (string, int, error) {
	q := src[at]
	var b strings.Builder
	for i := at + 1; i < len(src); i++ {
		switch c := src[i]; {
		case c == q:
			if q == '"' {
				var s string
				if err := json.Unmarshal([]byte(src[at:i+1]), &s); err != nil {
					return "", 0, filterError(src, "the string at position %d is not a valid quoted string", at+1)
				}
				return s, i + 1 - at, nil
			}
			return b.String(), i + 1 - at, nil
		case c == '\\' && i+1 < len(src):
			i++
			if q == '\'' && src[i] != '\'' && src[i] != '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(src[i])
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, filterError(src, "the string at position %d is not closed", at+1)
}

type filterParser struct {
	src  string
	toks []filterToken
	i    int
}

func (p *filterParser) peek() filterToken { return p.toks[p.i] }
func (p *filterParser) next() filterToken {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

// keyword reports whether the next token is the word kw, and consumes it.
func (p *filterParser) keyword(kw string) bool {
	if t := p.peek(); t.kind == tokWord && strings.EqualFold(t.text, kw) {
		p.i++
		return true
	}
	return false
}

func (p *filterParser) deeper(depth int) error {
	if depth >= maxFilterDepth {
		return filterError(p.src, "nested deeper than %d levels", maxFilterDepth)
	}
	return nil
}

func (p *filterParser) or(depth int) (*filterExpr, error) {
	if err := p.deeper(depth); err != nil {
		return nil, err
	}
	e, err := p.and(depth + 1)
	if err != nil {
		return nil, err
	}
	for p.keyword("or") {
		r, err := p.and(depth + 1)
		if err != nil {
			return nil, err
		}
		e = &filterExpr{op: "or", sub: []*filterExpr{e, r}}
	}
	return e, nil
}

func (p *filterParser) and(depth int) (*filterExpr, error) {
	e, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	for p.keyword("and") {
		r, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		e = &filterExpr{op: "and", sub: []*filterExpr{e, r}}
	}
	return e, nil
}

func (p *filterParser) unary(depth int) (*filterExpr, error) {
	if err := p.deeper(depth); err != nil {
		return nil, err
	}
	if p.keyword("not") {
		e, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return &filterExpr{op: "not", sub: []*filterExpr{e}}, nil
	}
	if p.peek().kind == tokLParen {
		p.next()
		e, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if t := p.next(); t.kind != tokRParen {
			return nil, filterError(p.src, `expected ")" at position %d, found %s`, t.pos+1, t.describe())
		}
		return e, nil
	}
	return p.attrExp()
}

// compareOps are the comparison operators, pr aside.
var compareOps = map[string]bool{"eq": true, "ne": true, "co": true, "sw": true, "ew": true, "gt": true, "ge": true, "lt": true, "le": true}

func (p *filterParser) attrExp() (*filterExpr, error) {
	t := p.next()
	if t.kind != tokWord || compareOps[strings.ToLower(t.text)] {
		return nil, filterError(p.src, "expected an attribute at position %d, found %s", t.pos+1, t.describe())
	}
	attr := strings.ToLower(t.text)
	if i := strings.LastIndexByte(attr, ':'); i >= 0 {
		attr = attr[i+1:] // urn:ietf:params:scim:schemas:core:2.0:User:userName
	}
	if attr == "" {
		return nil, filterError(p.src, "expected an attribute at position %d", t.pos+1)
	}
	opTok := p.next()
	op := strings.ToLower(opTok.text)
	if opTok.kind != tokWord || (op != "pr" && !compareOps[op]) {
		return nil, filterError(p.src, "expected an operator (eq, ne, co, sw, ew, pr, gt, ge, lt, le) after %.40q at position %d, found %s",
			t.text, opTok.pos+1, opTok.describe())
	}
	e := &filterExpr{op: op, attr: attr}
	if op == "pr" {
		return e, nil
	}
	v := p.next()
	switch {
	case v.kind == tokString:
		e.value = filterValue{kind: 's', s: v.text}
	case v.kind == tokWord && strings.EqualFold(v.text, "true"), v.kind == tokWord && strings.EqualFold(v.text, "false"):
		e.value = filterValue{kind: 'b', b: strings.EqualFold(v.text, "true")}
	case v.kind == tokWord && strings.EqualFold(v.text, "null"):
		e.value = filterValue{kind: '0'}
	case v.kind == tokWord && isJSONNumber(v.text):
		e.value = filterValue{kind: 'n', s: v.text}
	default:
		return nil, filterError(p.src, "expected a value (a quoted string, true, false, null or a number) after %s at position %d, found %s",
			op, v.pos+1, v.describe())
	}
	return e, nil
}

// scimAttr is one attribute a filter or sortBy may name.
type scimAttr[T any] struct {
	name string // as SCIM spells it, for messages
	// str reads a string attribute; exact makes it case-sensitive (RFC
	// 7643's caseExact), numeric compares ids as numbers.
	str     func(T) string
	exact   bool
	numeric bool
	// boolean reads a boolean attribute instead.
	boolean func(T) bool
}

// scimAttrs are the attributes of one resource type, keyed in lower case.
type scimAttrs[T any] map[string]scimAttr[T]

// names lists the attributes for messages, in a stable order.
func (as scimAttrs[T]) names(order []string) string {
	var out []string
	for _, k := range order {
		if a, ok := as[k]; ok {
			out = append(out, a.name)
		}
	}
	return strings.Join(out, ", ")
}

// compileFilter checks e against the resource's attributes and returns
// its predicate; a nil e matches everything.
func compileFilter[T any](e *filterExpr, as scimAttrs[T], resource string, order []string) (func(T) bool, error) {
	if e == nil {
		return func(T) bool { return true }, nil
	}
	switch e.op {
	case "and", "or":
		l, err := compileFilter(e.sub[0], as, resource, order)
		if err != nil {
			return nil, err
		}
		r, err := compileFilter(e.sub[1], as, resource, order)
		if err != nil {
			return nil, err
		}
		if e.op == "and" {
			return func(v T) bool { return l(v) && r(v) }, nil
		}
		return func(v T) bool { return l(v) || r(v) }, nil
	case "not":
		s, err := compileFilter(e.sub[0], as, resource, order)
		if err != nil {
			return nil, err
		}
		return func(v T) bool { return !s(v) }, nil
	}
	a, ok := as[e.attr]
	if !ok {
		return nil, kiln.Errorf(kiln.EInvalid, "Unsupported filter attribute %.40q for %s: use %s.", e.attr, resource, as.names(order))
	}
	if a.boolean != nil {
		return compileBool(e, a)
	}
	return compileString(e, a)
}

func compileBool[T any](e *filterExpr, a scimAttr[T]) (func(T) bool, error) {
	switch {
	case e.op == "pr":
		return func(T) bool { return true }, nil
	case (e.op == "eq" || e.op == "ne") && e.value.kind == 'b':
		want, eq := e.value.b, e.op == "eq"
		return func(v T) bool { return (a.boolean(v) == want) == eq }, nil
	}
	return nil, kiln.Errorf(kiln.EInvalid, "Invalid filter: %s is true or false and takes eq, ne or pr with true or false.", a.name)
}

func compileString[T any](e *filterExpr, a scimAttr[T]) (func(T) bool, error) {
	fold := func(s string) string {
		if a.exact {
			return s
		}
		return strings.ToLower(s)
	}
	switch {
	case e.op == "pr":
		return func(v T) bool { return a.str(v) != "" }, nil
	case e.value.kind == '0' && (e.op == "eq" || e.op == "ne"):
		// eq null: the attribute has no value (RFC 7644, 3.4.2.2).
		absent := e.op == "eq"
		return func(v T) bool { return (a.str(v) == "") == absent }, nil
	case e.value.kind == 's', e.value.kind == 'n' && a.numeric:
	default:
		return nil, kiln.Errorf(kiln.EInvalid, "Invalid filter: compare %s with a quoted string.", a.name)
	}
	want := fold(e.value.s)
	cmp := func(got string) int { return strings.Compare(got, want) }
	if a.numeric {
		if w, err := strconv.ParseInt(want, 10, 64); err == nil {
			cmp = func(got string) int {
				g, err := strconv.ParseInt(got, 10, 64)
				if err != nil {
					return strings.Compare(got, want)
				}
				return compareInt(g, w)
			}
		}
	}
	var test func(string) bool
	switch e.op {
	case "eq":
		test = func(s string) bool { return s == want }
	case "ne":
		test = func(s string) bool { return s != want }
	case "co":
		test = func(s string) bool { return strings.Contains(s, want) }
	case "sw":
		test = func(s string) bool { return strings.HasPrefix(s, want) }
	case "ew":
		test = func(s string) bool { return strings.HasSuffix(s, want) }
	case "gt":
		test = func(s string) bool { return cmp(s) > 0 }
	case "ge":
		test = func(s string) bool { return cmp(s) >= 0 }
	case "lt":
		test = func(s string) bool { return cmp(s) < 0 }
	case "le":
		test = func(s string) bool { return cmp(s) <= 0 }
	}
	return func(v T) bool { return test(fold(a.str(v))) }, nil
}

func compareInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// sortKey returns the comparison of two resources by the attribute
// sortBy names (RFC 7644, 3.4.2.3), case-insensitively unless the
// attribute is case-exact; unknown attributes are EInvalid.
func sortKey[T any](sortBy string, as scimAttrs[T], resource string, order []string) (func(x, y T) int, error) {
	attr := strings.ToLower(strings.TrimSpace(sortBy))
	if i := strings.LastIndexByte(attr, ':'); i >= 0 {
		attr = attr[i+1:]
	}
	a, ok := as[attr]
	if !ok {
		return nil, kiln.Errorf(kiln.EInvalid, "Unsupported sortBy %.40q for %s: use %s.", sortBy, resource, as.names(order))
	}
	if a.boolean != nil {
		return func(x, y T) int {
			bx, by := a.boolean(x), a.boolean(y)
			switch {
			case bx == by:
				return 0
			case !bx:
				return -1
			}
			return 1
		}, nil
	}
	return func(x, y T) int {
		sx, sy := a.str(x), a.str(y)
		if a.numeric {
			nx, ex := strconv.ParseInt(sx, 10, 64)
			ny, ey := strconv.ParseInt(sy, 10, 64)
			if ex == nil && ey == nil {
				return compareInt(nx, ny)
			}
		}
		if !a.exact {
			sx, sy = strings.ToLower(sx), strings.ToLower(sy)
		}
		return strings.Compare(sx, sy)
	}, nil
}
