package service

import (
	"encoding/json"

	"github.com/kiln-dev/kiln"
)

// A job runs as its owner unless its settings name another principal in
// run_as ({"user_name": …} or {"service_principal_name": …}), as on
// Databricks. Admins may name any active user or service principal;
// anyone else only themselves, so that nobody borrows another's rights by
// writing a job.

// runAsSetting is the run_as of job settings.
type runAsSetting struct {
	UserName             string `json:"user_name"`
	ServicePrincipalName string `json:"service_principal_name"`
}

// RunAsName returns the principal name job settings' run_as names, ""
// when they name none.
func RunAsName(settings []byte) (string, error) {
	var s struct {
		RunAs *runAsSetting `json:"run_as"`
	}
	if err := json.Unmarshal(settings, &s); err != nil || s.RunAs == nil {
		return "", nil // the settings were validated before; no run_as
	}
	switch {
	case s.RunAs.UserName != "" && s.RunAs.ServicePrincipalName != "":
		return "", kiln.Errorf(kiln.EInvalid, "run_as names either user_name or service_principal_name, not both.")
	case s.RunAs.UserName != "":
		return s.RunAs.UserName, nil
	}
	return s.RunAs.ServicePrincipalName, nil
}

// checkSavedSettings checks what saved job settings name against the
// store, for the caller saving them: the clusters (see checkJobClusters)
// and run_as.
func checkSavedSettings(tx kiln.Tx, c *kiln.Caller, settings []byte) error {
	if err := checkJobClusters(tx, settings); err != nil {
		return err
	}
	name, err := RunAsName(settings)
	if err != nil || name == "" {
		return err
	}
	p, err := tx.PrincipalByName(name)
	if kiln.IsCode(err, kiln.ENotFound) || (err == nil && !p.Active) {
		return kiln.Errorf(kiln.EInvalid, "run_as: principal %s does not exist.", name)
	}
	if err != nil {
		return err
	}
	if !isAdmin(c) && p.ID != c.Principal.ID {
		return kiln.Errorf(kiln.EPermission, "Only workspace admins can set run_as to another principal than themselves (%s).", name)
	}
	return nil
}

// runAsOf returns the principal a job's runs run as: run_as, else its
// owner. nil (without error) when that principal no longer exists.
func runAsOf(tx kiln.Tx, j *kiln.Job) (*kiln.Principal, error) {
	name, err := RunAsName(j.Settings)
	if err != nil {
		return nil, err
	}
	var p *kiln.Principal
	if name != "" {
		p, err = tx.PrincipalByName(name)
	} else {
		p, err = tx.Principal(j.CreatorID)
	}
	if kiln.IsCode(err, kiln.ENotFound) {
		return nil, nil
	}
	return p, err
}
