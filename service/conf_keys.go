package service

import (
	"context"
	"fmt"
	"strings"

	"github.com/kiln-dev/kiln"
)

// boolConfKeys are the documented Databricks workspace-conf switches
// that the Terraform provider's databricks_workspace_conf and the SDKs'
// WorkspaceConf set, with the value kiln answers before one is set
// (Databricks' default behaviour). kiln stores and validates all of them
// ("true" or "false" in any case, as enableTokensConfig); it acts on
// enableIpAccessLists, enableExportNotebook and enableResultsDownloading
// and stores the others so that configuration written for Databricks
// applies unchanged. Terraform resets every enable* and enforce* key it
// managed to "false" when the resource is destroyed.
var boolConfKeys = map[string]string{
	kiln.ConfEnableIPAccessLists:                       "false",
	kiln.ConfEnableExportNotebook:                      "true",
	kiln.ConfEnableResultsDownloading:                  "true",
	"enableWebTerminal":                                "true",
	"enableWorkspaceFilesystem":                        "true",
	"enableNotebookTableClipboard":                     "true",
	"enableDbfsFileBrowser":                            "false",
	"enableVerboseAuditLogs":                           "false",
	"enforceUserIsolation":                             "false",
	"storeInteractiveNotebookResultsInCustomerAccount": "false",
	"enable-X-Frame-Options":                           "true",
	"enable-X-Content-Type-Options":                    "true",
	"enable-X-XSS-Protection":                          "true",
	"enableDeprecatedGlobalInitScripts":                "false",
	"enableProjectTypeInWorkspace":                     "true",
	"enableGp3":                                        "true",
	"enableDcs":                                        "false",
	"mlflowRunArtifactDownloadEnabled":                 "true",
	"enableUploadDataUis":                              "true",
	"enableJobViewAcls":                                "true",
	"enforceClusterViewAcls":                           "true",
	"enforceWorkspaceViewAcls":                         "true",
	"enableHlsRuntime":                                 "false",
	"enableProjectsAllowList":                          "false",
	"enableNotebookGitVersioning":                      "true",
	"enableDatabricksAutologgingAdminConf":             "true",
	"mlflowModelServingEndpointCreationEnabled":        "true",
	"mlflowModelRegistryEmailNotificationsEnabled":     "true",
}

// stringConfKeys are the documented free-text keys, empty until set:
// projectsAllowList (comma-separated Git URL prefixes Repos may clone
// from) and rStudioUserDefaultHomeBase (where RStudio keeps home
// directories).
var stringConfKeys = []string{"projectsAllowList", "rStudioUserDefaultHomeBase"}

// confDefaults are the defaults of the keys above; kiln.ConfDefaults has
// those of the token keys.
var confDefaults = map[string]string{}

func init() {
	for k, def := range boolConfKeys {
		confValidators[k] = boolValidator(k)
		confDefaults[k] = def
	}
	for _, k := range stringConfKeys {
		confValidators[k] = func(string) error { return nil }
		confDefaults[k] = ""
	}
}

// boolValidator accepts "true" or "false", in any case, for key.
func boolValidator(key string) func(string) error {
	return func(v string) error {
		if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
			return fmt.Errorf("%s must be \"true\" or \"false\"", key)
		}
		return nil
	}
}

// confBool reads a boolean key from stored settings: only "true", in any
// case, is on; unset or "" is the key's default.
func confBool(stored map[string]string, key string) bool {
	return strings.EqualFold(strings.TrimSpace(valueOr(stored, key)), "true")
}

// refuseNotebookExport refuses exporting a notebook while the workspace
// setting enableExportNotebook is "false" (the console's and the API's
// export alike, as on Databricks); files and folders are not notebooks.
func refuseNotebookExport(tx kiln.Tx, o *kiln.WorkspaceObject) error {
	if o.Type != kiln.ObjectNotebook {
		return nil
	}
	stored, err := tx.Settings()
	if err != nil {
		return err
	}
	if confBool(stored, kiln.ConfEnableExportNotebook) {
		return nil
	}
	return kiln.Errorf(kiln.EPermission, "Exporting notebooks is disabled for this workspace (enableExportNotebook is false).")
}

// ResultsDownloadAllowed reports whether the workspace setting
// enableResultsDownloading lets the console offer run results for
// download (any signed-in caller may ask). Like Databricks' "Notebook
// results download" switch it governs downloads only: runs/get-output
// still answers with the run's output.
func (s *Service) ResultsDownloadAllowed(ctx context.Context) (bool, error) {
	if _, err := callerOf(ctx); err != nil {
		return false, err
	}
	var stored map[string]string
	err := s.view(ctx, func(tx kiln.Tx) (err error) { stored, err = tx.Settings(); return err })
	return confBool(stored, kiln.ConfEnableResultsDownloading), err
}
