package service

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kiln-dev/kiln"
)

// confValidators check a value for each known key; "" always means "back
// to the default" (what Terraform sends when a key leaves its config).
var confValidators = map[string]func(string) error{
	kiln.ConfEnableTokens:            boolValidator(kiln.ConfEnableTokens),
	kiln.ConfRejectUnknownClusterIDs: boolValidator(kiln.ConfRejectUnknownClusterIDs),
	kiln.ConfMaxTokenLifetimeDays: func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > MaxLifetimeDaysLimit {
			return fmt.Errorf("%s must be a whole number of days from 1 to %d, or 0 for no limit", kiln.ConfMaxTokenLifetimeDays, MaxLifetimeDaysLimit)
		}
		return nil
	},
	kiln.ConfDefaultTokenLifetimeDays: func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLifetimeDaysLimit {
			return fmt.Errorf("%s must be a whole number of days from 1 to %d", kiln.ConfDefaultTokenLifetimeDays, MaxLifetimeDaysLimit)
		}
		return nil
	},
}

// ConfKeys lists the workspace-conf keys kiln knows, sorted.
func ConfKeys() []string {
	keys := make([]string, 0, len(confValidators))
	for k := range confValidators {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// invalidKeys returns the error Databricks gives for unknown keys; its
// message is exactly `Invalid keys: ["k"]`, which Terraform parses.
func invalidKeys(keys []string) error {
	var bad []string
	for _, k := range keys {
		if _, ok := confValidators[k]; !ok {
			bad = append(bad, k)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	b, _ := json.Marshal(bad)
	return kiln.Errorf(kiln.EInvalid, "Invalid keys: %s", b)
}

// GetConf returns the value of each key: the stored value verbatim, or the
// default for a key never set (admins only).
func (s *Service) GetConf(ctx context.Context, keys []string) (map[string]string, error) {
	if _, err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, kiln.Errorf(kiln.EInvalid, "keys is required: a comma-separated list such as enableTokensConfig,maxTokenLifetimeDays.")
	}
	if err := invalidKeys(keys); err != nil {
		return nil, err
	}
	var stored map[string]string
	if err := s.view(ctx, func(tx kiln.Tx) error {
		var err error
		stored, err = tx.Settings()
		return err
	}); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		out[k] = valueOr(stored, k)
	}
	return out, nil
}

// SetConf validates and stores settings, all or none (admins only).
// Values are stored verbatim ("TRue" stays "TRue"); "" resets a key to its
// default.
func (s *Service) SetConf(ctx context.Context, kv map[string]string) error {
	c, err := requireAdmin(ctx)
	if err != nil {
		return err
	}
	if err := validateConf(kv); err != nil {
		return err
	}
	return s.update(ctx, func(tx kiln.Tx) error {
		if err := refuseEnablingLockout(ctx, tx, kv); err != nil {
			return err
		}
		before, err := tx.Settings()
		if err != nil {
			return err
		}
		if err := tx.SetSettings(kv); err != nil {
			return err
		}
		ev := auditEvent(c, kiln.AuditConfUpdate, "workspace-conf")
		ev.Detail = kv
		if err := tx.Audit(ev); err != nil {
			return err
		}
		if err := s.emit(tx, policyEvent("workspace_conf", kv)); err != nil {
			return err
		}
		if touchesTokenPolicy(kv) {
			if err := s.applyPolicy(tx, c, before, withConf(before, kv), s.now().UTC().Truncate(time.Millisecond)); err != nil {
				return err
			}
		}
		return tx.Notify(kiln.ChangeSettings, "")
	})
}

// validateConf checks a workspace-conf change: known keys, allowed values
// ("" resets a key), with Databricks' wording.
func validateConf(kv map[string]string) error {
	if len(kv) == 0 {
		return kiln.Errorf(kiln.EInvalid, "Nothing to change: send an object of keys and string values, such as {\"enableTokensConfig\": \"true\"}.")
	}
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if err := invalidKeys(keys); err != nil {
		return err
	}
	var problems []string
	bad := map[string]string{}
	for _, k := range keys {
		v := kv[k]
		if v == "" {
			continue
		}
		if err := confValidators[k](strings.TrimSpace(v)); err != nil {
			bad[k] = v
			problems = append(problems, err.Error())
		}
	}
	if len(bad) > 0 {
		b, _ := json.Marshal(bad)
		// The prefix is Databricks' wording, which Terraform recognises.
		return kiln.Errorf(kiln.EInvalid, "Some values are not allowed: %s (%s).", b, strings.Join(problems, "; "))
	}
	return nil
}

// TokenPolicy is what the console shows about token settings.
type TokenPolicy struct {
	Enabled             bool
	MaxLifetimeDays     int
	DefaultLifetimeDays int
}

// TokenPolicy returns the effective token settings; any signed-in caller
// may read them (User Settings needs the default lifetime).
func (s *Service) TokenPolicy(ctx context.Context) (TokenPolicy, error) {
	if _, err := callerOf(ctx); err != nil {
		return TokenPolicy{}, err
	}
	var stored map[string]string
	err := s.view(ctx, func(tx kiln.Tx) error {
		var err error
		stored, err = tx.Settings()
		return err
	})
	p := TokenPolicy{
		Enabled:             strings.EqualFold(strings.TrimSpace(valueOr(stored, kiln.ConfEnableTokens)), "true"),
		MaxLifetimeDays:     confInt(stored, kiln.ConfMaxTokenLifetimeDays),
		DefaultLifetimeDays: confInt(stored, kiln.ConfDefaultTokenLifetimeDays),
	}
	if p.MaxLifetimeDays > 0 && p.DefaultLifetimeDays > p.MaxLifetimeDays {
		p.DefaultLifetimeDays = p.MaxLifetimeDays
	}
	return p, err
}

// valueOr returns the stored value of key, or its default when unset or
// reset to "".
func valueOr(stored map[string]string, key string) string {
	if v := stored[key]; v != "" {
		return v
	}
	if v, ok := kiln.ConfDefaults[key]; ok {
		return v
	}
	return confDefaults[key]
}
