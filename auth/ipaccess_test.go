package auth

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/kiln-dev/kiln"
)

func TestParseIPEntry(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"192.0.2.1", "192.0.2.1/32"},
		{" 192.0.2.1 ", "192.0.2.1/32"},
		{"198.51.100.0/24", "198.51.100.0/24"},
		{"198.51.100.77/24", "198.51.100.0/24"},
		{"0.0.0.0/0", "0.0.0.0/0"},
		{"2001:db8::1", "2001:db8::1/128"},
		{"2001:db8::/32", "2001:db8::/32"},
		{"::ffff:192.0.2.1", "192.0.2.1/32"},
		{"::ffff:192.0.2.0/120", "192.0.2.0/24"},
		{"192.0.2.0/33", ""},
		{"192.0.2.256", ""},
		{"192.0.2", ""},
		{"office", ""},
		{"", ""},
		{"192.0.2.1-192.0.2.9", ""},
		{"fe80::1%eth0", ""},
		{"::ffff:0.0.0.0/90", ""},
	} {
		p, err := ParseIPEntry(c.in)
		if c.want == "" {
			if err == nil {
				t.Errorf("ParseIPEntry(%q) = %v, want an error", c.in, p)
			}
			continue
		}
		if err != nil || p.String() != c.want {
			t.Errorf("ParseIPEntry(%q) = %v, %v, want %s", c.in, p, err, c.want)
		}
	}
}

func TestIPRulesAdmits(t *testing.T) {
	allow := &kiln.IPAccessList{ListType: kiln.IPAllow, Enabled: true, Addresses: []string{"198.51.100.0/24", "2001:db8::/32"}}
	block := &kiln.IPAccessList{ListType: kiln.IPBlock, Enabled: true, Addresses: []string{"198.51.100.66", "203.0.113.0/24"}}
	off := &kiln.IPAccessList{ListType: kiln.IPAllow, Enabled: false, Addresses: []string{"192.0.2.0/24"}}
	for _, c := range []struct {
		name  string
		lists []*kiln.IPAccessList
		addr  string
		want  bool
	}{
		{"NoLists", nil, "192.0.2.1", true},
		{"OnlyDisabled", []*kiln.IPAccessList{off}, "198.51.100.1", true},
		{"InAllow", []*kiln.IPAccessList{allow}, "198.51.100.1", true},
		{"IPv6InAllow", []*kiln.IPAccessList{allow}, "2001:db8::7", true},
		{"MappedInAllow", []*kiln.IPAccessList{allow}, "::ffff:198.51.100.1", true},
		{"OutsideAllow", []*kiln.IPAccessList{allow}, "192.0.2.1", false},
		{"DisabledAllowDoesNotAdmit", []*kiln.IPAccessList{allow, off}, "192.0.2.1", false},
		{"BlockBeatsAllow", []*kiln.IPAccessList{allow, block}, "198.51.100.66", false},
		{"OnlyBlockOthersAdmitted", []*kiln.IPAccessList{block}, "192.0.2.1", true},
		{"OnlyBlockBlocked", []*kiln.IPAccessList{block}, "203.0.113.9", false},
		{"UnparsableWithAllow", []*kiln.IPAccessList{allow}, "not-an-ip", false},
		{"UnparsableNoRules", []*kiln.IPAccessList{off}, "not-an-ip", true},
	} {
		if got := CompileIPRules(c.lists).Admits(c.addr); got != c.want {
			t.Errorf("%s: Admits(%q) = %v, want %v", c.name, c.addr, got, c.want)
		}
	}
	var none *IPRules
	if !none.Admits("192.0.2.1") {
		t.Error("nil rules refuse")
	}
}

// FuzzParseIPEntry: parsing never panics; what parses is a masked prefix
// that parses again to itself, and an allow list of the entry admits the
// range's first address while a block list of it refuses it.
func FuzzParseIPEntry(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "198.51.100.0/24", "2001:db8::/32", "::ffff:192.0.2.0/120", "10.0.0.1/8", "fe80::1%eth0", "1.2.3.4/", "/24", "::/0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseIPEntry(s)
		if err != nil {
			return
		}
		if !p.IsValid() || p != p.Masked() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
			t.Fatalf("ParseIPEntry(%q) = %v: not a clean masked prefix", s, p)
		}
		again, err := ParseIPEntry(p.String())
		if err != nil || again != p {
			t.Fatalf("ParseIPEntry(%q) = %v, which parses again to %v, %v", s, p, again, err)
		}
		first := p.Addr().String()
		if _, err := netip.ParseAddr(first); err != nil {
			t.Fatal(err)
		}
		if !CompileIPRules([]*kiln.IPAccessList{{ListType: kiln.IPAllow, Enabled: true, Addresses: []string{s}}}).Admits(first) {
			t.Fatalf("an allow list of %q refuses %s", s, first)
		}
		if CompileIPRules([]*kiln.IPAccessList{{ListType: kiln.IPBlock, Enabled: true, Addresses: []string{s}}}).Admits(first) {
			t.Fatalf("a block list of %q admits %s", s, first)
		}
	})
}

// BenchmarkIPRulesAdmits is the per-request check alone: off (nil rules,
// what the root handler sees while enableIpAccessLists is off), one small
// allow list, and Databricks' maximum of 1000 entries with the client
// matching only the last.
func BenchmarkIPRulesAdmits(b *testing.B) {
	var big []string
	for i := range 999 {
		big = append(big, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i / 256), byte(i % 256), 0}), 24).String())
	}
	big = append(big, "192.0.2.0/24")
	for _, c := range []struct {
		name  string
		rules *IPRules
	}{
		{"off", nil},
		{"small", CompileIPRules([]*kiln.IPAccessList{{ListType: kiln.IPAllow, Enabled: true, Addresses: []string{"192.0.2.0/24"}}})},
		{"1000", CompileIPRules([]*kiln.IPAccessList{{ListType: kiln.IPAllow, Enabled: true, Addresses: big}})},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !c.rules.Admits("192.0.2.1") {
					b.Fatal("refused")
				}
			}
		})
	}
}

// TestIPRulesMatchPrefixes checks the merged ranges against the plain
// rule (any prefix contains the address) on random lists and addresses,
// overlapping, nested and adjacent prefixes of both families included.
func TestIPRulesMatchPrefixes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	addr := func() netip.Addr {
		if rng.IntN(4) == 0 {
			var b [16]byte
			b[0], b[1], b[15] = 0x20, 0x01, byte(rng.IntN(4))
			return netip.AddrFrom16(b)
		}
		return netip.AddrFrom4([4]byte{10, 0, byte(rng.IntN(4)), byte(rng.IntN(256))})
	}
	for round := range 300 {
		var entries []string
		var prefixes []netip.Prefix
		for range rng.IntN(8) {
			a := addr()
			p, _ := a.Prefix(a.BitLen() - rng.IntN(12))
			entries, prefixes = append(entries, p.String()), append(prefixes, p)
		}
		rules := CompileIPRules([]*kiln.IPAccessList{{ListType: kiln.IPBlock, Enabled: true, Addresses: entries}})
		for range 50 {
			a := addr()
			want := !slices.ContainsFunc(prefixes, func(p netip.Prefix) bool { return p.Contains(a) })
			if got := rules.Admits(a.String()); got != want {
				t.Fatalf("round %d: block list %v: Admits(%s) = %v, want %v", round, entries, a, got, want)
			}
		}
	}
}
