package api

import (
	"encoding/json"
	"net/http"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/service"
)

// hasMoreField says whether a version still sends has_more (2.2 dropped
// it in favour of next_page_token alone).
func hasMoreField(version string) bool { return version != "2.2" }

func (s *Server) createJob(w http.ResponseWriter, r *http.Request) error {
	body, err := decodeJobsBody(r)
	if err != nil {
		return err
	}
	j, err := s.svc.CreateJob(r.Context(), body)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int64{"job_id": j.ID})
	return nil
}

// jobJSON renders a job (jobs/get, and jobs/list's BaseJob). Without
// expand, settings leave out tasks and job_clusters, as jobs/list does
// unless expand_tasks is set.
func jobJSON(j *kiln.Job, expand bool) map[string]any {
	var settings map[string]json.RawMessage
	json.Unmarshal(j.Settings, &settings)
	if !expand {
		delete(settings, "tasks")
		delete(settings, "job_clusters")
	}
	out := map[string]any{"job_id": j.ID, "created_time": kiln.MillisOf(j.Created), "settings": settings}
	if j.CreatorName != "" {
		out["creator_user_name"] = j.CreatorName
		out["run_as_user_name"] = j.CreatorName
	}
	if name, err := service.RunAsName(j.Settings); err == nil && name != "" {
		out["run_as_user_name"] = name
	}
	return out
}

func (s *Server) listJobs(version string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := readParams(r)
		if err != nil {
			return err
		}
		var lp service.JobListParams
		if lp.Name, err = p.get("name"); err != nil {
			return err
		}
		if lp.PageToken, err = p.get("page_token"); err != nil {
			return err
		}
		limit, err := p.int("limit", 0)
		if err != nil {
			return err
		}
		offset, err := p.int("offset", 0)
		if err != nil {
			return err
		}
		expand, err := p.bool("expand_tasks")
		if err != nil {
			return err
		}
		lp.Limit, lp.Offset = int(limit), int(offset)
		page, err := s.svc.ListJobs(r.Context(), lp)
		if err != nil {
			return err
		}
		jobs := make([]map[string]any, 0, len(page.Jobs))
		for _, j := range page.Jobs {
			jobs = append(jobs, jobJSON(j, expand))
		}
		writeJSON(w, http.StatusOK, listPage("jobs", jobs, version, page.HasMore, page.NextPageToken))
		return nil
	}
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(r)
	if err != nil {
		return err
	}
	id, err := p.requiredID("job_id")
	if err != nil {
		return err
	}
	j, err := s.svc.GetJob(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, jobJSON(j, true))
	return nil
}

// jobChange is the body of jobs/reset and jobs/update.
type jobChange struct {
	NewSettings    json.RawMessage `json:"new_settings"`
	FieldsToRemove []string        `json:"fields_to_remove"`
}

func (s *Server) resetJob(w http.ResponseWriter, r *http.Request) error {
	body, id, err := jobsBodyWithID(r, "job_id")
	if err != nil {
		return err
	}
	var req jobChange
	if err := decodeInto(body, &req); err != nil {
		return err
	}
	if len(req.NewSettings) == 0 || string(req.NewSettings) == "null" {
		return kiln.Errorf(kiln.EInvalid, "Missing required field: new_settings.")
	}
	if err := s.svc.ResetJob(r.Context(), id, req.NewSettings); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, empty)
	return nil
}

func (s *Server) updateJob(w http.ResponseWriter, r *http.Request) error {
	body, id, err := jobsBodyWithID(r, "job_id")
	if err != nil {
		return err
	}
	var req jobChange
	if err := decodeInto(body, &req); err != nil {
		return err
	}
	if err := s.svc.UpdateJob(r.Context(), id, req.NewSettings, req.FieldsToRemove); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, empty)
	return nil
}

func (s *Server) deleteJob(w http.ResponseWriter, r *http.Request) error {
	_, id, err := jobsBodyWithID(r, "job_id")
	if err != nil {
		return err
	}
	if err := s.svc.DeleteJob(r.Context(), id); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, empty)
	return nil
}

// jobsBodyWithID decodes a canonical body and its required id field.
func jobsBodyWithID(r *http.Request, key string) (json.RawMessage, int64, error) {
	body, err := decodeJobsBody(r)
	if err != nil {
		return nil, 0, err
	}
	id, err := bodyID(body, key)
	return body, id, err
}

// runNowRequest is the body of jobs/run-now. Parameters of task types
// kiln does not run (jar_params, sql_params, …) are accepted and have
// nothing to apply to: run-now refuses such jobs.
type runNowRequest struct {
	NotebookParams   map[string]string `json:"notebook_params"`
	PythonParams     []string          `json:"python_params"`
	PyNamedParams    map[string]string `json:"python_named_params"`
	JobParameters    map[string]string `json:"job_parameters"`
	JarParams        []string          `json:"jar_params"`
	IdempotencyToken string            `json:"idempotency_token"`
	Only             []string          `json:"only"`
}

func (s *Server) runNow(w http.ResponseWriter, r *http.Request) error {
	body, id, err := jobsBodyWithID(r, "job_id")
	if err != nil {
		return err
	}
	var req runNowRequest
	if err := decodeInto(body, &req); err != nil {
		return err
	}
	if req.NotebookParams != nil && req.JarParams != nil {
		return kiln.Errorf(kiln.EInvalid, "notebook_params and jar_params cannot be given together.")
	}
	run, err := s.svc.RunNow(r.Context(), service.RunNowParams{JobID: id, IdempotencyToken: req.IdempotencyToken,
		RunParams: service.RunParams{NotebookParams: req.NotebookParams, PythonParams: req.PythonParams,
			PythonNamedParams: req.PyNamedParams, JobParameters: req.JobParameters, Only: req.Only}})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int64{"run_id": run.ID, "number_in_job": run.ID})
	return nil
}

// listPage is the envelope of jobs/list and runs/list: the items under key
// (left out when empty, as Databricks does), has_more up to API 2.1 (2.2
// dropped it), and next_page_token only when there is a next page.
func listPage(key string, items []map[string]any, version string, hasMore bool, next string) map[string]any {
	out := map[string]any{}
	if len(items) > 0 {
		out[key] = items
	}
	if hasMoreField(version) {
		out["has_more"] = hasMore
	}
	if next != "" {
		out["next_page_token"] = next
	}
	return out
}
