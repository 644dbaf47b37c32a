// openid-client 6 (a certified OpenID Connect relying party, on
// oauth4webapi) against mxauth: discovery, dynamic registration of a
// confidential client, authorization code + PKCE + nonce, ID token
// validation including its signature against jwks_uri, userinfo, refresh,
// introspection and revocation with client credentials; then the same
// with the static confidential client of the configuration (skip_consent,
// client_secret_post). Spec §1.2, §2, §3, §5, §6.1.

import "../lib/setup.js";

import assert from "node:assert/strict";
import { describe } from "node:test";
import * as oidc from "openid-client";

import { Browser, parseCallback } from "../lib/browser.js";
import { env, introspect, randomID, scopeSet, steps, tokenFormatProblem, user, whoami } from "../lib/env.js";

const insecure = { execute: [oidc.allowInsecureRequests] }; // the issuer is http://127.0.0.1

/**
 * rejectsWith asserts that p rejects with an OAuth error code (and HTTP
 * status) from mxauth. oauth4webapi reports a 401 that carries a
 * WWW-Authenticate challenge as WWWAuthenticateChallengeError, with the
 * response unread; its body is read here.
 */
async function rejectsWith(p, error, status) {
    let result;
    try {
        result = await p;
    } catch (e) {
        let code = e?.error ?? (Array.isArray(e?.cause) ? e.cause[0]?.parameters?.error : undefined);
        if (code === undefined && e?.response instanceof Response) {
            code = (await e.response.json().catch(() => ({}))).error;
        }
        assert.equal(code, error, `want error ${error}, got ${e?.name}: ${e?.message} ${JSON.stringify(e?.cause ?? {})}`);
        if (status !== undefined) assert.equal(e.status ?? e.response?.status, status, "HTTP status");
        return;
    }
    assert.fail(`want error ${error}, got success: ${JSON.stringify(result)}`);
}

/** introspection answer checks shared by both flows. */
function assertActiveAccessToken(info, { clientId, username, sub, scope }) {
    assert.equal(info.active, true, `active: ${JSON.stringify(info)}`);
    assert.equal(info.client_id, clientId, "client_id");
    assert.equal(info.username, username, "username is the localpart (what Synapse reads)");
    assert.equal(info.sub, sub, "sub is the ID token's sub");
    assert.equal(info.token_type, "access_token");
    for (const s of scope) assert.ok(scopeSet(info.scope).has(s), `introspected scope ${info.scope} has ${s}`);
    const now = Math.floor(Date.now() / 1000);
    assert.ok(Number.isInteger(info.exp) && info.exp > now, `exp ${info.exp} is an integer in the future`);
    if (info.expires_in !== undefined) assert.ok(Number.isInteger(info.expires_in) && info.expires_in > 0, `expires_in ${info.expires_in}`);
}

