// The device authorization grant (RFC 8628), the grant under Matrix QR-code
// login (MSC4108), with two independent clients: matrix-js-sdk 43's
// OAuth2.startDeviceAuthorizationGrant / waitForDeviceAuthorizationGrant
// for a device-only public client registered without redirect URIs (the
// shape QR login uses), and openid-client 6's initiateDeviceAuthorization /
// pollDeviceAuthorizationGrant for a confidential client, approved and
// denied. The person approves through /link and the consent page
// (lib/device.js). Spec §3.3, §10, §11.1.

import "../lib/setup.js";

import assert from "node:assert/strict";
import { describe } from "node:test";
import { createClient, OAuth2 } from "matrix-js-sdk";
import * as oidc from "openid-client";

import { Browser } from "../lib/browser.js";
import { answerDeviceRequest } from "../lib/device.js";
import * as transcript from "../lib/transcript.js";
import { devices, env, randomID, scopeSet, steps, tokenFormatProblem, user, whoami } from "../lib/env.js";

const grace = user("grace");
const deviceGrant = "urn:ietf:params:oauth:grant-type:device_code";
const insecure = { execute: [oidc.allowInsecureRequests] }; // the issuer is http://127.0.0.1

describe("matrix-js-sdk 43: device-only client (QR login shape)", () => {
    const step = steps();
    const s = {};

    step("discovery through the homeserver advertises the device authorization endpoint and grant", async () => {
        const hs = createClient({ baseUrl: env.homeserver.replace(/\/$/, "") });
        s.metadata = await hs.getAuthMetadata();
        assert.equal(s.metadata.device_authorization_endpoint, `${env.issuer}oauth2/device`);
        assert.ok(s.metadata.grant_types_supported.includes(deviceGrant), `grant_types_supported ${s.metadata.grant_types_supported}`);
    });

    step("registers a public client with only the device_code and refresh_token grants, no redirect URI", async () => {
        s.clientId = await OAuth2.registerClient(s.metadata, {
            client_name: "mxauth e2e: device (js-sdk 43)",
            client_uri: "https://e2e.example.org/",
            application_type: "native",
            grant_types: [deviceGrant, "refresh_token"],
            response_types: [],
        });
        const reg = transcript.last("POST", /\/oauth2\/registration$/);
        assert.equal(reg?.status, 201, "registration answers 201 Created");
    });

    step("starts the device authorization (startDeviceAuthorizationGrant)", async () => {
        s.oauth = new OAuth2(s.metadata, { clientId: s.clientId });
        s.deviceId = s.oauth.context.deviceId;
        s.session = await s.oauth.startDeviceAuthorizationGrant();
        const d = s.session;
        assert.match(d.device_code, /^[A-Za-z0-9]{32}$/, "device_code");
        assert.match(d.user_code, /^[A-Z0-9]{6}$/, "user_code");
        assert.equal(d.verification_uri, `${env.issuer}link`);
        assert.equal(d.verification_uri_complete, `${env.issuer}link?code=${d.user_code}`);
        assert.equal(d.expires_in, 1200);
        assert.equal(d.interval, 5);
    });

    step("the person opens verification_uri_complete, signs in, compares the code and allows; the SDK's polling gets tokens", async () => {
        // The SDK polls at once (authorization_pending), then every 5 s.
        const polling = s.oauth.waitForDeviceAuthorizationGrant(s.session);
        const seen = await answerDeviceRequest(new Browser(), s.session.verification_uri_complete, grace);
        assert.ok(seen.loginShown, "the login page was shown");
        assert.equal(seen.prefilledCode, s.session.user_code, "the code is pre-filled from verification_uri_complete");
        assert.ok(seen.consentText.includes(s.session.user_code), "the consent page shows the code to compare");
        assert.ok(seen.consentText.includes("mxauth e2e: device (js-sdk 43)"), "the consent page names the client");
        s.tokens = await polling;
        assert.equal(s.tokens.error, undefined, `device grant error: ${JSON.stringify(s.tokens)}`);
        assert.equal(transcript.last("POST", /\/oauth2\/token$/)?.status, 200, "the last poll got 200");
        assert.equal(s.tokens.token_type, "Bearer");
        assert.equal(tokenFormatProblem(s.tokens.access_token, "mat"), null);
        assert.equal(tokenFormatProblem(s.tokens.refresh_token, "mar"), null);
        assert.ok(Number.isInteger(s.tokens.expires_in) && s.tokens.expires_in > 0);
        assert.deepEqual(scopeSet(s.tokens.scope), new Set(["urn:matrix:client:api:*", `urn:matrix:client:device:${s.deviceId}`]));
    });

    step("the device exists on the homeserver and whoami names grace and it", async () => {
        assert.ok((await devices("grace")).includes(s.deviceId), "upserted before the tokens were returned");
        const mx = createClient({ baseUrl: env.homeserver.replace(/\/$/, ""), accessToken: s.tokens.access_token });
        const who = await mx.whoami();
        assert.equal(who.user_id, grace.mxid);
        assert.equal(who.device_id, s.deviceId);
    });

    step("the refresh token works (performRefreshTokenGrant)", async () => {
        const t = await s.oauth.performRefreshTokenGrant(s.tokens.refresh_token);
        assert.equal(tokenFormatProblem(t.access_token, "mat"), null);
        const who = await whoami(t.access_token);
        assert.equal(who.status, 200, JSON.stringify(who.body));
        assert.equal(who.body.device_id, s.deviceId);
    });
});

