package tokenize

import (
	"fmt"
	"math"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"sync"

	"github.com/nyaruka/phonenumbers"

	"github.com/fieldcrypt/fieldcrypt/tokenize/fpe"
)

// Phone version 2.
//
// The last phoneV2Digits digits of the national significant number (NSN)
// are encrypted, everything before them is kept (see Phone). For a kept
// head, the set F of completions that libphonenumber would parse back
// with the same country calling code and national prefix and call valid
// (possible) is a regular language: the union over the region's number
// types of their national number patterns, with the rules libphonenumber
// applies when it parses (national prefix stripping, the international
// prefix and country code of national notation, the region a shared
// country code picks). buildDigitDFA counts F and ranks its members, so a
// token is unrank(FF1(rank(value))) with one libphonenumber-free pass.
//
// Where the analysis above is not certain to be libphonenumber's (a
// national prefix given by a pattern that the value matches, a pattern
// the automaton does not compile, a number that starts with its own
// country code in national notation …), the value is outside F, and such
// values are cycle-walked as in version 1, asking libphonenumber about
// every candidate and refusing candidates in F: F and its complement are
// each permuted, so both kinds of values round-trip.

// phoneV2Digits is how many trailing NSN digits version 2 encrypts.
const phoneV2Digits = 7

// phoneDomainCacheMax bounds the number of kept heads whose automaton is
// cached (typically 1-3 KB each; building one takes 0.05-5 ms, +1 with its
// 25 regions the longest); beyond it a random quarter is evicted.
const phoneDomainCacheMax = 4096

// phonePlan is what the fast analysis needs of one notation: for
// international notation, one per country calling code; for national
// notation, one per region.
type phonePlan struct {
	cc       int32
	ccDigits string
	national bool
	// md parses the national part: the default region in national
	// notation, the calling code's main region in international notation.
	md      *phonenumbers.PhoneMetadata
	regions []*phonenumbers.PhoneMetadata // of cc, in libphonenumber's order
	// npAlts are the top-level alternatives of the national prefix for
	// parsing ("0" for DE and FR, "0|180020" for GB, "(183[12])|0" for AU,
	// "([2-9]\d{6})$|1" for NANPA islands): libphonenumber strips the
	// first one that matches. nil when the pattern has a "$" elsewhere
	// than at the end of an alternative: values are then walked whenever
	// it could match.
	npAlts []phoneNPAlt
	// npTransform: the national prefix has a transform rule, applied when
	// the last capture group matched.
	npTransform bool
}

// phoneNPAlt is one alternative of a national prefix pattern.
type phoneNPAlt struct {
	pattern  string // without a final "$"
	anchored bool   // it ended with "$": it matches the whole national part
	length   int    // of every string it matches, or -1
	captures bool
	re       *regexp.Regexp // as libphonenumber matches it: "^(?:alt)", "^(?:alt)$"
	dfa      *digitDFA      // for a fixed length without "$": its strings
}

// npMatch returns the alternative of the national prefix that
// libphonenumber strips from the national part nat, and its length: -1,
// 0 when none matches. ok is false when the plan cannot tell what
// libphonenumber strips (an alternative of variable length, or one a
// transform rule rewrites): such values are walked.
func (p *phonePlan) npMatch(nat []uint16) (alt, length int, ok bool) {
	var buf [phoneMaxLen]byte
	b := buf[:0]
	for i := range p.npAlts {
		a := &p.npAlts[i]
		var m bool
		if a.dfa != nil {
			if a.length <= len(nat) {
				_, m = a.dfa.rank(nat[:a.length])
			}
		} else {
			if len(b) == 0 {
				for _, x := range nat {
					b = append(b, byte('0'+x))
				}
			}
			m = a.re.Match(b)
		}
		if !m {
			continue
		}
		if a.anchored || a.length < 0 || p.npTransform && a.captures {
			return i, 0, false
		}
		return i, a.length, true
	}
	return -1, 0, true
}

