package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/mxauth/mxauth/internal/app"
	"github.com/mxauth/mxauth/internal/config"
	"github.com/mxauth/mxauth/internal/homeserver"
	"github.com/mxauth/mxauth/internal/jobs"
)

// checkStatus is the verdict of one doctor check.
type checkStatus int

const (
	checkPass checkStatus = iota
	checkWarn
	checkFail
)

func (s checkStatus) String() string {
	switch s {
	case checkPass:
		return "PASS"
	case checkWarn:
		return "WARN"
	default:
		return "FAIL"
	}
}

// checkResult is one line of the doctor's report.
type checkResult struct {
	Name   string
	Status checkStatus
	Detail string
	// Fix says what to change; empty for a pass.
	Fix string
}

// doctor checks a deployment: configuration, database, and the wiring
// between mxauth, the homeserver and the reverse proxy.
type doctor struct {
	cfg    *config.Config
	logger *slog.Logger
	http   *http.Client
	// wellKnownBase is where /.well-known/matrix/client is fetched;
	// default https://<matrix.homeserver>/.
	wellKnownBase string
	// clientBase is the homeserver's public client-API base (behind the
	// reverse proxy); default: m.homeserver.base_url from the well-known
	// document.
	clientBase string
}

// probeLocalpart is the user the provisioning-API check asks about; it need
// not exist.
const probeLocalpart = "mxauth-doctor-probe"

// run performs every check and returns the results in order.
func (d *doctor) run(ctx context.Context) []checkResult {
	var out []checkResult
	add := func(r checkResult) { out = append(out, r) }
	add(d.checkDatabase(ctx))
	add(d.checkIssuer())
	wk, base := d.checkWellKnown(ctx)
	add(wk)
	add(d.checkVersions(ctx))
	add(d.checkAuthMetadata(ctx))
	add(d.checkProvisioningAPI(ctx))
	add(d.checkIntrospection(ctx))
	if d.clientBase != "" {
		base = d.clientBase
	}
	add(d.checkLoginRouting(ctx, base))
	return out
}

func pass(name, detail string) checkResult {
	return checkResult{Name: name, Status: checkPass, Detail: detail}
}

func fail(name, detail, fix string) checkResult {
	return checkResult{Name: name, Status: checkFail, Detail: detail, Fix: fix}
}

func warn(name, detail, fix string) checkResult {
	return checkResult{Name: name, Status: checkWarn, Detail: detail, Fix: fix}
}

