package client

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// authKeys are the credential settings of other authentication methods.
// Writing a token profile removes them, as `databricks configure --token`
// does: left in place, the SDKs would refuse the profile ("more than one
// authorization method configured").
var authKeys = []string{
	"auth_type", "username", "password", "client_id", "client_secret",
	"azure_client_id", "azure_client_secret", "azure_tenant_id", "azure_use_msi",
	"azure_workspace_resource_id", "google_service_account", "google_credentials",
	"metadata_service_url", "databricks_cli_path",
}

// WriteProfile stores host and token in the named profile of the profile
// file at path, creating the file (mode 0600) or the profile as needed.
// Every other profile, comment and key stays byte for byte as it was.
//
// The write is atomic: the new content goes to a temporary file in the same
// directory, which is synced and then renamed over the old file, so an
// interrupted write leaves the old file whole. A path that is a symbolic
// link is followed, and the link kept. A malformed existing file is left
// alone and reported as a [*ConfigError].
func WriteProfile(path, profile, host, token string) error {
	return writeProfile(path, profile, [][2]string{{"host", host}, {"token", token}})
}

// WriteOAuthProfile stores host with auth_type = databricks-cli in the
// named profile, as databricks auth login does (the tokens go to the token
// cache, StoreToken), removing a token and other credentials; otherwise as
// WriteProfile.
func WriteOAuthProfile(path, profile, host string) error {
	return writeProfile(path, profile, [][2]string{{"host", host}, {"auth_type", AuthTypeU2M}})
}

func writeProfile(path, profile string, kv [][2]string) error {
	if profile == "" || profile == settingsSection {
		return configErrorf("%q cannot be used as a profile name", profile)
	}
	for _, r := range profile {
		if r == '[' || r == ']' || r < ' ' || r == 0x7f {
			return configErrorf("profile name %q must not contain brackets or control characters", profile)
		}
	}
	target := path
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		resolved, err := filepath.EvalSymlinks(path)
		if err != nil {
			return &ConfigError{Msg: fmt.Sprintf("cannot follow the link %s: %s", DisplayPath(path), describeFSError(err)), Err: err}
		}
		target = resolved
	}
	f, err := readProfileFile(target)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		f = &iniFile{eol: "\n"}
	case err != nil:
		var ce *ConfigError
		if errors.As(err, &ce) {
			return &ConfigError{Msg: ce.Msg + "; nothing was written", Err: err}
		}
		return err
	}
	drop := append([]string{"token"}, authKeys...)
	for _, p := range kv {
		for i, k := range drop {
			if k == p[0] {
				drop = append(drop[:i], drop[i+1:]...)
				break
			}
		}
	}
	f.set(profile, kv, drop)
	if err := writeFileAtomic(target, f.bytes(), 0o600); err != nil {
		return &ConfigError{Msg: fmt.Sprintf("cannot write %s: %s", DisplayPath(path), describeFSError(err)), Err: err}
	}
	return nil
}

// writeFileAtomic replaces path with data: a temporary file in the same
// directory, fsync, rename, then fsync of the directory so the rename
// itself survives a crash.
func writeFileAtomic(path string, data []byte, mode fs.FileMode) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(mode); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync() // best effort: not every file system syncs directories
		d.Close()
	}
	return nil
}
