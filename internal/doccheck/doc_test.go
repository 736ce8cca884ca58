package doccheck

import (
	"fmt"
	"go/ast"
	"go/build/constraint"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// modulePath is the module whose packages TestDocs checks; its go.mod is
// two directories up from this package.
const modulePath = "github.com/kiln-dev/kiln"

// TestDocs fails for each package of the module without a package doc
// comment and each exported top-level name without a doc comment. Each
// package is a subtest named by its directory ("kiln" for the root), so
// `go test -run 'TestDocs/^api$'` checks one; the parent test ends with
// the list of packages that failed.
func TestDocs(t *testing.T) {
	root := moduleRoot(t)
	pkgs, err := parsePackages(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 2 {
		t.Fatalf("found %d packages under %s; the walk is broken", len(pkgs), root)
	}
	var failed []string
	for _, p := range pkgs {
		problems := p.problems()
		name := p.dir
		if name == "." {
			name = "kiln"
		}
		t.Run(name, func(t *testing.T) {
			for _, pr := range problems {
				t.Error(pr)
			}
		})
		if len(problems) > 0 {
			failed = append(failed, fmt.Sprintf("%s (%d)", name, len(problems)))
		}
	}
	if len(failed) > 0 {
		t.Errorf("%d of %d packages lack doc comments (problems each): %s",
			len(failed), len(pkgs), strings.Join(failed, ", "))
	}
}

// moduleRoot returns the directory of the module's go.mod, checking that
// it is the kiln module.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if first, _, _ := strings.Cut(string(b), "\n"); strings.TrimSpace(first) != "module "+modulePath {
		t.Fatalf("%s/go.mod is not module %s", root, modulePath)
	}
	return root
}

// pkg is one directory's non-test Go files, parsed with comments.
type pkg struct {
	dir   string // slash-separated, relative to the module root; "." for it
	name  string // the package clause's name
	fset  *token.FileSet
	files map[string]*ast.File // by slash-separated path from the root
}

// parsePackages parses the non-test Go files of every package of the
// module under root: it skips compat/ (modules of their own), testdata,
// directories named with a leading dot or underscore, node_modules, and
// any directory with a go.mod of its own. Files excluded from every build
// (//go:build ignore) are skipped too. The packages come sorted by dir.
func parsePackages(root string) ([]*pkg, error) {
	fset := token.NewFileSet()
	byDir := map[string]*pkg{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "." {
				return nil
			}
			base := d.Name()
			if rel == "compat" || base == "testdata" || base == "node_modules" || base == "vendor" ||
				strings.HasPrefix(base, ".") || strings.HasPrefix(base, "_") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		if ignored(f) {
			return nil
		}
		dir := filepath.ToSlash(filepath.Dir(rel))
		p := byDir[dir]
		if p == nil {
			p = &pkg{dir: dir, name: f.Name.Name, fset: fset, files: map[string]*ast.File{}}
			byDir[dir] = p
		}
		if f.Name.Name != p.name {
			return fmt.Errorf("%s: package %s, but %s holds package %s", rel, f.Name.Name, dir, p.name)
		}
		p.files[rel] = f
		return nil
	})
	if err != nil {
		return nil, err
	}
	var pkgs []*pkg
	for _, p := range byDir {
		pkgs = append(pkgs, p)
	}
	slices.SortFunc(pkgs, func(a, b *pkg) int { return strings.Compare(a.dir, b.dir) })
	return pkgs, nil
}

// ignored reports whether f carries a //go:build constraint that no
// build satisfies, the "ignore" idiom of generator programs.
func ignored(f *ast.File) bool {
	for _, cg := range f.Comments {
		if cg.Pos() >= f.Package {
			break
		}
		for _, c := range cg.List {
			if !constraint.IsGoBuild(c.Text) {
				continue
			}
			expr, err := constraint.Parse(c.Text)
			if err != nil {
				return false
			}
			return !expr.Eval(func(tag string) bool { return tag != "ignore" })
		}
	}
	return false
}