func (d *doctor) checkDatabase(ctx context.Context) checkResult {
	const name = "database"
	fixMigrate := `run "mxauth database migrate" (the server also migrates when it starts)`
	if p := d.cfg.Database.SQLitePath(); p != "" {
		if _, err := os.Stat(p); err != nil {
			return fail(name, fmt.Sprintf("no SQLite database at %s", p),
				`start "mxauth server" once or run "mxauth database migrate" to create it, or correct database.uri`)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	store, err := app.OpenStore(ctx, d.cfg, d.logger)
	if err != nil {
		return fail(name, err.Error(), "check database.uri, that the database server runs and that its credentials are right")
	}
	defer store.Close()
	current, latest, err := store.SchemaVersion(ctx)
	if err != nil {
		return fail(name, err.Error(), fixMigrate)
	}
	if current < latest {
		return fail(name, fmt.Sprintf("schema at version %d, this mxauth needs %d", current, latest), fixMigrate)
	}
	ok, detail, err := jobs.MigrationStatus(ctx, store.DB(), store.Dialect())
	if err != nil {
		return fail(name, err.Error(), fixMigrate)
	}
	if !ok {
		return fail(name, "job queue tables not migrated: "+detail, fixMigrate)
	}
	return pass(name, fmt.Sprintf("%s reachable, schema version %d", store.Dialect(), current))
}

func isLoopbackHost(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (d *doctor) checkIssuer() checkResult {
	const name = "issuer"
	issuer := d.cfg.IssuerURL()
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" {
		return fail(name, fmt.Sprintf("issuer %q is not an absolute URL", issuer), "set http.public_base (and http.issuer) to the public https:// URL of mxauth")
	}
	switch {
	case u.Scheme == "https":
		return pass(name, issuer)
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
		return pass(name, issuer+" (plain http is fine on this machine only)")
	case u.Scheme == "http":
		return warn(name, issuer+" is not https: clients refuse plain-http issuers outside localhost",
			"serve mxauth behind TLS and set http.public_base to its https:// URL")
	default:
		return fail(name, fmt.Sprintf("issuer %q must be an https URL", issuer), "set http.public_base to the public https:// URL of mxauth")
	}
}

// getJSON fetches target and decodes a JSON object. status is 0 when no
// answer came.
func (d *doctor) getJSON(ctx context.Context, target, bearer string) (status int, body map[string]any, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Accept", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := d.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, nil, err
	}
	if err := json.Unmarshal(data, &body); err != nil || body == nil {
		return resp.StatusCode, nil, fmt.Errorf("answered %d with a body that is not a JSON object", resp.StatusCode)
	}
	return resp.StatusCode, body, nil
}

// joinURL appends path (no leading slash) to base.
func joinURL(base, path string) string {
	return strings.TrimRight(base, "/") + "/" + path
}

func (d *doctor) checkWellKnown(ctx context.Context) (checkResult, string) {
	const name = "well-known"
	target := joinURL(d.wellKnownBase, ".well-known/matrix/client")
	status, body, err := d.getJSON(ctx, target, "")
	if err != nil || status != http.StatusOK {
		detail := fmt.Sprintf("GET %s: ", target)
		if err != nil {
			detail += err.Error()
		} else {
			detail += fmt.Sprintf("answered %d", status)
		}
		return fail(name, detail, "serve /.well-known/matrix/client on the server name's domain (Synapse serves it when public_baseurl and serve_client_wellknown are set); use --well-known-url if it lives elsewhere"), ""
	}
	base := ""
	if hs, ok := body["m.homeserver"].(map[string]any); ok {
		base, _ = hs["base_url"].(string)
	}
	if base == "" {
		return fail(name, target+" has no m.homeserver.base_url", "add m.homeserver.base_url (the homeserver's public client URL) to the well-known document"), ""
	}
	issuer := d.cfg.IssuerURL()
	auth, _ := body["org.matrix.msc2965.authentication"].(map[string]any)
	got, _ := auth["issuer"].(string)
	switch {
	case got == "":
		return warn(name, target+" does not name the authentication issuer (clients still discover it through auth_metadata)",
			"let Synapse serve the well-known document (it adds org.matrix.msc2965.authentication), or add {\"issuer\": \""+issuer+"\"} there"), base
	case got != issuer:
		return fail(name, fmt.Sprintf("%s names issuer %q, mxauth's is %q", target, got, issuer),
			"make org.matrix.msc2965.authentication.issuer equal http.public_base (or http.issuer)"), base
	}
	return pass(name, fmt.Sprintf("%s: homeserver %s, issuer %s", target, base, issuer)), base
}

func (d *doctor) checkVersions(ctx context.Context) checkResult {
	const name = "homeserver reachable"
	target := joinURL(d.cfg.Matrix.Endpoint, "_matrix/client/versions")
	status, body, err := d.getJSON(ctx, target, "")
	if err != nil || status != http.StatusOK {
		detail := "GET " + target + ": "
		if err != nil {
			detail += err.Error()
		} else {
			detail += fmt.Sprintf("answered %d", status)
		}
		return fail(name, detail, "check matrix.endpoint: the URL where mxauth reaches Synapse's client listener, and that Synapse runs")
	}
	if _, ok := body["versions"].([]any); !ok {
		return fail(name, target+" answered without a versions list", "matrix.endpoint must point at Synapse's client listener")
	}
	return pass(name, target)
}

func (d *doctor) checkAuthMetadata(ctx context.Context) checkResult {
	const name = "auth metadata (delegation)"
	issuer := d.cfg.IssuerURL()
	var last string
	answered := false
	for _, p := range []string{"_matrix/client/v1/auth_metadata", "_matrix/client/unstable/org.matrix.msc2965/auth_metadata"} {
		target := joinURL(d.cfg.Matrix.Endpoint, p)
		status, body, err := d.getJSON(ctx, target, "")
		answered = answered || status != 0
		if err != nil {
			last = "GET " + target + ": " + err.Error()
			continue
		}
		if status != http.StatusOK {
			last = fmt.Sprintf("GET %s: answered %d", target, status)
			continue
		}
		got, _ := body["issuer"].(string)
		if got != issuer {
			return fail(name, fmt.Sprintf("%s names issuer %q, mxauth's is %q", target, got, issuer),
				"Synapse's matrix_authentication_service.endpoint must point at this mxauth, and http.public_base must be the issuer clients use")
		}
		return pass(name, target+" → "+issuer)
	}
	if !answered {
		return fail(name, last, "check matrix.endpoint and that Synapse runs")
	}
	return fail(name, last, "enable matrix_authentication_service in homeserver.yaml (enabled: true, endpoint: mxauth's internal URL, secret: matrix.secret) and restart Synapse")
}

func (d *doctor) checkProvisioningAPI(ctx context.Context) checkResult {
	const name = "homeserver API secret"
	secret := d.cfg.Matrix.SharedSecret()
	kind, err := homeserver.ParseKind(d.cfg.Matrix.Kind)
	if err != nil {
		return fail(name, err.Error(), "set matrix.kind to synapse, synapse_legacy or synapse_read_only")
	}
	target := joinURL(d.cfg.Matrix.Endpoint, "_synapse/mas/query_user?localpart="+probeLocalpart)
	fixSecret := "use the same value for matrix.secret here and matrix_authentication_service.secret in homeserver.yaml"
	if kind == homeserver.KindSynapseLegacy {
		mxid := "@" + probeLocalpart + ":" + d.cfg.Matrix.Homeserver
		target = joinURL(d.cfg.Matrix.Endpoint, "_synapse/admin/v2/users/"+url.PathEscape(mxid))
		fixSecret = "matrix.secret must equal experimental_features.msc3861.admin_token in homeserver.yaml"
	}
	status, body, err := d.getJSON(ctx, target, secret)
	errcode, _ := body["errcode"].(string)
	switch {
	case status == 0:
		return fail(name, fmt.Sprintf("GET %s: %v", target, err), "check matrix.endpoint and that Synapse runs")
	case status == http.StatusOK, status == http.StatusNotFound && errcode == "M_NOT_FOUND":
		return pass(name, fmt.Sprintf("%s accepted the shared secret", target))
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return fail(name, fmt.Sprintf("%s refused the shared secret (%d %s)", target, status, errcode), fixSecret)
	case status == http.StatusNotFound:
		fix := "Synapse ≥ 1.136 with matrix_authentication_service enabled serves /_synapse/mas; for an older Synapse in MSC3861 mode set matrix.kind: synapse_legacy"
		if kind == homeserver.KindSynapseLegacy {
			fix = "the admin API is not reachable at matrix.endpoint: check the URL and that the client listener serves the admin resource"
		}
		return fail(name, fmt.Sprintf("%s answered 404 %s", target, errcode), fix)
	default:
		return fail(name, fmt.Sprintf("%s answered %d %s", target, status, errcode), "see Synapse's log for this request")
	}
}

func (d *doctor) checkIntrospection(ctx context.Context) checkResult {
	const name = "token introspection"
	target := joinURL(d.cfg.Matrix.Endpoint, "_matrix/client/v3/account/whoami")
	// A well-formed token no one was issued: Synapse must ask mxauth and
	// get "inactive".
	status, body, err := d.getJSON(ctx, target, "mat_doctorprobedoctorprobedoctorpr_000000")
	errcode, _ := body["errcode"].(string)
	switch {
	case status == http.StatusUnauthorized && errcode == "M_UNKNOWN_TOKEN":
		return pass(name, "Synapse asked mxauth about a token and refused it")
	case status == 0:
		return fail(name, fmt.Sprintf("GET %s: %v", target, err), "check matrix.endpoint and that Synapse runs")
	case status == http.StatusServiceUnavailable || status >= 500:
		return fail(name, fmt.Sprintf("Synapse could not introspect a token (%d %s)", status, errcode),
			"Synapse cannot reach mxauth's /oauth2/introspect: matrix_authentication_service.endpoint must be a URL where Synapse reaches mxauth's oauth resource, and its secret must equal matrix.secret")
	default:
		return fail(name, fmt.Sprintf("%s answered %d %s to an unknown token, want 401 M_UNKNOWN_TOKEN", target, status, errcode),
			"enable matrix_authentication_service in homeserver.yaml so that Synapse checks tokens with mxauth")
	}
}

func (d *doctor) checkLoginRouting(ctx context.Context, base string) checkResult {
	const name = "legacy login routing"
	fix := `route ^/_matrix/client/[^/]+/(login|logout|refresh) on the homeserver's public host to mxauth's compat resource (see docs/setup/synapse.md)`
	if base == "" {
		return fail(name, "the homeserver's public URL is unknown (no well-known document)", "fix the well-known check, or pass --homeserver-url")
	}
	target := joinURL(base, "_matrix/client/v3/login")
	status, body, err := d.getJSON(ctx, target, "")
	if status == 0 {
		return fail(name, fmt.Sprintf("GET %s: %v", target, err), "check that the homeserver's public URL is reachable from here")
	}
	if status != http.StatusOK {
		return fail(name, fmt.Sprintf("GET %s answered %d: it does not reach mxauth", target, status), fix)
	}
	flows, _ := body["flows"].([]any)
	for _, f := range flows {
		m, _ := f.(map[string]any)
		if m["oauth_aware_preferred"] == true || m["org.matrix.msc3824.delegated_oidc_compatibility"] == true {
			return pass(name, target+" is served by mxauth")
		}
	}
	return fail(name, fmt.Sprintf("GET %s lists login flows without the delegated-OIDC flag: it reaches the homeserver, not mxauth", target), fix)
}

// report writes the results and returns how many failed.
func report(w io.Writer, results []checkResult) (failed, warned int) {
	for _, r := range results {
		fmt.Fprintf(w, "[%s] %s: %s\n", r.Status, r.Name, r.Detail)
		if r.Fix != "" {
			fmt.Fprintf(w, "       fix: %s\n", r.Fix)
		}
		switch r.Status {
		case checkFail:
			failed++
		case checkWarn:
			warned++
		}
	}
	return failed, warned
}

// errChecksFailed makes doctor exit non-zero.
var errChecksFailed = errors.New("doctor: some checks failed")
