package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln"
)

// maxBodyBytes bounds every request body, except on the upload routes
// registered with authedLimit.
const maxBodyBytes = 1 << 20

// readBody reads the (bounded) request body.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	b, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		// Err keeps the cause: upload handlers answer it with their own
		// error_code (MAX_NOTEBOOK_SIZE_EXCEEDED, MAX_BLOCK_SIZE_EXCEEDED).
		return nil, &kiln.Error{Code: kiln.EInvalid, Err: tooBig,
			Message: fmt.Sprintf("Request body is too large: the limit is %d bytes.", tooBig.Limit)}
	}
	if err != nil {
		return nil, kiln.Errorf(kiln.EMalformed, "Could not read the request body.")
	}
	return b, nil
}

// jsonBodyTypes are the media types a JSON request body may be sent
// with (mime.ParseMediaType lowers them and drops parameters such as
// charset).
var jsonBodyTypes = map[string]bool{
	"application/json":                  true,
	scimContentType:                     true,
	"text/json":                         true,
	"application/x-www-form-urlencoded": true,
	"text/plain":                        true,
}

// decodeBody decodes a JSON request body into v. An empty body is an
// error when required is set (a PATCH without a body, as one JavaScript SDK
// sends, gets a clear 400), and decodes as {} otherwise.
func decodeBody(r *http.Request, v any, required bool) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		if required {
			return kiln.Errorf(kiln.EMalformed, "A JSON request body is required for %s %s.", r.Method, r.URL.Path)
		}
		return nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, _ := mime.ParseMediaType(ct)
		// The legacy Python CLI sends text/json; curl -d sends a form type;
		// Terraform sends application/scim+json on every SCIM call.
		if !jsonBodyTypes[mt] {
			return kiln.Errorf(kiln.EMalformed, "Content-Type %q is not supported: send application/json.", mt)
		}
	}
	return unmarshal(b, v)
}

// unmarshal decodes JSON and turns decoder errors into safe messages that
// say which field is wrong.
func unmarshal(b []byte, v any) error {
	err := json.Unmarshal(b, v)
	if err == nil {
		return nil
	}
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return kiln.Errorf(kiln.EMalformed, "Malformed JSON request body at byte %d.", syntax.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return kiln.Errorf(kiln.EMalformed, "The request body must be a JSON object.")
		}
		return kiln.Errorf(kiln.EInvalid, "Invalid value for %s: expected %s, got %s.", typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value)
	default:
		return kiln.Errorf(kiln.EMalformed, "Malformed JSON request body.")
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "a whole number"
	default:
		return "a number"
	}
}

// flexInt is an int64 that also accepts a JSON string holding a number:
// Airflow sends every number as a string, and Databricks accepts both.
type flexInt int64

// UnmarshalJSON accepts 42, "42" and null.
func (n *flexInt) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	if s == "null" {
		return nil
	}
	if len(s) >= 2 && s[0] == '"' {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		s = strings.TrimSpace(str)
	}
	// strconv.ParseInt alone would also take "+5", which no JSON number is.
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || !isJSONNumber(s) {
		// A type error, unlike any other, gets the field's name added by
		// encoding/json, so that the message can name it.
		return &json.UnmarshalTypeError{Value: fmt.Sprintf("%.40q", s), Type: reflect.TypeFor[int64]()}
	}
	*n = flexInt(v)
	return nil
}

// isJSONNumber reports whether s is a number in the grammar of RFC 8259,
// section 6: an optional minus, an integer part without leading zeros, an
// optional fraction and an optional exponent. Go's number parsers accept
// more (NaN, Inf, hexadecimal, a plus sign, ".5", "5.", underscores),
// which a number that must travel on as JSON cannot be.
func isJSONNumber(s string) bool {
	i := 0
	digits := func() int {
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i - start
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// flexBool is a bool that also accepts "true"/"false" in any case, as
// Python clients send them.
type flexBool bool

// UnmarshalJSON accepts true, "true", "True" and null.
func (v *flexBool) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(bytes.TrimSpace(b)), `"`)
	switch strings.ToLower(s) {
	case "true":
		*v = true
	case "false", "null":
		*v = false
	default:
		return &json.UnmarshalTypeError{Value: fmt.Sprintf("%.40q", s), Type: reflect.TypeFor[bool]()}
	}
	return nil
}

// params reads request parameters from the query string and, for GET and
// DELETE, also from a JSON object body (Airflow's async hook sends GET
// parameters that way). A parameter repeated with different values is an
// error unless multi allows it.
type params struct {
	values url.Values
}

func readParams(r *http.Request) (params, error) {
	q := r.URL.Query()
	if r.Method == http.MethodGet || r.Method == http.MethodDelete {
		b, err := readBody(r)
		if err != nil {
			return params{}, err
		}
		if len(bytes.TrimSpace(b)) > 0 {
			var body map[string]any
			if err := json.Unmarshal(b, &body); err != nil {
				return params{}, kiln.Errorf(kiln.EMalformed, "The request body of a %s must be a JSON object of parameters.", r.Method)
			}
			for k, v := range body {
				switch v := v.(type) {
				case string:
					q.Add(k, v)
				case float64:
					q.Add(k, strconv.FormatFloat(v, 'f', -1, 64))
				case bool:
					q.Add(k, strconv.FormatBool(v))
				}
			}
		}
	}
	return params{values: q}, nil
}

// get returns the single value of key, "" when absent; repeated distinct
// values are refused.
func (p params) get(key string) (string, error) {
	vs := p.values[key]
	if len(vs) == 0 {
		return "", nil
	}
	for _, v := range vs[1:] {
		if v != vs[0] {
			return "", kiln.Errorf(kiln.EInvalid, "Parameter %s is given more than once with different values.", key)
		}
	}
	return vs[0], nil
}

// int returns key as an integer, def when absent.
func (p params) int(key string, def int64) (int64, error) {
	v, err := p.get(key)
	if err != nil || v == "" {
		return def, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, kiln.Errorf(kiln.EInvalid, "Parameter %s must be a whole number, got %.40q.", key, v)
	}
	return n, nil
}

// limit reads the page size "limit" of kiln's own list endpoints: 1 to
// 1000, default 100.
func (p params) limit() (int, error) {
	n, err := p.int("limit", 100)
	if err != nil {
		return 0, err
	}
	if n < 1 || n > 1000 {
		return 0, kiln.Errorf(kiln.EInvalid, "Parameter limit must be from 1 to 1000.")
	}
	return int(n), nil
}

// list returns every value of key, each split at commas.
func (p params) list(key string) []string {
	var out []string
	for _, v := range p.values[key] {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// jsonContentType is the Content-Type of every JSON answer outside SCIM.
const jsonContentType = "application/json; charset=utf-8"

// scimContentType is SCIM's media type (RFC 7644, section 8.1): accepted
// on request bodies everywhere JSON is, and the type of SCIM answers.
const scimContentType = "application/scim+json"

func writeJSON(w http.ResponseWriter, status int, v any) {
	writeTyped(w, status, jsonContentType, v)
}

// writeSCIM writes a SCIM answer as Databricks does, typed
// application/scim+json: the official clients read the body whatever its
// type (the Go SDK asks for JSON and reads it fully, the JavaScript SDK
// parses the text).
func writeSCIM(w http.ResponseWriter, status int, v any) {
	writeTyped(w, status, scimContentType+"; charset=utf-8", v)
}

// writeTyped writes v as JSON with the given Content-Type.
func writeTyped(w http.ResponseWriter, status int, contentType string, v any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// empty is the body of verbs without output.
var empty = struct{}{}
