package tokenize

// PhoneV2Fast reports whether version 2 maps v through its automaton
// (true) or walks it (false), for the tests of package tokenize_test.
func PhoneV2Fast(p Phone, v string) bool {
	var buf [phoneMaxLen]uint16
	d, err := phoneDigits(buf[:0], v)
	if err != nil || v == "" {
		return false
	}
	return p.inFast(d, v[0] == '+')
}
