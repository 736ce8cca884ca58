package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kiln-dev/kiln/client"
)

// notebookExts are the extensions of notebook sources and their
// languages.
var notebookExts = map[string]string{".py": "PYTHON", ".sql": "SQL", ".scala": "SCALA", ".r": "R"}

// importFormat infers the format and language of a local file from its
// extension: .py, .sql, .scala and .r are SOURCE notebooks, .ipynb is
// JUPYTER, anything else AUTO (a notebook when the content starts with a
// Databricks source header, else a workspace file).
func importFormat(name string) (format, language string) {
	ext := strings.ToLower(filepath.Ext(name))
	if l, ok := notebookExts[ext]; ok {
		return client.FormatSource, l
	}
	if ext == ".ipynb" {
		return client.FormatJupyter, ""
	}
	return client.FormatAuto, ""
}

func (e *clientEnv) workspaceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "workspace",
		Short: "Import, export, list and delete notebooks, files and folders",
		Example: `  kiln workspace import etl.py /Shared/etl
  kiln workspace export /Shared/etl --file etl.py
  kiln workspace list /Shared
  kiln workspace delete /Shared/old --recursive`,
	}
	e.addFlags(cmd)

	var format, language string
	var overwrite bool
	importCmd := &cobra.Command{
		Use:   "import LOCAL_FILE WORKSPACE_PATH",
		Short: "Import a local file as a notebook or workspace file",
		Long: `Import a local file into the workspace. LOCAL_FILE - reads standard input.

The format and language follow the file's extension unless --format and
--language say otherwise: .py, .sql, .scala and .r are notebooks in SOURCE
format (PYTHON, SQL, SCALA, R), .ipynb is a Jupyter notebook (JUPYTER), and
anything else is imported with AUTO: a notebook when it starts with a
"Databricks notebook source" header, else a workspace file. To import a .py
script as a file (for a spark_python_task), use --format RAW.

A WORKSPACE_PATH ending in / is a folder: the file keeps its name there, less
a notebook extension. The folder must exist (kiln workspace mkdirs), except
/Shared and your home folder /Users/<you>. An existing object is replaced
only with --overwrite.`,
		Example: `  kiln workspace import etl.py /Shared/etl
  kiln workspace import report.ipynb /Users/jane@example.com/ --overwrite
  kiln workspace import job.py /Shared/jobs/job.py --format RAW
  cat q.sql | kiln workspace import - /Shared/q --language SQL`,
		Args: exactArgs(2, "LOCAL_FILE and WORKSPACE_PATH"),
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			local, target := args[0], args[1]
			var content []byte
			var err error
			if local == "-" {
				content, err = io.ReadAll(e.stdio.In)
			} else {
				content, err = os.ReadFile(local)
			}
			if err != nil {
				return usageError{fmt.Errorf("cannot read %v", unwrapPathError(err))}
			}
			f, l := importFormat(local)
			if local == "-" {
				f, l = client.FormatAuto, ""
				if language != "" {
					f = client.FormatSource
				}
			}
			if format != "" {
				f = strings.ToUpper(format)
				if f != client.FormatSource {
					l = ""
				}
			}
			if language != "" {
				l = strings.ToUpper(language)
			}
			if strings.HasSuffix(target, "/") {
				if local == "-" {
					return usageError{errors.New("name the object: WORKSPACE_PATH cannot be a folder when importing standard input")}
				}
				base := filepath.Base(local)
				if f == client.FormatSource || f == client.FormatJupyter {
					base = strings.TrimSuffix(base, filepath.Ext(base))
				}
				target += base
			}
			if err := c.WorkspaceImport(ctx, client.ImportRequest{Path: target, Format: f, Language: l, Content: content, Overwrite: overwrite}); err != nil {
				return e.explainWorkspace(err, target)
			}
			info, err := importedObject(ctx, c, target, f)
			if err != nil {
				return err
			}
			p := e.printer()
			if p.json {
				return p.JSON(info)
			}
			fmt.Fprintf(e.stdio.Err, "Imported %s as %s (%s).\n", displayLocal(local), info.Path, describeObject(info))
			return nil
		}),
	}
	importCmd.Flags().StringVarP(&format, "format", "f", "", "SOURCE, JUPYTER, AUTO or RAW (default: from the extension)")
	importCmd.Flags().StringVarP(&language, "language", "l", "", "PYTHON, SQL, SCALA or R, for SOURCE notebooks (default: from the extension)")
	importCmd.Flags().BoolVar(&overwrite, "overwrite", false, "replace an existing notebook or file")
	importCmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"SOURCE", "JUPYTER", "AUTO", "RAW"}, cobra.ShellCompDirectiveNoFileComp))
	importCmd.RegisterFlagCompletionFunc("language", cobra.FixedCompletions([]string{"PYTHON", "SQL", "SCALA", "R"}, cobra.ShellCompDirectiveNoFileComp))

	var exportFormat, file string
	var exportOverwrite bool
	export := &cobra.Command{
		Use:   "export WORKSPACE_PATH",
		Short: "Export a notebook or file to standard output or a local file",
		Long: `Export a notebook (in SOURCE format unless --format JUPYTER) or a workspace
file, to standard output or to --file. An existing local file is replaced only
with --overwrite. With --output json the server's answer is printed: the
content in base64 and its file_type.`,
		Example: `  kiln workspace export /Shared/etl
  kiln workspace export /Shared/etl --file etl.py
  kiln workspace export /Shared/report --format JUPYTER --file report.ipynb --overwrite`,
		Args: exactArgs(1, "WORKSPACE_PATH"),
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			if file != "" && !exportOverwrite {
				if _, err := os.Stat(file); err == nil {
					return usageError{fmt.Errorf("%s exists: add --overwrite to replace it", file)}
				}
			}
			ex, err := c.WorkspaceExport(ctx, args[0], strings.ToUpper(exportFormat))
			if err != nil {
				return e.explainWorkspace(err, args[0])
			}
			p := e.printer()
			switch {
			case p.json:
				return p.JSON(map[string]any{"path": args[0], "file_type": ex.FileType, "content": ex.Content})
			case file != "":
				if err := os.WriteFile(file, ex.Content, 0o644); err != nil {
					return fmt.Errorf("cannot write %v", unwrapPathError(err))
				}
				fmt.Fprintf(e.stdio.Err, "Exported %s to %s (%s).\n", args[0], file, plural(len(ex.Content), "byte"))
				return nil
			default:
				_, err := e.stdio.Out.Write(ex.Content)
				return err
			}
		}),
	}
	export.Flags().StringVarP(&exportFormat, "format", "f", "", "SOURCE or JUPYTER for notebooks (default SOURCE)")
	export.Flags().StringVar(&file, "file", "", "write to this local file instead of standard output")
	export.Flags().BoolVar(&exportOverwrite, "overwrite", false, "replace an existing local --file")
	export.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"SOURCE", "JUPYTER"}, cobra.ShellCompDirectiveNoFileComp))

	list := &cobra.Command{
		Use:   "list [WORKSPACE_PATH]",
		Short: "List a folder (default /)",
		Example: `  kiln workspace list /Shared
  kiln workspace list /Users/jane@example.com -o json`,
		Aliases: []string{"ls"},
		Args:    cobra.MaximumNArgs(1),
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			dir := "/"
			if len(args) == 1 {
				dir = args[0]
			}
			objs, err := c.WorkspaceList(ctx, dir)
			if err != nil {
				return e.explainWorkspace(err, dir)
			}
			p := e.printer()
			if p.json {
				return p.JSON(objs)
			}
			if len(objs) == 0 {
				fmt.Fprintf(e.stdio.Err, "%s is empty.\n", dir)
				return nil
			}
			rows := make([][]string, 0, len(objs))
			for i := range objs {
				o := &objs[i]
				size, modified := "", ""
				if o.ObjectType != client.ObjectDirectory {
					size = strconv.FormatInt(o.Size, 10)
				}
				if m := o.Modified(); !m.IsZero() {
					modified = relative(m, p.now)
				}
				rows = append(rows, []string{o.ObjectType, o.Path, o.Language, size, modified})
			}
			p.Table([]string{"TYPE", "PATH", "LANGUAGE", "SIZE", "MODIFIED"}, rows)
			return nil
		}),
	}

	mkdirs := &cobra.Command{
		Use:   "mkdirs WORKSPACE_PATH",
		Short: "Create a folder and its missing parents",
		Long:  `Create a folder and any missing parents. An existing folder is not an error.`,
		Example: `  kiln workspace mkdirs /Shared/etl/daily
  kiln workspace mkdirs /Users/jane@example.com/scratch -o json`,
		Args: exactArgs(1, "WORKSPACE_PATH"),
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			if err := c.WorkspaceMkdirs(ctx, args[0]); err != nil {
				return e.explainWorkspace(err, args[0])
			}
			p := e.printer()
			if p.json {
				return p.JSON(map[string]any{"path": args[0], "created": true})
			}
			fmt.Fprintf(e.stdio.Err, "Folder %s is ready.\n", args[0])
			return nil
		}),
	}

	var recursive bool
	del := &cobra.Command{
		Use:     "delete WORKSPACE_PATH",
		Aliases: []string{"rm"},
		Short:   "Delete a notebook, file or folder",
		Long:    `Delete a notebook, a file, or a folder; a folder that is not empty needs --recursive.`,
		Example: `  kiln workspace delete /Shared/etl
  kiln workspace delete /Shared/old --recursive`,
		Args: exactArgs(1, "WORKSPACE_PATH"),
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			if err := c.WorkspaceDelete(ctx, args[0], recursive); err != nil {
				var api *client.APIError
				if errors.As(err, &api) && api.ErrorCode == "DIRECTORY_NOT_EMPTY" {
					return fmt.Errorf("%s is a folder that is not empty: add --recursive to delete it with its content", args[0])
				}
				return e.explainWorkspace(err, args[0])
			}
			p := e.printer()
			if p.json {
				return p.JSON(map[string]any{"path": args[0], "deleted": true})
			}
			fmt.Fprintf(e.stdio.Err, "Deleted %s.\n", args[0])
			return nil
		}),
	}
	del.Flags().BoolVarP(&recursive, "recursive", "r", false, "delete a folder with everything in it")

	cmd.AddCommand(importCmd, export, list, mkdirs, del)
	return cmd
}

