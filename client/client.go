// Package client is a Go client of kiln's REST API: the Databricks
// endpoints kiln serves (tokens, token management, token permissions,
// workspace settings, SCIM identities, the Workspace API, jobs and runs)
// and kiln's own (/api/kiln/v1).
//
// Configuration is resolved exactly as the Databricks SDKs resolve it
// ([LoadConfig]: ~/.databrickscfg profiles, DATABRICKS_HOST and
// DATABRICKS_TOKEN), so one profile serves kiln and the official clients.
//
// Every failure is one of four error types, each with a message fit for a
// person: [*ConfigError] (the configuration), [*APIError] (the server
// answered with an error in the Databricks shape), [*TransportError] (the
// server could not be reached: connection, DNS, TLS, timeout) and
// [*UnexpectedResponseError] (something answered, but not like kiln: an
// HTML page, a redirect, a body that is not JSON).
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kiln-dev/kiln/internal/buildinfo"
)

// Client calls one kiln (or Databricks) workspace with a personal access
// token. It is safe for concurrent use.
type Client struct {
	host      string
	token     string
	http      *http.Client
	userAgent string
	onExpiry  func(expires time.Time)
	warned    sync.Once
}

// TokenExpiresHeader is the header with which kiln answers requests made
// with a token that ends soon: its end, in RFC 3339.
const TokenExpiresHeader = "X-Kiln-Token-Expires"

// WithExpiryWarning calls warn, once per client, when an answer says that
// the client's token ends soon (TokenExpiresHeader).
func WithExpiryWarning(warn func(expires time.Time)) Option {
	return func(c *Client) { c.onExpiry = warn }
}

// Option configures a [Client].
type Option func(*Client)

// WithUserAgent sets the product part of the User-Agent header, such as
// "kiln-cli/1.2.0".
func WithUserAgent(product string) Option {
	return func(c *Client) {
		c.userAgent = fmt.Sprintf("%s go/%s os/%s auth/pat", product, strings.TrimPrefix(runtime.Version(), "go"), runtime.GOOS)
	}
}

// HTTPClient is the HTTP client for cfg's host: cfg.HTTPTimeout per
// request (default 60 s), bounded dial and TLS handshakes, and TLS checks
// off only when the profile says skip_verify = true. It follows redirects;
// New's client does not.
func (cfg *Config) HTTPClient() *http.Client {
	timeout := cfg.HTTPTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = 10 * time.Second
	if cfg.SkipVerify {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for in the profile: skip_verify = true
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}

// New returns a client for cfg, whose Host and Token must be set
// (LoadConfig guarantees it).
func New(cfg *Config, opts ...Option) (*Client, error) {
	host, err := NormalizeHost(cfg.Host)
	if err != nil {
		return nil, &ConfigError{Msg: err.Error()}
	}
	if err := CheckToken(cfg.Token); err != nil {
		return nil, configErrorf("the token %s", err.Error())
	}
	c := &Client{host: host, token: cfg.Token, http: cfg.HTTPClient()}
	WithUserAgent("kiln-client/" + buildinfo.Read().Token())(c)
	for _, o := range opts {
		o(c)
	}
	// A redirect is reported, never followed: following would turn a POST
	// into a GET, and the fix (a corrected host) belongs in the profile.
	c.http.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c, nil
}

// Host returns the base URL the client calls.
func (c *Client) Host() string { return c.host }

// APIError is an error answer in the Databricks shape: {"error_code",
// "message"} (or a SCIM error body).
type APIError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// ErrorCode is the Databricks error_code, such as
	// RESOURCE_DOES_NOT_EXIST; numeric codes are rendered in decimal.
	ErrorCode string
	// Message is the server's message.
	Message string
	// Method and Path name the request.
	Method, Path string
	// RequestID is the X-Request-Id of the response, for server logs.
	RequestID string
	// RetryAfter is the Retry-After of a 429 or 503, zero when absent.
	RetryAfter time.Duration
	// TokensDisabled reports a kiln refusing a token only because personal
	// access tokens are disabled workspace-wide (the X-Kiln-Tokens-Disabled
	// header): no token works until an admin enables them again.
	TokensDisabled bool
}

