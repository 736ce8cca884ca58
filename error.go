package kiln

import (
	"errors"
	"fmt"
)

// Code classifies an [Error]. The set is closed: the API maps each code to
// one HTTP status and Databricks error_code in a single table, so adding a
// code means adding a row there.
type Code string

// The error codes.
const (
	// EInvalid: a parameter is wrong (400 INVALID_PARAMETER_VALUE).
	EInvalid Code = "invalid"
	// EMalformed: the request cannot be decoded at all (400 MALFORMED_REQUEST).
	EMalformed Code = "malformed"
	// ENotFound: the named object does not exist (404 RESOURCE_DOES_NOT_EXIST).
	ENotFound Code = "not_found"
	// EConflict: the object already exists (409 RESOURCE_ALREADY_EXISTS).
	EConflict Code = "conflict"
	// EUnauthenticated: no usable credential was sent (401).
	EUnauthenticated Code = "unauthenticated"
	// EInvalidToken: a credential was sent but is not acceptable (403,
	// always the message "Invalid access token."; the real reason goes to the
	// audit log only).
	EInvalidToken Code = "invalid_token"
	// EPermission: the caller is known but may not do this (403 PERMISSION_DENIED).
	EPermission Code = "permission_denied"
	// EQuota: a per-user limit is reached (400 QUOTA_EXCEEDED). Never 429:
	// clients would retry it.
	EQuota Code = "quota_exceeded"
	// EDisabled: the feature is switched off for the workspace (404, like
	// Databricks' "Tokens are disabled.").
	EDisabled Code = "disabled"
	// EThrottled: slow down and retry (429 REQUEST_LIMIT_EXCEEDED). Only for
	// transient conditions.
	EThrottled Code = "throttled"
	// EUnavailable: a dependency such as the store is down (503).
	EUnavailable Code = "unavailable"
	// EMethodNotAllowed: the path exists but not for this method (405).
	EMethodNotAllowed Code = "method_not_allowed"
	// EInternal: anything else. Its message never reaches a client.
	EInternal Code = "internal"
)

// Error is kiln's one error type. Message is safe to show to the caller;
// Err, when set, is the internal cause and is only ever logged.
//
// Reason, when set, is the Databricks error_code the API sends instead of
// the one its table gives Code (say DIRECTORY_NOT_EMPTY for an EInvalid):
// some clients branch on those specific codes, and naming them here keeps
// the closed set of Codes small. The HTTP status still comes from Code
// alone, and Reason is ignored for EInternal.
type Error struct {
	Code    Code
	Message string
	Err     error
	Reason  string
}

// WithReason sets e.Reason and returns e, for
// kiln.Errorf(...).WithReason("DIRECTORY_NOT_EMPTY").
func (e *Error) WithReason(reason string) *Error {
	e.Reason = reason
	return e
}

// Error returns the safe message, followed by the internal cause for logs.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an [Error] with a formatted, client-safe message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Internal wraps err as an [EInternal] error whose message says nothing
// about the cause.
func Internal(err error) *Error {
	return &Error{Code: EInternal, Message: "Internal error.", Err: err}
}

// ErrorCode returns the code of the first [Error] in err's chain, EInternal
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the client-safe message of err: the message of the
// first [Error] in its chain unless that is internal, else "Internal error.".
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Code != EInternal {
		return e.Message
	}
	return "Internal error."
}

// ErrorReason returns the Reason of the first [Error] in err's chain, ""
// when there is none or it is internal.
func ErrorReason(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != EInternal {
		return e.Reason
	}
	return ""
}

// IsCode reports whether err carries the given code.
func IsCode(err error, code Code) bool { return ErrorCode(err) == code }