// explainWorkspace adds a hint to the Workspace API's errors where the
// server's message alone leaves the next step open.
func (e *clientEnv) explainWorkspace(err error, p string) error {
	var api *client.APIError
	if errors.As(err, &api) {
		switch {
		case api.ErrorCode == "RESOURCE_ALREADY_EXISTS" && strings.Contains(api.Message, "set overwrite"):
			return fmt.Errorf("%s already exists: add --overwrite to replace it", p)
		case api.IsNotFound() && strings.HasPrefix(api.Message, "The parent folder"):
			return notFoundError{fmt.Errorf("%s; create it with kiln workspace mkdirs %s", strings.TrimSuffix(strings.TrimSpace(api.Message), "."), path.Dir(p))}
		}
	}
	return err
}

// importedObject describes what an import created. AUTO drops a notebook
// extension from the path when the content is a notebook, so the path
// without it is tried when the one given is not there.
func importedObject(ctx context.Context, c *client.Client, target, format string) (*client.ObjectInfo, error) {
	info, err := c.WorkspaceGetStatus(ctx, target)
	var api *client.APIError
	if err != nil && errors.As(err, &api) && api.IsNotFound() && format == client.FormatAuto {
		if ext := path.Ext(target); ext != "" {
			return c.WorkspaceGetStatus(ctx, strings.TrimSuffix(target, ext))
		}
	}
	return info, err
}

// describeObject names an object's kind: "PYTHON notebook", "file",
// "folder".
func describeObject(o *client.ObjectInfo) string {
	switch o.ObjectType {
	case client.ObjectNotebook:
		return o.Language + " notebook"
	case client.ObjectDirectory:
		return "folder"
	case client.ObjectFile:
		return "file, " + plural(int(o.Size), "byte")
	}
	return strings.ToLower(o.ObjectType)
}

func displayLocal(name string) string {
	if name == "-" {
		return "standard input"
	}
	return name
}
