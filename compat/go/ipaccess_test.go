package compat

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/service/iam"
	"github.com/databricks/databricks-sdk-go/service/settings"
	"github.com/kiln-dev/kiln/service"
)

// TestIpAccessLists drives the IP Access Lists API through the SDK's
// IpAccessLists service (Create, Get, GetByLabel, ListAll, Update,
// Replace, Delete), with the lists enforced through WorkspaceConf: the
// SDK's client is at 127.0.0.1.
func TestIpAccessLists(t *testing.T) {
	env := startKiln(t)
	ctx := context.Background()
	w := env.adminClient(t)

	created, err := w.IpAccessLists.Create(ctx, settings.CreateIpAccessList{
		Label: "office", ListType: settings.ListTypeAllow, IpAddresses: []string{"127.0.0.1", "10.0.0.0/8"},
	})
	must(t, err, "Create")
	l := created.IpAccessList
	if l == nil || l.ListId == "" || l.Label != "office" || l.ListType != settings.ListTypeAllow || l.AddressCount != 2 ||
		!l.Enabled || l.CreatedAt == 0 || l.CreatedBy != env.Admin.ID || l.UpdatedBy != env.Admin.ID {
		t.Fatalf("Create = %+v", l)
	}
	got, err := w.IpAccessLists.Get(ctx, settings.GetIpAccessListRequest{IpAccessListId: l.ListId})
	must(t, err, "Get")
	if !slices.Equal(got.IpAccessList.IpAddresses, []string{"127.0.0.1", "10.0.0.0/8"}) {
		t.Errorf("Get = %+v", got.IpAccessList)
	}
	byLabel, err := w.IpAccessLists.GetByLabel(ctx, "office")
	must(t, err, "GetByLabel")
	if byLabel.ListId != l.ListId {
		t.Errorf("GetByLabel = %+v", byLabel)
	}

	must(t, w.IpAccessLists.Update(ctx, settings.UpdateIpAccessList{IpAccessListId: l.ListId, Label: "hq", Enabled: false, ForceSendFields: []string{"Enabled"}}), "Update")
	got, err = w.IpAccessLists.Get(ctx, settings.GetIpAccessListRequest{IpAccessListId: l.ListId})
	must(t, err, "Get after Update")
	if got.IpAccessList.Label != "hq" || got.IpAccessList.Enabled || got.IpAccessList.AddressCount != 2 {
		t.Errorf("after Update: %+v", got.IpAccessList)
	}

	must(t, w.IpAccessLists.Replace(ctx, settings.ReplaceIpAccessList{IpAccessListId: l.ListId, Label: "local", ListType: settings.ListTypeAllow,
		IpAddresses: []string{"127.0.0.0/8"}, Enabled: true}), "Replace")
	blocked, err := w.IpAccessLists.Create(ctx, settings.CreateIpAccessList{Label: "blocked", ListType: settings.ListTypeBlock, IpAddresses: []string{"192.0.2.0/24"}})
	must(t, err, "Create block list")
	all, err := w.IpAccessLists.ListAll(ctx)
	must(t, err, "ListAll")
	if len(all) != 2 || all[0].Label != "local" || all[1].ListType != settings.ListTypeBlock {
		t.Errorf("ListAll = %+v", all)
	}

	// Enforced: the SDK (127.0.0.1) is in the allow list.
	must(t, w.WorkspaceConf.SetStatus(ctx, settings.WorkspaceConf{"enableIpAccessLists": "true"}), "enable")
	_, err = w.CurrentUser.Me(ctx, iam.MeRequest{})
	must(t, err, "Me while allowed")

	t.Run("validation", func(t *testing.T) {
		for name, req := range map[string]settings.CreateIpAccessList{
			"bad CIDR":     {Label: "x", ListType: settings.ListTypeAllow, IpAddresses: []string{"10.0.0.0/40"}},
			"empty list":   {Label: "x", ListType: settings.ListTypeAllow},
			"unknown type": {Label: "x", ListType: "GREY", IpAddresses: []string{"10.0.0.1"}},
		} {
			t.Run(name, func(t *testing.T) {
				apiErr := env.expectAPIError(t, func() error { _, err := w.IpAccessLists.Create(ctx, req); return err })
				expectIs(t, apiErr, databricks.ErrBadRequest)
				if apiErr.ErrorCode != "INVALID_PARAMETER_VALUE" {
					t.Errorf("error_code = %q", apiErr.ErrorCode)
				}
			})
		}
	})

	t.Run("lock-out refused", func(t *testing.T) {
		for name, call := range map[string]func() error{
			"Create": func() error {
				_, err := w.IpAccessLists.Create(ctx, settings.CreateIpAccessList{Label: "me", ListType: settings.ListTypeBlock, IpAddresses: []string{"127.0.0.1"}})
				return err
			},
			"Replace": func() error {
				return w.IpAccessLists.Replace(ctx, settings.ReplaceIpAccessList{IpAccessListId: l.ListId, Label: "local", ListType: settings.ListTypeAllow, IpAddresses: []string{"10.9.9.9"}, Enabled: true})
			},
		} {
			t.Run(name, func(t *testing.T) {
				apiErr := env.expectAPIError(t, call)
				expectIs(t, apiErr, databricks.ErrBadRequest)
				if apiErr.ErrorCode != "INVALID_STATE" || apiErr.Message != "Your current IP 127.0.0.1 will not be allowed to access the workspace under current configuration" {
					t.Errorf("got %s %q", apiErr.ErrorCode, apiErr.Message)
				}
			})
		}
	})

	t.Run("refused address", func(t *testing.T) {
		// Behind the SDK's back, as another admin elsewhere would.
		must(t, env.srv.Parts.Service.ReplaceIPAccessList(env.offline(), l.ListId, service.IPAccessListSpec{
			Label: "local", ListType: "ALLOW", Addresses: []string{"10.0.0.0/8"}, Enabled: true}), "offline Replace")
		apiErr := env.expectAPIError(t, func() error { _, err := w.CurrentUser.Me(ctx, iam.MeRequest{}); return err })
		expectIs(t, apiErr, databricks.ErrPermissionDenied)
		if !strings.HasPrefix(apiErr.Message, "Source IP address: 127.0.0.1 is blocked by Databricks IP ACL for workspace: ") {
			t.Errorf("message = %q", apiErr.Message)
		}
		env.setConf(t, map[string]string{"enableIpAccessLists": "false"})
		_, err := w.CurrentUser.Me(ctx, iam.MeRequest{})
		must(t, err, "Me after the lists were switched off")
	})

	must(t, w.IpAccessLists.DeleteByIpAccessListId(ctx, blocked.IpAccessList.ListId), "Delete")
	must(t, w.IpAccessLists.Delete(ctx, settings.DeleteIpAccessListRequest{IpAccessListId: l.ListId}), "Delete")
	all, err = w.IpAccessLists.ListAll(ctx)
	must(t, err, "ListAll after Delete")
	if len(all) != 0 {
		t.Errorf("ListAll after deleting everything = %+v", all)
	}
	expectIs(t, env.expectAPIError(t, func() error {
		_, err := w.IpAccessLists.Get(ctx, settings.GetIpAccessListRequest{IpAccessListId: l.ListId})
		return err
	}), databricks.ErrResourceDoesNotExist)
}

