package compat

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/common/types/fieldmask"
	"github.com/databricks/databricks-sdk-go/service/iam"
	"github.com/databricks/databricks-sdk-go/service/settings"
)

// tokenIDRE is the shape of a token id: 64 lowercase hex characters.
var tokenIDRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// day is 24 hours in milliseconds, the unit of token times on the wire.
const dayMillis = int64(24 * time.Hour / time.Millisecond)

// millisNear reports whether got is within tolerance of want (both epoch
// milliseconds).
func millisNear(got, want int64, tolerance time.Duration) bool {
	d := got - want
	if d < 0 {
		d = -d
	}
	return d <= tolerance.Milliseconds()
}

// TestTokens covers the self-service token API (Tokens): create with the
// default and explicit lifetimes, list, update, delete, and that a token
// made through the SDK really authenticates, until it is deleted.
func TestTokens(t *testing.T) {
	env := startKiln(t)
	ctx := context.Background()
	w := env.adminClient(t)

	t.Run("Create/default lifetime is 90 days", func(t *testing.T) {
		before := time.Now().UnixMilli()
		resp, err := w.Tokens.Create(ctx, settings.CreateTokenRequest{Comment: "default lifetime"})
		must(t, err, "Create")
		if resp.TokenValue == "" {
			t.Fatal("token_value is empty")
		}
		info := resp.TokenInfo
		if info == nil || !tokenIDRE.MatchString(info.TokenId) {
			t.Fatalf("token_info = %+v, want a 64-hex token_id", info)
		}
		if !millisNear(info.CreationTime, before, time.Minute) {
			t.Errorf("creation_time = %d, want within a minute of %d", info.CreationTime, before)
		}
		if !millisNear(info.ExpiryTime, info.CreationTime+90*dayMillis, time.Minute) {
			t.Errorf("expiry_time - creation_time = %v, want 90 days ±1 minute",
				time.Duration(info.ExpiryTime-info.CreationTime)*time.Millisecond)
		}
		if info.Comment != "default lifetime" {
			t.Errorf("comment = %q, want %q", info.Comment, "default lifetime")
		}
	})

	t.Run("Create/explicit lifetime and comment", func(t *testing.T) {
		cases := []struct {
			name     string
			lifetime int64
			comment  string
		}{
			{"one hour", 3600, "ci pipeline"},
			{"one week", 7 * 24 * 3600, "weekly job"},
			{"730 days, the default cap", 730 * 24 * 3600, "long-lived"},
			{"no comment", 600, ""},
			{"unicode comment", 120, "déploiement ✓ 部署"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				resp, err := w.Tokens.Create(ctx, settings.CreateTokenRequest{LifetimeSeconds: tc.lifetime, Comment: tc.comment})
				must(t, err, "Create")
				info := resp.TokenInfo
				if info == nil {
					t.Fatal("no token_info")
				}
				if got, want := info.ExpiryTime-info.CreationTime, tc.lifetime*1000; !millisNear(got, want, time.Second) {
					t.Errorf("expiry_time - creation_time = %dms, want %dms", got, want)
				}
				if info.Comment != tc.comment {
					t.Errorf("comment = %q, want %q", info.Comment, tc.comment)
				}
				listed := findPublicToken(t, w, info.TokenId)
				if listed == nil {
					t.Fatalf("token %s not in Tokens.List", info.TokenId)
				}
				if listed.Comment != tc.comment || listed.ExpiryTime != info.ExpiryTime || listed.CreationTime != info.CreationTime {
					t.Errorf("listed %+v, created %+v: want the same comment and times", listed, info)
				}
			})
		}
	})

	t.Run("List/GetByComment", func(t *testing.T) {
		resp, err := w.Tokens.Create(ctx, settings.CreateTokenRequest{Comment: "find me by comment", LifetimeSeconds: 600})
		must(t, err, "Create")
		got, err := w.Tokens.GetByComment(ctx, "find me by comment")
		must(t, err, "GetByComment")
		if got.TokenId != resp.TokenInfo.TokenId {
			t.Errorf("GetByComment id = %s, want %s", got.TokenId, resp.TokenInfo.TokenId)
		}
	})

	t.Run("List shows only the caller's tokens", func(t *testing.T) {
		_, bobToken := env.createUser(t, "bob@example.com")
		bob := env.client(t, bobToken)
		mine, err := bob.Tokens.Create(ctx, settings.CreateTokenRequest{Comment: "bob's", LifetimeSeconds: 600})
		must(t, err, "bob: Create")
		list, err := bob.Tokens.ListAll(ctx)
		must(t, err, "bob: ListAll")
		// bob has the token minted for him by the harness and this one.
		if len(list) != 2 {
			t.Errorf("bob's list has %d tokens, want 2: %+v", len(list), list)
		}
		found := false
		for _, tok := range list {
			found = found || tok.TokenId == mine.TokenInfo.TokenId
		}
		if !found {
			t.Errorf("bob's list %+v lacks his token %s", list, mine.TokenInfo.TokenId)
		}
		if findPublicToken(t, w, mine.TokenInfo.TokenId) != nil {
			t.Errorf("the admin's own list shows bob's token")
		}
	})

	t.Run("Update changes the comment", func(t *testing.T) {
		resp, err := w.Tokens.Create(ctx, settings.CreateTokenRequest{Comment: "before", LifetimeSeconds: 600})
		must(t, err, "Create")
		id := resp.TokenInfo.TokenId
		_, err = w.Tokens.Update(ctx, settings.UpdateTokenRequest{
			TokenId:    id,
			Token:      settings.PublicTokenInfo{Comment: "after"},
			UpdateMask: *fieldmask.New([]string{"comment"}),
		})
		must(t, err, "Update")
		if got := findPublicToken(t, w, id); got == nil || got.Comment != "after" {
			t.Errorf("after Update, listed token = %+v, want comment %q", got, "after")
		}
		apiErr := env.expectAPIError(t, func() error {
			_, err := w.Tokens.Update(ctx, settings.UpdateTokenRequest{
				TokenId: "0000000000000000000000000000000000000000000000000000000000000000",
				Token:   settings.PublicTokenInfo{Comment: "x"}, UpdateMask: *fieldmask.New([]string{"comment"}),
			})
			return err
		})
		expectIs(t, apiErr, databricks.ErrNotFound)
	})

	t.Run("new token authenticates until deleted", func(t *testing.T) {
		resp, err := w.Tokens.Create(ctx, settings.CreateTokenRequest{Comment: "second client", LifetimeSeconds: 3600})
		must(t, err, "Create")
		second := env.client(t, resp.TokenValue)
		me, err := second.CurrentUser.Me(ctx, iam.MeRequest{})
		must(t, err, "Me with the new token")
		if me.UserName != adminEmail {
			t.Errorf("Me with the new token = %q, want %q", me.UserName, adminEmail)
		}

		must(t, w.Tokens.DeleteByTokenId(ctx, resp.TokenInfo.TokenId), "Delete")
		apiErr := env.expectAPIError(t, func() error {
			_, err := second.CurrentUser.Me(ctx, iam.MeRequest{})
			return err
		})
		expectIs(t, apiErr, databricks.ErrPermissionDenied)
		if apiErr.StatusCode != 403 || apiErr.Message != "Invalid access token." {
			t.Errorf("deleted token: status %d message %q, want 403 %q", apiErr.StatusCode, apiErr.Message, "Invalid access token.")
		}
		if findPublicToken(t, w, resp.TokenInfo.TokenId) != nil {
			t.Errorf("deleted token still listed")
		}

		// Terraform treats a 404 (or "does not exist") on delete as done.
		apiErr = env.expectAPIError(t, func() error { return w.Tokens.DeleteByTokenId(ctx, resp.TokenInfo.TokenId) })
		expectIs(t, apiErr, databricks.ErrNotFound)
		if !apierr.IsMissing(apiErr) {
			t.Errorf("second Delete: IsMissing = false")
		}
	})
}

// findPublicToken returns the caller's token with the given id from
// Tokens.List, or nil.
func findPublicToken(t *testing.T, w *databricks.WorkspaceClient, id string) *settings.PublicTokenInfo {
	t.Helper()
	list, err := w.Tokens.ListAll(context.Background())
	must(t, err, "Tokens.ListAll")
	for i := range list {
		if list[i].TokenId == id {
			return &list[i]
		}
	}
	return nil
}
