package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

func newCompletionCmd(stdio IO) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Long: `Print the completion script for a shell. Load it in the current shell, or
install it once for every new shell:

  bash:        source <(kiln completion bash)
               kiln completion bash > /etc/bash_completion.d/kiln
  zsh:         kiln completion zsh > "${fpath[1]}/_kiln"
  fish:        kiln completion fish > ~/.config/fish/completions/kiln.fish
  powershell:  kiln completion powershell | Out-String | Invoke-Expression

Completion covers commands, flags, profile names (--profile) and setting
names (kiln workspace-conf get).`,
		Example: `  source <(kiln completion bash)
  kiln completion zsh > "${fpath[1]}/_kiln"
  kiln completion fish > ~/.config/fish/completions/kiln.fish`,
		ValidArgs:             []string{"bash", "zsh", "fish", "powershell"},
		DisableFlagsInUseLine: true,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{errors.New("name one shell: bash, zsh, fish or powershell")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(stdio.Out, true)
			case "zsh":
				return root.GenZshCompletion(stdio.Out)
			case "fish":
				return root.GenFishCompletion(stdio.Out, true)
			case "powershell":
				return root.GenPowerShellCompletionWithDesc(stdio.Out)
			default:
				return usageError{fmt.Errorf("unknown shell %q: use bash, zsh, fish or powershell", args[0])}
			}
		},
	}
}

// exactArgs requires exactly n arguments, naming them in the error.
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("%s takes %s (got %d arguments); see --help", cmd.CommandPath(), names, len(args))}
		}
		return nil
	}
}
