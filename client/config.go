package client

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The environment variables [LoadConfig] reads: the Databricks SDKs' names,
// so that one setup serves kiln and the official clients.
const (
	EnvHost       = "DATABRICKS_HOST"
	EnvToken      = "DATABRICKS_TOKEN"
	EnvProfile    = "DATABRICKS_CONFIG_PROFILE"
	EnvConfigFile = "DATABRICKS_CONFIG_FILE"
)

// DefaultProfile is the profile used when none is named.
const DefaultProfile = "DEFAULT"

// settingsSection holds file-wide settings (default_profile), not a profile.
const settingsSection = "__settings__"

// DefaultConfigFile is the profile file used when DATABRICKS_CONFIG_FILE is
// not set; "~" is the user's home directory.
const DefaultConfigFile = "~/.databrickscfg"

// Config is a resolved client configuration: where the server is, the
// personal access token, and where each came from (for messages such as
// "the token of profile ci").
type Config struct {
	// Host is the server's base URL: scheme and authority only, such as
	// https://kiln.example.com or http://127.0.0.1:8080.
	Host string
	// Token is the personal access token. It never appears in an error
	// message or in String.
	Token string
	// Profile is the profile read from the file; empty when the file was
	// not read (host and token came from the environment).
	Profile string
	// ConfigFile is the profile file's path, whether or not it was read.
	ConfigFile string
	// HostSource and TokenSource say where Host and Token came from, for
	// messages: "DATABRICKS_HOST" or `profile "ci"`.
	HostSource, TokenSource string
	// AuthType is the profile's auth_type: AuthTypeU2M for an OAuth
	// sign-in (Token is then its access token, from the token cache), ""
	// for a personal access token.
	AuthType string
	// SkipVerify disables TLS certificate checks (the profile key
	// skip_verify = true). Only for test servers.
	SkipVerify bool
	// HTTPTimeout bounds each request (profile key http_timeout_seconds);
	// zero means 60 seconds, as in the Databricks SDKs.
	HTTPTimeout time.Duration
}

// ConfigError is a configuration problem: a profile file that is missing,
// unreadable or malformed, an unknown profile, a missing or invalid host or
// token. Its message says what to do about it.
type ConfigError struct {
	Msg string
	Err error
}

// Error returns the message.
func (e *ConfigError) Error() string { return e.Msg }

// Unwrap returns the underlying cause, if any.
func (e *ConfigError) Unwrap() error { return e.Err }

func configErrorf(format string, args ...any) *ConfigError {
	return &ConfigError{Msg: fmt.Sprintf(format, args...)}
}

// LoadOptions are the inputs of [LoadConfig] besides the profile file.
type LoadOptions struct {
	// Profile is the profile named on the command line (--profile); it
	// wins over DATABRICKS_CONFIG_PROFILE.
	Profile string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// HomeDir replaces the user's home directory in "~" paths; empty
	// means os.UserHomeDir.
	HomeDir string
}

func (o LoadOptions) getenv(k string) string {
	if o.Getenv != nil {
		return o.Getenv(k)
	}
	return os.Getenv(k)
}

// ConfigFilePath returns the profile file's path: DATABRICKS_CONFIG_FILE,
// else ~/.databrickscfg, with a leading "~" expanded.
func ConfigFilePath(o LoadOptions) (string, error) {
	p := o.getenv(EnvConfigFile)
	if p == "" {
		p = DefaultConfigFile
	}
	if p == "~" || strings.HasPrefix(p, "~/") {
		home := o.HomeDir
		if home == "" {
			h, err := os.UserHomeDir()
			if err != nil {
				return "", &ConfigError{Msg: "cannot find the home directory for " + p + ": set HOME or " + EnvConfigFile, Err: err}
			}
			home = h
		}
		p = filepath.Join(home, p[1:])
	}
	return p, nil
}