// phoneNPAlts splits a national prefix pattern into its alternatives, or
// returns nil.
func phoneNPAlts(pattern string) []phoneNPAlt {
	var out []phoneNPAlt
	// Split at the top level by hand: syntax.Parse factors common
	// prefixes out of alternations ("0…|0" becomes "0(?:…|)").
	for _, src := range splitTopAlternation(pattern) {
		a, err := syntax.Parse(src, syntax.Perl)
		if err != nil {
			return nil
		}
		var alt phoneNPAlt
		if a.Op == syntax.OpConcat && len(a.Sub) > 0 && a.Sub[len(a.Sub)-1].Op == syntax.OpEndText {
			alt.anchored = true
			a = &syntax.Regexp{Op: syntax.OpConcat, Flags: a.Flags, Sub: a.Sub[:len(a.Sub)-1]}
		}
		alt.pattern = a.String()
		lo, hi := regexpLengths(a)
		if lo < 0 {
			return nil // another assertion
		}
		alt.length = -1
		if lo == hi {
			alt.length = lo
		}
		alt.captures = a.MaxCap() > 0
		if alt.anchored {
			alt.re, err = regexp.Compile("^(?:" + alt.pattern + ")$")
		} else {
			alt.re, err = regexp.Compile("^(?:" + alt.pattern + ")")
		}
		if err != nil {
			return nil
		}
		if _, err := compileDigitPattern(alt.pattern); err != nil {
			return nil
		}
		if !alt.anchored && alt.length > 0 && alt.length <= 8 {
			prog, _ := compileDigitPattern(alt.pattern)
			alt.dfa, err = buildDigitDFA([]digitMatcher{{prog: prog}}, nil, alt.length, false, func(m []bool) bool { return m[0] })
			if err != nil {
				return nil
			}
		}
		out = append(out, alt)
	}
	return out
}

// splitTopAlternation splits pattern at the "|" outside groups and
// classes.
func splitTopAlternation(pattern string) []string {
	var out []string
	depth, class, start := 0, false, 0
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; {
		case c == '\\':
			i++
		case class:
			class = c != ']'
		case c == '[':
			class = true
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == '|' && depth == 0:
			out = append(out, pattern[start:i])
			start = i + 1
		}
	}
	return append(out, pattern[start:])
}

// regexpLengths returns the shortest and longest lengths of the strings
// re matches, in runes (hi -1: unbounded), for patterns without
// assertions; lo = -1 when re has assertions.
func regexpLengths(re *syntax.Regexp) (lo, hi int) {
	switch re.Op {
	case syntax.OpLiteral:
		return len(re.Rune), len(re.Rune)
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return 1, 1
	case syntax.OpEmptyMatch:
		return 0, 0
	case syntax.OpCapture:
		return regexpLengths(re.Sub[0])
	case syntax.OpConcat:
		for _, s := range re.Sub {
			l, h := regexpLengths(s)
			if l < 0 {
				return -1, -1
			}
			lo += l
			if h < 0 || hi < 0 {
				hi = -1
			} else {
				hi += h
			}
		}
		return lo, hi
	case syntax.OpAlternate:
		lo, hi = -1, 0
		for _, s := range re.Sub {
			l, h := regexpLengths(s)
			if l < 0 {
				return -1, -1
			}
			if lo < 0 || l < lo {
				lo = l
			}
			if h < 0 || hi < 0 {
				hi = -1
			} else {
				hi = max(hi, h)
			}
		}
		return lo, hi
	case syntax.OpRepeat:
		l, h := regexpLengths(re.Sub[0])
		if l < 0 {
			return -1, -1
		}
		if re.Max < 0 || h < 0 {
			return l * re.Min, -1
		}
		return l * re.Min, h * re.Max
	case syntax.OpQuest:
		_, h := regexpLengths(re.Sub[0])
		return 0, h
	case syntax.OpStar, syntax.OpPlus:
		l, _ := regexpLengths(re.Sub[0])
		if re.Op == syntax.OpStar {
			l = 0
		}
		return l, -1
	}
	return -1, -1
}