describe("openid-client 6: dynamically registered confidential client", () => {
    const step = steps();
    const s = {};
    const carol = user("carol");
    const redirectURI = "https://e2e.example.org/oidc/callback";

    step("discovers the issuer (discovery)", async () => {
        const cfg = await oidc.discovery(new URL(env.issuer), "not-registered-yet", undefined, oidc.None(), insecure);
        const md = cfg.serverMetadata();
        assert.equal(md.issuer, env.issuer);
        for (const key of ["authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint", "revocation_endpoint", "introspection_endpoint", "userinfo_endpoint"]) {
            assert.equal(typeof md[key], "string", key);
        }
        assert.ok(md.code_challenge_methods_supported.includes("S256"));
        assert.ok(md.id_token_signing_alg_values_supported.includes("RS256"));
    });

    step("registers a confidential web client (dynamicClientRegistration)", async () => {
        s.config = await oidc.dynamicClientRegistration(
            new URL(env.issuer),
            {
                client_name: "mxauth e2e: openid-client 6",
                client_uri: "https://e2e.example.org/",
                redirect_uris: [redirectURI],
                application_type: "web",
                grant_types: ["authorization_code", "refresh_token"],
                response_types: ["code"],
                token_endpoint_auth_method: "client_secret_basic",
                id_token_signed_response_alg: "RS256",
            },
            oidc.ClientSecretBasic(),
            insecure,
        );
        const md = s.config.clientMetadata();
        assert.equal(typeof md.client_id, "string");
        assert.equal(typeof md.client_secret, "string", "a confidential client gets a secret");
        assert.ok(md.client_secret.length >= 20, "the secret is at least 20 characters");
        s.clientId = md.client_id;
        // Check ID token signatures against jwks_uri, not only the claims.
        oidc.enableNonRepudiationChecks(s.config);
    });

    step("authorizes with PKCE, state and nonce", async () => {
        s.verifier = oidc.randomPKCECodeVerifier();
        s.state = oidc.randomState();
        s.nonce = oidc.randomNonce();
        s.deviceId = randomID(10);
        s.scope = ["openid", "urn:matrix:client:api:*", `urn:matrix:client:device:${s.deviceId}`];
        const url = oidc.buildAuthorizationUrl(s.config, {
            redirect_uri: redirectURI,
            scope: s.scope.join(" "),
            code_challenge: await oidc.calculatePKCECodeChallenge(s.verifier),
            code_challenge_method: "S256",
            state: s.state,
            nonce: s.nonce,
        });
        const result = await new Browser().authorize(url.href, { ...carol, redirectURI });
        const cb = parseCallback(result.url);
        assert.equal(cb.error, null, `authorization error: ${cb.error} ${cb.errorDescription}`);
        assert.equal(cb.mode, "query", "no response_mode: the code comes in the query (spec §3.1 default)");
        s.callback = new URL(result.url);
    });

    step("exchanges the code and validates the ID token (authorizationCodeGrant)", async () => {
        const t = await oidc.authorizationCodeGrant(s.config, s.callback, {
            pkceCodeVerifier: s.verifier,
            expectedState: s.state,
            expectedNonce: s.nonce,
            idTokenExpected: true,
        });
        assert.equal(t.token_type, "bearer");
        assert.equal(tokenFormatProblem(t.access_token, "mat"), null);
        assert.equal(tokenFormatProblem(t.refresh_token, "mar"), null);
        assert.ok(Number.isInteger(t.expires_in) && t.expires_in > 0, `expires_in ${t.expires_in}`);
        assert.deepEqual(scopeSet(t.scope), new Set(s.scope), "scope echoes the request");
        const c = t.claims();
        assert.equal(c.iss, env.issuer);
        assert.ok([c.aud].flat().includes(s.clientId), `aud ${JSON.stringify(c.aud)}`);
        assert.equal(c.nonce, s.nonce);
        assert.ok(typeof c.sub === "string" && c.sub.length > 0);
        s.sub = c.sub;
        s.tokens = t;
    });

    step("userinfo names the same subject (fetchUserInfo)", async () => {
        const info = await oidc.fetchUserInfo(s.config, s.tokens.access_token, s.sub);
        assert.equal(info.sub, s.sub);
    });

    step("introspects the access and refresh tokens with the client's credentials (tokenIntrospection)", async () => {
        const info = await oidc.tokenIntrospection(s.config, s.tokens.access_token);
        assertActiveAccessToken(info, { clientId: s.clientId, username: "carol", sub: s.sub, scope: ["urn:matrix:client:api:*"] });
        const refresh = await oidc.tokenIntrospection(s.config, s.tokens.refresh_token, { token_type_hint: "refresh_token" });
        assert.equal(refresh.active, true, `refresh token: ${JSON.stringify(refresh)}`);
        assert.equal(refresh.token_type, "refresh_token");
        assert.equal(refresh.sub, s.sub);
        const garbage = await oidc.tokenIntrospection(s.config, "mat_not_a_token");
        assert.deepEqual(garbage, { active: false }, "an unknown token is inactive, nothing more");
    });

    step("the homeserver accepts the token (whoami)", async () => {
        const who = await whoami(s.tokens.access_token);
        assert.equal(who.status, 200, JSON.stringify(who.body));
        assert.equal(who.body.user_id, carol.mxid);
        assert.equal(who.body.device_id, s.deviceId);
    });

    step("refreshes (refreshTokenGrant): sub stays, the old access token stops", async () => {
        const t = await oidc.refreshTokenGrant(s.config, s.tokens.refresh_token);
        assert.equal(tokenFormatProblem(t.access_token, "mat"), null);
        assert.equal(tokenFormatProblem(t.refresh_token, "mar"), null);
        assert.notEqual(t.access_token, s.tokens.access_token);
        assert.notEqual(t.refresh_token, s.tokens.refresh_token);
        assert.ok(Number.isInteger(t.expires_in) && t.expires_in > 0);
        assert.deepEqual(scopeSet(t.scope), new Set(s.scope), "same scope after refresh");
        if (t.id_token) assert.equal(t.claims().sub, s.sub, "a refreshed ID token has the same sub");
        const info = await oidc.fetchUserInfo(s.config, t.access_token, s.sub);
        assert.equal(info.sub, s.sub, "sub stable across refresh");
        assertActiveAccessToken(await oidc.tokenIntrospection(s.config, t.access_token), {
            clientId: s.clientId, username: "carol", sub: s.sub, scope: ["urn:matrix:client:api:*"],
        });
        const old = await oidc.tokenIntrospection(s.config, s.tokens.access_token);
        assert.equal(old.active, false, "the previous access token is revoked");
        s.tokens = t;
    });

    step("revokes the refresh token (tokenRevocation): the whole session ends", async () => {
        await oidc.tokenRevocation(s.config, s.tokens.refresh_token, { token_type_hint: "refresh_token" });
        assert.equal((await oidc.tokenIntrospection(s.config, s.tokens.access_token)).active, false, "access token inactive");
        assert.equal((await oidc.tokenIntrospection(s.config, s.tokens.refresh_token)).active, false, "refresh token inactive");
        await rejectsWith(oidc.refreshTokenGrant(s.config, s.tokens.refresh_token), "invalid_grant", 400);
        // Revoking again is not an error (RFC 7009 §2.2).
        await oidc.tokenRevocation(s.config, s.tokens.refresh_token);
    });
});

