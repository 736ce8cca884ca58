package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestFrom(t *testing.T) {
	const rev = "0123456789abcdef0123456789abcdef01234567"
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i+1 < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	main := func(version string, settings ...debug.BuildSetting) *debug.BuildInfo {
		return &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: modulePath, Version: version}, Settings: settings}
	}
	for _, c := range []struct {
		name                  string
		bi                    *debug.BuildInfo
		version, commit, date string // the linker's
		want, token           string
	}{
		{"NoBuildInfo", nil, "", "", "", "dev (devel)", "dev"},
		{"NoVCS", main("(devel)"), "", "", "", "dev (devel, go1.26.0)", "dev"},
		{"GitCheckout", main("(devel)", vcs("vcs", "git", "vcs.revision", rev, "vcs.time", "2026-01-02T03:04:05Z", "vcs.modified", "false")...), "", "", "",
			"dev (commit 0123456789ab, committed 2026-01-02T03:04:05Z, go1.26.0)", "dev+0123456789ab"},
		{"GitCheckoutWithChanges", main("(devel)", vcs("vcs.revision", rev, "vcs.time", "2026-01-02T03:04:05Z", "vcs.modified", "true")...), "", "", "",
			"dev (commit 0123456789ab with uncommitted changes, committed 2026-01-02T03:04:05Z, go1.26.0)", "dev+0123456789ab.dirty"},
		{"GitCheckoutStampedByGo124", main("v0.0.0-20260102030405-0123456789ab+dirty", vcs("vcs.revision", rev, "vcs.time", "2026-01-02T03:04:05Z", "vcs.modified", "true")...), "", "", "",
			"dev (commit 0123456789ab with uncommitted changes, committed 2026-01-02T03:04:05Z, go1.26.0)", "dev+0123456789ab.dirty"},
		{"GitCheckoutAfterATag", main("v1.2.1-0.20260102030405-0123456789ab", vcs("vcs.revision", rev, "vcs.time", "2026-01-02T03:04:05Z")...), "", "", "",
			"dev (commit 0123456789ab, committed 2026-01-02T03:04:05Z, go1.26.0)", "dev+0123456789ab"},
		{"GitCheckoutOfATag", main("v1.2.0+dirty", vcs("vcs.revision", rev, "vcs.time", "2026-01-02T03:04:05Z", "vcs.modified", "true")...), "", "", "",
			"v1.2.0 (commit 0123456789ab with uncommitted changes, committed 2026-01-02T03:04:05Z, go1.26.0)", "v1.2.0"},
		{"GoInstallOfATag", main("v1.2.0"), "", "", "", "v1.2.0 (devel, go1.26.0)", "v1.2.0"},
		{"GoInstallOfACommit", main("v0.0.0-20260102030405-0123456789ab"), "", "", "",
			"v0.0.0-20260102030405-0123456789ab (devel, go1.26.0)", "v0.0.0-20260102030405-0123456789ab"},
		{"ClientInAnotherProgram", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "example.com/tool", Version: "v3.0.0"},
			Deps: []*debug.Module{{Path: modulePath, Version: "v1.4.0"}}}, "", "", "", "v1.4.0 (devel, go1.26.0)", "v1.4.0"},
		{"ReleaseBuild", main("(devel)", vcs("vcs.revision", "ffff", "vcs.modified", "true")...), "v1.3.0", rev, "2026-02-03T04:05:06Z",
			"v1.3.0 (commit 0123456789ab, built 2026-02-03T04:05:06Z, go1.26.0)", "v1.3.0"},
		{"ReleaseBuildWithoutDate", main("(devel)"), "v1.3.0", "", "", "v1.3.0 (devel, go1.26.0)", "v1.3.0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := From(c.bi, c.version, c.commit, c.date)
			if got := in.String(); got != c.want {
				t.Errorf("String() = %q, want %q", got, c.want)
			}
			if got := in.Token(); got != c.token {
				t.Errorf("Token() = %q, want %q", got, c.token)
			}
		})
	}
}
