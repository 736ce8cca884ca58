package runner

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kiln-dev/kiln"
)

func TestParseForEachInputs(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		fail string
	}{
		{`["a", "b"]`, 2, ""},
		{` [1, {"x": 2}, null] `, 3, ""},
		{`[]`, 0, ""},
		{`{"a": 1}`, 0, "is not a JSON array"},
		{`oops`, 0, "is not a JSON array"},
		{`null`, 0, "is not a JSON array"},
		{`{{tasks.t.values.items}}`, 0, "the reference {{tasks.t.values.items}} has no value"},
		{"[" + strings.Repeat("1,", kiln.MaxForEachInputs) + "1]", 0, "at most 5000"},
	} {
		got, err := ParseForEachInputs(c.in)
		switch {
		case c.fail == "" && (err != nil || len(got) != c.n):
			t.Errorf("%.40q: %d elements, %v; want %d", c.in, len(got), err, c.n)
		case c.fail != "" && (err == nil || !strings.Contains(err.Error(), c.fail)):
			t.Errorf("%.40q: %v; want an error naming %q", c.in, err, c.fail)
		}
	}
}

func TestIterationOfSubstitutesTheInput(t *testing.T) {
	n := &kiln.NestedTask{Exec: kiln.TaskExec{Kind: kiln.ExecNotebook, Path: "/p",
		Params: map[string]string{"all": "{{input}}", "name": "{{ input.name }}", "n": "{{input.n}}", "tags": "{{input.tags}}", "other": "{{job.run_id}}"}},
		MaxRetries: 2, TimeoutMS: 1500}
	it := iterationOf(n, json.RawMessage(`{"name": "x", "n": 1.50, "tags": ["a", "b"]}`))
	want := map[string]string{"all": `{"name":"x","n":1.50,"tags":["a","b"]}`, "name": "x", "n": "1.50", "tags": `["a","b"]`, "other": "{{job.run_id}}"}
	for k, v := range want {
		if it.Exec.Params[k] != v {
			t.Errorf("%s = %q, want %q", k, it.Exec.Params[k], v)
		}
	}
	if n.Exec.Params["all"] != "{{input}}" || it.MaxRetries != 2 || it.Timeout.Milliseconds() != 1500 {
		t.Errorf("the nested task changed, or its retry settings were not carried: %+v", it)
	}
	cond := iterationOf(&kiln.NestedTask{Exec: kiln.TaskExec{Kind: kiln.ExecCondition, Op: kiln.OpEqualTo, Args: []string{"{{input}}", "b"}}}, json.RawMessage(`"b"`))
	if cond.Exec.Args[0] != "b" {
		t.Errorf("condition operand %q", cond.Exec.Args[0])
	}
}

func FuzzParseForEachInputs(f *testing.F) {
	for _, s := range []string{`["a"]`, `[{"x": 1}]`, `{{x}}`, `[`, `"a"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		elems, err := ParseForEachInputs(s)
		if err != nil {
			return
		}
		if len(elems) > kiln.MaxForEachInputs {
			t.Fatalf("%d elements accepted", len(elems))
		}
		for _, el := range elems {
			_ = iterationOf(&kiln.NestedTask{Exec: kiln.TaskExec{Params: map[string]string{"v": "{{input}}"}}}, el)
		}
	})
}
