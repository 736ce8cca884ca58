package service

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln"
)

// Jobs are visible to their creator and to admins; to anyone else a job
// does not exist. A missing or invisible job is EInvalid "Job 123 does not
// exist." (HTTP 400), exactly as the real service answers: the SDKs turn
// that message into a not-found error.

// Audit actions of the Jobs API.
const (
	AuditJobCreate = "jobs.create"
	AuditJobUpdate = "jobs.update"
	AuditJobDelete = "jobs.delete"
)

// Page bounds of jobs/list, as Databricks documents them.
const (
	DefaultJobsLimit = 20
	MaxJobsLimit     = 100
)

// DefaultJobName is the name of a job created without one.
const DefaultJobName = "Untitled"

// jobNotFound is the API's answer for a missing or invisible job.
func jobNotFound(id int64) error {
	return kiln.Errorf(kiln.EInvalid, "Job %d does not exist.", id)
}

// canSee reports whether c may see what owner owns.
func canSee(c *kiln.Caller, owner int64) bool {
	return isAdmin(c) || c.Principal.ID == owner
}

// normalizeSettings validates settings JSON (an object) and returns it as
// stored: without access_control_list (not a setting), with a name (every
// job carries settings.name: Airflow finds jobs by it), and the parsed
// settings.
func normalizeSettings(raw json.RawMessage) ([]byte, string, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, "", kiln.Errorf(kiln.EInvalid, "The job settings must be a JSON object.")
	}
	delete(obj, "access_control_list")
	delete(obj, "job_id")
	var name string
	if v, ok := obj["name"]; ok {
		if err := json.Unmarshal(v, &name); err != nil {
			return nil, "", kiln.Errorf(kiln.EInvalid, "Invalid value for name: expected a string.")
		}
	}
	if strings.TrimSpace(name) == "" {
		name = DefaultJobName
	}
	if len(name) > maxRunNameBytes {
		return nil, "", kiln.Errorf(kiln.EInvalid, "The job name is longer than %d bytes.", maxRunNameBytes)
	}
	obj["name"], _ = json.Marshal(name)
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, "", kiln.Internal(err)
	}
	st, _, err := parseSettings(b, legacyTaskKey(name))
	if err != nil {
		return nil, "", err
	}
	// Checked when saved only: a job saved before kiln fired schedules
	// still runs (run-now) whatever its schedule says.
	if _, err := parseTimer(st); err != nil {
		return nil, "", err
	}
	return b, name, nil
}

// CreateJob saves a job with the given JobSettings (the body of
// jobs/create) for the caller.
func (s *Service) CreateJob(ctx context.Context, raw json.RawMessage) (*kiln.Job, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	settings, name, err := normalizeSettings(raw)
	if err != nil {
		return nil, err
	}
	j := &kiln.Job{Name: name, CreatorID: c.Principal.ID, CreatorName: c.Principal.UserName, Settings: settings}
	err = s.store.Update(ctx, func(tx kiln.Tx) error {
		if err := checkSavedSettings(tx, c, j.Settings); err != nil {
			return err
		}
		if err := tx.CreateJob(j); err != nil {
			return err
		}
		if err := s.syncSchedule(tx, j, s.now()); err != nil {
			return err
		}
		return tx.Audit(auditEvent(c, AuditJobCreate, jobTarget(j.ID)))
	})
	if err != nil {
		return nil, err
	}
	return j, nil
}

func jobTarget(id int64) string { return "job:" + strconv.FormatInt(id, 10) }

// GetJob returns a job the caller may see.
func (s *Service) GetJob(ctx context.Context, id int64) (*kiln.Job, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	var j *kiln.Job
	err = s.view(ctx, func(tx kiln.Tx) (err error) {
		j, err = jobFor(tx, c, id, rankView)
		return err
	})
	return j, err
}

// JobListParams select a page of jobs/list.
type JobListParams struct {
	// Name keeps the jobs with exactly this name.
	Name string
	// Limit is the page size (default 20, at most 100); Offset the legacy
	// paging; PageToken a next_page_token (it wins over Offset).
	Limit, Offset int
	PageToken     string
}

// JobPage is one page of jobs. NextPageToken is "" on the last page.
type JobPage struct {
	Jobs          []*kiln.Job
	HasMore       bool
	NextPageToken string
}

