// Tests of the suite's own helpers (HTML reading, the scripted browser,
// callback parsing) against a small fake login/consent site, so that a
// failure elsewhere can be trusted to be mxauth's. Needs no harness.

import "../lib/setup.js";

import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, describe, it } from "node:test";

import { Browser, parseCallback } from "../lib/browser.js";
import { decodeEntities, formValues, parseAttributes, parseForms, text } from "../lib/html.js";

describe("html helpers", () => {
    it("decodes entities, named and numeric", () => {
        assert.equal(decodeEntities("a&amp;b&#39;c&#x2F;d&quot;&lt;&gt;&#43;&bogus;"), "a&b'c/d\"<>+&bogus;");
    });

    it("reads attributes in every quoting style", () => {
        assert.deepEqual(parseAttributes(` name="csrf" value='a&amp;b' type=hidden required NAME="dup"`), {
            name: "csrf", value: "a&b", type: "hidden", required: "",
        });
    });

    it("finds forms, fields and buttons; skips disabled and unchecked ones", () => {
        const html = `<html><body>
          <form method="POST" action="/consent/1">
            <input type="hidden" name="csrf" value="tok&#43;en">
            <input type="checkbox" name="remember" checked>
            <input type="checkbox" name="marketing">
            <input name="disabled" value="x" disabled>
            <button type="submit" name="action" value="deny">Deny</button>
            <button name="action" value="allow"><span>Allow</span> access</button>
            <button type="button" name="js">Not a submit</button>
          </form>
          <form action="https://other.example/search"><input name="q"></form>
        </body></html>`;
        const forms = parseForms(html, "http://127.0.0.1:1/consent/1?x=y");
        assert.equal(forms.length, 2);
        const [consent, search] = forms;
        assert.equal(consent.method, "post");
        assert.equal(consent.action, "http://127.0.0.1:1/consent/1");
        assert.deepEqual(consent.buttons.map((b) => [b.name, b.value, b.label]), [["action", "deny", "Deny"], ["action", "allow", "Allow access"]]);
        assert.equal(formValues(consent, consent.buttons[1]).toString(), "csrf=tok%2Ben&remember=on&action=allow");
        assert.equal(search.method, "get");
        assert.equal(search.action, "https://other.example/search");
    });

    it("overrides named fields and adds missing ones", () => {
        const [f] = parseForms(`<form method=post><input name=username value=old><input name=next type=hidden value=/x></form>`, "http://h/login");
        assert.equal(formValues(f, undefined, { username: "alice", password: "pw" }).toString(), "username=alice&next=%2Fx&password=pw");
    });

    it("extracts visible text", () => {
        assert.equal(text(`<head><title>T</title></head><p>Hello&nbsp;<b>you</b></p><script>x()</script>`), "Hello you", "tags become spaces; whitespace, nbsp included, collapses");
    });
});

describe("parseCallback", () => {
    it("reads the fragment or the query", () => {
        const f = parseCallback("https://c.example/cb#code=abc&state=s1");
        assert.equal(f.mode, "fragment");
        assert.equal(f.code, "abc");
        assert.equal(f.state, "s1");
        const q = parseCallback("http://127.0.0.1:5/cb?code=def&state=s2#");
        assert.equal(q.mode, "query");
        assert.equal(q.code, "def");
        const e = parseCallback("https://c.example/cb?error=access_denied&error_description=no&state=s3");
        assert.equal(e.error, "access_denied");
        assert.equal(e.errorDescription, "no");
        assert.equal(parseCallback("https://c.example/cb").mode, "none");
    });
});

/**
 * A fake authorization server: /authorize → /login (cookie-protected CSRF)
 * → /consent (markup chosen by the test) → redirect to the client.
 */