// Error returns the message with the status and error code, such as
// "Token x does not exist. (HTTP 404 RESOURCE_DOES_NOT_EXIST)".
func (e *APIError) Error() string {
	msg := strings.TrimSpace(e.Message)
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	code := e.ErrorCode
	if code == "" {
		code = strings.ToUpper(strings.ReplaceAll(http.StatusText(e.StatusCode), " ", "_"))
	}
	return fmt.Sprintf("%s (HTTP %d %s)", msg, e.StatusCode, code)
}

// IsInvalidToken reports whether the server refused the credential itself:
// a 401 (none or unsupported), or the 403 "Invalid access token." that
// Databricks and kiln answer for a token that is unknown, revoked, expired,
// or unusable while tokens are disabled.
func (e *APIError) IsInvalidToken() bool {
	return e.StatusCode == http.StatusUnauthorized ||
		(e.StatusCode == http.StatusForbidden && strings.HasPrefix(strings.TrimSpace(e.Message), "Invalid access token"))
}

// IsPermissionDenied reports whether the caller is known but may not do
// this (a 403 other than an invalid token).
func (e *APIError) IsPermissionDenied() bool {
	return e.StatusCode == http.StatusForbidden && !e.IsInvalidToken()
}

// IsNotFound reports whether the named object does not exist. An unknown
// endpoint is not "not found": see [APIError.IsUnknownEndpoint].
//
// The Jobs and Clusters APIs answer a missing job, run or cluster with
// HTTP 400 INVALID_PARAMETER_VALUE ("Job 42 does not exist."), on
// Databricks as on kiln; like the Databricks SDKs, IsNotFound reads those
// as not found too.
func (e *APIError) IsNotFound() bool {
	if e.StatusCode == http.StatusBadRequest && e.ErrorCode == "INVALID_PARAMETER_VALUE" &&
		(strings.Contains(e.Path, "/jobs/") || strings.Contains(e.Path, "/clusters/")) &&
		missingObjectRE.MatchString(strings.TrimSpace(e.Message)) {
		return true
	}
	if e.StatusCode != http.StatusNotFound || e.IsUnknownEndpoint() {
		return false
	}
	switch e.ErrorCode {
	case "FEATURE_DISABLED":
		return false
	}
	return true
}

// missingObjectRE matches the messages of a missing job, run or cluster
// (the Databricks SDKs' error overrides).
var missingObjectRE = regexp.MustCompile(`^(Job .* does not exist|Run .* does not exist|Run: .* in job: .* doesn't exist|Cluster .* does not exist)`)

// IsUnknownEndpoint reports whether the server has no such API (an older
// kiln, or a Databricks workspace asked for a kiln-only endpoint).
func (e *APIError) IsUnknownEndpoint() bool {
	return e.StatusCode == http.StatusNotFound && (e.ErrorCode == "ENDPOINT_NOT_FOUND" || strings.HasPrefix(e.Message, "No API found"))
}

// TransportError means the request got no HTTP answer: the connection was
// refused, the name did not resolve, TLS failed, or the server did not
// answer in time.
type TransportError struct {
	// Host is the base URL that was called.
	Host string
	// Msg says what went wrong and what to check, in one line.
	Msg string
	// Err is the underlying error.
	Err error
}

// Error returns the message.
func (e *TransportError) Error() string { return e.Msg }

// Unwrap returns the underlying error.
func (e *TransportError) Unwrap() error { return e.Err }

// UnexpectedResponseError means something answered, but not like a kiln
// or Databricks server: HTML, a body that is not JSON, or a redirect.
type UnexpectedResponseError struct {
	// Host is the base URL that was called.
	Host string
	// Method and Path name the request.
	Method, Path string
	// StatusCode and ContentType describe what came back.
	StatusCode  int
	ContentType string
	// Location is where a redirect pointed.
	Location string
	// Msg is the whole message.
	Msg string
}

