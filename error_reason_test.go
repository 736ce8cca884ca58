package kiln

import (
	"fmt"
	"testing"
)

func TestErrorReason(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"Nil", nil, ""},
		{"NoReason", Errorf(EInvalid, "x"), ""},
		{"Reason", Errorf(EInvalid, "x").WithReason("DIRECTORY_NOT_EMPTY"), "DIRECTORY_NOT_EMPTY"},
		{"Wrapped", fmt.Errorf("context: %w", Errorf(ENotFound, "x").WithReason("R")), "R"},
		// An internal error never names a specific code: its details are
		// not the client's business.
		{"InternalIgnored", &Error{Code: EInternal, Message: "Internal error.", Reason: "IO_ERROR"}, ""},
		{"NotAKilnError", fmt.Errorf("plain"), ""},
	}
	for _, tt := range tests {
		if got := ErrorReason(tt.err); got != tt.want {
			t.Errorf("%s: ErrorReason = %q, want %q", tt.name, got, tt.want)
		}
	}
	// The code, and so the status, stays the table's.
	if e := Errorf(EInvalid, "x").WithReason("R"); ErrorCode(e) != EInvalid || ErrorMessage(e) != "x" {
		t.Errorf("WithReason changed code or message: %v", e)
	}
}