function fakeSite({ consentHTML, password = "right", consentSkipped = false }) {
    const seen = [];
    const server = createServer((req, res) => {
        const url = new URL(req.url, "http://x");
        let body = "";
        req.on("data", (c) => (body += c));
        req.on("end", () => {
            const form = new URLSearchParams(body);
            const cookies = Object.fromEntries((req.headers.cookie ?? "").split("; ").filter(Boolean).map((c) => c.split("=")));
            seen.push({ method: req.method, path: url.pathname, form: Object.fromEntries(form), cookies, origin: req.headers.origin });
            const redirect = (to) => {
                res.writeHead(303, { Location: to });
                res.end();
            };
            const page = (html, headers = {}) => {
                res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", ...headers });
                res.end(`<!DOCTYPE html><html><body>${html}</body></html>`);
            };
            if (url.pathname === "/authorize") return redirect(`/login?next=${encodeURIComponent("/continue")}`);
            if (url.pathname === "/login" && req.method === "GET") {
                return page(
                    `<form method="post" action="/login"><input type="hidden" name="csrf" value="c1"><input type="hidden" name="next" value="/continue">
                     <input name="username"><input type="password" name="password"><button type="submit">Continue</button></form>`,
                    { "Set-Cookie": "csrf=c1; Path=/; HttpOnly; SameSite=Lax" },
                );
            }
            if (url.pathname === "/login") {
                if (cookies.csrf !== form.get("csrf")) return page("<p>CSRF check failed</p>");
                if (form.get("password") !== password) {
                    return page(`<p class="error">Wrong username or password</p><form method="post" action="/login"><input type="hidden" name="csrf" value="c1"><input name="username"><input type="password" name="password"><button>Continue</button></form>`);
                }
                res.writeHead(303, { "Location": form.get("next"), "Set-Cookie": "session=s1; Path=/; HttpOnly" });
                return res.end();
            }
            if (url.pathname === "/continue") {
                if (cookies.session !== "s1") return redirect("/login");
                return consentSkipped ? redirect("https://client.example/cb?code=direct&state=st") : redirect("/consent");
            }
            if (url.pathname === "/consent" && req.method === "GET") return page(consentHTML);
            if (url.pathname === "/consent") {
                if (form.get("action") === "deny") return redirect("https://client.example/cb?error=access_denied&state=st");
                return redirect("https://client.example/cb?code=granted&state=st");
            }
            if (url.pathname === "/broken") {
                res.writeHead(500, { "Content-Type": "application/json" });
                return res.end(`{"error":"server_error","error_description":"boom"}`);
            }
            res.writeHead(404);
            res.end();
        });
    });
    return { server, seen };
}

async function listen(server) {
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${server.address().port}`;
}

describe("Browser.authorize against a fake site", () => {
    const sites = [];
    const start = async (opts) => {
        const site = fakeSite(opts);
        sites.push(site.server);
        return { ...site, base: await listen(site.server) };
    };
    after(() => Promise.all(sites.map((s) => new Promise((r) => s.close(r)))));
    const who = { username: "alice", password: "right", redirectURI: "https://client.example/cb" };

    it("logs in, presses allow (not deny), and stops at the client", async () => {
        const { base, seen } = await start({
            consentHTML: `<h1>Allow Test to access your account?</h1>
              <form method="post" action="/logout"><button>Sign out</button></form>
              <form method="post" action="/consent"><input type="hidden" name="csrf" value="c1">
                <button name="action" value="deny">Deny</button><button name="action" value="allow">Allow</button></form>`,
        });
        const result = await new Browser().authorize(`${base}/authorize?client_id=x`, who);
        assert.equal(result.url, "https://client.example/cb?code=granted&state=st");
        assert.ok(result.loginShown && result.consentShown);
        const login = seen.find((r) => r.method === "POST" && r.path === "/login");
        assert.deepEqual(login.form, { csrf: "c1", next: "/continue", username: "alice", password: "right" });
        assert.equal(login.origin, base, "a same-origin form post carries Origin");
        assert.equal(seen.find((r) => r.method === "POST" && r.path === "/consent").form.action, "allow");
        assert.ok(!seen.some((r) => r.path === "/logout"), "never signs out");
    });

    it("takes an only button of an only form, whatever its label", async () => {
        const { base } = await start({ consentHTML: `<form method="post" action="/consent"><input type="submit" value="OK"></form>` });
        const result = await new Browser().authorize(`${base}/authorize`, who);
        assert.equal(parseCallback(result.url).code, "granted");
    });

    it("reports no consent page when there is none", async () => {
        const { base } = await start({ consentHTML: "", consentSkipped: true });
        const result = await new Browser().authorize(`${base}/authorize`, who);
        assert.equal(result.consentShown, false);
        assert.equal(parseCallback(result.url).code, "direct");
    });

    it("fails clearly on a wrong password", async () => {
        const { base } = await start({ consentHTML: "" });
        await assert.rejects(new Browser().authorize(`${base}/authorize`, { ...who, password: "wrong" }), /login as alice failed.*Wrong username or password/);
    });

    it("fails clearly when a page has nothing to press", async () => {
        const { base } = await start({ consentHTML: `<p>Something went wrong</p>` });
        await assert.rejects(new Browser().authorize(`${base}/authorize`, who), /no allow button.*Something went wrong/);
    });

    it("refuses to guess between two unlabelled buttons", async () => {
        const { base } = await start({ consentHTML: `<form method="post" action="/consent"><button name="a" value="1">A</button><button name="a" value="2">B</button></form>` });
        await assert.rejects(new Browser().authorize(`${base}/authorize`, who), /no allow button/);
    });

    it("quotes an error answer", async () => {
        const { base } = await start({ consentHTML: "" });
        await assert.rejects(new Browser().authorize(`${base}/broken`, who), /answered 500.*server_error.*boom/);
    });
});