describe("openid-client 6: static confidential client (client_secret_post, skip_consent)", () => {
    const step = steps();
    const s = {};
    const erin = user("erin");
    const sc = env.static_client;

    step("discovers with the configured client (discovery + ClientSecretPost)", async () => {
        s.config = await oidc.discovery(new URL(env.issuer), sc.client_id, sc.client_secret, oidc.ClientSecretPost(), insecure);
        oidc.enableNonRepudiationChecks(s.config);
    });

    step("authorizes without a consent page, and exchanges the code", async () => {
        const verifier = oidc.randomPKCECodeVerifier();
        const state = oidc.randomState();
        const nonce = oidc.randomNonce();
        s.deviceId = randomID(12);
        const url = oidc.buildAuthorizationUrl(s.config, {
            redirect_uri: sc.redirect_uri,
            scope: `openid urn:matrix:client:api:* urn:matrix:client:device:${s.deviceId}`,
            code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
            code_challenge_method: "S256",
            state,
            nonce,
        });
        const result = await new Browser().authorize(url.href, { ...erin, redirectURI: sc.redirect_uri });
        assert.equal(result.consentShown, false, "skip_consent: no consent page");
        const cb = parseCallback(result.url);
        assert.equal(cb.error, null, `authorization error: ${cb.error} ${cb.errorDescription}`);
        s.tokens = await oidc.authorizationCodeGrant(s.config, new URL(result.url), {
            pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
        });
        assert.equal(tokenFormatProblem(s.tokens.access_token, "mat"), null);
        s.sub = s.tokens.claims().sub;
    });

    step("introspects with client_secret_post; the homeserver's view matches", async () => {
        assertActiveAccessToken(await oidc.tokenIntrospection(s.config, s.tokens.access_token), {
            clientId: sc.client_id, username: "erin", sub: s.sub, scope: ["urn:matrix:client:api:*"],
        });
        const asSynapse = await introspect(s.tokens.access_token);
        assert.equal(asSynapse.active, true);
        assert.equal(asSynapse.username, "erin");
        assert.equal(asSynapse.device_id, s.deviceId, "device_id given with X-MAS-Supports-Device-Id");
        const hs = scopeSet(asSynapse.scope);
        assert.ok(hs.has("urn:matrix:client:api:*") && hs.has("urn:matrix:org.matrix.msc2967.client:api:*"), `both API scope forms for Synapse: ${asSynapse.scope}`);
    });

    step("a wrong client secret is refused with 401 invalid_client", async () => {
        const wrong = await oidc.discovery(new URL(env.issuer), sc.client_id, "not-the-secret", oidc.ClientSecretPost(), insecure);
        await rejectsWith(oidc.tokenIntrospection(wrong, s.tokens.access_token), "invalid_client", 401);
    });

    step("revokes the access token: the refresh token dies with it", async () => {
        await oidc.tokenRevocation(s.config, s.tokens.access_token, { token_type_hint: "access_token" });
        assert.equal((await introspect(s.tokens.access_token)).active, false);
        await rejectsWith(oidc.refreshTokenGrant(s.config, s.tokens.refresh_token), "invalid_grant", 400);
    });
});