describe("openid-client 6: confidential client, approved and denied", () => {
    const step = steps();
    const s = {};

    step("registers a confidential client for the device grant (dynamicClientRegistration)", async () => {
        s.config = await oidc.dynamicClientRegistration(
            new URL(env.issuer),
            {
                client_name: "mxauth e2e: device (openid-client 6)",
                client_uri: "https://e2e.example.org/",
                application_type: "native",
                grant_types: [deviceGrant, "refresh_token"],
                response_types: [],
                token_endpoint_auth_method: "client_secret_basic",
            },
            oidc.ClientSecretBasic(),
            insecure,
        );
        assert.equal(s.config.serverMetadata().device_authorization_endpoint, `${env.issuer}oauth2/device`);
    });

    step("initiateDeviceAuthorization + pollDeviceAuthorizationGrant, approved through /link with the typed code", async () => {
        s.deviceId = randomID(12);
        const scope = `openid urn:matrix:client:api:* urn:matrix:client:device:${s.deviceId}`;
        const d = await oidc.initiateDeviceAuthorization(s.config, { scope });
        const polling = oidc.pollDeviceAuthorizationGrant(s.config, d);
        const seen = await answerDeviceRequest(new Browser(), d.verification_uri, { ...grace, userCode: d.user_code.toLowerCase() });
        assert.equal(seen.prefilledCode, null, "nothing pre-filled from the plain verification_uri");
        const t = await polling;
        assert.equal(tokenFormatProblem(t.access_token, "mat"), null);
        assert.equal(tokenFormatProblem(t.refresh_token, "mar"), null);
        assert.deepEqual(scopeSet(t.scope), scopeSet(scope));
        const claims = t.claims();
        assert.ok(claims?.sub, "an ID token with openid, validated by openid-client");
        const who = await whoami(t.access_token);
        assert.equal(who.status, 200, JSON.stringify(who.body));
        assert.equal(who.body.user_id, grace.mxid);
        assert.equal(who.body.device_id, s.deviceId);
    });

    step("denied: the polling ends with access_denied", async () => {
        const d = await oidc.initiateDeviceAuthorization(s.config, { scope: `urn:matrix:client:api:* urn:matrix:client:device:${randomID(12)}` });
        const polling = oidc.pollDeviceAuthorizationGrant(s.config, d);
        const seen = await answerDeviceRequest(new Browser(), d.verification_uri_complete, { ...grace, decision: "deny" });
        assert.ok(seen.finalText.length > 0);
        await assert.rejects(polling, (e) => {
            assert.equal(e.error ?? e.cause?.error, "access_denied", `${e.name}: ${e.message}`);
            return true;
        });
    });
});
