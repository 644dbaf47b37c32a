// Refresh-token rotation at its edges, driven by matrix-js-sdk 43's OAuth2
// class (a real client) with the homeserver double as the token's user:
//
//   - a lost response: the client refreshes, the answer never arrives, and
//     it retries with the same (already consumed) refresh token before it
//     ever used the new access token. That must work (spec §5.2), or flaky
//     networks log people out. Once after a pause (a client that timed
//     out), once at once (a connection reset, retried straight away): the
//     latter may be told to retry later (5xx/429), never a 4xx, which
//     clients take as "logged out".
//   - a replay: a consumed refresh token is presented again after its
//     successor was used. That is invalid_grant, and mxauth treats it as a
//     stolen token: the whole session ends (the spec's SHOULD; see
//     docs/decisions/0060-e2e-suite.md).
//   - a replayed authorization code is invalid_grant.

import "../lib/setup.js";

import assert from "node:assert/strict";
import { describe } from "node:test";
import { createClient, OAuth2, OAuth2HTTPError } from "matrix-js-sdk";

import { Browser, parseCallback } from "../lib/browser.js";
import { devices, env, eventually, introspect, randomID, steps, tokenFormatProblem, user, whoami } from "../lib/env.js";

const redirectURI = "https://e2e.example.org/refresh/callback";

/** login registers a client and signs u in; it returns the client and its first tokens. */
async function login(u) {
    const hs = createClient({ baseUrl: env.homeserver.replace(/\/$/, "") });
    const metadata = await hs.getAuthMetadata();
    const clientId = await OAuth2.registerClient(metadata, {
        client_name: "mxauth e2e: refresh rotation",
        client_uri: "https://e2e.example.org/",
        redirect_uris: [redirectURI],
        application_type: "web",
    });
    const oauth = new OAuth2(metadata, { clientId });
    const state = randomID(16);
    const url = await oauth.generateAuthorizationCodeGrantUrl(state, redirectURI);
    const result = await new Browser().authorize(url, { ...u, redirectURI });
    const cb = parseCallback(result.url);
    assert.equal(cb.error, null, `authorization error: ${cb.error} ${cb.errorDescription}`);
    assert.equal(cb.state, state);
    const tokens = await oauth.completeAuthorizationCodeGrant(cb.code, redirectURI);
    return { oauth, tokens, code: cb.code, deviceId: oauth.context.deviceId };
}

/** refreshFails asserts a refresh is refused with 400 invalid_grant. */
async function refreshFails(oauth, refreshToken, why) {
    await assert.rejects(oauth.performRefreshTokenGrant(refreshToken), (e) => {
        assert.ok(e instanceof OAuth2HTTPError, `${why}: an OAuth 2.0 error, not ${e}`);
        assert.equal(e.error, "invalid_grant", `${why}: error`);
        assert.equal(e.httpStatus, 400, `${why}: a 4xx the client takes as final, never a 5xx it would retry`);
        return true;
    });
}

async function assertWhoami(accessToken, u, deviceId, why) {
    const who = await whoami(accessToken);
    assert.equal(who.status, 200, `${why}: whoami ${JSON.stringify(who.body)}`);
    assert.equal(who.body.user_id, u.mxid, why);
    assert.equal(who.body.device_id, deviceId, why);
}

