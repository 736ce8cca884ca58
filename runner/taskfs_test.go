package runner

import (
	"strings"
	"testing"
)

func TestDBFSPath(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"dbfs:/data/a.csv", "dbfs:/data/a.csv", true},
		{"/data/a.csv", "/data/a.csv", true},
		{"/dbfs/data/a.csv", "/data/a.csv", true},
		{"file:/tmp/x", "", false},
		{"FILE:/tmp/x", "", false},
		{"s3://bucket/x", "", false},
		{"", "", false},
	} {
		got, err := dbfsPath(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("dbfsPath(%q) = %q, %v; want %q, ok %v", c.in, got, err, c.want, c.ok)
		}
	}
}

// FuzzDBFSPath: whatever a task sends, dbfsPath never passes on a local
// file or another scheme (the service then cleans what it does pass).
func FuzzDBFSPath(f *testing.F) {
	for _, s := range []string{"dbfs:/a", "/dbfs/a", "file:/etc/passwd", "s3://b/k", "/dbfs/file:/x", "dbfs://x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got, err := dbfsPath(p)
		if err != nil {
			return
		}
		low := strings.ToLower(got)
		if strings.HasPrefix(low, "file:") || (strings.Contains(low, "://") && !strings.HasPrefix(low, "dbfs:")) {
			t.Errorf("dbfsPath(%q) passed %q", p, got)
		}
	})
}
