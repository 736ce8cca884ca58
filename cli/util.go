package cli

import (
	"os"

	"github.com/kiln-dev/kiln/auth"
)

func getenv(name string) string { return os.Getenv(name) }

func newPassword() string { return auth.NewPassword() }
