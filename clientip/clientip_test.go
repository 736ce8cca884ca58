package clientip

import (
	"net"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestAddr(t *testing.T) {
	r, err := New([]string{"10.0.0.0/8", "127.0.0.1", " "})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"NoProxy", "203.0.113.7:5555", nil, "203.0.113.7"},
		{"UntrustedPeerHeaderIgnored", "203.0.113.7:5555", []string{"198.51.100.1"}, "203.0.113.7"},
		{"TrustedPeer", "10.1.2.3:80", []string{"198.51.100.1"}, "198.51.100.1"},
		{"SpoofedLeftEntryIgnored", "10.1.2.3:80", []string{"1.1.1.1, 198.51.100.1"}, "198.51.100.1"},
		{"ChainOfTrustedProxies", "127.0.0.1:80", []string{"198.51.100.1, 10.0.0.5", "10.0.0.6"}, "198.51.100.1"},
		{"AllTrusted", "127.0.0.1:80", []string{"10.0.0.5"}, "127.0.0.1"},
		{"MalformedEntry", "127.0.0.1:80", []string{"garbage"}, "127.0.0.1"},
		{"NoHeader", "127.0.0.1:80", nil, "127.0.0.1"},
		{"IPv6Client", "127.0.0.1:80", []string{"2001:db8::1"}, "2001:db8::1"},
		{"MappedIPv4", "10.1.2.3:80", []string{"::ffff:198.51.100.9"}, "198.51.100.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			req.RemoteAddr = tt.peer
			for _, v := range tt.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			if got := r.Addr(req); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	var none *Resolver
	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "127.0.0.1:1"
	req.Header.Set("X-Forwarded-For", "198.51.100.1")
	if got := none.Addr(req); got != "127.0.0.1" {
		t.Fatalf("nil resolver: got %q", got)
	}
	for _, bad := range []string{"10.0.0.0/33", "not-an-ip", "300.1.1.1"} {
		if _, err := New([]string{bad}); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
}

// FuzzAddr checks that no header crashes the resolver and that the answer
// is always the peer or an address from the header.
func FuzzAddr(f *testing.F) {
	f.Add("10.0.0.1:80", "198.51.100.1, 10.0.0.2")
	f.Add("[::1]:80", "::ffff:1.2.3.4")
	f.Add("bogus", ",,,")
	r, _ := New([]string{"10.0.0.0/8", "::1"})
	f.Fuzz(func(t *testing.T, peer, xff string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = peer
		req.Header.Set("X-Forwarded-For", xff)
		got := r.Addr(req)
		host, _, err := net.SplitHostPort(peer)
		if err != nil {
			host = peer
		}
		if _, err := netip.ParseAddr(got); got != host && err != nil {
			t.Fatalf("peer %q, header %q: got %q, neither the peer nor an address", peer, xff, got)
		}
	})
}
