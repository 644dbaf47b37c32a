// Just enough HTML reading for the browser helper: forms, their fields and
// their submit buttons, and a page's visible text. Regular expressions over
// server-rendered pages, no DOM. It relies on nothing mxauth-specific
// beyond well-formed <form>, <input> and <button> elements.

const NAMED_ENTITIES = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0", "#39": "'" };

/** decodeEntities turns &amp; &#39; &#x2F; ... into characters. */
export function decodeEntities(s) {
    return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, ref) => {
        if (ref[0] === "#") {
            const code = ref[1] === "x" || ref[1] === "X" ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
            return Number.isFinite(code) ? String.fromCodePoint(code) : whole;
        }
        return NAMED_ENTITIES[ref.toLowerCase()] ?? whole;
    });
}

/**
 * parseAttributes reads the attributes of a start tag's inside.
 * @param {string} s e.g. ` name="csrf" value="x" hidden`
 * @returns {Record<string, string>} lower-cased names; valueless attributes map to ""
 */
export function parseAttributes(s) {
    const attrs = {};
    const re = /([^\s"'<>\/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
    for (const m of s.matchAll(re)) {
        const name = m[1].toLowerCase();
        if (name in attrs) continue; // the first occurrence wins, as in browsers
        attrs[name] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? "");
    }
    return attrs;
}

/** text returns the visible text of an HTML fragment, whitespace collapsed. */
export function text(html) {
    return decodeEntities(
        html
            .replace(/<(script|style|head)\b[\s\S]*?<\/\1>/gi, " ")
            .replace(/<[^>]+>/g, " "),
    )
        .replace(/\s+/g, " ")
        .trim();
}

/**
 * @typedef {{name: string, value: string, type: string, checked: boolean}} Field
 * @typedef {{name: string, value: string, label: string, formAction: string|undefined}} Button
 * @typedef {{method: string, action: string, fields: Field[], buttons: Button[], text: string}} Form
 */

/**
 * parseForms returns the page's forms with absolute actions.
 * @param {string} html
 * @param {string} pageURL where the page was loaded from (base for actions)
 * @returns {Form[]}
 */
export function parseForms(html, pageURL) {
    const forms = [];
    for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form\s*>/gi)) {
        const attrs = parseAttributes(m[1]);
        const inner = m[2];
        const form = {
            method: (attrs.method || "get").toLowerCase(),
            action: new URL(attrs.action ?? "", pageURL).href,
            fields: [],
            buttons: [],
            text: text(inner),
        };
        for (const tag of inner.matchAll(/<(input|button|textarea|select)\b([^>]*)>([\s\S]*?<\/\1\s*>)?/gi)) {
            const kind = tag[1].toLowerCase();
            const a = parseAttributes(tag[2]);
            if ("disabled" in a) continue;
            if (kind === "button" || (kind === "input" && ["submit", "image"].includes((a.type ?? "").toLowerCase()))) {
                const type = (a.type ?? "submit").toLowerCase();
                if (kind === "button" && type !== "submit") continue;
                const label = kind === "button" ? text(tag[3] ?? "") : (a.value ?? "");
                form.buttons.push({
                    name: a.name ?? "",
                    value: a.value ?? "",
                    label,
                    formAction: a.formaction ? new URL(a.formaction, pageURL).href : undefined,
                });
                continue;
            }
            if (!a.name) continue;
            if (kind === "textarea") {
                const body = (tag[3] ?? "").replace(/<\/textarea\s*>$/i, "");
                form.fields.push({ name: a.name, value: decodeEntities(body), type: "textarea", checked: false });
                continue;
            }
            if (kind === "select") continue; // none on mxauth's pages; a select would need its options
            const type = (a.type ?? "text").toLowerCase();
            form.fields.push({ name: a.name, value: a.value ?? (type === "checkbox" || type === "radio" ? "on" : ""), type, checked: "checked" in a });
        }
        forms.push(form);
    }
    return forms;
}

/**
 * formValues returns what a browser would submit for form with button:
 * text-like and hidden fields, checked boxes, and the button's name=value.
 * @param {Form} form
 * @param {Button|undefined} button
 * @param {Record<string, string>} overrides values for named fields
 */
export function formValues(form, button, overrides = {}) {
    const out = new URLSearchParams();
    const seen = new Set();
    for (const f of form.fields) {
        if ((f.type === "checkbox" || f.type === "radio") && !f.checked) continue;
        if (f.name in overrides) {
            if (seen.has(f.name)) continue;
            seen.add(f.name);
            out.append(f.name, overrides[f.name]);
            continue;
        }
        out.append(f.name, f.value);
    }
    for (const [k, v] of Object.entries(overrides)) {
        if (!seen.has(k) && !form.fields.some((f) => f.name === k)) out.append(k, v);
    }
    if (button?.name) out.append(button.name, button.value);
    return out;
}
