package token_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/mxauth/mxauth/internal/app/apptest"
	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/server/authorize/authorizetest"
)

// testGoClientsEndToEnd runs the whole flow with golang.org/x/oauth2 and
// go-oidc as the client: discovery, authorization with PKCE and a nonce
// through the real login and consent pages, code exchange, ID token
// verification (signature, iss, aud, exp, nonce, at_hash), the device
// created on the homeserver before the tokens are returned, and a refresh.
func testGoClientsEndToEnd(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	ctx := context.Background()
	// Register the client the way Matrix clients do (RFC 7591).
	reg := authorizetest.Do(t, jsonRequest(t, env.URL+"oauth2/registration", map[string]any{
		"client_name": "Go Test Client", "client_uri": "https://client.example/",
		"application_type": "native", "redirect_uris": []string{authorizetest.DefaultRedirectURI},
		"token_endpoint_auth_method": "none", "grant_types": []string{"authorization_code", "refresh_token"},
		"response_types": []string{"code"},
	}))
	if reg.Status != http.StatusCreated || reg.Str("client_id") == "" {
		t.Fatalf("registration: %d %s", reg.Status, reg.Raw)
	}
	c := clientT{ID: reg.Str("client_id"), RedirectURIs: []string{authorizetest.DefaultRedirectURI}}

	provider, err := oidc.NewProvider(ctx, env.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	endpoint := provider.Endpoint()
	endpoint.AuthStyle = oauth2.AuthStyleInParams
	conf := oauth2.Config{
		ClientID: c.ID, Endpoint: endpoint, RedirectURL: authorizetest.DefaultRedirectURI,
		Scopes: []string{oidc.ScopeOpenID, "urn:matrix:client:api:*", "urn:matrix:client:device:GOCLIENT01"},
	}
	verifier := oauth2.GenerateVerifier()
	const state, nonce = "state-123", "nonce-456"
	authURL := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))

	b := env.NewBrowser(t)
	res := authorizetest.Run(t, env, b, authURL, alice, password, authorizetest.Allow)
	if !res.SawLogin || !res.SawConsent {
		t.Fatalf("flow skipped login or consent: %+v", res)
	}
	if res.Param("state") != state || res.Param("iss") != env.URL {
		t.Fatalf("redirect %v: want state %q and iss %q", res.Redirect, state, env.URL)
	}
	if !strings.HasSuffix(res.Location, "#") {
		t.Errorf("query-mode redirect should end with an empty fragment: %s", res.Location)
	}
	code := res.Param("code")

	// The device does not exist before the exchange...
	if slices.Contains(env.Homeserver.DeviceIDs(alice), "GOCLIENT01") {
		t.Fatal("device exists before the code exchange")
	}
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	// ...and does once the token response has arrived.
	if !slices.Contains(env.Homeserver.DeviceIDs(alice), "GOCLIENT01") {
		t.Fatalf("device not created on the homeserver before the token response: %v", env.Homeserver.DeviceIDs(alice))
	}
	upserts := env.Homeserver.CallsTo("/_synapse/mas/upsert_device")
	if len(upserts) == 0 {
		t.Fatal("no upsert_device call")
	}
	body, err := upserts[len(upserts)-1].JSONBody()
	if err != nil {
		t.Fatal(err)
	}
	if body["device_id"] != "GOCLIENT01" || body["localpart"] != alice || body["display_name"] != "Go Test Client" {
		t.Errorf("upsert_device body = %v", body)
	}

	// The homeserver accepts the token at once: it introspects it and
	// finds the user and the device.
	if status, who := whoami(t, env, tok.AccessToken); status != http.StatusOK ||
		who["user_id"] != "@"+alice+":example.test" || who["device_id"] != "GOCLIENT01" {
		t.Fatalf("whoami = %d %v", status, who)
	}

	if tok.TokenType != "Bearer" || !strings.HasPrefix(tok.AccessToken, "mat_") || !strings.HasPrefix(tok.RefreshToken, "mar_") {
		t.Fatalf("token = %+v", tok)
	}
	if d := time.Until(tok.Expiry); d < 290*time.Second || d > 301*time.Second {
		t.Errorf("expiry in %v, want about 300s", d)
	}
	if got := tok.Extra("scope"); got != "openid urn:matrix:client:api:* urn:matrix:client:device:GOCLIENT01" {
		t.Errorf("scope = %v", got)
	}

	rawID, ok := tok.Extra("id_token").(string)
	if !ok {
		t.Fatal("no id_token")
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: c.ID}).Verify(ctx, rawID)
	if err != nil {
		t.Fatalf("verify id_token: %v", err)
	}
	if idt.Nonce != nonce {
		t.Errorf("nonce = %q", idt.Nonce)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	var claims struct {
		AuthTime int64  `json:"auth_time"`
		CHash    string `json:"c_hash"`
		Sub      string `json:"sub"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.AuthTime == 0 || time.Since(time.Unix(claims.AuthTime, 0)) > time.Minute {
		t.Errorf("auth_time = %d", claims.AuthTime)
	}
	if claims.CHash == "" || claims.Sub == "" {
		t.Errorf("claims = %+v", claims)
	}
	if idt.Expiry.Sub(idt.IssuedAt) != time.Hour {
		t.Errorf("id token lifetime %v", idt.Expiry.Sub(idt.IssuedAt))
	}

	// The exact wire shape of a token response (spec §5.1): expires_in is
	// a JSON integer, token_type "Bearer", and nothing is cacheable.
	resp := authorizetest.Refresh(t, env, c, tok.RefreshToken)
	if resp.Status != http.StatusOK {
		t.Fatalf("refresh: %d %s", resp.Status, resp.Raw)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" || resp.Header.Get("Pragma") != "no-cache" {
		t.Errorf("Cache-Control %q Pragma %q", cc, resp.Header.Get("Pragma"))
	}
	var shape map[string]json.RawMessage
	if err := json.Unmarshal([]byte(resp.Raw), &shape); err != nil {
		t.Fatal(err)
	}
	if string(shape["expires_in"]) != "300" || string(shape["token_type"]) != `"Bearer"` {
		t.Errorf("refresh response = %s", resp.Raw)
	}
	if _, ok := shape["id_token"]; ok {
		t.Errorf("refresh response carries an id_token: %s", resp.Raw)
	}
	if resp.Str("scope") != "openid urn:matrix:client:api:* urn:matrix:client:device:GOCLIENT01" {
		t.Errorf("refresh scope = %q", resp.Str("scope"))
	}
}

func jsonRequest(t *testing.T, url string, body any) *http.Request {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return req
}

// testIDTokenOnlyWithOpenID checks that only openid brings an ID token,
// that a plain OIDC login has no device, the claims without a nonce, and
// that the ID token is signed with the client's requested algorithm.
func testIDTokenOnlyWithOpenID(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	c := authorizetest.AddClient(t, env, authorizetest.ClientOptions{IDTokenAlg: "ES256"})
	r := authorizetest.Tokens(t, env, c, matrixScope, alice, password)
	if _, ok := r.JSON["id_token"]; ok {
		t.Errorf("id_token without openid: %s", r.Raw)
	}

	// A plain OIDC login: no device, no Matrix scope, no homeserver call.
	env.Homeserver.ResetCalls()
	r = authorizetest.Tokens(t, env, c, "openid profile email", alice, password)
	if r.Str("scope") != "openid profile email" {
		t.Errorf("scope = %q", r.Str("scope"))
	}
	idt := r.Str("id_token")
	parts := strings.Split(idt, ".")
	if len(parts) != 3 {
		t.Fatalf("id_token = %q", idt)
	}
	header, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(header), `"alg":"ES256"`) {
		t.Errorf("id_token header = %s, want ES256", header)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if _, ok := claims["nonce"]; ok {
		t.Errorf("nonce claim without a nonce: %v", claims)
	}
	if claims["iss"] != env.URL || claims["aud"] == nil {
		t.Errorf("claims = %v", claims)
	}
	if calls := env.Homeserver.CallsTo("/_synapse/mas/upsert_device"); len(calls) != 0 {
		t.Errorf("a login without a device called upsert_device: %d calls", len(calls))
	}
	rs, ok := resolve(t, env, r.Str("access_token"))
	if !ok || rs.DeviceID != "" {
		t.Errorf("session device = %q (live %v)", rs.DeviceID, ok)
	}
}