/** A client that timed out waiting for the answer retries this much later. */
const TIMED_OUT_RETRY_MS = 3000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe("refresh: lost response (retry after a timeout), then replay of a used refresh token", () => {
    const step = steps();
    const s = {};
    const dave = user("dave");

    step("signs in (T0 = A0, R0)", async () => {
        Object.assign(s, await login(dave));
        await assertWhoami(s.tokens.access_token, dave, s.deviceId, "A0");
    });

    step(`lost response: R0 refreshed, answer dropped, R0 retried ${TIMED_OUT_RETRY_MS} ms later before A1 is used → works`, async () => {
        const lost = await s.oauth.performRefreshTokenGrant(s.tokens.refresh_token); // (A1, R1): never reaches the client
        assert.equal(tokenFormatProblem(lost.access_token, "mat"), null);
        await sleep(TIMED_OUT_RETRY_MS);
        const retry = await s.oauth.performRefreshTokenGrant(s.tokens.refresh_token); // the client still holds R0
        assert.equal(tokenFormatProblem(retry.access_token, "mat"), null);
        assert.equal(tokenFormatProblem(retry.refresh_token, "mar"), null);
        assert.notEqual(retry.access_token, lost.access_token, "the retry issues a fresh access token");
        assert.notEqual(retry.refresh_token, lost.refresh_token, "the retry issues a fresh refresh token");
        await assertWhoami(retry.access_token, dave, s.deviceId, "the retried pair works");
        assert.equal((await introspect(lost.access_token)).active, false, "the lost A1 is revoked by the retry");
        assert.equal((await introspect(s.tokens.access_token)).active, false, "A0 is revoked");
        s.lost = lost;
        s.tokens = retry;
    });

    step("the chain goes on after the retry (R1' → A2, R2)", async () => {
        const next = await s.oauth.performRefreshTokenGrant(s.tokens.refresh_token);
        await assertWhoami(next.access_token, dave, s.deviceId, "A2");
        s.previous = s.tokens;
        s.tokens = next;
    });

    step("replay: R1' presented again after A2 was used → invalid_grant, and the session ends", async () => {
        // A replay by someone who stole R1' comes later than a client's own
        // duplicate request; mxauth takes a reuse within 2 s of the
        // consumption for a concurrent duplicate (refused, session kept).
        await sleep(TIMED_OUT_RETRY_MS);
        await refreshFails(s.oauth, s.previous.refresh_token, "replayed refresh token");
        const info = await introspect(s.tokens.access_token);
        assert.equal(info.active, false, "the current access token A2 is inactive: the session ended");
        await refreshFails(s.oauth, s.tokens.refresh_token, "the current refresh token R2 after the replay");
        await eventually("the device is deleted on the homeserver", async () => !(await devices("dave")).includes(s.deviceId));
        const who = await whoami(s.tokens.access_token);
        assert.equal(who.status, 401, `whoami with A2 after the replay: ${JSON.stringify(who.body)}`);
        assert.equal(who.body?.errcode, "M_UNKNOWN_TOKEN");
    });
});

describe("refresh: lost response retried at once (connection reset)", () => {
    const step = steps();
    const s = {};
    const dave = user("dave");

    step("signs in again (a new session)", async () => {
        Object.assign(s, await login(dave));
    });

    step("R0 retried at once after a lost answer: never a 4xx; a retry-later answer is followed", async () => {
        const lost = await s.oauth.performRefreshTokenGrant(s.tokens.refresh_token);
        let retry;
        try {
            retry = await s.oauth.performRefreshTokenGrant(s.tokens.refresh_token);
        } catch (e) {
            const status = e?.httpStatus;
            assert.ok(
                status === 429 || status >= 500,
                `an immediate retry after a lost response got ${status} ${e?.error ?? ""} (${e?.error_description ?? e?.message}); ` +
                    "matrix-js-sdk (TokenRefresher.shouldLogoutOnError) and the spec (§5.2) treat any 4xx on refresh as a logout, " +
                    "so a client whose connection dropped would lose its session",
            );
            const wait = Number(e.httpHeaders?.get?.("retry-after")) * 1000 || TIMED_OUT_RETRY_MS;
            await sleep(Math.min(wait, 10000));
            retry = await s.oauth.performRefreshTokenGrant(s.tokens.refresh_token);
        }
        assert.notEqual(retry.access_token, lost.access_token);
        await assertWhoami(retry.access_token, dave, s.deviceId, "the retried pair works");
        assert.equal((await introspect(lost.access_token)).active, false, "the lost A1 is revoked by the retry");
    });
});

describe("authorization code replay", () => {
    const step = steps();
    const s = {};

    step("signs in", async () => {
        Object.assign(s, await login(user("frank")));
        await assertWhoami(s.tokens.access_token, user("frank"), s.deviceId, "first exchange");
    });

    step("the same code exchanged again → 400 invalid_grant", async () => {
        await assert.rejects(s.oauth.completeAuthorizationCodeGrant(s.code, redirectURI), (e) => {
            assert.ok(e instanceof OAuth2HTTPError, `an OAuth 2.0 error, not ${e}`);
            assert.equal(e.error, "invalid_grant");
            assert.equal(e.httpStatus, 400);
            return true;
        });
    });
});