type phonePlans struct {
	intl     [1000]*phonePlan
	national map[string]*phonePlan
}

var phonePlanTable = sync.OnceValue(func() *phonePlans {
	t := &phonePlans{national: map[string]*phonePlan{}}
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		return t
	}
	geo := map[string]*phonenumbers.PhoneMetadata{}
	nonGeo := map[int32]*phonenumbers.PhoneMetadata{}
	for _, md := range coll.GetMetadata() {
		if md.GetId() == "001" {
			nonGeo[md.GetCountryCode()] = md
		} else {
			geo[md.GetId()] = md
		}
	}
	lookup := func(region string, cc int32) *phonenumbers.PhoneMetadata {
		if region == "001" {
			return nonGeo[cc]
		}
		return geo[region]
	}
	for cc := int32(1); cc < 1000; cc++ {
		names := phonenumbers.GetRegionCodesForCountryCode(int(cc))
		if len(names) == 0 {
			continue
		}
		var regions []*phonenumbers.PhoneMetadata
		for _, r := range names {
			md := lookup(r, cc)
			if md == nil {
				regions = nil
				break
			}
			regions = append(regions, md)
		}
		if regions == nil {
			continue
		}
		t.intl[cc] = newPhonePlan(cc, regions[0], regions, false)
		for i, r := range names {
			if r != "001" {
				t.national[r] = newPhonePlan(cc, regions[i], regions, true)
			}
		}
	}
	return t
})

func newPhonePlan(cc int32, md *phonenumbers.PhoneMetadata, regions []*phonenumbers.PhoneMetadata, national bool) *phonePlan {
	p := &phonePlan{cc: cc, ccDigits: strconv.Itoa(int(cc)), national: national, md: md, regions: regions}
	if np := md.GetNationalPrefixForParsing(); np != "" {
		p.npAlts = phoneNPAlts(np)
		p.npTransform = md.GetNationalPrefixTransformRule() != ""
	}
	return p
}

func isDigitString(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigitByte(s[i]) {
			return false
		}
	}
	return s != ""
}

// phoneHead is the fast analysis of a number's digits.
type phoneHead struct {
	plan   *phonePlan
	natOff int  // first digit of the national part (after the country code)
	strip  bool // a national prefix is stripped: alternative npAlt of plan.npAlts
	npAlt  int
	nsnOff int
	nsnLen int
	k      int  // digits encrypted: the last k
	noLZ   bool // the kept NSN digits are all zeros: the next must not be
}

// fastHead splits the digits d of a value as version 2 does, or reports
// false when it cannot (unknown country code or region, too few digits).
func (p Phone) fastHead(d []uint16, intl bool) (phoneHead, bool) {
	var h phoneHead
	if intl {
		t := phonePlanTable()
		cc := 0
		for l := 1; l <= 3 && l < len(d) && d[0] != 0; l++ { // calling codes do not start with 0
			cc = cc*10 + int(d[l-1])
			if t.intl[cc] != nil {
				h.plan, h.natOff = t.intl[cc], l
				break
			}
		}
	} else {
		h.plan = phonePlanTable().national[p.DefaultRegion]
	}
	if h.plan == nil {
		return h, false
	}
	h.nsnOff = h.natOff
	h.npAlt = -1
	if h.plan.npAlts != nil {
		i, l, ok := h.plan.npMatch(d[h.natOff:])
		if !ok {
			return h, false
		}
		if i >= 0 {
			h.strip, h.npAlt = true, i
			h.nsnOff += l
		}
	}
	h.nsnLen = len(d) - h.nsnOff
	if h.nsnLen < 2 || h.nsnLen > 17 {
		return h, false
	}
	zeros := 0
	for zeros < h.nsnLen && d[h.nsnOff+zeros] == 0 {
		zeros++
	}
	keep := max(zeros, h.nsnLen-phoneV2Digits, 0)
	h.k = h.nsnLen - keep
	if h.k < 6 {
		return h, false
	}
	h.noLZ = zeros == keep
	return h, true
}

