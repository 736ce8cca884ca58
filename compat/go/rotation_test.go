package compat

import (
	"context"
	"net/http"
	"testing"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/client"
	"github.com/databricks/databricks-sdk-go/service/settings"
)

// TestRotationThroughTheSDK rotates a token with kiln's own endpoint,
// called through the SDK's ApiClient as a Go automation would, then checks
// what the SDK's typed services make of it: both tokens authenticate
// during the grace period, the token lists (with kiln's extra rotation
// fields) decode, and the new token has the old one's comment.
func TestRotationThroughTheSDK(t *testing.T) {
	env := startKiln(t)
	ctx := context.Background()
	admin := env.adminClient(t)
	created, err := admin.Tokens.Create(ctx, settings.CreateTokenRequest{Comment: "airflow", LifetimeSeconds: 30 * 24 * 3600})
	must(t, err, "Tokens.Create")
	old := env.client(t, created.TokenValue)

	api, err := client.New(old.Config)
	must(t, err, "client.New")
	var rotated settings.CreateTokenResponse
	err = api.Do(ctx, http.MethodPost, "/api/kiln/v1/tokens/"+created.TokenInfo.TokenId+"/rotate", nil, nil,
		map[string]any{"grace_seconds": 3600}, &rotated)
	must(t, err, "rotate")
	if rotated.TokenValue == "" || rotated.TokenInfo == nil || rotated.TokenInfo.TokenId == created.TokenInfo.TokenId {
		t.Fatalf("rotate answered %+v, want a new token", rotated.TokenInfo)
	}
	if rotated.TokenInfo.Comment != "airflow" {
		t.Errorf("the new token's comment is %q, want the old one's", rotated.TokenInfo.Comment)
	}
	for name, w := range map[string]*databricks.WorkspaceClient{"old (in its grace period)": old, "new": env.client(t, rotated.TokenValue)} {
		list, err := w.Tokens.ListAll(ctx)
		must(t, err, name+" token: Tokens.List")
		if len(list) < 2 {
			t.Errorf("%s token lists %d tokens, want the old and the new", name, len(list))
		}
	}
	infos, err := admin.TokenManagement.ListAll(ctx, settings.ListTokenManagementRequest{})
	must(t, err, "TokenManagement.ListAll")
	seen := 0
	for _, ti := range infos {
		if ti.TokenId == created.TokenInfo.TokenId || ti.TokenId == rotated.TokenInfo.TokenId {
			seen++
		}
	}
	if seen != 2 {
		t.Errorf("TokenManagement.ListAll shows %d of the two tokens", seen)
	}
}