// ListJobs returns a page of the jobs the caller may see (admins: all;
// others, their own and those they hold a permission on), oldest first.
func (s *Service) ListJobs(ctx context.Context, p JobListParams) (*JobPage, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	limit, err := pageSize(p.Limit, DefaultJobsLimit, MaxJobsLimit)
	if err != nil {
		return nil, err
	}
	f := kiln.JobFilter{Name: p.Name, Limit: limit + 1, Offset: max(p.Offset, 0)}
	if !isAdmin(c) {
		f.CreatorID, f.GrantedTo = c.Principal.ID, kiln.Grantees(c.Principal)
	}
	if p.PageToken != "" {
		created, id, err := decodeJobToken(p.PageToken)
		if err != nil {
			return nil, err
		}
		f.AfterCreated, f.AfterID, f.Offset = kiln.TimeOfMillis(created), id, 0
	}
	page := &JobPage{}
	err = s.view(ctx, func(tx kiln.Tx) (err error) {
		page.Jobs, err = tx.Jobs(f)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(page.Jobs) > limit {
		page.Jobs, page.HasMore = page.Jobs[:limit], true
		last := page.Jobs[limit-1]
		page.NextPageToken = encodeToken("j", kiln.MillisOf(last.Created), last.ID)
	}
	return page, nil
}

// pageSize checks a requested page size.
func pageSize(limit, def, most int) (int, error) {
	switch {
	case limit == 0:
		return def, nil
	case limit < 0:
		return 0, kiln.Errorf(kiln.EInvalid, "limit must be positive.")
	}
	return min(limit, most), nil
}

// Page tokens are opaque to clients: a kind letter and numbers, base64.
func encodeToken(kind string, nums ...int64) string {
	parts := []string{kind}
	for _, n := range nums {
		parts = append(parts, strconv.FormatInt(n, 10))
	}
	return base64.RawURLEncoding.EncodeToString([]byte(strings.Join(parts, ":")))
}

func decodeToken(token, kind string, n int) ([]int64, error) {
	bad := kiln.Errorf(kiln.EInvalid, "Invalid page_token.")
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return nil, bad
	}
	parts := strings.Split(string(b), ":")
	if len(parts) != n+1 || parts[0] != kind {
		return nil, bad
	}
	nums := make([]int64, n)
	for i, p := range parts[1:] {
		if nums[i], err = strconv.ParseInt(p, 10, 64); err != nil {
			return nil, bad
		}
	}
	return nums, nil
}

func decodeJobToken(token string) (created, id int64, err error) {
	nums, err := decodeToken(token, "j", 2)
	if err != nil {
		return 0, 0, err
	}
	return nums[0], nums[1], nil
}

// ResetJob replaces a job's settings (jobs/reset).
func (s *Service) ResetJob(ctx context.Context, id int64, raw json.RawMessage) error {
	c, err := callerOf(ctx)
	if err != nil {
		return err
	}
	settings, name, err := normalizeSettings(raw)
	if err != nil {
		return err
	}
	return s.store.Update(ctx, func(tx kiln.Tx) error {
		j, err := jobFor(tx, c, id, rankManage)
		if err != nil {
			return err
		}
		return s.saveSettings(tx, c, j, settings, name)
	})
}

// saveSettings saves normalized settings (and the name they give) as job
// j's once checkSavedSettings accepts the clusters and run_as they name,
// makes the schedule's firing state follow them, and audits the change:
// the save of jobs/reset, jobs/update and SetJobPause.
func (s *Service) saveSettings(tx kiln.Tx, c *kiln.Caller, j *kiln.Job, settings []byte, name string) error {
	if err := checkSavedSettings(tx, c, settings); err != nil {
		return err
	}
	j.Name, j.Settings = name, settings
	if err := tx.UpdateJob(j); err != nil {
		return err
	}
	if err := s.syncSchedule(tx, j, s.now()); err != nil {
		return err
	}
	return tx.Audit(auditEvent(c, AuditJobUpdate, jobTarget(j.ID)))
}

// UpdateJob changes some of a job's settings (jobs/update): top-level
// fields of newSettings replace the job's, except tasks and job_clusters,
// which are merged by task_key and job_cluster_key; fieldsToRemove then
// removes top-level fields or, as "tasks/<key>" and
// "job_clusters/<key>", single tasks and job clusters.
func (s *Service) UpdateJob(ctx context.Context, id int64, newSettings json.RawMessage, fieldsToRemove []string) error {
	var patch map[string]json.RawMessage
	if len(newSettings) > 0 && string(newSettings) != "null" {
		if err := json.Unmarshal(newSettings, &patch); err != nil {
			return kiln.Errorf(kiln.EInvalid, "new_settings must be a JSON object.")
		}
	}
	return s.editJob(ctx, id, func(cur map[string]json.RawMessage) (bool, error) {
		var err error
		for k, v := range patch {
			switch k {
			case "tasks":
				if cur[k], err = mergeByKey(cur[k], v, "task_key"); err != nil {
					return false, err
				}
			case "job_clusters":
				if cur[k], err = mergeByKey(cur[k], v, "job_cluster_key"); err != nil {
					return false, err
				}
			default:
				cur[k] = v
			}
		}
		for _, f := range fieldsToRemove {
			if err := removeField(cur, f); err != nil {
				return false, err
			}
		}
		return true, nil
	})
}

// editJob changes the settings of job id with edit, which changes cur
// (the top-level settings) in place and says whether it changed
// anything, in one transaction that needs CAN_MANAGE: the settings are
// checked as jobs/update checks them, saved, the schedule's firing state
// follows, and the change is audited.
func (s *Service) editJob(ctx context.Context, id int64, edit func(cur map[string]json.RawMessage) (bool, error)) error {
	c, err := callerOf(ctx)
	if err != nil {
		return err
	}
	return s.store.Update(ctx, func(tx kiln.Tx) error {
		j, err := jobFor(tx, c, id, rankManage)
		if err != nil {
			return err
		}
		var cur map[string]json.RawMessage
		if err := json.Unmarshal(j.Settings, &cur); err != nil {
			return kiln.Internal(err)
		}
		if changed, err := edit(cur); err != nil || !changed {
			return err
		}
		merged, err := json.Marshal(cur)
		if err != nil {
			return kiln.Internal(err)
		}
		settings, name, err := normalizeSettings(merged)
		if err != nil {
			return err
		}
		return s.saveSettings(tx, c, j, settings, name)
	})
}

// timerSettings are the settings that fire a job's runs on their own,
// in the order SetJobPause looks for one.
var timerSettings = []string{"schedule", "trigger", "continuous"}

// SetJobPause pauses (or resumes) whichever of schedule, trigger and
// continuous job id has, changing only its pause_status, in one
// transaction: a change to the setting made meanwhile is never
// overwritten. It returns which setting it was ("" when the job has
// none) and whether the pause status changed. Needs CAN_MANAGE.
func (s *Service) SetJobPause(ctx context.Context, id int64, paused bool) (setting string, changed bool, err error) {
	want := PauseUnpaused
	if paused {
		want = PausePaused
	}
	err = s.editJob(ctx, id, func(cur map[string]json.RawMessage) (bool, error) {
		setting, changed = "", false
		for _, k := range timerSettings {
			if raw, ok := cur[k]; ok && string(raw) != "null" {
				setting = k
				break
			}
		}
		if setting == "" {
			return false, nil
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(cur[setting], &obj); err != nil || obj == nil {
			return false, kiln.Errorf(kiln.EInvalid, "The job's %s is not an object.", setting)
		}
		var now string
		json.Unmarshal(obj["pause_status"], &now)
		if now == "" {
			now = PauseUnpaused
		}
		if now == want {
			return false, nil
		}
		obj["pause_status"], _ = json.Marshal(want)
		b, err := json.Marshal(obj)
		if err != nil {
			return false, kiln.Internal(err)
		}
		cur[setting], changed = b, true
		return true, nil
	})
	return setting, changed, err
}

// mergeByKey merges two JSON arrays of objects by the value of key: an
// element of add replaces the one with the same key, or is appended.
func mergeByKey(cur, add json.RawMessage, key string) (json.RawMessage, error) {
	var have, more []map[string]json.RawMessage
	if len(cur) > 0 {
		if err := json.Unmarshal(cur, &have); err != nil {
			return nil, kiln.Internal(err)
		}
	}
	if err := json.Unmarshal(add, &more); err != nil {
		return nil, kiln.Errorf(kiln.EInvalid, "new_settings: expected an array of objects.")
	}
	for _, m := range more {
		replaced := false
		for i, h := range have {
			if string(h[key]) == string(m[key]) {
				have[i], replaced = m, true
				break
			}
		}
		if !replaced {
			have = append(have, m)
		}
	}
	return json.Marshal(have)
}

// removeField applies one fields_to_remove entry.
func removeField(cur map[string]json.RawMessage, f string) error {
	field, key, nested := strings.Cut(f, "/")
	if !nested {
		delete(cur, f)
		return nil
	}
	keyName := map[string]string{"tasks": "task_key", "job_clusters": "job_cluster_key"}[field]
	if keyName == "" {
		return kiln.Errorf(kiln.EInvalid, "fields_to_remove: %s cannot be removed by key.", f)
	}
	var have []map[string]json.RawMessage
	if len(cur[field]) > 0 {
		if err := json.Unmarshal(cur[field], &have); err != nil {
			return kiln.Internal(err)
		}
	}
	want, _ := json.Marshal(key)
	kept := have[:0]
	for _, h := range have {
		if string(h[keyName]) != string(want) {
			kept = append(kept, h)
		}
	}
	b, err := json.Marshal(kept)
	if err != nil {
		return kiln.Internal(err)
	}
	cur[field] = b
	return nil
}

// DeleteJob deletes a job and cancels its active runs; its finished runs
// stay readable.
func (s *Service) DeleteJob(ctx context.Context, id int64) error {
	c, err := callerOf(ctx)
	if err != nil {
		return err
	}
	var stopped []int64
	err = s.store.Update(ctx, func(tx kiln.Tx) error {
		if _, err := jobFor(tx, c, id, rankManage); err != nil {
			return err
		}
		if stopped, err = stopRuns(tx, kiln.RunFilter{JobID: id, ActiveOnly: true}, "The run's job was deleted."); err != nil {
			return err
		}
		if err := tx.DeleteJob(id); err != nil {
			return err
		}
		if err := tx.SetObjectACL(kiln.ObjectTypeJobs, jobObjectID(id), nil); err != nil {
			return err
		}
		return tx.Audit(auditEvent(c, AuditJobDelete, jobTarget(id)))
	})
	if err != nil {
		return err
	}
	s.announceStops(stopped, kiln.ResultCanceled)
	return nil
}
