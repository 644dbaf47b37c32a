// Package web serves mxauth's server-rendered pages: the login form, the
// account page, error pages, and the shared pieces other page-serving
// packages use (the browser-session cookie, CSRF tokens, templates, static
// assets). Pages work without JavaScript.
package web
