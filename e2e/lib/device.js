// The person's side of the device authorization grant (RFC 8628): open the
// verification URI a device shows, sign in on the login page, enter (or
// find pre-filled) the user code, compare it on the consent page, and
// allow or deny. Like lib/browser.js, forms are found by their fields and
// buttons, not by mxauth's markup: the login form by its password field,
// the code form by a text field named "code", the consent form by its
// allow/deny buttons.

import { formValues, parseForms, text } from "./html.js";

const MAX_HOPS = 20;
const ALLOW = /\b(allow|accept|approve|consent|grant|authori[sz]e|yes|confirm)\b/i;
const DENY = /\b(deny|cancel|reject|decline|refuse)\b/i;

/**
 * answerDeviceRequest follows verificationURI in browser until the request
 * is answered, and returns what the person saw.
 * @param {import("./browser.js").Browser} browser
 * @param {string} verificationURI verification_uri or verification_uri_complete
 * @param {{username: string, password: string, userCode?: string, decision?: "allow" | "deny"}} who
 *   userCode is typed into the code form; without it the code must be pre-filled
 * @returns {Promise<{loginShown: boolean, prefilledCode: string | null, consentText: string, finalText: string, pages: object[]}>}
 */
export async function answerDeviceRequest(browser, verificationURI, { username, password, userCode, decision = "allow" }) {
    const pages = [];
    let url = verificationURI;
    let method = "GET";
    let form;
    let loginShown = false;
    let prefilledCode = null;
    let consentText = "";
    let loginPosts = 0;
    let codePosts = 0;
    let answered = false;
    for (let hop = 0; hop < MAX_HOPS; hop++) {
        const res = await browser.request(url, { method, form });
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
        pages.push({ url, status: res.status, text: text(body).slice(0, 400) });
        if (res.status !== 200) {
            throw new Error(`${where} answered ${res.status}: "${text(body).slice(0, 400)}"`);
        }
        const forms = parseForms(body, url).filter((f) => f.method === "post" && !/log-?out|sign-?out/i.test(new URL(f.action).pathname));
        if (answered) {
            return { loginShown, prefilledCode, consentText, finalText: text(body), pages };
        }

        const login = forms.find((f) => f.fields.some((x) => x.name === "password" && x.type === "password"));
        if (login) {
            loginShown = true;
            if (loginPosts++ > 0) throw new Error(`login as ${username} failed: "${text(body).slice(0, 300)}"`);
            form = formValues(login, login.buttons[0], { username, password });
            url = login.buttons[0]?.formAction ?? login.action;
            method = "POST";
            continue;
        }

        const codeForm = forms.find((f) => f.fields.some((x) => x.name === "code" && x.type === "text"));
        if (codeForm) {
            if (codePosts++ > 0) throw new Error(`the code was refused: "${text(body).slice(0, 300)}"`);
            const field = codeForm.fields.find((x) => x.name === "code");
            prefilledCode = field.value || null;
            const code = userCode ?? prefilledCode;
            if (!code) throw new Error(`no user code to enter and none pre-filled at ${url}`);
            form = formValues(codeForm, codeForm.buttons[0], { code });
            url = codeForm.buttons[0]?.formAction ?? codeForm.action;
            method = "POST";
            continue;
        }

        const want = decision === "deny" ? DENY : ALLOW;
        const other = decision === "deny" ? ALLOW : DENY;
        for (const f of forms) {
            const button = f.buttons.find((b) => want.test(`${b.name} ${b.value} ${b.label}`) && !other.test(`${b.name} ${b.value} ${b.label}`));
            if (button) {
                consentText = text(body);
                form = formValues(f, button);
                url = button.formAction ?? f.action;
                method = "POST";
                answered = true;
                break;
            }
        }
        if (!answered) throw new Error(`${where}: no login form, code form or ${decision} button: "${text(body).slice(0, 400)}"`);
    }
    throw new Error(`the device request was not answered after ${MAX_HOPS} hops; pages: ${JSON.stringify(pages)}`);
}
