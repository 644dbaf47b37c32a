package oauth

import "strings"

// MatchRedirectURI picks the redirect URI for an authorization request.
//
//   - requested == "": the one registered URI, if exactly one is registered.
//   - requested equal (as a string) to a registered URI: requested.
//   - requested an http URI on localhost, 127.0.0.1 or [::1] with a port:
//     requested, if the same URI without the port is registered (native
//     apps listen on a port chosen at run time; RFC 8252 §7.3, Matrix spec
//     "Redirect URI validation").
//
// Otherwise it returns ok == false; the caller must then show an error page
// rather than redirect.
func MatchRedirectURI(registered []string, requested string) (uri string, ok bool) {
	if requested == "" {
		if len(registered) == 1 {
			return registered[0], true
		}
		return "", false
	}
	for _, r := range registered {
		if r == requested {
			return requested, true
		}
	}
	portless, ok := stripLoopbackPort(requested)
	if !ok {
		return "", false
	}
	for _, r := range registered {
		if r == portless {
			return requested, true
		}
	}
	return "", false
}

// stripLoopbackPort returns uri without its port if it is an http URI whose
// host is a loopback name and which has a port.
func stripLoopbackPort(uri string) (string, bool) {
	const scheme = "http://"
	if !strings.HasPrefix(uri, scheme) {
		return "", false
	}
	rest := uri[len(scheme):]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	var host, port string
	switch {
	case strings.HasPrefix(authority, "[::1]:"):
		host, port = "[::1]", authority[len("[::1]:"):]
	case strings.HasPrefix(authority, "localhost:"):
		host, port = "localhost", authority[len("localhost:"):]
	case strings.HasPrefix(authority, "127.0.0.1:"):
		host, port = "127.0.0.1", authority[len("127.0.0.1:"):]
	default:
		return "", false
	}
	if port == "" || len(port) > 5 {
		return "", false
	}
	for i := 0; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return "", false
		}
	}
	return uri[:len(scheme)] + host + tail, true
}