// Error returns the message.
func (e *UnexpectedResponseError) Error() string { return e.Msg }

// maxResponseBytes bounds what the client reads of a response.
const maxResponseBytes = 16 << 20

// Do sends one request: query (may be nil) in the URL, in (may be nil)
// as the JSON body, and decodes a JSON answer into out (may be nil). It
// returns the response headers.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, in, out any) (http.Header, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encoding the request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	u := c.host + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("building the request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, err)
	}
	defer resp.Body.Close()
	if v := resp.Header.Get(TokenExpiresHeader); v != "" && c.onExpiry != nil {
		if at, err := time.Parse(time.RFC3339, v); err == nil {
			c.warned.Do(func() { c.onExpiry(at) })
		}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, c.transportError(ctx, err)
	}
	return resp.Header, c.decode(req, resp, data, out)
}

func (c *Client) decode(req *http.Request, resp *http.Response, data []byte, out any) error {
	trimmed := bytes.TrimSpace(data)
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	unexpected := func(what string) error {
		return &UnexpectedResponseError{
			Host: c.host, Method: req.Method, Path: req.URL.Path, StatusCode: resp.StatusCode, ContentType: ct,
			Location: resp.Header.Get("Location"),
			Msg: fmt.Sprintf("%s does not answer like a kiln server: %s %s returned HTTP %d %s; check the host in your profile",
				c.host, req.Method, req.URL.Path, resp.StatusCode, what),
		}
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		loc := resp.Header.Get("Location")
		if loc == "" {
			return unexpected("(a redirect without a location)")
		}
		e := unexpected("").(*UnexpectedResponseError)
		e.Msg = fmt.Sprintf("%s redirects %s %s to %s: use the host it redirects to, if you trust it", c.host, req.Method, req.URL.Path, loc)
		return e
	}
	isJSON := len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[')
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if len(trimmed) == 0 {
			return nil // an empty success body is fine (Databricks sends some)
		}
		if !isJSON {
			return unexpected(describeBody(ct, trimmed))
		}
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(trimmed, out); err != nil {
			return unexpected("with JSON of an unexpected shape (" + err.Error() + ")")
		}
		return nil
	}
	if !isJSON {
		if bytes.Contains(trimmed, []byte("HTTP request to an HTTPS server")) {
			e := unexpected("").(*UnexpectedResponseError)
			e.Msg = fmt.Sprintf("%s speaks HTTPS: use %s as the host", c.host, "https://"+strings.TrimPrefix(c.host, "http://"))
			return e
		}
		return unexpected(describeBody(ct, trimmed))
	}
	var eb struct {
		ErrorCode json.RawMessage `json:"error_code"`
		Message   string          `json:"message"`
		Error     string          `json:"error"`
		Detail    string          `json:"detail"`
		Status    string          `json:"status"`
		ScimType  string          `json:"scimType"`
	}
	if err := json.Unmarshal(trimmed, &eb); err != nil {
		return unexpected("with a JSON body that is not an error object")
	}
	e := &APIError{
		StatusCode: resp.StatusCode, Method: req.Method, Path: req.URL.Path,
		RequestID: resp.Header.Get("X-Request-Id"), Message: eb.Message,
		TokensDisabled: resp.Header.Get("X-Kiln-Tokens-Disabled") == "true",
	}
	var code string
	if json.Unmarshal(eb.ErrorCode, &code) == nil {
		e.ErrorCode = code
	} else if n, err := strconv.ParseInt(string(eb.ErrorCode), 10, 64); err == nil {
		e.ErrorCode = strconv.FormatInt(n, 10) // older platforms send numbers
	}
	switch {
	case eb.Error != "":
		e.Message = eb.Error // the legacy shape
	case e.Message == "" && eb.Detail != "":
		e.Message = strings.TrimSpace(eb.ScimType + " " + eb.Detail)
		if e.ErrorCode == "" {
			e.ErrorCode = "SCIM_" + eb.Status
		}
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		if secs, err := strconv.Atoi(ra); err == nil && secs >= 0 {
			e.RetryAfter = time.Duration(secs) * time.Second
		}
	}
	return e
}