// problems returns one line per missing or misworded doc comment of p:
// its package doc, then each undocumented exported name, in file and
// line order, each starting with the file and line to fix.
func (p *pkg) problems() []string {
	var out []string
	out = append(out, p.packageDocProblems()...)
	for _, rel := range slices.Sorted(maps.Keys(p.files)) {
		f := p.files[rel]
		for _, decl := range f.Decls {
			for _, m := range undocumented(decl) {
				pos := p.fset.Position(m.pos)
				out = append(out, fmt.Sprintf("%s:%d: %s has no doc comment", rel, pos.Line, m.what))
			}
		}
	}
	return out
}

// packageDocProblems checks that some file of p has a package doc
// comment that starts "Package <name> " ("Command <dir> " for main).
func (p *pkg) packageDocProblems() []string {
	want := "Package " + p.name + " "
	if p.name == "main" {
		want = "Command " + pathBase(p.dir) + " "
	}
	var docs []string
	for _, rel := range slices.Sorted(maps.Keys(p.files)) {
		if d := p.files[rel].Doc; d != nil {
			docs = append(docs, rel)
			if txt := d.Text(); !strings.HasPrefix(txt, want) {
				first, _, _ := strings.Cut(txt, "\n")
				return []string{fmt.Sprintf("%s: the package doc comment of %s must start %q, not %q", rel, p.dir, want, first)}
			}
		}
	}
	if len(docs) == 0 {
		return []string{fmt.Sprintf("%s: package %s has no package doc comment: put one, starting %q, above the package clause of one file (such as doc.go)", p.dir, p.name, want)}
	}
	return nil
}

// missing is an exported name without a doc comment.
type missing struct {
	pos  token.Pos
	what string // such as "func Open", "method Store.View", "const (EInvalid, ...)"
}

// undocumented returns the exported top-level names that decl declares
// without a doc comment: a func; a method whose receiver's type is
// exported; a type, unless its spec or its declaration has a comment;
// a var or const spec, unless it or its group has one.
func undocumented(decl ast.Decl) []missing {
	switch d := decl.(type) {
	case *ast.FuncDecl:
		if !d.Name.IsExported() || d.Doc != nil {
			return nil
		}
		if d.Recv == nil {
			return []missing{{d.Pos(), "func " + d.Name.Name}}
		}
		recv := receiverType(d.Recv)
		if !ast.IsExported(recv) {
			return nil
		}
		return []missing{{d.Pos(), "method " + recv + "." + d.Name.Name}}
	case *ast.GenDecl:
		if d.Doc != nil || (d.Tok != token.TYPE && d.Tok != token.VAR && d.Tok != token.CONST) {
			return nil
		}
		var out []missing
		for _, spec := range d.Specs {
			switch s := spec.(type) {
			case *ast.TypeSpec:
				if s.Name.IsExported() && s.Doc == nil {
					out = append(out, missing{s.Pos(), "type " + s.Name.Name})
				}
			case *ast.ValueSpec:
				if s.Doc != nil {
					continue
				}
				var names []string
				for _, n := range s.Names {
					if n.IsExported() {
						names = append(names, n.Name)
					}
				}
				if len(names) > 0 {
					out = append(out, missing{s.Pos(), d.Tok.String() + " " + strings.Join(names, ", ")})
				}
			}
		}
		return out
	}
	return nil
}

// receiverType returns the name of a method's receiver type, without
// pointer or type parameters.
func receiverType(recv *ast.FieldList) string {
	if len(recv.List) == 0 {
		return ""
	}
	e := recv.List[0].Type
	for {
		switch x := e.(type) {
		case *ast.StarExpr:
			e = x.X
		case *ast.ParenExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.Ident:
			return x.Name
		default:
			return ""
		}
	}
}

// pathBase is the last element of a slash-separated path.
func pathBase(p string) string {
	return p[strings.LastIndex(p, "/")+1:]
}