// LoadConfig resolves the configuration exactly as the Databricks SDKs do:
//
//   - The profile is --profile, else DATABRICKS_CONFIG_PROFILE; a profile
//     named either way must exist.
//   - DATABRICKS_HOST and DATABRICKS_TOKEN win over the file.
//   - When the host or the token comes from the environment and no profile
//     is named, the file is not read at all.
//   - Otherwise the file (DATABRICKS_CONFIG_FILE, default ~/.databrickscfg)
//     is read; without a named profile the one named by default_profile in
//     its [__settings__] section is used, else [DEFAULT]. A missing file is
//     not an error unless a profile was named.
//
// kiln is stricter than the SDKs about the host: it must be an http:// or
// https:// URL without a path (see [NormalizeHost]), where the SDKs add
// https:// and drop a path silently. Errors are [*ConfigError].
func LoadConfig(o LoadOptions) (*Config, error) {
	path, err := ConfigFilePath(o)
	if err != nil {
		return nil, err
	}
	c := &Config{ConfigFile: path}
	if v := o.getenv(EnvHost); v != "" {
		c.Host, c.HostSource = v, EnvHost
	}
	if v := o.getenv(EnvToken); v != "" {
		c.Token, c.TokenSource = v, EnvToken
	}
	profile, named := o.Profile, o.Profile != ""
	if !named {
		if profile = o.getenv(EnvProfile); profile != "" {
			named = true
		}
	}
	if named || (c.Host == "" && c.Token == "") {
		if err := c.loadProfile(profile, named); err != nil {
			return nil, err
		}
	}
	if c.Host == "" {
		if c.TokenSource == EnvToken && !named {
			return nil, configErrorf("no host configured: %s is set, and credentials from the environment make kiln (like the Databricks SDKs) ignore %s%s; set %s too, or name the profile with -p (or %s)",
				EnvToken, DisplayPath(c.ConfigFile), c.peekDefault("host"), EnvHost, EnvProfile)
		}
		where := ""
		if c.Profile != "" {
			where = fmt.Sprintf(" (profile %q in %s has no host)", c.Profile, DisplayPath(c.ConfigFile))
		}
		return nil, configErrorf("no host configured%s: run `kiln configure --token` or set %s", where, EnvHost)
	}
	host, err := NormalizeHost(c.Host)
	if err != nil {
		return nil, configErrorf("%s (from %s)", err.Error(), c.describeHostSource())
	}
	c.Host = host
	if c.Token == "" && c.AuthType == AuthTypeU2M {
		if err := c.resolveU2M(o); err != nil {
			return nil, err
		}
	}
	if c.Token == "" {
		if c.HostSource == EnvHost && !named {
			return nil, configErrorf("no token configured for %s: %s is set, and credentials from the environment make kiln (like the Databricks SDKs) ignore %s%s; set %s too, or name the profile with -p (or %s)",
				c.Host, EnvHost, DisplayPath(c.ConfigFile), c.peekDefault("token"), EnvToken, EnvProfile)
		}
		where := ""
		if c.Profile != "" {
			where = fmt.Sprintf(" (profile %q in %s has no token)", c.Profile, DisplayPath(c.ConfigFile))
		}
		return nil, configErrorf("no token configured for %s%s: run `kiln configure --token` or set %s", c.Host, where, EnvToken)
	}
	if err := CheckToken(c.Token); err != nil {
		return nil, configErrorf("the token from %s %s: run `kiln configure --token` to replace it", c.describeTokenSource(), err.Error())
	}
	return c, nil
}

func (c *Config) describeHostSource() string {
	if c.HostSource == EnvHost {
		return EnvHost
	}
	return fmt.Sprintf("profile %q in %s", c.Profile, DisplayPath(c.ConfigFile))
}

func (c *Config) describeTokenSource() string {
	if c.TokenSource == EnvToken {
		return EnvToken
	}
	return fmt.Sprintf("profile %q", c.Profile)
}

// peekDefault says, for a message, which profile of the file would have
// given key had the environment not set the other credential: " (its
// profile \"DEFAULT\" has a host)". It is empty when the file cannot say.
func (c *Config) peekDefault(key string) string {
	f, err := readProfileFile(c.ConfigFile)
	if err != nil {
		return ""
	}
	profile := DefaultProfile
	if dp := f.section(settingsSection)["default_profile"]; dp != "" {
		profile = dp
	}
	if !f.has(profile) || f.section(profile)[key] == "" {
		return ""
	}
	return fmt.Sprintf(" (its profile %q has a %s)", profile, key)
}

// TokenOrigin names where the token came from, for messages: "profile
// \"ci\"" or "DATABRICKS_TOKEN".
func (c *Config) TokenOrigin() string { return c.describeTokenSource() }