// describeBody names what came back instead of JSON.
func describeBody(ct string, body []byte) string {
	switch {
	case len(body) == 0:
		return "with an empty body"
	case ct == "text/html" || bytes.HasPrefix(body, []byte("<")):
		return "with an HTML page instead of JSON"
	case ct != "":
		return "with " + ct + " instead of JSON"
	default:
		return "with a body that is not JSON"
	}
}

// transportError turns an error from the HTTP client into one line that
// says what failed and what to check.
func (c *Client) transportError(ctx context.Context, err error) error {
	te := &TransportError{Host: c.host, Err: err}
	var (
		unknownCA   x509.UnknownAuthorityError
		hostErr     x509.HostnameError
		invalidCert x509.CertificateInvalidError
		verifyErr   *tls.CertificateVerificationError
		recordErr   tls.RecordHeaderError
		dnsErr      *net.DNSError
		netErr      net.Error
	)
	switch {
	case ctx.Err() != nil:
		te.Msg = fmt.Sprintf("the request to %s was interrupted", c.host)
	case errors.As(err, &unknownCA):
		te.Msg = fmt.Sprintf("TLS error: the certificate of %s is not trusted (%s); add its CA to the system trust store or point SSL_CERT_FILE at it", c.host, shortX509(unknownCA.Error()))
	case errors.As(err, &hostErr):
		te.Msg = fmt.Sprintf("TLS error: the certificate of %s is not valid for this name (%s); use the name the certificate was issued for", c.host, shortX509(hostErr.Error()))
	case errors.As(err, &invalidCert):
		te.Msg = fmt.Sprintf("TLS error: the certificate of %s is invalid (%s)", c.host, shortX509(invalidCert.Error()))
	case errors.As(err, &verifyErr):
		te.Msg = fmt.Sprintf("TLS error: the certificate of %s could not be verified (%s)", c.host, shortX509(verifyErr.Err.Error()))
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		te.Msg = fmt.Sprintf("TLS error: %s does not speak TLS; use %s if it is a server without TLS", c.host, "http://"+strings.TrimPrefix(c.host, "https://"))
	case errors.As(err, &recordErr):
		te.Msg = fmt.Sprintf("TLS error: %s did not answer with TLS; check the scheme and port of the host", c.host)
	case errors.As(err, &dnsErr):
		te.Msg = fmt.Sprintf("cannot resolve %s: %s; check the host in your profile", dnsErr.Name, dnsErr.Err)
	case errors.Is(err, syscall.ECONNREFUSED):
		te.Msg = fmt.Sprintf("cannot connect to %s: connection refused; is the server running there?", c.host)
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		te.Msg = fmt.Sprintf("%s closed the connection without answering; check the scheme (http or https) and port of the host", c.host)
	case errors.As(err, &netErr) && netErr.Timeout():
		te.Msg = fmt.Sprintf("no answer from %s in time; is the host right and the server up?", c.host)
	default:
		var tlsAlert tls.AlertError
		if errors.As(err, &tlsAlert) || strings.Contains(err.Error(), "tls:") {
			te.Msg = fmt.Sprintf("TLS error with %s: %s", c.host, innermost(err))
		} else {
			te.Msg = fmt.Sprintf("cannot reach %s: %s", c.host, innermost(err))
		}
	}
	return te
}

// shortX509 drops the "x509: " prefix.
func shortX509(s string) string { return strings.TrimPrefix(s, "x509: ") }

// innermost returns the message of the deepest wrapped error, without the
// "Get \"url\": " decorations of url.Error and net.OpError.
func innermost(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}
