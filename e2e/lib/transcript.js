// A recorder around globalThis.fetch. Every SDK in the suite calls the
// global fetch at request time, so wrapping it lets a failing test show
// exactly what mxauth (and the homeserver double) answered: the SDKs
// themselves often reduce an error body to a fixed message such as
// "Failed to exchange code for token".

const MAX_BODY = 1500;
const MAX_ENTRIES = 200;

/** @type {Array<{method: string, url: string, request: string, status: number|string, response: string}>} */
const entries = [];
let installed = false;

function truncate(s) {
    if (s.length <= MAX_BODY) return s;
    return `${s.slice(0, MAX_BODY)}… (${s.length} bytes)`;
}

function describeBody(body) {
    if (body === undefined || body === null) return "";
    if (typeof body === "string") return body;
    if (body instanceof URLSearchParams) return body.toString();
    return `<${body?.constructor?.name ?? typeof body}>`;
}

/**
 * install wraps globalThis.fetch once. Only requests to the given origins
 * are recorded.
 * @param {string[]} origins
 */
export function install(origins) {
    if (installed) return;
    installed = true;
    const allowed = new Set(origins.map((o) => new URL(o).origin));
    const realFetch = globalThis.fetch;
    globalThis.fetch = async function recordedFetch(input, init = {}) {
        const request = input instanceof Request ? input : null;
        const url = request ? request.url : String(input);
        let origin;
        try {
            origin = new URL(url).origin;
        } catch {
            return realFetch(input, init);
        }
        if (!allowed.has(origin)) return realFetch(input, init);
        const method = (init.method ?? request?.method ?? "GET").toUpperCase();
        const entry = { method, url, request: truncate(describeBody(init.body)), status: "…", response: "" };
        entries.push(entry);
        if (entries.length > MAX_ENTRIES) entries.shift();
        let res;
        try {
            res = await realFetch(input, init);
        } catch (e) {
            entry.status = `network error: ${e?.cause?.code ?? e?.message ?? e}`;
            throw e;
        }
        entry.status = res.status;
        const type = res.headers.get("content-type") ?? "";
        const location = res.headers.get("location");
        if (location) entry.response = `Location: ${location}`;
        if (!type.includes("text/html")) {
            try {
                const text = await res.clone().text();
                entry.response = truncate(`${type ? `[${type}] ` : ""}${text}`);
            } catch (e) {
                entry.response = `<unreadable body: ${e?.message ?? e}>`;
            }
        } else if (res.status >= 400) {
            entry.response = "[text/html page]";
        }
        return res;
    };
}

/**
 * last returns the most recent exchange whose method and URL match.
 * @param {string} method
 * @param {RegExp} urlPattern
 */
export function last(method, urlPattern) {
    for (let i = entries.length - 1; i >= 0; i--) {
        const e = entries[i];
        if (e.method === method && urlPattern.test(e.url)) return e;
    }
    return undefined;
}

/**
 * format renders the last n exchanges for an error message.
 * @param {number} n
 */
export function format(n = 8) {
    const shown = entries.slice(-n);
    if (shown.length === 0) return "  (no HTTP exchange recorded)";
    return shown
        .map((e) => {
            const req = e.request ? `\n      request body: ${e.request}` : "";
            const res = e.response ? `\n      response: ${e.response}` : "";
            return `    ${e.method} ${e.url} → ${e.status}${req}${res}`;
        })
        .join("\n");
}
