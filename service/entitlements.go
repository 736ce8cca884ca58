package service

import (
	"slices"
	"strings"

	"github.com/kiln-dev/kiln"
)

// EntitlementChange changes a principal's or group's entitlements: with
// Replace, Set becomes the whole set; then Add and Remove apply. The
// zero change keeps them.
type EntitlementChange struct {
	Replace          bool
	Set, Add, Remove []string
}

// IsZero reports whether the change keeps the entitlements as they are.
func (c EntitlementChange) IsZero() bool {
	return !c.Replace && len(c.Add) == 0 && len(c.Remove) == 0
}

// apply returns cur changed by c, sorted; each value is checked.
// Removing an entitlement that is not there is no error: Terraform
// removes what it believes is set, and tolerates Databricks' refusal.
func (c EntitlementChange) apply(cur []string) ([]string, error) {
	set, err := checkEntitlements(c.Set)
	if err != nil {
		return nil, err
	}
	add, err := checkEntitlements(c.Add)
	if err != nil {
		return nil, err
	}
	remove, err := checkEntitlements(c.Remove)
	if err != nil {
		return nil, err
	}
	next := slices.Clone(cur)
	if c.Replace {
		next = set
	}
	next = append(next, add...)
	next = slices.DeleteFunc(next, func(e string) bool { return slices.Contains(remove, e) })
	return slices.Compact(slices.Sorted(slices.Values(next))), nil
}

// checkEntitlements returns the entitlements named in vs, refusing
// unknown ones. Empty values are skipped: Terraform sends
// [{"value": ""}] for "none".
func checkEntitlements(vs []string) ([]string, error) {
	var out []string
	for _, v := range vs {
		v = strings.TrimSpace(v)
		switch {
		case v == "":
		case slices.Contains(kiln.Entitlements, v):
			out = append(out, v)
		default:
			return nil, kiln.Errorf(kiln.EInvalid, "Unknown entitlement %.60q: use %s.", v, strings.Join(kiln.Entitlements, ", "))
		}
	}
	return out, nil
}
