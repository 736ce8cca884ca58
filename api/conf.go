package api

import (
	"encoding/json"
	"net/http"

	"github.com/kiln-dev/kiln"
)

func (s *Server) getConf(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(r)
	if err != nil {
		return err
	}
	out, err := s.svc.GetConf(r.Context(), p.list("keys"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// decodeConfBody reads a workspace-conf body: an object of string values.
func decodeConfBody(r *http.Request) (map[string]string, error) {
	var raw map[string]json.RawMessage
	if err := decodeBody(r, &raw, true); err != nil {
		return nil, err
	}
	kv := make(map[string]string, len(raw))
	for k, v := range raw {
		var str string
		if err := json.Unmarshal(v, &str); err != nil {
			return nil, kiln.Errorf(kiln.EInvalid, "The value of %s must be a JSON string, such as \"true\" or \"90\".", k)
		}
		kv[k] = str
	}
	return kv, nil
}

func (s *Server) setConf(w http.ResponseWriter, r *http.Request) error {
	kv, err := decodeConfBody(r)
	if err != nil {
		return err
	}
	if err := s.svc.SetConf(r.Context(), kv); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, empty)
	return nil
}