// TestWorkspaceConfDatabricksKeys sets and reads the documented
// workspace-conf keys beyond the token ones, as Terraform's
// databricks_workspace_conf does, and checks their types.
func TestWorkspaceConfDatabricksKeys(t *testing.T) {
	env := startKiln(t)
	ctx := context.Background()
	w := env.adminClient(t)
	set := settings.WorkspaceConf{
		"enableIpAccessLists": "false", "enableWebTerminal": "true", "enableWorkspaceFilesystem": "true",
		"enableExportNotebook": "true", "enableResultsDownloading": "False", "enableNotebookTableClipboard": "true",
		"enableDbfsFileBrowser": "false", "enableVerboseAuditLogs": "true", "enforceUserIsolation": "false",
		"storeInteractiveNotebookResultsInCustomerAccount": "false", "enable-X-Frame-Options": "true",
		"enable-X-Content-Type-Options": "true", "enable-X-XSS-Protection": "true", "enableDeprecatedGlobalInitScripts": "false",
		"enableProjectTypeInWorkspace": "true", "enableGp3": "true", "enableDcs": "false", "mlflowRunArtifactDownloadEnabled": "true",
		"enableUploadDataUis": "true", "projectsAllowList": "https://github.com/acme/",
	}
	must(t, w.WorkspaceConf.SetStatus(ctx, set), "SetStatus")
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	got, err := w.WorkspaceConf.GetStatus(ctx, settings.GetStatusRequest{Keys: strings.Join(keys, ",")})
	must(t, err, "GetStatus")
	for k, v := range set {
		if (*got)[k] != v {
			t.Errorf("%s = %q, want %q", k, (*got)[k], v)
		}
	}
	// Terraform's destroy resets every enable* key to "false".
	must(t, w.WorkspaceConf.SetStatus(ctx, settings.WorkspaceConf{"enable-X-Frame-Options": "false", "enableGp3": "false"}), "reset")

	apiErr := env.expectAPIError(t, func() error {
		return w.WorkspaceConf.SetStatus(ctx, settings.WorkspaceConf{"enableWebTerminal": "maybe"})
	})
	expectIs(t, apiErr, databricks.ErrBadRequest)
	if want := `Some values are not allowed: {"enableWebTerminal":"maybe"}`; !strings.HasPrefix(apiErr.Message, want) {
		t.Errorf("message = %q, want it to start with %q", apiErr.Message, want)
	}
}
