package service

import "github.com/kiln-dev/kiln"

// emit enqueues ev for the webhooks subscribed to its type, in tx: the
// delivery is a row written with the change that caused it, so it is
// never lost when the change commits and never sent when it rolls back,
// and the request does not wait for any receiver.
func (s *Service) emit(tx kiln.Tx, ev kiln.Event) error { return tx.EnqueueEvent(ev) }
