package authorize

import "github.com/mxauth/mxauth/internal/oauth"

// DescribeScope lists, in plain words and without repeats, what scope lets
// a client do: the wording of the consent page, shared with the device
// consent page (server/device) so both say the same.
func DescribeScope(scope oauth.Scope) []string { return describeScope(scope) }
