package authorize

import (
	"net/url"

	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/oauth"
)

// DescribeScope lists, in plain words and without repeats, what scope lets
// a client do: the wording of the consent page, shared with the device
// consent page (server/device) so both say the same.
func DescribeScope(scope oauth.Scope) []string { return describeScope(scope) }

// ClientView is what a consent page shows about a client: its name (its ID
// when it has none) and only those of its links that are absolute https
// URLs. Both consent pages (this package's and server/device's) embed it.
type ClientView struct {
	ClientName string
	ClientURI  string // https only
	ClientHost string
	LogoURI    string // https only
	TosURI     string // https only
	PolicyURI  string // https only
}

// DescribeClient returns the consent-page view of c.
func DescribeClient(c model.Client) ClientView {
	v := ClientView{
		ClientName: clientDisplayName(c),
		ClientURI:  httpsOnly(c.ClientURI),
		LogoURI:    httpsOnly(c.LogoURI),
		TosURI:     httpsOnly(c.TosURI),
		PolicyURI:  httpsOnly(c.PolicyURI),
	}
	if u, err := url.Parse(v.ClientURI); err == nil && v.ClientURI != "" {
		v.ClientHost = u.Host
	}
	return v
}

// httpsOnly returns uri if it is an absolute https URL, else "": other
// schemes are not linked from consent pages.
func httpsOnly(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return ""
	}
	return uri
}
