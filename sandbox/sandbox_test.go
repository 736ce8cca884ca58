package sandbox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSelfTest(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(s.Describe())
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o777)
	out, _ := os.Create(filepath.Join(t.TempDir(), "out"))
	p, err := s.Start(Spec{Path: "/usr/bin/python3", Args: []string{"-c", "import os,sys; print(os.getuid(), os.getpid()); print(open('/etc/hostname').read() if os.path.exists('/x') else 'ok'); os.listdir('/proc')"}, Dir: dir, Writable: []string{dir}, Output: out})
	if err != nil {
		t.Fatal(err)
	}
	e, err := p.Wait()
	b, _ := os.ReadFile(out.Name())
	t.Logf("exit %+v err %v out %s", e, err, strings.TrimSpace(string(b)))
}
