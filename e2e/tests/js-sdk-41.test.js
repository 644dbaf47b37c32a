// matrix-js-sdk 41.9 (the older src/oidc/ helpers on oidc-client-ts, what
// Element Web ran before mid-2026): discovery through auth_issuer and the
// issuer's openid-configuration, registration of a native client with a
// loopback redirect URI, authorization with openid + the unstable MSC2967
// scopes + nonce (response_mode=query), code exchange with the SDK's ID
// token checks (iss, aud, nonce, exp), and refresh with OidcTokenRefresher.
// Spec §1.1, §2.2, §3, §5.2, §11.2.

import "../lib/setup.js";
import { setLocation } from "../lib/window-shim.js";

import assert from "node:assert/strict";
import { describe } from "node:test";
import {
    completeAuthorizationCodeGrant,
    createClient,
    discoverAndValidateOIDCIssuerWellKnown,
    generateOidcAuthorizationUrl,
    OidcTokenRefresher,
    registerOidcClient,
} from "matrix-js-sdk-41";

import { Browser, parseCallback } from "../lib/browser.js";
import { devices, env, introspect, randomID, scopeSet, steps, tokenFormatProblem, user, whoami } from "../lib/env.js";

const bob = user("bob");

/** decodeJWT returns a JWS's payload (signatures are openid-client's test). */
function decodeJWT(jwt) {
    const parts = String(jwt).split(".");
    assert.equal(parts.length, 3, "the ID token is a JWS in compact form");
    const header = JSON.parse(Buffer.from(parts[0], "base64url").toString("utf8"));
    assert.equal(header.alg, "RS256", "signed with RS256, the alg the SDK registers (id_token_signed_response_alg)");
    return JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
}
// A native client's loopback redirect: registered without a port, used
// with one (spec §2.2: the server must accept any port).
const registeredRedirectURI = "http://127.0.0.1/js41/callback";
const redirectURI = "http://127.0.0.1:41999/js41/callback";
const unstableAPI = "urn:matrix:org.matrix.msc2967.client:api:*";
const unstableDevice = "urn:matrix:org.matrix.msc2967.client:device:";