// phoneV2Key names one kept head: the plan (notation, region or calling
// code), the option, and the kept digits.
type phoneV2Key struct {
	plan     *phonePlan
	possible bool
	npAlt    int8 // the national prefix alternative stripped, or -1: it
	// may depend on digits after the head, and decides where the NSN starts
	n    uint8
	hl   uint8
	head [phoneMaxLen]byte
}

// phoneFastDomain is the set F of one kept head.
type phoneFastDomain struct {
	dfa  *digitDFA // nil: F is empty
	size uint64
	k    int
	r    uint64 // FF1 over two numerals of radix r, r² ≥ size
	a    *fpe.Alphabet
}

var phoneDomainCache struct {
	sync.RWMutex
	m map[phoneV2Key]*phoneFastDomain
}

// fastDomain returns F for the head of d, building it on first use.
func (p Phone) fastDomain(d []uint16, intl bool) (*phoneFastDomain, bool) {
	h, ok := p.fastHead(d, intl)
	if !ok {
		return nil, false
	}
	key := phoneV2Key{plan: h.plan, possible: p.AllowPossible, npAlt: int8(h.npAlt), n: uint8(len(d)), hl: uint8(len(d) - h.k)}
	for i, x := range d[:len(d)-h.k] {
		key.head[i] = byte('0' + x)
	}
	phoneDomainCache.RLock()
	dom, ok := phoneDomainCache.m[key]
	phoneDomainCache.RUnlock()
	if ok {
		return dom, true
	}
	dom = buildPhoneDomain(h, key.head[:key.hl], p.AllowPossible)
	phoneDomainCache.Lock()
	if phoneDomainCache.m == nil {
		phoneDomainCache.m = map[phoneV2Key]*phoneFastDomain{}
	}
	if len(phoneDomainCache.m) >= phoneDomainCacheMax {
		// Evict a random quarter (map order is random): a working set
		// above the bound costs rebuilds, not a full restart.
		for k := range phoneDomainCache.m {
			if len(phoneDomainCache.m) <= phoneDomainCacheMax*3/4 {
				break
			}
			delete(phoneDomainCache.m, k)
		}
	}
	phoneDomainCache.m[key] = dom
	phoneDomainCache.Unlock()
	return dom, true
}

var phonePatterns struct {
	sync.Mutex
	m map[string]*syntax.Prog // nil: not supported
}

func phonePattern(pattern string) *syntax.Prog {
	phonePatterns.Lock()
	defer phonePatterns.Unlock()
	if prog, ok := phonePatterns.m[pattern]; ok {
		return prog
	}
	if phonePatterns.m == nil {
		phonePatterns.m = map[string]*syntax.Prog{}
	}
	prog, err := compileDigitPattern(pattern)
	if err != nil {
		prog = nil
	}
	phonePatterns.m[pattern] = prog
	return prog
}

// phoneTypeDescs are the number types getNumberTypeHelper tries, in its
// order; any of them makes a number valid.
func phoneTypeDescs(md *phonenumbers.PhoneMetadata) []*phonenumbers.PhoneNumberDesc {
	ds := []*phonenumbers.PhoneNumberDesc{md.GetPremiumRate(), md.GetTollFree(), md.GetSharedCost(), md.GetVoip(),
		md.GetPersonalNumber(), md.GetPager(), md.GetUan(), md.GetVoicemail(), md.GetFixedLine()}
	if !md.GetSameMobileAndFixedLinePattern() {
		ds = append(ds, md.GetMobile())
	}
	return ds
}

// descLengthOK is the possible-length half of isNumberMatchingDesc.
func descLengthOK(d *phonenumbers.PhoneNumberDesc, n int) bool {
	ls := d.GetPossibleLength()
	return len(ls) == 0 || slices.Contains(ls, int32(n))
}

