package sqlstore

import "github.com/kiln-dev/kiln"

// Workspace returns the workspace row, or ENotFound before CreateWorkspace.
func (t *tx) Workspace() (kiln.Workspace, error) {
	var w kiln.Workspace
	var created int64
	err := t.queryRow(`SELECT workspace_id, created_at, key_fingerprint FROM workspace`).
		Scan(&w.ID, &created, &w.KeyFingerprint)
	if err != nil {
		return kiln.Workspace{}, t.fail("read workspace", err,
			kiln.Errorf(kiln.ENotFound, "The workspace is not initialised."), nil)
	}
	w.Created = kiln.TimeOfMillis(created)
	return w, nil
}

// CreateWorkspace stores w, with a random id if w.ID is zero and the
// transaction time if w.Created is zero. EConflict if a workspace exists.
func (t *tx) CreateWorkspace(w kiln.Workspace) error {
	if err := t.writable("create workspace"); err != nil {
		return err
	}
	if w.ID == 0 {
		w.ID = t.s.newID()
	}
	if w.Created.IsZero() {
		w.Created = t.now
	}
	_, err := t.exec(`INSERT INTO workspace (singleton, workspace_id, created_at, key_fingerprint) VALUES (1, ?, ?, ?)`,
		w.ID, kiln.MillisOf(w.Created), w.KeyFingerprint)
	if err != nil {
		return t.fail("create workspace", err, nil,
			kiln.Errorf(kiln.EConflict, "The workspace is already initialised."))
	}
	return nil
}
