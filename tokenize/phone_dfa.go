package tokenize

import (
	"encoding/binary"
	"errors"
	"regexp/syntax"
	"slices"
)

// This file turns libphonenumber's national number patterns into a
// counting automaton over decimal digits, for Phone version 2: the set of
// digit strings of one length that a boolean combination of patterns
// accepts is ranked and unranked (string ↔ index in [0, count)) without
// running a regular expression per candidate.
//
// The patterns are compiled with regexp/syntax, the parser and compiler of
// package regexp, which libphonenumber's Go port uses to match them, so
// every feature of its metadata (classes, {n,m} repeats, alternation,
// groups, optional parts) means exactly what it means there. Programs with
// empty-width assertions (^, $, \b) are refused with errPatternUnsupported
// and the caller falls back to walking.

var errPatternUnsupported = errors.New("tokenize: phone pattern not supported by the digit automaton")

// maxDigitNodes bounds the automaton of one domain; beyond it the caller
// falls back to walking.
const maxDigitNodes = 1 << 17

// compileDigitPattern compiles pattern as package regexp does.
func compileDigitPattern(pattern string) (*syntax.Prog, error) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil, err
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return nil, err
	}
	for _, in := range prog.Inst {
		if in.Op == syntax.InstEmptyWidth {
			return nil, errPatternUnsupported
		}
	}
	return prog, nil
}

// digitMatcher is one pattern run over the digits of a number from offset
// off on: a full match ends at the last digit ("^(?:p)$", as
// libphonenumber's isNumberMatchingDesc), a prefix match ("^(?:p)", as
// leading digits and national and international prefixes are matched)
// holds once some prefix matches.
type digitMatcher struct {
	prog   *syntax.Prog
	off    int
	prefix bool
}

// nfaState is the state of one matcher: the rune instructions it waits
// on, and whether it matched (full: the digits so far; prefix: some prefix).
type nfaState struct {
	pcs     []uint32
	matched bool
}

// closure adds pc and what it reaches without a digit to s.
func (m *digitMatcher) closure(s *nfaState, pc uint32, seen []bool) {
	if seen[pc] {
		return
	}
	seen[pc] = true
	in := &m.prog.Inst[pc]
	switch in.Op {
	case syntax.InstAlt, syntax.InstAltMatch:
		m.closure(s, in.Out, seen)
		m.closure(s, in.Arg, seen)
	case syntax.InstCapture, syntax.InstNop:
		m.closure(s, in.Out, seen)
	case syntax.InstMatch:
		s.matched = true
	case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
		s.pcs = append(s.pcs, pc)
	}
}

func (m *digitMatcher) start() nfaState {
	var s nfaState
	m.closure(&s, uint32(m.prog.Start), make([]bool, len(m.prog.Inst)))
	slices.Sort(s.pcs)
	return s
}

// step returns the state after digit d. A prefix matcher that matched
// stays matched and needs no instructions any more.
func (m *digitMatcher) step(s nfaState, d byte) nfaState {
	if m.prefix && s.matched {
		return s
	}
	var out nfaState
	out.matched = m.prefix && s.matched
	r := rune('0' + d)
	var seen []bool
	for _, pc := range s.pcs {
		in := &m.prog.Inst[pc]
		var ok bool
		switch in.Op {
		case syntax.InstRune, syntax.InstRune1:
			ok = in.MatchRune(r)
		case syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
			ok = true
		}
		if ok {
			if seen == nil {
				seen = make([]bool, len(m.prog.Inst))
			}
			m.closure(&out, in.Out, seen)
		}
	}
	if m.prefix && out.matched {
		out.pcs = nil
	}
	slices.Sort(out.pcs)
	return out
}

// digitDFA is the layered automaton of the completions of one head: node
// 0 is the state after the head, next[node][d] the node after digit d (-1
// when no completion through it is accepted), count[node] the number of
// accepted completions from node, below[node][d] the number of those
// through a digit smaller than d.
type digitDFA struct {
	k     int
	next  [][10]int32
	count []uint64
	below [][10]uint64
}