// phoneLengthPossible is testNumberLength(nsn, md, UNKNOWN) ∈ {IS_POSSIBLE,
// IS_POSSIBLE_LOCAL_ONLY}, or only IS_POSSIBLE when strict.
func phoneLengthPossible(md *phonenumbers.PhoneMetadata, n int, strict bool) bool {
	gd := md.GetGeneralDesc()
	if gd.GetNationalNumberPattern() == "" {
		return n >= 2 && n <= 17
	}
	ls := gd.GetPossibleLength()
	if len(ls) == 0 || ls[0] == -1 {
		return false
	}
	return slices.Contains(ls, int32(n)) || !strict && slices.Contains(gd.GetPossibleLengthLocalOnly(), int32(n))
}

// buildPhoneDomain builds F for head h (head: the kept digits, ASCII).
// Any pattern the automaton cannot run makes F empty: every value of the
// head is then walked.
func buildPhoneDomain(h phoneHead, head []byte, possible bool) *phoneFastDomain {
	dom := &phoneFastDomain{k: h.k}
	pl := h.plan
	var ms []digitMatcher
	unsupported := false
	add := func(pattern string, off int, prefix bool) int {
		prog := phonePattern(pattern)
		if prog == nil {
			unsupported = true
			return 0
		}
		ms = append(ms, digitMatcher{prog: prog, off: off, prefix: prefix})
		return len(ms) - 1
	}
	n := len(head) + h.k
	var conds []func(m []bool) bool
	// National notation: libphonenumber first tries an international
	// prefix, then the region's own calling code, at the start.
	if pl.national {
		if idd := pl.md.GetInternationalPrefix(); idd != "" {
			i := add(idd, 0, true)
			conds = append(conds, func(m []bool) bool { return !m[i] })
		}
		ccp := add(regexp.QuoteMeta(pl.ccDigits), 0, true)
		gd := pl.md.GetGeneralDesc()
		tooLong := gd.GetNationalNumberPattern() != "" && len(gd.GetPossibleLength()) > 0 &&
			int32(n) > gd.GetPossibleLength()[len(gd.GetPossibleLength())-1]
		if gd.GetNationalNumberPattern() == "" {
			conds = append(conds, func(m []bool) bool { return !m[ccp] })
		} else {
			full := add(gd.GetNationalNumberPattern(), 0, false)
			conds = append(conds, func(m []bool) bool { return !m[ccp] || m[full] && !tooLong })
		}
	}
	// The national prefix: libphonenumber strips the first alternative
	// that matches (if the rest is viable and of a possible length), so
	// every completion must choose the alternative the head chose (none,
	// for h.npAlt -1), and be viable after it.
	switch {
	case pl.npAlts != nil:
		for j, alt := range pl.npAlts {
			if h.npAlt >= 0 && j > h.npAlt {
				break
			}
			if alt.length == 0 && !alt.anchored {
				continue // matches everything: chosen only as the head's
			}
			a := add(alt.pattern, h.natOff, !alt.anchored)
			want := j == h.npAlt
			conds = append(conds, func(m []bool) bool { return m[a] == want })
		}
		if h.strip {
			if !phoneLengthPossible(pl.md, h.nsnLen, true) || pl.md.GetGeneralDesc().GetNationalNumberPattern() == "" {
				return dom
			}
			i := add(pl.md.GetGeneralDesc().GetNationalNumberPattern(), h.nsnOff, false)
			conds = append(conds, func(m []bool) bool { return m[i] })
		}
	case pl.md.GetNationalPrefixForParsing() != "":
		i := add(pl.md.GetNationalPrefixForParsing(), h.natOff, true)
		conds = append(conds, func(m []bool) bool { return !m[i] })
	}
	// Validity: IsValidNumber, or IsPossibleNumber (a length only).
	if possible {
		if !phoneLengthPossible(pl.regions[0], h.nsnLen, false) {
			return dom
		}
	} else {
		type region struct {
			gd, ld int
			types  []int
		}
		var rs []region
		for _, md := range pl.regions {
			r := region{gd: -1, ld: -1}
			gd := md.GetGeneralDesc()
			if gd.GetNationalNumberPattern() != "" && descLengthOK(gd, h.nsnLen) {
				r.gd = add(gd.GetNationalNumberPattern(), h.nsnOff, false)
				for _, d := range phoneTypeDescs(md) {
					if d.GetNationalNumberPattern() != "" && descLengthOK(d, h.nsnLen) {
						r.types = append(r.types, add(d.GetNationalNumberPattern(), h.nsnOff, false))
					}
				}
			}
			if len(pl.regions) > 1 && md.GetLeadingDigits() != "" {
				r.ld = add(md.GetLeadingDigits(), h.nsnOff, true)
			}
			rs = append(rs, r)
		}
		valid := func(m []bool, r region) bool {
			if r.gd < 0 || !m[r.gd] {
				return false
			}
			for _, t := range r.types {
				if m[t] {
					return true
				}
			}
			return false
		}
		conds = append(conds, func(m []bool) bool {
			// getRegionCodeForNumberFromRegionList: the first region whose
			// leading digits match or, without leading digits, that
			// validates the number decides.
			for i, r := range rs {
				if len(rs) == 1 {
					return valid(m, r)
				}
				if r.ld >= 0 {
					if m[r.ld] {
						return valid(m, r)
					}
				} else if valid(m, rs[i]) {
					return true
				}
			}
			return false
		})
	}
	if unsupported {
		return dom
	}
	dfa, err := buildDigitDFA(ms, head, h.k, h.noLZ, func(m []bool) bool {
		for _, c := range conds {
			if !c(m) {
				return false
			}
		}
		return true
	})
	if err != nil {
		return dom
	}
	dom.dfa, dom.size = dfa, dfa.size()
	if dom.size >= minDomain {
		dom.r = phoneRadix(dom.size)
		dom.a = radixAlphabet(int(dom.r))
	}
	return dom
}

