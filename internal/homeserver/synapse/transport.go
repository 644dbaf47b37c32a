package synapse

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/homeserver"
)

// Defaults applied by New and NewLegacy to zero Config fields.
const (
	DefaultTimeout           = 10 * time.Second
	DefaultDeleteUserTimeout = 5 * time.Minute
	DefaultMaxAttempts       = 3
	DefaultBackoffBase       = 250 * time.Millisecond
	DefaultBackoffMax        = 10 * time.Second
	DefaultMaxRetryAfter     = 30 * time.Second
)

// maxAnswerSize bounds what is read from the homeserver.
const maxAnswerSize = 1 << 20

// Config configures a Client or LegacyClient.
type Config struct {
	// ServerName is the homeserver's server name (matrix.homeserver).
	ServerName string
	// Endpoint is the base URL mxauth reaches Synapse at (matrix.endpoint),
	// for example http://localhost:8008/.
	Endpoint string
	// Secret is the shared secret (matrix.secret): the bearer token of every
	// call. For the legacy kind it is Synapse's MSC3861 admin_token.
	Secret string
	// HTTPClient sends the requests; nil means a client with Go's default
	// transport. Its own Timeout, if any, also applies.
	HTTPClient *http.Client
	// Timeout bounds one HTTP attempt. 0 means DefaultTimeout.
	Timeout time.Duration
	// DeleteUserTimeout bounds one delete_user attempt. 0 means
	// DefaultDeleteUserTimeout.
	DeleteUserTimeout time.Duration
	// MaxAttempts is how many times a call is tried in all (the first try
	// included). 0 means DefaultMaxAttempts; 1 disables retries.
	MaxAttempts int
	// BackoffBase is the wait before the second attempt; it doubles for each
	// further attempt. 0 means DefaultBackoffBase.
	BackoffBase time.Duration
	// BackoffMax caps the computed back-off. 0 means DefaultBackoffMax.
	BackoffMax time.Duration
	// MaxRetryAfter is the longest wait the homeserver may ask for (Retry-After,
	// retry_after_ms) that the client still waits in-line; beyond it the call
	// returns its retryable error at once. 0 means DefaultMaxRetryAfter.
	MaxRetryAfter time.Duration
	// Logger receives debug lines per call and warnings per retry; nil
	// discards them.
	Logger *slog.Logger
	// Clock reads the time for Retry-After dates. nil means clock.System.
	Clock clock.Clock
	// Sleep waits d or until ctx ends, returning ctx.Err() in that case. nil
	// means a real timer. Tests inject one that records and returns at once.
	Sleep func(ctx context.Context, d time.Duration) error
	// Rand is the randomness for back-off jitter. nil means
	// clock.SystemRand().
	Rand io.Reader
}

// transport sends calls with timeouts and retries. It is shared by Client
// and LegacyClient.
type transport struct {
	serverName        string
	base              string // endpoint with a trailing slash
	secret            string
	http              *http.Client
	timeout           time.Duration
	deleteUserTimeout time.Duration
	maxAttempts       int
	backoffBase       time.Duration
	backoffMax        time.Duration
	maxRetryAfter     time.Duration
	logger            *slog.Logger
	clock             clock.Clock
	sleep             func(ctx context.Context, d time.Duration) error
	rand              io.Reader
}

