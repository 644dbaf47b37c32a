// The SDKs log every request and many checks to the console (matrix-js-sdk
// at debug level, oidc-client-ts through it), which would bury the test
// report. This keeps the console's output in a ring buffer instead; a
// failing step shows the last lines (see env.js explain()), which often
// hold the SDK's real reason behind a generic error. E2E_VERBOSE=1 lets
// everything through.

import { format } from "node:util";

const MAX_LINES = 300;
const lines = [];

if (!process.env.E2E_VERBOSE) {
    for (const method of ["log", "debug", "info", "warn", "error", "trace"]) {
        console[method] = (...args) => {
            lines.push(`[${method}] ${format(...args)}`.slice(0, 2000));
            if (lines.length > MAX_LINES) lines.shift();
        };
    }
}

/** recentLogs returns the last n console lines the SDKs wrote. */
export function recentLogs(n = 15) {
    return lines.slice(-n);
}
