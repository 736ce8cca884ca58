package kiln

// Workspace setting keys (workspace-conf). Values are always strings and
// are stored verbatim, as Databricks does, so Terraform sees no drift.
const (
	// ConfEnableTokens switches personal access tokens on ("true") or off.
	ConfEnableTokens = "enableTokensConfig"
	// ConfMaxTokenLifetimeDays caps the lifetime of new tokens, 1 to 730;
	// "0" means no cap.
	ConfMaxTokenLifetimeDays = "maxTokenLifetimeDays"
	// ConfDefaultTokenLifetimeDays is the lifetime of a token created
	// without one. kiln's own key (Databricks has none).
	ConfDefaultTokenLifetimeDays = "defaultTokenLifetimeDays"
	// ConfRejectUnknownClusterIDs, "true", makes an existing_cluster_id
	// that names no cluster of kiln's a 400; by default such tasks run on
	// the local executor. kiln's own key.
	ConfRejectUnknownClusterIDs = "kilnRejectUnknownClusterIds"
	// ConfTokenInactivityDays revokes tokens unused for that many days
	// ("0" never), as Databricks does after 90. kiln's own key.
	ConfTokenInactivityDays = "kilnTokenInactivityDays"
	// ConfTokenExpiryWarningDays is how long before a token ends kiln
	// warns about it: the X-Kiln-Token-Expires header, the console banner.
	// kiln's own key.
	ConfTokenExpiryWarningDays = "kilnTokenExpiryWarningDays"
	// ConfMaxRotationGraceDays bounds how long a rotated token keeps
	// working beside its successor. kiln's own key.
	ConfMaxRotationGraceDays = "kilnMaxTokenRotationGraceDays"
	// ConfRunRetentionDays is how long finished runs are kept, with their
	// task runs, outputs and log files ("0" forever). 60 days, as
	// Databricks keeps run history. kiln's own key.
	ConfRunRetentionDays = "kilnRunRetentionDays"
)

// ConfDefaults holds the value of every known key when it was never set.
var ConfDefaults = map[string]string{
	ConfEnableTokens:             "false",
	ConfMaxTokenLifetimeDays:     "730",
	ConfDefaultTokenLifetimeDays: "90",
	ConfRejectUnknownClusterIDs:  "false",
	ConfTokenInactivityDays:      "90",
	ConfTokenExpiryWarningDays:   "14",
	ConfMaxRotationGraceDays:     "7",
	ConfRunRetentionDays:         "60",
}
