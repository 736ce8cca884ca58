// Package buildinfo says which kiln a binary is: the version, the commit
// it was built from and when, for `kiln --version` and the User-Agent of
// kiln's client.
//
// A release build sets the variables with the linker:
//
//	go build -ldflags "-X github.com/kiln-dev/kiln/internal/buildinfo.Version=v1.2.0 \
//	  -X github.com/kiln-dev/kiln/internal/buildinfo.Commit=$(git rev-parse HEAD) \
//	  -X github.com/kiln-dev/kiln/internal/buildinfo.Date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" ./cmd/kiln
//
// Without them the Go toolchain's own record is used: the module version
// of `go install github.com/kiln-dev/kiln/cmd/kiln@v1.2.0`, and the VCS
// revision and commit time that `go build` stamps in a git checkout. A
// build with neither (-buildvcs=false, or a tree without .git) is "dev
// (devel)": honest, never an error.
package buildinfo

import (
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
)

// Set by -ldflags -X in release builds; empty otherwise.
var (
	// Version is the release version, such as v1.2.0.
	Version string
	// Commit is the full VCS revision the release was built from.
	Commit string
	// Date is when the release was built, RFC 3339 in UTC.
	Date string
)

// modulePath is kiln's module, looked up among the dependencies when kiln's
// client is built into another program.
const modulePath = "github.com/kiln-dev/kiln"

// Info describes one build.
type Info struct {
	// Version is the release or module version, "dev" when unknown.
	Version string
	// Commit is the VCS revision, empty when unknown.
	Commit string
	// Modified reports uncommitted changes in the tree that was built.
	Modified bool
	// Date is the build date of a release build, else the commit's time;
	// DateIsBuild tells which.
	Date        string
	DateIsBuild bool
	// Go is the toolchain version, such as go1.26.0.
	Go string
}

// Read returns this binary's build information; it is read once, since
// it cannot change while the program runs.
func Read() Info { return read() }

var read = sync.OnceValue(func() Info {
	bi, _ := debug.ReadBuildInfo()
	return From(bi, Version, Commit, Date)
})

// From combines the toolchain's record bi (nil when the binary has none)
// with the linker-set version, commit and date, which win.
func From(bi *debug.BuildInfo, version, commit, date string) Info {
	in := Info{Version: "dev"}
	if bi != nil {
		in.Go = bi.GoVersion
		mod := bi.Main
		if mod.Path != modulePath {
			for _, d := range bi.Deps {
				if d.Path == modulePath {
					mod = *d
				}
			}
		}
		if mod.Path == modulePath && mod.Version != "" && mod.Version != "(devel)" {
			in.Version = mod.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				in.Commit = s.Value
			case "vcs.time":
				in.Date = s.Value
			case "vcs.modified":
				in.Modified = s.Value == "true"
			}
		}
	}
	// Since Go 1.24 a build in a git checkout stamps the main module with
	// the commit too: a pseudo-version (v0.0.0-20260102030405-0123456789ab)
	// that only repeats the revision, and "+dirty" that only repeats
	// Modified. The commit and its state are shown on their own.
	if in.Commit != "" {
		v := strings.TrimSuffix(in.Version, "+dirty")
		if pseudoVersion.MatchString(v) {
			v = "dev"
		}
		in.Version = v
	}
	if version != "" {
		in.Version = version
	}
	if commit != "" {
		in.Commit, in.Modified = commit, false
	}
	if date != "" {
		in.Date, in.DateIsBuild = date, true
	}
	return in
}

// pseudoVersion matches the versions Go makes up for a commit that has no
// tag: vX.Y.Z-[pre.]yyyymmddhhmmss-abcdefabcdef.
var pseudoVersion = regexp.MustCompile(`-(?:\w+\.)?(?:0\.)?\d{14}-[0-9a-f]{12}$`)

// String is the version line's text after "kiln ": "v1.2.0 (commit
// 0123456789ab, built 2026-01-02T03:04:05Z, go1.26.0)", or "dev (devel,
// go1.26.0)" for a build that knows nothing about itself.
func (in Info) String() string {
	var parts []string
	if in.Commit != "" {
		c := "commit " + short(in.Commit)
		if in.Modified {
			c += " with uncommitted changes"
		}
		parts = append(parts, c)
	}
	switch {
	case in.Date != "" && in.DateIsBuild:
		parts = append(parts, "built "+in.Date)
	case in.Date != "":
		parts = append(parts, "committed "+in.Date)
	}
	if len(parts) == 0 {
		parts = append(parts, "devel")
	}
	if in.Go != "" {
		parts = append(parts, in.Go)
	}
	return in.Version + " (" + strings.Join(parts, ", ") + ")"
}

// Token is the version as one User-Agent token: "v1.2.0", or for a
// development build "dev+0123456789ab" (".dirty" with uncommitted changes),
// so that a server's logs tell builds apart.
func (in Info) Token() string {
	if in.Version != "dev" || in.Commit == "" {
		return in.Version
	}
	t := "dev+" + short(in.Commit)
	if in.Modified {
		t += ".dirty"
	}
	return t
}

// short is the first 12 characters of a revision, as git shows them.
func short(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}
