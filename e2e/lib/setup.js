// Loaded first by every test file (import "../lib/setup.js" before any SDK).
//
// It keeps the SDKs' console chatter out of the report (console.js), and:
//
// matrix-js-sdk 43 declares Node 22; its OAuth code runs on Node 20, but
// MatrixClient uses Promise.withResolvers (Node 22+). This is the whole
// polyfill, per the TC39 proposal text.
import "./console.js";

if (typeof Promise.withResolvers !== "function") {
    Object.defineProperty(Promise, "withResolvers", {
        configurable: true,
        writable: true,
        value: function withResolvers() {
            let resolve;
            let reject;
            const promise = new this((res, rej) => {
                resolve = res;
                reject = rej;
            });
            return { promise, resolve, reject };
        },
    });
}
