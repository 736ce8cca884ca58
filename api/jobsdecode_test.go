package api

import (
	"strconv"
	"strings"
	"testing"

	"github.com/kiln-dev/kiln"
)

func TestCanonicalJSON(t *testing.T) {
	for _, c := range []struct {
		name, in, want string
		code           kiln.Code
	}{
		{"AirflowNumbers", `{"job_id": "42", "timeout_seconds": " 3600 ", "new_cluster": {"num_workers": "2"}}`,
			`{"job_id":42,"new_cluster":{"num_workers":2},"timeout_seconds":3600}`, ""},
		{"NumbersStayNumbers", `{"job_id": 9007199254740991}`, `{"job_id":9007199254740991}`, ""},
		{"PythonBooleans", `{"retry_on_timeout": "True", "queue": {"enabled": "false"}}`,
			`{"queue":{"enabled":false},"retry_on_timeout":true}`, ""},
		{"ParameterMapsAreStrings", `{"notebook_params": {"n": 5, "ok": true, "s": "x"}}`,
			`{"notebook_params":{"n":"5","ok":"true","s":"x"}}`, ""},
		{"ParameterListsAreStrings", `{"python_params": ["--n", 3], "spark_python_task": {"parameters": [1.5]}}`,
			`{"python_params":["--n","3"],"spark_python_task":{"parameters":["1.5"]}}`, ""},
		{"JobParameterDefaults", `{"parameters": [{"name": "n", "default": 7}]}`, `{"parameters":[{"default":"7","name":"n"}]}`, ""},
		{"OtherStringsUntouched", `{"run_name": "123", "notebook_task": {"notebook_path": "/a"}}`,
			`{"notebook_task":{"notebook_path":"/a"},"run_name":"123"}`, ""},
		{"EmptyNumberIsAbsent", `{"timeout_seconds": ""}`, `{"timeout_seconds":null}`, ""},
		{"BadNumber", `{"max_retries": "two"}`, "", kiln.EInvalid},
		{"NegativeFraction", `{"timeout_seconds": "-0.5e+2"}`, `{"timeout_seconds":-0.5e+2}`, ""},
		{"BadBoolean", `{"retry_on_timeout": "maybe"}`, "", kiln.EInvalid},
		{"NotAnObject", `[1]`, "", kiln.EMalformed},
		{"NotJSON", `{`, "", kiln.EMalformed},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := canonicalJSON([]byte(c.in))
			if c.code != "" {
				if kiln.ErrorCode(err) != c.code {
					t.Fatalf("got %s, %v; want code %s", got, err, c.code)
				}
				return
			}
			if err != nil || string(got) != c.want {
				t.Errorf("got %s, %v; want %s", got, err, c.want)
			}
		})
	}
}

// notJSONNumbers are number spellings Go's parsers accept but JSON does
// not; each must be refused as a client error naming its field.
var notJSONNumbers = []string{"NaN", "nan", "inf", "+Inf", "-Infinity", "0x1p4", "0x10", "0x1_0p0", "+5", ".5", "-.5",
	"5.", "5.e3", "05", "-05", "1e", "1e+", "--1", "1_000", "0b101", "0o7", "5 5", "١"}

func TestCanonicalJSONRefusesWhatJSONCannotSay(t *testing.T) {
	for _, key := range []string{"job_id", "timeout_seconds"} {
		for _, bad := range notJSONNumbers {
			t.Run(key+"="+bad, func(t *testing.T) {
				in := `{"` + key + `": ` + strconv.Quote(bad) + `}`
				got, err := canonicalJSON([]byte(in))
				if kiln.ErrorCode(err) != kiln.EInvalid || !strings.Contains(kiln.ErrorMessage(err), "Invalid value for "+key+":") {
					t.Fatalf("got %s, %v; want an invalid value error naming %s", got, err, key)
				}
			})
		}
	}
}

func TestIsJSONNumber(t *testing.T) {
	for _, good := range []string{"0", "-0", "7", "42", "-42", "0.5", "-0.5", "1e3", "1E3", "1e+3", "1e-3", "1.25e10", "9223372036854775808", "1e400"} {
		if !isJSONNumber(good) {
			t.Errorf("isJSONNumber(%q) = false, want true", good)
		}
	}
	for _, bad := range append([]string{"", "-", " 1", "1 ", "e3", "1.", "0.e1"}, notJSONNumbers...) {
		if isJSONNumber(bad) {
			t.Errorf("isJSONNumber(%q) = true, want false", bad)
		}
	}
}