// phoneRadixes are the radixes of version 2's FF1 domain: 1000·2^(j/16),
// so that r² exceeds any size from 10^6 to 10^7 by at most 9% and cycle
// walking takes 1.09 steps at most on average, with few alphabets.
var phoneRadixes = sync.OnceValue(func() []uint64 {
	var rs []uint64
	for j := 0; ; j++ {
		r := uint64(math.Ceil(1000 * math.Pow(2, float64(j)/16)))
		rs = append(rs, r)
		if r*r >= 1e7 {
			return rs
		}
	}
})

func phoneRadix(size uint64) uint64 {
	for _, r := range phoneRadixes() {
		if r*r >= size {
			return r
		}
	}
	panic("tokenize: phone domain above 10^7")
}

// crypt permutes the indexes [0, size) of F.
func (dom *phoneFastDomain) crypt(e *Engine, part string, idx uint64, decrypt bool) (uint64, error) {
	c, err := e.cipher(dom.a)
	if err != nil {
		return 0, err
	}
	tw := e.partTweak(part)
	x := [2]uint16{uint16(idx / dom.r), uint16(idx % dom.r)}
	for range maxWalk {
		if decrypt {
			err = c.DecryptNumerals(x[:], x[:], tw)
		} else {
			err = c.EncryptNumerals(x[:], x[:], tw)
		}
		if err != nil {
			return 0, mapErr(err)
		}
		if idx = uint64(x[0])*dom.r + uint64(x[1]); idx < dom.size {
			return idx, nil
		}
	}
	return 0, errWalk
}

// inFast reports whether the digits d are in F of their head.
func (p Phone) inFast(d []uint16, intl bool) bool {
	dom, ok := p.fastDomain(d, intl)
	if !ok || dom.dfa == nil {
		return false
	}
	_, ok = dom.dfa.rank(d[len(d)-dom.k:])
	return ok
}

