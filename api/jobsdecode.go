package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln"
)

// The Jobs API's bodies are deep (settings, tasks, clusters) and Airflow
// stringifies every number in them ("timeout_seconds": "3600"). Rather
// than a lenient type for every field, a body is canonicalised once:
// wherever they appear, the fields Databricks types as numbers or
// booleans get numbers and booleans, and parameter maps and lists get
// strings. Stored settings are canonical, so jobs/get returns the types
// the SDKs expect whatever a client sent.

// numericKeys are fields typed as numbers anywhere in the Jobs API.
var numericKeys = keySet("job_id", "run_id", "timeout_seconds", "max_retries", "min_retry_interval_millis",
	"max_concurrent_runs", "num_workers", "min_workers", "max_workers", "autotermination_minutes",
	"limit", "offset", "first_on_demand", "spot_bid_price_percent", "ebs_volume_count", "ebs_volume_size",
	"ebs_volume_iops", "ebs_volume_throughput", "boot_disk_size", "local_ssd_count", "min_idle_instances",
	"max_capacity", "idle_instance_autotermination_minutes", "number_in_job", "start_time_from", "start_time_to")

// booleanKeys are fields typed as booleans.
var booleanKeys = keySet("retry_on_timeout", "enabled", "active_only", "completed_only", "expand_tasks",
	"include_history", "include_resolved_values", "all_queued_runs", "alert_on_last_attempt",
	"no_alert_for_skipped_runs", "no_alert_for_canceled_runs", "enable_elastic_disk",
	"enable_local_disk_encryption", "apply_policy_default_values", "run_as_repl", "use_ml_runtime",
	"is_single_node", "disable_auto_optimization")

// stringMapKeys are maps of strings (widget values, tags, Spark settings).
var stringMapKeys = keySet("base_parameters", "notebook_params", "sql_params", "python_named_params",
	"named_parameters", "spark_conf", "spark_env_vars", "custom_tags", "tags", "job_parameters")

// scalarStringKeys are strings that clients may send as bare numbers or
// booleans: a job parameter's default, a condition's operands.
var scalarStringKeys = keySet("default", "left", "right")

// stringListKeys are lists of strings (command lines).
var stringListKeys = keySet("parameters", "python_params", "jar_params", "spark_submit_params", "dbt_commands")

func keySet(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// decodeJobsBody reads a JSON object body (required) and canonicalises it.
func decodeJobsBody(r *http.Request) (json.RawMessage, error) {
	b, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		b = []byte("{}")
	}
	return canonicalJSON(b)
}

// canonicalJSON canonicalises a JSON object (see the top of this file).
func canonicalJSON(b []byte) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, kiln.Errorf(kiln.EMalformed, "Malformed JSON request body.")
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, kiln.Errorf(kiln.EMalformed, "The request body must be a JSON object.")
	}
	v, err := canonical("", v)
	if err != nil {
		return nil, err
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, kiln.Internal(err)
	}
	return out, nil
}

func canonical(key string, v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if stringMapKeys[key] {
			for k, e := range x {
				x[k] = scalarString(e)
			}
			return x, nil
		}
		for k, e := range x {
			c, err := canonical(k, e)
			if err != nil {
				return nil, err
			}
			x[k] = c
		}
		return x, nil
	case []any:
		for i, e := range x {
			if stringListKeys[key] {
				if _, isObj := e.(map[string]any); !isObj {
					x[i] = scalarString(e)
					continue
				}
			}
			c, err := canonical(key, e)
			if err != nil {
				return nil, err
			}
			x[i] = c
		}
		return x, nil
	case string:
		switch {
		case numericKeys[key]:
			s := strings.TrimSpace(x)
			if s == "" {
				return nil, nil
			}
			// Only the JSON number grammar: json.Marshal refuses anything
			// else (NaN, inf, hex, "+5", ".5"), which strconv.ParseFloat
			// would let through.
			if !isJSONNumber(s) {
				return nil, kiln.Errorf(kiln.EInvalid, "Invalid value for %s: %.40q is not a number.", key, x)
			}
			return json.Number(s), nil
		case booleanKeys[key]:
			switch strings.ToLower(strings.TrimSpace(x)) {
			case "true":
				return true, nil
			case "false", "":
				return false, nil
			}
			return nil, kiln.Errorf(kiln.EInvalid, "Invalid value for %s: %.40q is not true or false.", key, x)
		}
		return x, nil
	case json.Number, bool:
		if scalarStringKeys[key] {
			return scalarString(x), nil
		}
		return x, nil
	}
	return v, nil
}

// scalarString renders a scalar as the string Databricks would store;
// objects and arrays pass unchanged (and fail typed decoding later).
func scalarString(v any) any {
	switch x := v.(type) {
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	return v
}

// boolParam reads a boolean query parameter: true/false in any case
// (Python sends True/False), absent or empty is false.
func (p params) bool(key string) (bool, error) {
	v, err := p.get(key)
	if err != nil {
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, kiln.Errorf(kiln.EInvalid, "Parameter %s must be true or false, got %.40q.", key, v)
}

// requiredID reads a required positive id parameter.
func (p params) requiredID(key string) (int64, error) {
	id, err := p.int(key, 0)
	if err != nil {
		return 0, err
	}
	if id <= 0 {
		return 0, kiln.Errorf(kiln.EInvalid, "Missing required field: %s.", key)
	}
	return id, nil
}

// bodyID reads a required id field of a canonical body.
func bodyID(body json.RawMessage, key string) (int64, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return 0, kiln.Errorf(kiln.EMalformed, "The request body must be a JSON object.")
	}
	raw, ok := m[key]
	if !ok || string(raw) == "null" {
		return 0, kiln.Errorf(kiln.EInvalid, "Missing required field: %s.", key)
	}
	id, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || id <= 0 {
		return 0, kiln.Errorf(kiln.EInvalid, "Invalid value for %s: expected a positive whole number.", key)
	}
	return id, nil
}

// decodeInto decodes a canonical body into v, with safe messages.
func decodeInto(body json.RawMessage, v any) error { return unmarshal(body, v) }
