package cli

import "github.com/kiln-dev/kiln/auth"

func newPassword() string { return auth.NewPassword() }
