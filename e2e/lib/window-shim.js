// The minimum of a browser window that matrix-js-sdk 41's OIDC helpers (and
// oidc-client-ts under them) touch on Node: window.sessionStorage (the
// sign-in state store), window.localStorage (oidc-client-ts's default store
// when a window exists) and window.location (completeAuthorizationCodeGrant
// rebuilds the callback URL from location.origin). Import it before
// matrix-js-sdk-41, and only in the test file that needs it: a global
// window changes how other libraries behave.

/** An in-memory Web Storage (the part of the interface the libraries use). */
export class MemoryStorage {
    #items = new Map();
    get length() {
        return this.#items.size;
    }
    key(index) {
        return [...this.#items.keys()][index] ?? null;
    }
    getItem(key) {
        return this.#items.has(String(key)) ? this.#items.get(String(key)) : null;
    }
    setItem(key, value) {
        this.#items.set(String(key), String(value));
    }
    removeItem(key) {
        this.#items.delete(String(key));
    }
    clear() {
        this.#items.clear();
    }
}

const location = new URL("http://127.0.0.1/");

if (globalThis.window === undefined) {
    globalThis.window = {
        sessionStorage: new MemoryStorage(),
        localStorage: new MemoryStorage(),
        location,
    };
}

/**
 * setLocation makes window.location the page the browser landed on (the
 * client's redirect URI), as it would be in the client's tab.
 * @param {string} href
 */
export function setLocation(href) {
    globalThis.window.location = new URL(href);
}
