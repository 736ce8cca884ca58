package runner

import (
	"strings"
	"testing"

	"github.com/kiln-dev/kiln"
)

func TestEvalCondition(t *testing.T) {
	for _, c := range []struct {
		op, left, right string
		want            bool
		err             string
	}{
		{kiln.OpEqualTo, "12", "12", true, ""},
		// EQUAL_TO compares strings, as on Databricks.
		{kiln.OpEqualTo, "12.0", "12", false, ""},
		{kiln.OpNotEqual, "12.0", "12", true, ""},
		{kiln.OpEqualTo, "true", "true", true, ""},
		// The numeric operators compare numbers.
		{kiln.OpGreaterThanOrEqual, "12.0", "12", true, ""},
		{kiln.OpGreaterThanOrEqual, "10.0", "12", false, ""},
		{kiln.OpGreaterThan, "9", "10", false, ""}, // not "9" > "10" as text
		{kiln.OpGreaterThan, " 11 ", "10", true, ""},
		{kiln.OpLessThan, "-1e3", "0", true, ""},
		{kiln.OpLessThanOrEqual, "3", "3", true, ""},
		{kiln.OpLessThan, "abc", "3", false, `"abc" is not a number`},
		{kiln.OpGreaterThan, "1", "NaN", false, `"NaN" is not a number`},
		{kiln.OpLessThan, "1", "", false, `"" is not a number`},
		{"LIKE", "1", "1", false, "not one kiln knows"},
	} {
		got, err := EvalCondition(c.op, c.left, c.right)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q %s %q: error %v, want %q", c.left, c.op, c.right, err, c.err)
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("%q %s %q = %v, %v; want %v", c.left, c.op, c.right, got, err, c.want)
		}
	}
}

// TestConditionTaskResolvesReferences: the operands' references are
// resolved before the comparison; one left without a value fails the
// task.
func TestConditionTaskResolvesReferences(t *testing.T) {
	refs := map[string]string{"tasks.a.values.n": "7", "job.run_id": "99"}
	o := evalConditionTask(kiln.TaskExec{Kind: kiln.ExecCondition, Op: kiln.OpGreaterThan, Args: []string{"{{ tasks.a.values.n }}", "5"}}, refs)
	if o.ResultState != kiln.ResultSuccess || o.Outcome != kiln.OutcomeTrue {
		t.Errorf("7 > 5: %+v", o)
	}
	o = evalConditionTask(kiln.TaskExec{Kind: kiln.ExecCondition, Op: kiln.OpEqualTo, Args: []string{"{{job.run_id}}", "{{tasks.b.values.n}}"}}, refs)
	if o.ResultState != kiln.ResultFailed || !strings.Contains(o.Error, "{{tasks.b.values.n}} has no value") || o.Outcome != "" {
		t.Errorf("unresolved: %+v", o)
	}
}