// transformV2 is Transform for Version 2.
func (p Phone) transformV2(e *Engine, v string, decrypt bool) (string, error) {
	if v == "" {
		return "", invalid("phone", "empty value")
	}
	if len(v) > phoneMaxLen {
		return "", invalid("phone", "longer than %d characters", phoneMaxLen)
	}
	var dbuf [phoneMaxLen]uint16
	d, err := phoneDigits(dbuf[:0], v)
	if err != nil {
		return "", err
	}
	intl := v[0] == '+'
	if !intl && p.DefaultRegion == "" {
		return "", invalid("phone", "national notation needs Phone.DefaultRegion")
	}
	part := ""
	if !intl {
		part = "region=" + p.DefaultRegion
	}
	if dom, ok := p.fastDomain(d, intl); ok && dom.dfa != nil {
		suffix := d[len(d)-dom.k:]
		if idx, ok := dom.dfa.rank(suffix); ok {
			if dom.size < minDomain {
				return "", tooSmall("phone", "%d valid tokens for this country and prefix, need 10^6", dom.size)
			}
			if idx, err = dom.crypt(e, part, idx, decrypt); err != nil {
				return "", err
			}
			dom.dfa.unrank(idx, suffix)
			return replaceDigits(v, d), nil
		}
	}
	return p.walkV2(e, v, part, decrypt)
}

// walkV2 is version 2 for values outside F: version 1's walk, under its
// own part, over the candidates libphonenumber accepts that are not in F.
func (p Phone) walkV2(e *Engine, v string, part string, decrypt bool) (string, error) {
	var pbuf [phoneMaxLen]uint16
	ph, err := p.parse(pbuf[:0], v, true)
	if err != nil {
		return "", err
	}
	d := ph.digits
	k := len(ph.nsn) - ph.keep
	if k < 6 {
		return "", tooSmall("phone", "%d digits to encrypt, need at least 6", k)
	}
	intl := v[0] == '+'
	var cbuf [phoneMaxLen]uint16
	ok := func(x []uint16) bool {
		c, err := p.parse(cbuf[:0], replaceDigits(v, x), true)
		return err == nil && c.cc == ph.cc && c.keep == ph.keep && len(c.nsn) == len(ph.nsn) &&
			c.nsn[:c.keep] == ph.nsn[:ph.keep] && !p.inFast(c.digits, intl)
	}
	if f := p.walkDomainV2(v, d, ph, k, ok); f < minDomain {
		return "", tooSmall("phone", "about %s valid tokens for this country and prefix, need 10^6", log10Domain(f))
	}
	err = e.walk("walk"+part, d[len(d)-k:], decrypt, func([]uint16) bool { return ok(d) })
	if err != nil {
		return "", err
	}
	return replaceDigits(v, d), nil
}

var phoneWalkDomains sync.Map // string -> float64

// walkDomainV2 estimates, from 256 fixed samples, how many completions of
// the last k digits of v walkV2 accepts.
func (p Phone) walkDomainV2(v string, d []uint16, ph parsedPhone, k int, ok func([]uint16) bool) float64 {
	x := slices.Clone(d)
	for i := len(x) - k; i < len(x); i++ {
		x[i] = 0
	}
	// ok depends on the value through its layout and kept digits (both in
	// the masked value) and its parse: calling code, NSN length, kept
	// length.
	key := fmt.Sprintf("%s\x00%t\x00%s\x00%d/%d/%d", p.DefaultRegion, p.AllowPossible, replaceDigits(v, x), ph.cc, len(ph.nsn), ph.keep)
	if f, ok := phoneWalkDomains.Load(key); ok {
		return f.(float64)
	}
	space := math.Pow(10, float64(k))
	state := uint64(0x9E3779B97F4A7C15)
	good := 0
	const samples = 256
	for range samples {
		state += 0x9E3779B97F4A7C15
		z := state
		z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
		z = (z ^ z>>27) * 0x94D049BB133111EB
		z ^= z >> 31
		putDigits(x[len(x)-k:], z%uint64(space))
		if ok(x) {
			good++
		}
	}
	f := space * float64(good) / samples
	phoneWalkDomains.Store(key, f)
	return f
}
