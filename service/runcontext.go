package service

import (
	"context"

	"github.com/kiln-dev/kiln"
)

// RunContext returns ctx acting as the principal ownerID whom a run runs
// as, for what its tasks ask of the service (dbutils.fs): the same rules,
// quotas and audit as that principal's own API calls. A principal who is
// gone or deactivated is EPermission: a task outliving its owner's access
// gets nothing more.
func (s *Service) RunContext(ctx context.Context, ownerID int64) (context.Context, error) {
	var owner *kiln.Principal
	err := s.view(ctx, func(tx kiln.Tx) error {
		var err error
		owner, err = tx.Principal(ownerID)
		return err
	})
	if kiln.IsCode(err, kiln.ENotFound) {
		return nil, kiln.Errorf(kiln.EPermission, "The owner of this run no longer exists.")
	} else if err != nil {
		return nil, err
	}
	if !owner.Active {
		return nil, kiln.Errorf(kiln.EPermission, "User %s is deactivated.", owner.UserName)
	}
	return kiln.NewContextWithCaller(ctx, &kiln.Caller{Principal: owner, Method: "run"}), nil
}
