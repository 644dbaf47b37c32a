// matrix-js-sdk 43 (the OAuth2 class of src/oauth/, what current Element
// Web runs) against mxauth behind the Synapse double: discovery through the
// homeserver, dynamic registration of a web client, authorization code +
// PKCE with response_mode=fragment and the stable Matrix scopes, token
// exchange, whoami, refresh, revocation. Spec §1, §2, §3, §5, §11.1.

import "../lib/setup.js";

import assert from "node:assert/strict";
import { describe } from "node:test";
import { createClient, OAuth2, OAuth2HTTPError } from "matrix-js-sdk";

import { Browser, parseCallback } from "../lib/browser.js";
import * as transcript from "../lib/transcript.js";
import { devices, env, eventually, introspect, randomID, scopeSet, steps, tokenFormatProblem, user, whoami } from "../lib/env.js";

const alice = user("alice");
const clientURI = "https://e2e.example.org/";
const redirectURI = "https://e2e.example.org/js43/callback";

describe("matrix-js-sdk 43 (OAuth2 class, stable scopes, fragment mode)", () => {
    const step = steps();
    /** State carried from step to step. */
    const s = {};

    step("discovers mxauth through the homeserver's /_matrix/client/v1/auth_metadata", async () => {
        const hs = createClient({ baseUrl: env.homeserver.replace(/\/$/, "") });
        s.metadata = await hs.getAuthMetadata();
        assert.equal(s.metadata.issuer, env.issuer, "issuer");
        for (const key of ["authorization_endpoint", "token_endpoint", "revocation_endpoint", "registration_endpoint"]) {
            assert.equal(typeof s.metadata[key], "string", key);
            assert.ok(s.metadata[key].startsWith(env.issuer), `${key} ${s.metadata[key]} is under the issuer`);
        }
        assert.equal(typeof s.metadata.account_management_uri, "string", "account_management_uri (Synapse needs it)");
    });

    step("registers a web client dynamically (OAuth2.registerClient)", async () => {
        s.clientId = await OAuth2.registerClient(s.metadata, {
            client_name: "mxauth e2e: matrix-js-sdk 43",
            client_uri: clientURI,
            redirect_uris: [redirectURI],
            application_type: "web",
            logo_uri: "https://e2e.example.org/logo.png",
            tos_uri: "https://e2e.example.org/tos",
            policy_uri: "https://e2e.example.org/policy",
        });
        assert.equal(typeof s.clientId, "string");
        assert.ok(s.clientId.length > 0, "client_id is not empty");
        const reg = transcript.last("POST", /\/oauth2\/registration$/);
        assert.equal(reg?.status, 201, "registration answers 201 Created (RFC 7591)");
    });

    step("sends the person through login and consent, and gets a code in the fragment", async () => {
        s.oauth = new OAuth2(s.metadata, { clientId: s.clientId });
        s.deviceId = s.oauth.context.deviceId;
        s.state = randomID(16);
        const url = new URL(await s.oauth.generateAuthorizationCodeGrantUrl(s.state, redirectURI));
        assert.equal(url.searchParams.get("response_mode"), "fragment");
        assert.deepEqual(scopeSet(url.searchParams.get("scope")), new Set(["urn:matrix:client:api:*", `urn:matrix:client:device:${s.deviceId}`]));

        const browser = new Browser();
        const result = await browser.authorize(url.href, { ...alice, redirectURI });
        assert.ok(result.loginShown, "the login page was shown");
        const cb = parseCallback(result.url);
        assert.equal(cb.error, null, `authorization error: ${cb.error} ${cb.errorDescription}`);
        assert.equal(cb.mode, "fragment", `response_mode=fragment puts the response in the fragment: ${result.url}`);
        assert.equal(cb.query.get("code"), null, "no code in the query with response_mode=fragment");
        assert.equal(cb.state, s.state, "state echoed verbatim");
        assert.ok(cb.code, "a code");
        s.code = cb.code;
        s.callback = cb;
    });

    step("exchanges the code (completeAuthorizationCodeGrant)", async () => {
        s.tokens = await s.oauth.completeAuthorizationCodeGrant(s.code, redirectURI);
        const t = s.tokens;
        assert.equal(t.token_type, "Bearer");
        assert.equal(tokenFormatProblem(t.access_token, "mat"), null);
        assert.equal(tokenFormatProblem(t.refresh_token, "mar"), null);
        assert.ok(Number.isInteger(t.expires_in) && t.expires_in > 0, `expires_in ${t.expires_in} is a positive integer`);
        assert.deepEqual(scopeSet(t.scope), new Set(["urn:matrix:client:api:*", `urn:matrix:client:device:${s.deviceId}`]), "scope echoes the request");
        const res = transcript.last("POST", /\/oauth2\/token$/);
        assert.equal(res?.status, 200);
    });

    step("whoami on the homeserver names alice and the device (MatrixClient.whoami)", async () => {
        const mx = createClient({ baseUrl: env.homeserver.replace(/\/$/, ""), accessToken: s.tokens.access_token });
        const who = await mx.whoami();
        assert.equal(who.user_id, alice.mxid);
        assert.equal(who.device_id, s.deviceId);
        assert.ok((await devices("alice")).includes(s.deviceId), "the device exists on the homeserver");
    });

    step("refreshes (performRefreshTokenGrant): new pair, old access token revoked", async () => {
        const t = await s.oauth.performRefreshTokenGrant(s.tokens.refresh_token);
        assert.equal(tokenFormatProblem(t.access_token, "mat"), null);
        assert.equal(tokenFormatProblem(t.refresh_token, "mar"), null);
        assert.notEqual(t.access_token, s.tokens.access_token, "a new access token");
        assert.notEqual(t.refresh_token, s.tokens.refresh_token, "a new refresh token");
        assert.ok(Number.isInteger(t.expires_in) && t.expires_in > 0);
        assert.deepEqual(scopeSet(t.scope), scopeSet(s.tokens.scope), "same scope");
        const who = await whoami(t.access_token);
        assert.equal(who.status, 200, `whoami with the new token: ${JSON.stringify(who.body)}`);
        assert.equal(who.body.user_id, alice.mxid);
        assert.equal(who.body.device_id, s.deviceId);
        const old = await introspect(s.tokens.access_token);
        assert.equal(old.active, false, "the previous access token is revoked by the refresh (spec §5.2)");
        s.previous = s.tokens;
        s.tokens = t;
    });

    step("revokes the access token (revokeToken): the session ends", async () => {
        await s.oauth.revokeToken(s.tokens.access_token, "access_token");
        const res = transcript.last("POST", /\/oauth2\/revoke$/);
        assert.equal(res?.status, 200);
        assert.match(res.response, /^\[application\/json[^\]]*\] *\{/, "the revocation answer is a JSON object (spec §5.4)");

        const info = await introspect(s.tokens.access_token);
        assert.equal(info.active, false, "revoked access token is inactive");
        const refresh = await introspect(s.tokens.refresh_token, "refresh_token");
        assert.equal(refresh.active, false, "revoking the access token also revokes the refresh token");
        await assert.rejects(s.oauth.performRefreshTokenGrant(s.tokens.refresh_token), (e) => {
            assert.ok(e instanceof OAuth2HTTPError, `an OAuth 2.0 error, not ${e}`);
            assert.equal(e.error, "invalid_grant");
            assert.equal(e.httpStatus, 400);
            return true;
        });
        await eventually("the device is deleted on the homeserver", async () => !(await devices("alice")).includes(s.deviceId));
        const who = await whoami(s.tokens.access_token);
        assert.equal(who.status, 401, `whoami after revocation: ${JSON.stringify(who.body)}`);
        assert.equal(who.body?.errcode, "M_UNKNOWN_TOKEN");
    });

    step("an iss parameter in the authorization response is the issuer, and discovery says so (RFC 9207)", async () => {
        const iss = s.callback.fragment.get("iss");
        if (iss === null) {
            assert.notEqual(s.metadata.authorization_response_iss_parameter_supported, true, "advertised but not sent");
            return;
        }
        assert.equal(iss, env.issuer);
        assert.equal(
            s.metadata.authorization_response_iss_parameter_supported,
            true,
            "the response carries iss, so discovery must advertise authorization_response_iss_parameter_supported: true (RFC 9207 §3)",
        );
    });
});
