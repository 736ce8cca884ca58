// Package clientip finds the address of the client behind a request, also
// when kiln runs behind a load balancer or reverse proxy: requests then
// arrive from the proxy, and the client's address is in X-Forwarded-For.
// The header is believed only when the request comes from a configured
// trusted proxy, because any client can send it.
package clientip

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver finds client addresses. The zero value and a nil *Resolver
// trust no proxy and report the TCP peer. A Resolver is safe for
// concurrent use.
type Resolver struct {
	trusted []netip.Prefix
}

// New returns a resolver trusting the proxies in cidrs (each a CIDR such as
// 10.0.0.0/8 or a single address such as 127.0.0.1).
func New(cidrs []string) (*Resolver, error) {
	r := &Resolver{}
	for _, c := range cidrs {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		if !strings.Contains(c, "/") {
			a, err := netip.ParseAddr(c)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q is not an address or CIDR", c)
			}
			r.trusted = append(r.trusted, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is not an address or CIDR", c)
		}
		r.trusted = append(r.trusted, p.Masked())
	}
	return r, nil
}

func (r *Resolver) trusts(a netip.Addr) bool {
	if r == nil {
		return false
	}
	a = a.Unmap()
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Addr returns the client's IP address. When the TCP peer is a trusted
// proxy, it is the rightmost X-Forwarded-For entry that is not itself a
// trusted proxy (entries to its left were written by the client and prove
// nothing); otherwise, and when the header holds nothing usable, the peer.
func (r *Resolver) Addr(req *http.Request) string {
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		host = req.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !r.trusts(peer) {
		return host
	}
	hops := strings.Split(strings.Join(req.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a malformed entry: stop believing the chain
		}
		if !r.trusts(a) {
			return a.Unmap().String()
		}
	}
	return host
}