// buildDigitDFA feeds head (the digits before the completions) to the
// matchers, then explores the k remaining digits. accept decides a
// complete number from the matchers' final results (full matchers: matched
// at the end; prefix matchers: matched somewhere). noLeadingZero removes
// the completions whose first digit is 0.
func buildDigitDFA(ms []digitMatcher, head []byte, k int, noLeadingZero bool, accept func(matched []bool) bool) (*digitDFA, error) {
	if k <= 0 {
		return nil, errPatternUnsupported
	}
	n := len(head) + k
	type tuple struct {
		st     []nfaState
		active []bool
	}
	cur := tuple{st: make([]nfaState, len(ms)), active: make([]bool, len(ms))}
	activate := func(t *tuple, pos int) {
		for i := range ms {
			if ms[i].off == pos {
				t.st[i], t.active[i] = ms[i].start(), true
			}
		}
	}
	stepAll := func(t tuple, d byte) tuple {
		out := tuple{st: make([]nfaState, len(ms)), active: slices.Clone(t.active)}
		for i := range ms {
			if t.active[i] {
				out.st[i] = ms[i].step(t.st[i], d)
			}
		}
		return out
	}
	activate(&cur, 0)
	for p, c := range head {
		cur = stepAll(cur, c-'0')
		activate(&cur, p+1)
	}
	for i := range ms {
		if ms[i].off > n {
			return nil, errPatternUnsupported
		}
	}
	var keyBuf []byte
	key := func(t tuple) string {
		keyBuf = keyBuf[:0]
		for i := range ms {
			f := byte(0)
			if t.active[i] {
				f |= 1
			}
			if t.st[i].matched {
				f |= 2
			}
			keyBuf = append(keyBuf, f)
			keyBuf = binary.AppendUvarint(keyBuf, uint64(len(t.st[i].pcs)))
			for _, pc := range t.st[i].pcs {
				keyBuf = binary.AppendUvarint(keyBuf, uint64(pc))
			}
		}
		return string(keyBuf)
	}
	dfa := &digitDFA{k: k}
	layer := []tuple{cur}
	total := 0
	for depth := 0; depth < k; depth++ {
		index := map[string]int32{}
		var nextLayer []tuple
		base := int32(total + len(layer))
		for _, t := range layer {
			var row [10]int32
			for d := range 10 {
				if depth == 0 && d == 0 && noLeadingZero {
					row[d] = -1
					continue
				}
				nt := stepAll(t, byte(d))
				activate(&nt, len(head)+depth+1)
				kk := key(nt)
				id, ok := index[kk]
				if !ok {
					id = base + int32(len(nextLayer))
					index[kk] = id
					nextLayer = append(nextLayer, nt)
				}
				row[d] = id
			}
			dfa.next = append(dfa.next, row)
		}
		total += len(layer)
		if total+len(nextLayer) > maxDigitNodes {
			return nil, errPatternUnsupported
		}
		layer = nextLayer
	}
	// The last layer: complete numbers.
	matched := make([]bool, len(ms))
	for _, t := range layer {
		for i := range ms {
			matched[i] = t.active[i] && t.st[i].matched
		}
		c := uint64(0)
		if accept(matched) {
			c = 1
		}
		dfa.next = append(dfa.next, [10]int32{-1, -1, -1, -1, -1, -1, -1, -1, -1, -1})
		dfa.count = append(dfa.count, c)
	}
	// Counts, from the last inner layer back to the first.
	inner := total
	full := make([]uint64, len(dfa.next))
	copy(full[inner:], dfa.count)
	dfa.count = full
	dfa.below = make([][10]uint64, len(dfa.next))
	for node := inner - 1; node >= 0; node-- {
		var sum uint64
		for d := range 10 {
			t := dfa.next[node][d]
			dfa.below[node][d] = sum
			if t < 0 || dfa.count[t] == 0 {
				dfa.next[node][d] = -1
				continue
			}
			sum += dfa.count[t]
		}
		dfa.count[node] = sum
	}
	return dfa, nil
}

// size is the number of accepted completions.
func (a *digitDFA) size() uint64 { return a.count[0] }

// rank returns the index of the completion d (len(d) == k digits) among
// the accepted ones in increasing order, or false when d is not accepted.
func (a *digitDFA) rank(d []uint16) (uint64, bool) {
	node, r := int32(0), uint64(0)
	for _, x := range d {
		if x > 9 {
			return 0, false
		}
		r += a.below[node][x]
		node = a.next[node][x]
		if node < 0 {
			return 0, false
		}
	}
	return r, a.count[node] == 1
}

// unrank writes the completion of index x < size() into d.
func (a *digitDFA) unrank(x uint64, d []uint16) {
	node := int32(0)
	for i := range d {
		dd := 9
		for dd > 0 && (a.next[node][dd] < 0 || a.below[node][dd] > x) {
			dd--
		}
		x -= a.below[node][dd]
		d[i] = uint16(dd)
		node = a.next[node][dd]
	}
}
