// The environment the harness started (e2e/harness writes it as JSON), and
// the small helpers every test file shares: the homeserver's view of a
// token (whoami, introspection as Synapse does it, the double's devices),
// polling, and steps that report mxauth's answers when they fail.

import { readFileSync } from "node:fs";
import zlib from "node:zlib";
import { it } from "node:test";
import { recentLogs } from "./console.js";
import * as transcript from "./transcript.js";

/**
 * @typedef {{username: string, password: string, mxid: string}} User
 * @typedef {{
 *   issuer: string, homeserver: string, server_name: string, secret: string,
 *   users: User[],
 *   static_client: {client_id: string, client_secret: string, client_auth_method: string, redirect_uri: string, skip_consent: boolean},
 *   logs: Record<string, string>,
 * }} Env
 */

/** @returns {Env} */
function load() {
    const path = process.env.E2E_ENV;
    if (!path) {
        throw new Error("E2E_ENV is not set: run the suite with e2e/run (it starts the harness and sets it)");
    }
    let env;
    try {
        env = JSON.parse(readFileSync(path, "utf8"));
    } catch (e) {
        throw new Error(`cannot read the harness environment ${path}: ${e.message}`);
    }
    for (const key of ["issuer", "homeserver", "server_name", "secret", "users"]) {
        if (!env[key]) throw new Error(`the harness environment ${path} has no ${key}`);
    }
    return env;
}

export const env = load();
transcript.install([env.issuer, env.homeserver]);

/**
 * user returns a test account by name. Each test file uses its own, so
 * ending a user's sessions never disturbs another file.
 * @param {string} name
 */
export function user(name) {
    const u = env.users.find((x) => x.username === name);
    if (!u) throw new Error(`the harness registered no user ${name}`);
    return u;
}

/**
 * steps returns an `it` for a flow whose steps depend on each other: once
 * a step fails, the later ones are skipped (naming the failed step) rather
 * than failing for a reason that is not theirs. A failure's message ends
 * with the last HTTP exchanges with mxauth and the homeserver.
 */
export function steps() {
    let failed;
    return function step(name, fn) {
        it(name, async (t) => {
            if (failed) {
                t.skip(`"${failed}" failed`);
                return;
            }
            try {
                await fn(t);
            } catch (e) {
                failed = name;
                throw explain(e);
            }
        });
    };
}

/** explain appends the recent HTTP exchanges to an error. */
export function explain(e) {
    const err = e instanceof Error ? e : new Error(String(e));
    const details = [];
    for (const key of ["error", "error_description", "httpStatus", "status", "code"]) {
        if (err[key] !== undefined && typeof err[key] !== "object") details.push(`${key}=${err[key]}`);
    }
    if (err.cause) details.push(`cause: ${err.cause?.message ?? err.cause}`);
    const extra = details.length ? `\n  (${details.join(", ")})` : "";
    const logs = recentLogs(12);
    const logText = logs.length ? `\n  recent SDK log lines:\n${logs.map((l) => `    ${l.replace(/\n/g, "\n    ")}`).join("\n")}` : "";
    const original = err.message;
    err.message = `${original}${extra}\n  recent HTTP exchanges:\n${transcript.format(10)}${logText}`;
    // Reporters print the stack, which V8 may have rendered already (an
    // AssertionError does so at construction): put the new message in it.
    if (typeof err.stack === "string") {
        err.stack = original && err.stack.includes(original) ? err.stack.replace(original, err.message) : `${err.message}\n${err.stack}`;
    }
    return err;
}

/**
 * whoami asks the homeserver double who a token belongs to, with a plain
 * request (the double introspects the token at mxauth as Synapse does).
 * @param {string} accessToken
 * @returns {Promise<{status: number, body: any}>}
 */
export async function whoami(accessToken) {
    const res = await fetch(new URL("_matrix/client/v3/account/whoami", env.homeserver), {
        headers: { Authorization: `Bearer ${accessToken}` },
    });
    return { status: res.status, body: await res.json().catch(() => null) };
}