// loadProfile fills the unset host and token from the profile file.
func (c *Config) loadProfile(profile string, named bool) error {
	f, err := readProfileFile(c.ConfigFile)
	if errors.Is(err, fs.ErrNotExist) {
		if named {
			return configErrorf("profile %q not found: %s does not exist; create the profile with `kiln configure --token --profile %s`", profile, DisplayPath(c.ConfigFile), profile)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if !named {
		profile = DefaultProfile
		if dp := f.section(settingsSection)["default_profile"]; dp != "" {
			if !f.has(dp) {
				return configErrorf("default_profile %q (in [%s] of %s) is not a profile in that file; fix it or pick one with --profile (profiles: %s)", dp, settingsSection, DisplayPath(c.ConfigFile), profileList(f))
			}
			profile = dp
		}
		if !f.has(profile) {
			return configErrorf("no host configured: %s has no %s profile; pick one with --profile (profiles: %s) or run `kiln configure --token`", DisplayPath(c.ConfigFile), profile, profileList(f))
		}
	} else if !f.has(profile) || profile == settingsSection {
		return configErrorf("profile %q is not in %s (profiles: %s); create it with `kiln configure --token --profile %s`", profile, DisplayPath(c.ConfigFile), profileList(f), profile)
	}
	c.Profile = profile
	kv := f.section(profile)
	if c.Host == "" && kv["host"] != "" {
		c.Host, c.HostSource = kv["host"], fmt.Sprintf("profile %q", profile)
	}
	if c.Token == "" && kv["token"] != "" {
		c.Token, c.TokenSource = kv["token"], fmt.Sprintf("profile %q", profile)
	}
	if c.Token == "" && kv["auth_type"] == AuthTypeU2M {
		c.AuthType = AuthTypeU2M
	}
	if v := kv["skip_verify"]; v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return configErrorf("skip_verify in profile %q of %s must be true or false", profile, DisplayPath(c.ConfigFile))
		}
		c.SkipVerify = b
	}
	if v := kv["http_timeout_seconds"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return configErrorf("http_timeout_seconds in profile %q of %s must be a whole number of seconds", profile, DisplayPath(c.ConfigFile))
		}
		c.HTTPTimeout = time.Duration(n) * time.Second
	}
	return nil
}

// readProfileFile reads and parses a profile file; a missing file is an
// error wrapping fs.ErrNotExist.
func readProfileFile(path string) (*iniFile, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		return nil, &ConfigError{Msg: fmt.Sprintf("cannot read %s: %s", DisplayPath(path), describeFSError(err)), Err: err}
	}
	f, err := parseINI(data)
	if err != nil {
		return nil, &ConfigError{Msg: fmt.Sprintf("%s is malformed at %s; fix the line or move the file away", DisplayPath(path), err.Error()), Err: err}
	}
	return f, nil
}

func describeFSError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// Profiles lists the profile names in the profile file at path, in file
// order; a missing file has none.
func Profiles(path string) ([]string, error) {
	f, err := readProfileFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range f.sectionNames() {
		if n != settingsSection {
			out = append(out, n)
		}
	}
	return out, nil
}

// ProfileValues returns the keys of one profile, or nil when the file or
// the profile does not exist.
func ProfileValues(path, profile string) (map[string]string, error) {
	f, err := readProfileFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !f.has(profile) {
		return nil, nil
	}
	return f.section(profile), nil
}

func profileList(f *iniFile) string {
	var names []string
	for _, n := range f.sectionNames() {
		if n != settingsSection {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// NormalizeHost checks a host URL and returns it as scheme://authority.
// The scheme must be http or https (http is for servers on this machine or
// a trusted network); a trailing "/" is dropped; a path, query, fragment
// or user name is refused, since it is almost always a pasted page URL.
func NormalizeHost(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", errors.New("the host is empty")
	}
	if !strings.Contains(raw, "://") {
		return "", fmt.Errorf("host %q has no scheme: write https://%s (or http://%s for a server without TLS)", raw, strings.TrimRight(raw, "/"), strings.TrimRight(raw, "/"))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("host %q is not a valid URL", raw)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return "", fmt.Errorf("host %q must start with https:// (or http:// for a server without TLS)", raw)
	}
	if u.Host == "" {
		return "", fmt.Errorf("host %q has no server name", raw)
	}
	if u.User != nil {
		return "", fmt.Errorf("host %q must not contain a user name: put the token in the token setting", redactUser(u))
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("host %q has a path: use just %s://%s", raw, scheme, u.Host)
	}
	return scheme + "://" + u.Host, nil
}

func redactUser(u *url.URL) string {
	c := *u
	c.User = url.User("…")
	return c.String()
}

// CheckToken refuses a token that cannot be sent in a header: empty, or
// holding spaces or control characters (typically a paste gone wrong). It
// does not check the token's shape: Databricks clients send any token.
func CheckToken(token string) error {
	if token == "" {
		return errors.New("is empty")
	}
	for _, r := range token {
		if r <= ' ' || r == 0x7f || r > 0x7e {
			return errors.New("contains spaces or other characters a token cannot hold")
		}
	}
	return nil
}

// DisplayPath shortens a path under the home directory to "~/…" for
// messages.
func DisplayPath(p string) string {
	home, err := os.UserHomeDir()
	if err != nil || home == "" || home == "/" {
		return p
	}
	if rel, err := filepath.Rel(home, p); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && !filepath.IsAbs(rel) {
		if rel == "." {
			return "~"
		}
		return "~/" + rel
	}
	return p
}