describe("matrix-js-sdk 41.9 (oidc helpers, unstable scopes, ID token)", () => {
    const step = steps();
    const s = {};

    step("finds the issuer through auth_issuer and validates its openid-configuration", async () => {
        const res = await fetch(new URL("_matrix/client/unstable/org.matrix.msc2965/auth_issuer", env.homeserver));
        assert.equal(res.status, 200);
        const { issuer } = await res.json();
        assert.equal(issuer, env.issuer);
        s.config = await discoverAndValidateOIDCIssuerWellKnown(issuer);
        assert.equal(s.config.issuer, env.issuer);
        assert.ok(Array.isArray(s.config.signingKeys) && s.config.signingKeys.length > 0, "signing keys fetched from jwks_uri");
        assert.ok(s.config.signingKeys.some((k) => k.kty === "RSA" && k.use !== "enc"), "an RSA signing key (RS256 is what the SDK registers)");
    });

    step("MatrixClient.getAuthMetadata() uses the unstable auth_metadata path (no v1.15 advertised)", async () => {
        const hs = createClient({ baseUrl: env.homeserver.replace(/\/$/, "") });
        const md = await hs.getAuthMetadata();
        assert.equal(md.issuer, env.issuer);
        assert.equal(typeof md.registration_endpoint, "string");
    });

    step("registers a native client with a loopback redirect URI (registerOidcClient)", async () => {
        s.clientId = await registerOidcClient(s.config, {
            clientName: "mxauth e2e: matrix-js-sdk 41.9",
            clientUri: "https://e2e.example.org/",
            redirectUris: [registeredRedirectURI],
            applicationType: "native",
            contacts: ["e2e@example.org"],
            tosUri: "https://e2e.example.org/tos",
            policyUri: "https://e2e.example.org/policy",
        });
        assert.equal(typeof s.clientId, "string");
        assert.ok(s.clientId.length > 0);
    });

    step("authorizes with openid + unstable scopes and a nonce; the code comes in the query", async () => {
        s.nonce = randomID(16);
        const url = new URL(
            await generateOidcAuthorizationUrl({
                metadata: s.config,
                redirectUri: redirectURI,
                clientId: s.clientId,
                homeserverUrl: env.homeserver,
                nonce: s.nonce,
            }),
        );
        const scope = scopeSet(url.searchParams.get("scope"));
        assert.ok(scope.has("openid") && scope.has(unstableAPI), `scope ${[...scope]}`);
        const device = [...scope].find((x) => x.startsWith(unstableDevice));
        assert.ok(device, "an unstable device scope");
        s.deviceId = device.slice(unstableDevice.length);
        assert.equal(url.searchParams.get("response_mode"), "query");
        assert.equal(url.searchParams.get("nonce"), s.nonce);

        const browser = new Browser();
        const result = await browser.authorize(url.href, { ...bob, redirectURI });
        const cb = parseCallback(result.url);
        assert.equal(cb.error, null, `authorization error: ${cb.error} ${cb.errorDescription}`);
        assert.equal(cb.mode, "query", `response_mode=query puts the response in the query: ${result.url}`);
        assert.equal(new URL(result.url).port, "41999", "redirected to the port the client asked for");
        assert.equal(cb.state, url.searchParams.get("state"));
        s.code = cb.code;
        s.state = cb.state;
        setLocation(result.url);
    });

    step("exchanges the code with ID token checks (completeAuthorizationCodeGrant)", async () => {
        const r = await completeAuthorizationCodeGrant(s.code, s.state);
        s.result = r;
        assert.equal(r.oidcClientSettings.clientId, s.clientId);
        assert.equal(r.oidcClientSettings.issuer, env.issuer);
        assert.equal(r.homeserverUrl, env.homeserver);
        const t = r.tokenResponse;
        assert.equal(tokenFormatProblem(t.access_token, "mat"), null);
        assert.equal(tokenFormatProblem(t.refresh_token, "mar"), null);
        assert.equal(typeof t.id_token, "string", "an ID token (openid was requested)");
        // The SDK has checked iss, aud, nonce and exp (validateIdToken).
        // Its idTokenClaims are oidc-client-ts's profile, with protocol
        // claims such as nonce filtered out: read the token itself too.
        const c = decodeJWT(t.id_token);
        assert.equal(c.iss, env.issuer);
        assert.ok([c.aud].flat().includes(s.clientId), `aud ${JSON.stringify(c.aud)} contains the client`);
        assert.equal(c.nonce, s.nonce);
        assert.ok(typeof c.sub === "string" && c.sub.length > 0, "sub");
        assert.ok(Number.isInteger(c.exp) && c.exp * 1000 > Date.now(), "exp in the future");
        assert.ok(Number.isInteger(c.iat), "iat");
        assert.equal(r.idTokenClaims.sub, c.sub, "the SDK's profile has the same sub");
        const scope = scopeSet(t.scope);
        assert.ok(scope.has(unstableAPI) && scope.has(unstableDevice + s.deviceId) && scope.has("openid"), `token scope ${t.scope}`);
    });

    step("whoami names bob and the unstable-scope device", async () => {
        const mx = createClient({ baseUrl: env.homeserver.replace(/\/$/, ""), accessToken: s.result.tokenResponse.access_token });
        const who = await mx.whoami();
        assert.equal(who.user_id, bob.mxid);
        assert.equal(who.device_id, s.deviceId);
        assert.ok((await devices("bob")).includes(s.deviceId));
    });

    step("refreshes twice with OidcTokenRefresher (rotation)", async () => {
        const refresher = new OidcTokenRefresher(env.issuer, s.clientId, redirectURI, s.deviceId, s.result.idTokenClaims);
        let refreshToken = s.result.tokenResponse.refresh_token;
        let accessToken = s.result.tokenResponse.access_token;
        for (let i = 1; i <= 2; i++) {
            const t = await refresher.doRefreshAccessToken(refreshToken);
            assert.equal(tokenFormatProblem(t.accessToken, "mat"), null, `refresh ${i}`);
            assert.equal(tokenFormatProblem(t.refreshToken, "mar"), null, `refresh ${i}`);
            assert.notEqual(t.accessToken, accessToken, `refresh ${i}: a new access token`);
            assert.notEqual(t.refreshToken, refreshToken, `refresh ${i}: a new refresh token`);
            assert.ok(t.expiry instanceof Date && t.expiry.getTime() > Date.now(), `refresh ${i}: expires_in gives a future expiry`);
            const who = await whoami(t.accessToken);
            assert.equal(who.status, 200, `refresh ${i}: whoami ${JSON.stringify(who.body)}`);
            assert.equal(who.body.user_id, bob.mxid);
            assert.equal(who.body.device_id, s.deviceId);
            assert.equal((await introspect(accessToken)).active, false, `refresh ${i}: the previous access token is revoked`);
            accessToken = t.accessToken;
            refreshToken = t.refreshToken;
        }
    });
});