/**
 * introspect asks mxauth about a token exactly as Synapse does (spec §6.1):
 * the shared secret as Bearer, X-MAS-Supports-Device-Id. Careful: an
 * introspection counts as a use of an access token.
 * @param {string} token
 * @param {string} hint
 */
export async function introspect(token, hint = "access_token") {
    const res = await fetch(new URL("oauth2/introspect", env.issuer), {
        method: "POST",
        headers: {
            "Authorization": `Bearer ${env.secret}`,
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            "X-MAS-Supports-Device-Id": "1",
        },
        body: new URLSearchParams({ token, token_type_hint: hint }),
    });
    const body = await res.json().catch(() => null);
    if (res.status !== 200 || body === null || typeof body.active !== "boolean") {
        throw new Error(`introspection answered ${res.status} ${JSON.stringify(body)}; Synapse needs 200 with a boolean "active"`);
    }
    return body;
}

/**
 * devices returns the device IDs the homeserver double holds for a user
 * (its control API), or [] if it does not know the user.
 * @param {string} localpart
 */
export async function devices(localpart) {
    const res = await fetch(new URL(`_homeservertest/users/${encodeURIComponent(localpart)}`, env.homeserver), {
        headers: { Authorization: `Bearer ${env.secret}` },
    });
    if (res.status === 404) return [];
    if (!res.ok) throw new Error(`the double's control API answered ${res.status}: ${await res.text()}`);
    const u = await res.json();
    return (u.devices ?? []).map((d) => d.device_id);
}

/**
 * eventually polls check until it returns a truthy value, and returns it;
 * it fails after timeoutMs with the last value or error. For effects that
 * mxauth performs in the background (deleting a device through a job).
 * @template T
 * @param {string} what what is awaited, for the failure message
 * @param {() => Promise<T>} check
 */
export async function eventually(what, check, { timeoutMs = 15000, intervalMs = 200 } = {}) {
    const deadline = Date.now() + timeoutMs;
    let last;
    for (;;) {
        try {
            last = await check();
            if (last) return last;
        } catch (e) {
            last = e;
        }
        if (Date.now() > deadline) {
            const detail = last instanceof Error ? last.message : JSON.stringify(last);
            throw new Error(`${what}: still not the case after ${timeoutMs} ms (last: ${detail})`);
        }
        await new Promise((r) => setTimeout(r, intervalMs));
    }
}

/** randomID returns n characters of [A-Za-z0-9] (device IDs, states, nonces). */
export function randomID(n = 10) {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    const bytes = crypto.getRandomValues(new Uint8Array(n));
    return [...bytes].map((b) => alphabet[b % alphabet.length]).join("");
}

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/**
 * tokenFormatProblem checks a token against MAS's format (spec §5,
 * docs/decisions/0001): <prefix>_<30 alphanumerics>_<checksum>, the
 * checksum being the CRC-32 (IEEE) of "<prefix>_<random>" in base 62,
 * least significant digit first, left-padded with 0 to 6 characters.
 * Written here from that description, independently of mxauth's code.
 * @returns {string|null} what is wrong, or null
 */
export function tokenFormatProblem(token, prefix) {
    const m = /^([a-z]{3})_([A-Za-z0-9]{30})_([A-Za-z0-9]{6})$/.exec(String(token));
    if (!m) return `${JSON.stringify(token)} is not <prefix>_<30 alphanumerics>_<6-character checksum>`;
    if (m[1] !== prefix) return `${JSON.stringify(token)} has prefix ${m[1]}, want ${prefix}`;
    let crc = zlib.crc32(`${m[1]}_${m[2]}`);
    let digits = "";
    while (crc > 0) {
        digits += BASE62[crc % 62];
        crc = Math.floor(crc / 62);
    }
    const want = digits.padStart(6, "0");
    if (m[3] !== want) return `${JSON.stringify(token)} has checksum ${m[3]}, want ${want}`;
    return null;
}

/** scopeSet splits a scope string. */
export function scopeSet(scope) {
    return new Set(String(scope ?? "").split(" ").filter(Boolean));
}
