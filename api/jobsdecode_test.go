package api

import (
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
