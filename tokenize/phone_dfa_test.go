package tokenize

import (
	"errors"
	"math/rand/v2"
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// metadataPatterns returns every national number pattern, leading digits,
// national and international prefix pattern of libphonenumber's metadata.
func metadataPatterns(t testing.TB) []string {
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var out []string
	addP := func(p string) {
		if p != "" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, md := range coll.GetMetadata() {
		for _, d := range append(phoneTypeDescs(md), md.GetGeneralDesc(), md.GetMobile()) {
			addP(d.GetNationalNumberPattern())
		}
		addP(md.GetLeadingDigits())
		addP(md.GetNationalPrefixForParsing())
		addP(md.GetInternationalPrefix())
	}
	return out
}

// TestDigitDFAMetadata: every pattern of the metadata compiles to the
// automaton, and for random heads the automaton accepts exactly the
// three-digit completions that package regexp fully matches, ranks them
// in increasing order and unranks each rank back (one head per pattern;
// five with PHONE_V2_SAMPLES set).
func TestDigitDFAMetadata(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pats := metadataPatterns(t)
	unsupported, heads := 0, 1
	if os.Getenv("PHONE_V2_SAMPLES") != "" {
		heads = 5
	}
	for _, p := range pats {
		prog, err := compileDigitPattern(p)
		if errors.Is(err, errPatternUnsupported) {
			// The walk handles these (TestPhoneV2Walk).
			t.Logf("not supported, walked: %q", p)
			unsupported++
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", p, err)
		}
		re := regexp.MustCompile("^(?:" + p + ")$")
		pre := regexp.MustCompile("^(?:" + p + ")")
		for range heads {
			n := 3 + r.IntN(10)
			head := make([]byte, n-3)
			for i := range head {
				head[i] = byte('0' + r.IntN(10))
			}
			for _, prefix := range []bool{false, true} {
				dfa, err := buildDigitDFA([]digitMatcher{{prog: prog, prefix: prefix}}, head, 3, false, func(m []bool) bool { return m[0] })
				if err != nil {
					t.Fatalf("%q: %v", p, err)
				}
				count := uint64(0)
				for x := range 1000 {
					s := string(head) + leftPad(x, 3)
					want := re.MatchString(s)
					if prefix {
						want = pre.MatchString(s)
					}
					d := []uint16{uint16(x / 100), uint16(x / 10 % 10), uint16(x % 10)}
					rank, ok := dfa.rank(d)
					if ok != want {
						t.Fatalf("%q prefix=%t: %s accepted %t, regexp %t", p, prefix, s, ok, want)
					}
					if ok {
						if rank != count {
							t.Fatalf("%q: %s has rank %d, want %d", p, s, rank, count)
						}
						back := make([]uint16, 3)
						dfa.unrank(rank, back)
						if [3]uint16(back) != [3]uint16(d) {
							t.Fatalf("%q: unrank(%d) = %v, want %v", p, rank, back, d)
						}
						count++
					}
				}
				if count != dfa.size() {
					t.Fatalf("%q: size %d, counted %d", p, dfa.size(), count)
				}
			}
		}
	}
	t.Logf("%d patterns, %d not supported", len(pats), unsupported)
	// 20 in metadata v1.8.1: national prefixes for parsing with a "$" (7-digit
	// local dialling in NANPA regions, GG, JP …), which phoneNPAlts reads
	// alternative by alternative instead.
	if unsupported > 30 {
		t.Fatalf("%d patterns not supported", unsupported)
	}
	// Every national number pattern, which decides validity, is supported,
	// and every national prefix splits into alternatives the automaton runs.
	coll, _ := phonenumbers.MetadataCollection()
	for _, md := range coll.GetMetadata() {
		if np := md.GetNationalPrefixForParsing(); np != "" && phoneNPAlts(np) == nil {
			t.Errorf("%s: national prefix %q not split into alternatives", md.GetId(), np)
		}
		for _, d := range append(phoneTypeDescs(md), md.GetGeneralDesc(), md.GetMobile()) {
			if p := d.GetNationalNumberPattern(); p != "" {
				if _, err := compileDigitPattern(p); err != nil {
					t.Errorf("%s: national number pattern %q: %v", md.GetId(), p, err)
				}
			}
		}
	}
}

func leftPad(x, n int) string {
	s := strconv.Itoa(x)
	for len(s) < n {
		s = "0" + s
	}
	return s
}

// TestDigitDFAUnsupported: empty-width assertions are refused, and a
// metadata pattern the automaton cannot run leaves the head without a
// fast set, so that its values are walked.
func TestDigitDFAUnsupported(t *testing.T) {
	for _, p := range []string{`\b\d{9}`, `^\d{9}$`, `(?m)\d$`} {
		if _, err := compileDigitPattern(p); !errors.Is(err, errPatternUnsupported) {
			t.Fatalf("%q: %v, want errPatternUnsupported", p, err)
		}
	}
	md := &phonenumbers.PhoneMetadata{
		Id:          ptr("PL"),
		CountryCode: ptr(int32(48)),
		GeneralDesc: &phonenumbers.PhoneNumberDesc{NationalNumberPattern: ptr(`\b\d{9}`), PossibleLength: []int32{9}},
		FixedLine:   &phonenumbers.PhoneNumberDesc{NationalNumberPattern: ptr(`\d{9}`)},
	}
	plan := newPhonePlan(48, md, []*phonenumbers.PhoneMetadata{md}, false)
	h := phoneHead{plan: plan, natOff: 2, nsnOff: 2, nsnLen: 9, k: 7}
	if dom := buildPhoneDomain(h, []byte("4860"), false); dom.dfa != nil {
		t.Fatal("a domain was built from an unsupported pattern")
	}
	md.GeneralDesc.NationalNumberPattern = ptr(`\d{9}`)
	if dom := buildPhoneDomain(h, []byte("4860"), false); dom.dfa == nil || dom.size != 1e7 {
		t.Fatalf("supported pattern: %+v", dom)
	}
}

// FuzzDigitDFA: for any pattern package regexp compiles and the automaton
// accepts, full and prefix matches of any digit string agree with regexp.
func FuzzDigitDFA(f *testing.F) {
	for _, p := range metadataPatterns(f)[:200] {
		f.Add(p, "601234567")
	}
	f.Add(`(?:1[2-9]|[2-9]\d)\d{2,4}|0?7`, "0712")
	f.Fuzz(func(t *testing.T, p, digits string) {
		if len(digits) == 0 || len(digits) > 20 || !isDigitString(digits) || len(p) > 200 {
			return
		}
		re, err := regexp.Compile("^(?:" + p + ")$")
		if err != nil {
			return
		}
		prog, err := compileDigitPattern(p)
		if err != nil {
			return
		}
		pre := regexp.MustCompile("^(?:" + p + ")")
		head := []byte(digits[:len(digits)-1])
		last := []uint16{uint16(digits[len(digits)-1] - '0')}
		for _, prefix := range []bool{false, true} {
			dfa, err := buildDigitDFA([]digitMatcher{{prog: prog, prefix: prefix}}, head, 1, false, func(m []bool) bool { return m[0] })
			if err != nil {
				return
			}
			_, got := dfa.rank(last)
			want := re.MatchString(digits)
			if prefix {
				want = pre.MatchString(digits)
			}
			if got != want {
				t.Fatalf("%q prefix=%t on %s: automaton %t, regexp %t", p, prefix, digits, got, want)
			}
		}
	})
}

func ptr[T any](v T) *T { return &v }

// TestPhoneDomainCacheEvicts: the cache of kept heads stays bounded and a
// head evicted is rebuilt identically.
func TestPhoneDomainCacheEvicts(t *testing.T) {
	p := Phone{Version: 2}
	d := []uint16{4, 8, 6, 0, 1, 2, 3, 4, 5, 6, 7}
	dom, ok := p.fastDomain(d, true)
	if !ok || dom.dfa == nil {
		t.Fatal("no domain for +48 601 234 567")
	}
	phoneDomainCache.Lock()
	for i := 0; len(phoneDomainCache.m) < phoneDomainCacheMax; i++ {
		k := phoneV2Key{n: 200, hl: uint8(i % 64), possible: i%2 == 0}
		copy(k.head[:], strconv.Itoa(i))
		phoneDomainCache.m[k] = &phoneFastDomain{}
	}
	phoneDomainCache.Unlock()
	again, _ := p.fastDomain([]uint16{4, 8, 6, 0, 9, 9, 9, 9, 9, 9, 9}, true) // same head "4860"
	if again != dom {
		// evicted: rebuilt, with the same set
		if again.size != dom.size || again.r != dom.r {
			t.Fatalf("rebuilt domain differs: %d/%d vs %d/%d", again.size, again.r, dom.size, dom.r)
		}
	}
	if _, ok := p.fastDomain([]uint16{4, 8, 5, 0, 1, 2, 3, 4, 5, 6, 7}, true); !ok {
		t.Fatal("+48 501 234 567: no head")
	}
	phoneDomainCache.RLock()
	n := len(phoneDomainCache.m)
	phoneDomainCache.RUnlock()
	if n > phoneDomainCacheMax*3/4+1 {
		t.Fatalf("%d heads cached after eviction", n)
	}
}
