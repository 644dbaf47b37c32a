package clients

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/mxauth/mxauth/internal/clock"
)

// HTTPKeyFetcher fetches key sets over HTTP and caches them for TTL.
// Without a Client it uses PublicOnlyClient, which refuses to connect to
// loopback, private and link-local addresses: a jwks_uri is chosen by
// whoever registers a client and must not reach into the operator's
// network.
type HTTPKeyFetcher struct {
	Client *http.Client
	Clock  clock.Clock
	TTL    time.Duration

	mu    sync.Mutex
	cache map[string]cachedKeys
}

type cachedKeys struct {
	body    []byte
	fetched time.Time
}

// maxJWKSBody bounds a fetched key set.
const maxJWKSBody = 256 << 10

// Fetch returns the key set at uri, from cache when fresh.
func (f *HTTPKeyFetcher) Fetch(ctx context.Context, uri string) ([]byte, error) {
	now := f.Clock.Now()
	ttl := f.TTL
	if ttl == 0 {
		ttl = 5 * time.Minute
	}
	f.mu.Lock()
	if c, ok := f.cache[uri]; ok && now.Sub(c.fetched) < ttl {
		f.mu.Unlock()
		return c.body, nil
	}
	f.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	client := f.Client
	if client == nil {
		client = PublicOnlyClient()
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("clients: fetch jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("clients: fetch jwks: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBody+1))
	if err != nil {
		return nil, fmt.Errorf("clients: fetch jwks: %w", err)
	}
	if len(body) > maxJWKSBody {
		return nil, errors.New("clients: fetch jwks: key set too large")
	}
	f.mu.Lock()
	if f.cache == nil {
		f.cache = map[string]cachedKeys{}
	}
	f.cache[uri] = cachedKeys{body: body, fetched: now}
	f.mu.Unlock()
	return body, nil
}

// ErrPrivateAddress is returned when a fetch would connect to a
// non-public address.
var ErrPrivateAddress = errors.New("clients: refusing to connect to a non-public address")

// PublicOnlyClient returns an HTTP client whose connections may only go to
// public unicast addresses; the check runs on the resolved address, so a
// public name that resolves to a private address is refused too.
func PublicOnlyClient() *http.Client {
	dialer := &net.Dialer{
		Timeout: 10 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return ErrPrivateAddress
			}
			if !publicAddr(ap.Addr()) {
				return fmt.Errorf("%w: %s", ErrPrivateAddress, ap.Addr())
			}
			return nil
		},
	}
	transport := &http.Transport{
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 10 * time.Second,
		MaxIdleConns:          10,
		IdleConnTimeout:       90 * time.Second,
	}
	return &http.Client{Transport: transport, Timeout: 15 * time.Second}
}

func publicAddr(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsGlobalUnicast() && !a.IsPrivate() && !a.IsLoopback() && !a.IsLinkLocalUnicast()
}