func newTransport(cfg Config) (*transport, error) {
	if cfg.ServerName == "" {
		return nil, errors.New("synapse: config: server name is empty")
	}
	if strings.ContainsAny(cfg.ServerName, "@/ ") {
		return nil, fmt.Errorf("synapse: config: server name %q is not a Matrix server name", cfg.ServerName)
	}
	if cfg.Secret == "" {
		return nil, errors.New("synapse: config: secret is empty")
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("synapse: config: endpoint %q: %w", cfg.Endpoint, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("synapse: config: endpoint %q must be an absolute http(s) URL", cfg.Endpoint)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("synapse: config: endpoint %q must not have a query or fragment", cfg.Endpoint)
	}
	for name, d := range map[string]time.Duration{
		"timeout": cfg.Timeout, "delete_user timeout": cfg.DeleteUserTimeout,
		"backoff base": cfg.BackoffBase, "backoff max": cfg.BackoffMax, "max retry-after": cfg.MaxRetryAfter,
	} {
		if d < 0 {
			return nil, fmt.Errorf("synapse: config: %s %s is negative", name, d)
		}
	}
	if cfg.MaxAttempts < 0 {
		return nil, fmt.Errorf("synapse: config: max attempts %d is negative", cfg.MaxAttempts)
	}
	base := u.String()
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	t := &transport{
		serverName:        cfg.ServerName,
		base:              base,
		secret:            cfg.Secret,
		http:              cfg.HTTPClient,
		timeout:           orDuration(cfg.Timeout, DefaultTimeout),
		deleteUserTimeout: orDuration(cfg.DeleteUserTimeout, DefaultDeleteUserTimeout),
		maxAttempts:       cfg.MaxAttempts,
		backoffBase:       orDuration(cfg.BackoffBase, DefaultBackoffBase),
		backoffMax:        orDuration(cfg.BackoffMax, DefaultBackoffMax),
		maxRetryAfter:     orDuration(cfg.MaxRetryAfter, DefaultMaxRetryAfter),
		logger:            cfg.Logger,
		clock:             cfg.Clock,
		sleep:             cfg.Sleep,
		rand:              cfg.Rand,
	}
	if t.http == nil {
		t.http = &http.Client{}
	}
	if t.maxAttempts == 0 {
		t.maxAttempts = DefaultMaxAttempts
	}
	if t.logger == nil {
		t.logger = slog.New(slog.DiscardHandler)
	}
	if t.clock == nil {
		t.clock = clock.System{}
	}
	if t.sleep == nil {
		t.sleep = sleepTimer
	}
	if t.rand == nil {
		t.rand = clock.SystemRand()
	}
	return t, nil
}

func orDuration(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func sleepTimer(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// call describes one logical operation.
type call struct {
	op      string     // operation name for errors and logs
	userID  string     // MXID the call is about
	method  string     // HTTP method
	path    string     // escaped path relative to the endpoint
	query   url.Values // query parameters, may be nil
	body    any        // JSON body; nil sends none
	expect  []int      // statuses that mean success
	timeout time.Duration
	// notFound classifies an error answer as "user not found"; nil means
	// Synapse's NotFoundError("User not found") of the /_synapse/mas API.
	notFound func(status int, errcode, message string) bool
}

// answer is a successful response.
type answer struct {
	status int
	body   []byte
}

// matrixError is Synapse's error body.
type matrixError struct {
	ErrCode      string `json:"errcode"`
	Error        string `json:"error"`
	RetryAfterMS *int64 `json:"retry_after_ms"`
}

// do runs c with retries and returns the first successful answer or the last
// error, always a *homeserver.Error.
func (t *transport) do(ctx context.Context, c call) (answer, error) {
	var body []byte
	if c.body != nil {
		b, err := json.Marshal(c.body)
		if err != nil {
			return answer{}, &homeserver.Error{Op: c.op, UserID: c.userID, Err: fmt.Errorf("encode request: %w", err)}
		}
		body = b
	}
	timeout := c.timeout
	if timeout == 0 {
		timeout = t.timeout
	}
	for attempt := 1; ; attempt++ {
		start := t.clock.Now()
		ans, retryAfter, herr := t.once(ctx, c, body, timeout)
		if herr == nil {
			t.logger.DebugContext(ctx, "homeserver call", "op", c.op, "user_id", c.userID,
				"status", ans.status, "attempt", attempt, "duration", t.clock.Now().Sub(start))
			return ans, nil
		}
		if !herr.Retryable || attempt >= t.maxAttempts || ctx.Err() != nil {
			return answer{}, herr
		}
		var delay time.Duration
		if retryAfter > 0 {
			if retryAfter > t.maxRetryAfter {
				t.logger.WarnContext(ctx, "homeserver asked to wait too long; giving up for now",
					"op", c.op, "user_id", c.userID, "retry_after", retryAfter, "error", herr)
				return answer{}, herr
			}
			delay = retryAfter
		} else {
			delay = t.backoff(attempt)
		}
		t.logger.WarnContext(ctx, "homeserver call failed; retrying",
			"op", c.op, "user_id", c.userID, "attempt", attempt, "wait", delay, "error", herr)
		if err := t.sleep(ctx, delay); err != nil {
			return answer{}, herr
		}
	}
}

// backoff is the wait after the given failed attempt (1-based): base·2^(n-1)
// capped at max, then drawn uniformly from [d/2, d].
func (t *transport) backoff(attempt int) time.Duration {
	d := t.backoffBase
	for i := 1; i < attempt && d < t.backoffMax; i++ {
		d *= 2
	}
	d = min(d, t.backoffMax)
	half := d / 2
	if half <= 0 {
		return d
	}
	var b [8]byte
	if _, err := io.ReadFull(t.rand, b[:]); err != nil {
		return d
	}
	return half + time.Duration(binary.BigEndian.Uint64(b[:])%uint64(half+1))
}

// once makes one HTTP attempt. It returns the answer, or the error with, for
// retryable answers, how long the homeserver asked to wait (0 if it did not).
func (t *transport) once(ctx context.Context, c call, body []byte, timeout time.Duration) (answer, time.Duration, *homeserver.Error) {
	fail := func(status int, err error, retryable bool) *homeserver.Error {
		return &homeserver.Error{Op: c.op, UserID: c.userID, Status: status, Err: err, Retryable: retryable}
	}
	target := t.base + c.path
	if len(c.query) > 0 {
		target += "?" + c.query.Encode()
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, c.method, target, rd)
	if err != nil {
		return answer{}, 0, fail(0, fmt.Errorf("build request: %w", err), false)
	}
	req.Header.Set("Authorization", "Bearer "+t.secret)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "mxauth")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := t.http.Do(req)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			// The caller gave up; the call may pass later.
			return answer{}, 0, fail(0, ctx.Err(), true)
		case actx.Err() != nil:
			return answer{}, 0, fail(0, fmt.Errorf("no answer within %s: %w", timeout, actx.Err()), true)
		default:
			return answer{}, 0, fail(0, err, true)
		}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerSize+1))
	if err != nil {
		return answer{}, 0, fail(resp.StatusCode, fmt.Errorf("read answer: %w", err), true)
	}
	if len(data) > maxAnswerSize {
		return answer{}, 0, fail(resp.StatusCode, fmt.Errorf("answer larger than %d bytes", maxAnswerSize), false)
	}
	if slices.Contains(c.expect, resp.StatusCode) {
		return answer{status: resp.StatusCode, body: data}, 0, nil
	}

	herr := fail(resp.StatusCode, nil, resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests)
	var me matrixError
	if json.Unmarshal(data, &me) == nil {
		herr.ErrCode, herr.Message = me.ErrCode, me.Error
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		herr.Err = fmt.Errorf("unexpected status, want %s", statusList(c.expect))
	}
	notFound := c.notFound
	if notFound == nil {
		notFound = func(status int, errcode, message string) bool {
			return status == http.StatusNotFound && errcode == "M_NOT_FOUND" && message == "User not found"
		}
	}
	herr.UserNotFound = notFound(resp.StatusCode, herr.ErrCode, herr.Message)
	var retryAfter time.Duration
	if herr.Retryable {
		retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), t.clock.Now())
		if retryAfter == 0 && me.RetryAfterMS != nil && *me.RetryAfterMS > 0 {
			retryAfter = time.Duration(*me.RetryAfterMS) * time.Millisecond
		}
	}
	return answer{}, retryAfter, herr
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date.
// It returns 0 when the header is absent or unusable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 || secs > int64(24*time.Hour/time.Second) {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if when, err := http.ParseTime(v); err == nil {
		if d := when.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

func statusList(s []int) string {
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = strconv.Itoa(v)
	}
	return strings.Join(parts, " or ")
}

// decode parses a successful answer's JSON body into v, as a permanent error
// if malformed.
func decode(c call, ans answer, v any) error {
	if err := json.Unmarshal(ans.body, v); err != nil {
		return &homeserver.Error{Op: c.op, UserID: c.userID, Status: ans.status,
			Err: fmt.Errorf("malformed answer: %w", err)}
	}
	return nil
}

// inputError reports a bad argument before anything is sent.
func inputError(op, userID, format string, args ...any) error {
	return &homeserver.Error{Op: op, UserID: userID, Err: fmt.Errorf(format, args...)}
}

// escapeSegment percent-encodes s for one URL path segment, leaving only the
// unreserved characters A-Z a-z 0-9 - . _ ~ as they are (so "@alice:hs"
// becomes "%40alice%3Ahs").
func escapeSegment(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
