package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln"
)

// wireError is how one kiln error code appears on the wire.
type wireError struct {
	status int
	code   string // Databricks error_code
}

// wireErrors is the one table from kiln error codes to HTTP status and
// Databricks error_code (a kiln.Error's Reason may name a more specific
// error_code; the status is still this table's). The codes are strings throughout: Go clients
// built before mid-2024 cannot parse numeric codes. Never 429 or 503 for a
// permanent condition: the SDKs retry those.
var wireErrors = map[kiln.Code]wireError{
	kiln.EInvalid:          {http.StatusBadRequest, "INVALID_PARAMETER_VALUE"},
	kiln.EMalformed:        {http.StatusBadRequest, "MALFORMED_REQUEST"},
	kiln.EQuota:            {http.StatusBadRequest, "QUOTA_EXCEEDED"},
	kiln.EUnauthenticated:  {http.StatusUnauthorized, "UNAUTHENTICATED"},
	kiln.EInvalidToken:     {http.StatusForbidden, "PERMISSION_DENIED"},
	kiln.EPermission:       {http.StatusForbidden, "PERMISSION_DENIED"},
	kiln.ENotFound:         {http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST"},
	kiln.EDisabled:         {http.StatusNotFound, "FEATURE_DISABLED"},
	kiln.EMethodNotAllowed: {http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED"},
	kiln.EConflict:         {http.StatusConflict, "RESOURCE_ALREADY_EXISTS"},
	kiln.EThrottled:        {http.StatusTooManyRequests, "REQUEST_LIMIT_EXCEEDED"},
	kiln.EInternal:         {http.StatusInternalServerError, "INTERNAL_ERROR"},
	kiln.EUnavailable:      {http.StatusServiceUnavailable, "TEMPORARILY_UNAVAILABLE"},
}

func wireOf(err error) wireError {
	w, ok := wireErrors[kiln.ErrorCode(err)]
	if !ok {
		return wireErrors[kiln.EInternal]
	}
	return w
}

// unavailableRetryAfter is the Retry-After, in seconds, of a 503: long
// enough that a fleet of retrying clients does not hammer a recovering
// store, short enough that they resume soon after it is back.
const unavailableRetryAfter = "2"

// ErrorStatus returns the HTTP status err is answered with, from the one
// table above, and for a 503 (the store is temporarily unavailable) sets
// Retry-After on h, which the Databricks SDKs honour before retrying. The
// console's error pages use it too, so API and pages never disagree.
func ErrorStatus(h http.Header, err error) int {
	status := wireOf(err).status
	if status == http.StatusServiceUnavailable {
		h.Set("Retry-After", unavailableRetryAfter)
	}
	return status
}

// errorBody is Databricks' error shape.
type errorBody struct {
	ErrorCode string `json:"error_code"`
	Message   string `json:"message"`
}

// scimErrorBody is the RFC 7644 error shape the SCIM endpoints use.
type scimErrorBody struct {
	Schemas []string `json:"schemas"`
	Detail  string   `json:"detail"`
	Status  string   `json:"status"`
}

// writeError writes err as WriteError does, logging to the API's logger.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	WriteError(w, r, s.log, err)
}

// WriteError writes err in the Databricks shape (or the SCIM shape under
// the SCIM prefix), with the status of the one table above. Errors
// answered with a 5xx are logged to log with the request id and reach
// the client only as their generic message (for EInternal, "Internal
// error."): internal error text never leaves the server.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	we := wireOf(err)
	ErrorStatus(w.Header(), err)
	msg := kiln.ErrorMessage(err)
	if we.status >= 500 {
		level := slog.LevelError
		if errors.Is(err, context.Canceled) {
			level = slog.LevelInfo // the client went away; nothing is wrong
		}
		log.Log(r.Context(), level, "request failed", "err", err, "request_id", w.Header().Get("X-Request-Id"),
			"method", r.Method, "path", r.URL.Path)
	}
	// Real Databricks repeats the message in this header; clients print it.
	w.Header().Set("X-Databricks-Reason-Phrase", headerSafe(msg))
	if strings.HasPrefix(r.URL.Path, scimPrefix) && r.URL.Path != scimPrefix+"Me" && we.status != http.StatusUnauthorized && !kiln.IsCode(err, kiln.EInvalidToken) && !kiln.IsCode(err, kiln.EThrottled) {
		writeSCIM(w, we.status, scimErrorBody{
			Schemas: []string{"urn:ietf:params:scim:api:messages:2.0:Error"},
			Detail:  msg, Status: strconv.Itoa(we.status),
		})
		return
	}
	code := we.code
	if reason := kiln.ErrorReason(err); reason != "" {
		code = reason // a specific Databricks code; the status stays the table's
	}
	writeJSON(w, we.status, errorBody{ErrorCode: code, Message: msg})
}

// headerSafe drops characters that cannot appear in a header value.
func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r > 0x7e {
			return -1
		}
		return r
	}, s)
}

// invalidTokenBody is the answer to every refused token, rendered once:
// a flood of bad tokens should cost kiln no more than valid ones do.
var invalidTokenBody = func() []byte {
	we := wireErrors[kiln.EInvalidToken]
	b, _ := json.Marshal(errorBody{ErrorCode: we.code, Message: invalidTokenMessage})
	return append(b, '\n')
}()

const invalidTokenMessage = "Invalid access token."

// writeInvalidToken writes what writeError would for
// kiln.Errorf(kiln.EInvalidToken, "Invalid access token.").
func writeInvalidToken(w http.ResponseWriter) {
	h := w.Header()
	h["X-Databricks-Reason-Phrase"] = []string{invalidTokenMessage}
	h["Content-Type"] = []string{"application/json; charset=utf-8"}
	w.WriteHeader(wireErrors[kiln.EInvalidToken].status)
	w.Write(invalidTokenBody)
}

const throttledMessage = "Too many failed authentication attempts from this address; retry later."

// throttledBody is the answer to a throttled client, rendered once, like
// invalidTokenBody.
var throttledBody = func() []byte {
	b, _ := json.Marshal(errorBody{ErrorCode: wireErrors[kiln.EThrottled].code, Message: throttledMessage})
	return append(b, '\n')
}()

// writeThrottled writes what writeError would for
// kiln.Errorf(kiln.EThrottled, throttledMessage).
func writeThrottled(w http.ResponseWriter) {
	h := w.Header()
	h["X-Databricks-Reason-Phrase"] = []string{throttledMessage}
	h["Content-Type"] = []string{"application/json; charset=utf-8"}
	w.WriteHeader(wireErrors[kiln.EThrottled].status)
	w.Write(throttledBody)
}
