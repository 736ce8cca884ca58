// Command kiln runs and administers a kiln server; see `kiln --help`.
package main

import (
	"os"

	"github.com/kiln-dev/kiln/cli"
)

func main() {
	os.Exit(cli.Run(os.Args[1:], cli.IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}))
}
