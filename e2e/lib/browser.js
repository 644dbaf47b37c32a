// A scripted "browser" for the authorization step: fetch, a cookie jar,
// and form submission. It follows an authorization URL the way a person
// would: sign in on the login page (fields named username and password,
// the documented contract), press the allow button on the consent page,
// and stops at the redirect to the client's redirect URI without fetching
// it. Forms are found by their fields and buttons, not by mxauth's markup.

import { formValues, parseForms, text } from "./html.js";

const MAX_HOPS = 30;

/** A button label or name that agrees to the request. */
const ALLOW = /\b(allow|accept|approve|consent|continue|grant|authori[sz]e|yes|confirm)\b/i;
/** A button label or name that refuses, cancels or leaves. */
const DENY = /\b(deny|cancel|reject|decline|refuse|no|sign[ -]?out|log[ -]?out|not you|switch)\b/i;

/**
 * A cookie jar for one origin (mxauth's pages all live on the issuer's
 * origin). Secure cookies are kept on http://127.0.0.1, as browsers do for
 * loopback origins.
 */
class CookieJar {
    /** @type {Map<string, {value: string, path: string}>} */
    #cookies = new Map();

    /** @param {Response} res */
    store(res) {
        for (const header of res.headers.getSetCookie()) {
            const [pair, ...attrs] = header.split(";");
            const eq = pair.indexOf("=");
            if (eq <= 0) continue;
            const name = pair.slice(0, eq).trim();
            const value = pair.slice(eq + 1).trim();
            let path = "/";
            let expired = false;
            for (const attr of attrs) {
                const [k, v = ""] = attr.split("=").map((s) => s.trim());
                switch (k.toLowerCase()) {
                    case "path":
                        path = v || "/";
                        break;
                    case "max-age":
                        if (Number(v) <= 0) expired = true;
                        break;
                    case "expires":
                        if (Date.parse(v) < Date.now()) expired = true;
                        break;
                }
            }
            if (expired) this.#cookies.delete(name);
            else this.#cookies.set(name, { value, path });
        }
    }

