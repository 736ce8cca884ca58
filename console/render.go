package console

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kiln-dev/kiln"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/*
var staticFS embed.FS

// pageNames lists every page template. Each is parsed together with the
// shared layout and partials; a name missing from templates/ stops the
// console from starting.
var pageNames = []string{
	"login", "error", "confirm",
	"settings", "token_new", "password", "apps",
	"access_control", "policy_preview", "users", "user_password", "service_principals", "sp_secrets", "authorize", "tokens", "webhooks", "audit",
	"jobs", "job", "run", "run_cancel",
	"secrets", "secrets_scope", "dbfs",
	"compute", "compute_cluster",
	"workspace", "workspace_notebook", "workspace_file", "workspace_move",
}

// sharedTemplates are parsed into every page.
var sharedTemplates = []string{"templates/layout.html", "templates/partials.html", "templates/jobs_partials.html", "templates/run_graph.html", "templates/workspace_partials.html"}

// parsePages parses each page with the shared templates into its own set,
// so that every page can define the blocks "content" and "dialogs".
func parsePages() (map[string]*template.Template, error) {
	base, err := template.New("").Funcs(templateFuncs).ParseFS(templateFS, sharedTemplates...)
	if err != nil {
		return nil, fmt.Errorf("parsing shared templates: %w", err)
	}
	pages := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		t, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if _, err := t.ParseFS(templateFS, "templates/"+name+".html"); err != nil {
			return nil, fmt.Errorf("parsing page %s: %w", name, err)
		}
		for _, block := range []string{"layout", "content"} {
			if t.Lookup(block) == nil {
				return nil, fmt.Errorf("page %s: no template %q", name, block)
			}
		}
		pages[name] = t
	}
	return pages, nil
}

// embedded are the static files, loaded once per process.
var embedded = sync.OnceValues(loadStatic)

// templateFuncs are the helpers templates may call.
var templateFuncs = template.FuncMap{
	// static returns the versioned URL of a static file.
	"static": func(name string) string {
		sf, _ := embedded()
		if sf == nil {
			return "/static/" + name
		}
		return "/static/" + name + "?v=" + sf.files[name].version
	},
	// date renders a day, or "Never" for the zero time.
	"date": func(t time.Time) string {
		if t.IsZero() {
			return "Never"
		}
		return t.UTC().Format("2006-01-02")
	},
	// datetime renders an instant to the minute, in UTC.
	"datetime": func(t time.Time) string {
		if t.IsZero() {
			return "Never"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	// iso renders an instant for a <time datetime> attribute.
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	// initial is the letter on the account button.
	"initial": func(p *kiln.Principal) string {
		if p == nil {
			return "?"
		}
		name := strings.TrimSpace(p.DisplayName)
		if name == "" || name == "Administrator" {
			name = p.UserName
		}
		r, _ := utf8.DecodeRuneInString(name)
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return "?"
		}
		return strings.ToUpper(string(r))
	},
	// shortTarget shortens the 64-character token id of an audit target;
	// the full target stays in the title.
	"shortTarget": func(target string) string {
		if id, ok := strings.CutPrefix(target, "token:"); ok && len(id) > 12 {
			return "token:" + id[:12] + "…"
		}
		return target
	},
	// scopePath and dbfsPath are the addresses of a secret scope's page
	// and of a DBFS directory's listing (secrets.go, dbfs.go).
	"scopePath": scopePath,
	"dbfsPath":  dbfsPath,
	// bytes renders a size for people: 1.5 MB.
	"bytes": humanBytes,
	// percent renders part of whole as a whole percentage: 42%.
	"percent": func(part, whole int64) string {
		if whole <= 0 {
			return "0%"
		}
		return strconv.FormatInt(part*100/whole, 10) + "%"
	},
	// secret bundles the arguments of the "secret" template.
	"secret": func(id, label, value string) secretField { return secretField{ID: id, Label: label, Value: value} },
}

// secretField is a value shown once, with its label.
type secretField struct{ ID, Label, Value string }

type staticFile struct {
	body        []byte
	contentType string
	version     string
}

type staticFiles struct{ files map[string]staticFile }

func loadStatic() (*staticFiles, error) {
	sf := &staticFiles{files: map[string]staticFile{}}
	entries, err := fs.ReadDir(staticFS, "static")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		b, err := staticFS.ReadFile("static/" + e.Name())
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(e.Name()))
		if ct == "" {
			ct = "application/octet-stream"
		}
		v := hex.EncodeToString(sum[:6])
		sf.files[e.Name()] = staticFile{body: b, contentType: ct, version: v}
	}
	for _, need := range []string{"console.css", "console.js", "favicon.svg"} {
		if _, ok := sf.files[need]; !ok {
			return nil, fmt.Errorf("static file %s is missing", need)
		}
	}
	return sf, nil
}

// serveStatic serves an embedded file. A request naming the current
// version may be cached for a year: a new build changes the URL.
func (c *Console) serveStatic(w http.ResponseWriter, r *http.Request) error {
	f, ok := c.static.files[r.PathValue("name")]
	if !ok {
		return errNoSuchPage
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Content-Length", strconv.Itoa(len(f.body)))
	if r.URL.Query().Get("v") == f.version {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	h.Set("ETag", `"`+f.version+`"`)
	if match := r.Header.Get("If-None-Match"); match == `"`+f.version+`"` {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	if r.Method == http.MethodHead {
		return nil
	}
	w.Write(f.body)
	return nil
}