    /** @param {URL} url */
    header(url) {
        return [...this.#cookies]
            .filter(([, c]) => url.pathname.startsWith(c.path.replace(/\/$/, "")) || c.path === "/")
            .map(([name, c]) => `${name}=${c.value}`)
            .join("; ");
    }

    /** @returns {string[]} cookie names, for assertions */
    names() {
        return [...this.#cookies.keys()];
    }
}

/** sameTarget reports whether url is the redirect URI (any query/fragment). */
function sameTarget(url, redirectURI) {
    const a = new URL(url);
    const b = new URL(redirectURI);
    return a.protocol === b.protocol && a.host === b.host && a.pathname === b.pathname;
}

/**
 * parseCallback reads an authorization response from the redirect URL:
 * from the query (response_mode=query) or the fragment (fragment).
 * @param {string} href
 */
export function parseCallback(href) {
    const url = new URL(href);
    const fragment = new URLSearchParams(url.hash.replace(/^#/, ""));
    const query = url.searchParams;
    const inFragment = fragment.has("code") || fragment.has("error");
    const inQuery = query.has("code") || query.has("error");
    const params = inFragment ? fragment : query;
    return {
        mode: inFragment ? "fragment" : inQuery ? "query" : "none",
        code: params.get("code"),
        state: params.get("state"),
        error: params.get("error"),
        errorDescription: params.get("error_description"),
        query,
        fragment,
    };
}

export class Browser {
    #jar = new CookieJar();
    /** Pages seen during the last authorize(), for assertions and errors. */
    pages = [];

    /**
     * get/post one request, no redirect following; cookies in and out.
     * @param {string} url
     * @param {{method?: string, form?: URLSearchParams}} opts
     */
    async request(url, { method = "GET", form } = {}) {
        const u = new URL(url);
        const headers = { Accept: "text/html,application/xhtml+xml" };
        const cookie = this.#jar.header(u);
        if (cookie) headers.Cookie = cookie;
        if (form) {
            headers["Content-Type"] = "application/x-www-form-urlencoded";
            // What a browser sends for a same-origin form post.
            headers.Origin = u.origin;
        }
        const res = await fetch(u, { method, headers, body: form, redirect: "manual" });
        this.#jar.store(res);
        return res;
    }

    /** cookieNames lists the cookies the browser holds. */
    cookieNames() {
        return this.#jar.names();
    }

    /**
     * authorize follows an authorization request until mxauth redirects to
     * redirectURI, and returns that redirect URL (not fetched).
     * @param {string} authorizationURL
     * @param {{username: string, password: string, redirectURI: string}} who
     * @returns {Promise<{url: string, loginShown: boolean, consentShown: boolean}>}
     */
    async authorize(authorizationURL, { username, password, redirectURI }) {
        this.pages = [];
        let url = authorizationURL;
        let method = "GET";
        let form;
        let loginPosts = 0;
        let consentPosts = 0;
        let loginShown = false;
        let consentShown = false;
        for (let hop = 0; hop < MAX_HOPS; hop++) {
            if (sameTarget(url, redirectURI)) return { url, loginShown, consentShown };
            const res = await this.request(url, { method, form });
            const where = `${method} ${url}`;
            if (res.status >= 300 && res.status < 400) {
                const location = res.headers.get("location");
                await res.arrayBuffer();
                if (!location) throw new Error(`${where} answered ${res.status} without a Location header`);
                url = new URL(location, url).href;
                method = "GET";
                form = undefined;
                continue;
            }
            const body = await res.text();
            const type = res.headers.get("content-type") ?? "";
            this.pages.push({ url, status: res.status, text: text(body).slice(0, 500) });
            if (res.status !== 200) {
                throw new Error(`${where} answered ${res.status} (${type}) instead of a page to continue from: ${snippet(body, type)}`);
            }
            if (!type.includes("text/html")) {
                throw new Error(`${where} answered 200 ${type}, not an HTML page: ${snippet(body, type)}`);
            }
            const forms = parseForms(body, url);

            // form_post response mode: an auto-submitting form to the client.
            const toClient = forms.find((f) => f.method === "post" && sameTarget(f.action, redirectURI));
            if (toClient) {
                const values = formValues(toClient, undefined);
                return { url: `${toClient.action}#${values}`, loginShown, consentShown, formPost: values };
            }

            const login = forms.find((f) => f.method === "post" && f.fields.some((x) => x.name === "password" && x.type === "password"));
            if (login) {
                loginShown = true;
                if (loginPosts > 0) {
                    throw new Error(`login as ${username} failed: the login page came back: "${text(body).slice(0, 300)}"`);
                }
                if (!login.fields.some((x) => x.name === "username")) {
                    throw new Error(`the login form at ${url} has no "username" field`);
                }
                loginPosts++;
                const button = login.buttons.find((b) => !DENY.test(`${b.name} ${b.value} ${b.label}`)) ?? login.buttons[0];
                form = formValues(login, button, { username, password });
                url = button?.formAction ?? login.action;
                method = "POST";
                continue;
            }

            const choice = chooseAllow(forms);
            if (!choice) {
                throw new Error(`${where}: no login form and no allow button on the page: "${text(body).slice(0, 400)}"`);
            }
            consentShown = true;
            if (++consentPosts > 3) {
                throw new Error(`${where}: the consent page keeps coming back: "${text(body).slice(0, 300)}"`);
            }
            form = formValues(choice.form, choice.button);
            url = choice.button?.formAction ?? choice.form.action;
            method = "POST";
        }
        throw new Error(`no redirect to ${redirectURI} after ${MAX_HOPS} hops; pages: ${JSON.stringify(this.pages)}`);
    }
}

/**
 * chooseAllow finds the button that grants the request: a submit button of
 * a POST form whose name, value or label says allow (and not deny); failing
 * that, the only non-deny button of the only POST form.
 * @param {import("./html.js").Form[]} forms
 */
function chooseAllow(forms) {
    const posts = forms.filter((f) => f.method === "post" && !/log-?out|sign-?out/i.test(new URL(f.action).pathname));
    for (const form of posts) {
        for (const button of form.buttons) {
            const words = `${button.name} ${button.value} ${button.label}`;
            if (ALLOW.test(words) && !DENY.test(words)) return { form, button };
        }
    }
    const candidates = posts.flatMap((form) =>
        (form.buttons.length ? form.buttons : [undefined])
            .filter((b) => !b || !DENY.test(`${b.name} ${b.value} ${b.label}`))
            .map((button) => ({ form, button })),
    );
    return candidates.length === 1 ? candidates[0] : undefined;
}

function snippet(body, type) {
    return (type.includes("html") ? text(body) : body).slice(0, 600);
}
