package fpe

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by this package wraps exactly one of
// them, so callers can branch with [errors.Is]. Messages start with "fpe: "
// and name a position or a rule; they never contain the plaintext, the
// ciphertext, a tweak or a key.
var (
	// ErrDomainTooSmall reports an input whose domain radix^length is below
	// [MinDomainSize] (NIST SP 800-38G Rev.1), or shorter than 2 numerals.
	ErrDomainTooSmall = errors.New("fpe: domain too small")

	// ErrInvalidInput reports a plaintext or ciphertext that cannot be
	// processed: a character outside the alphabet, a numeral ≥ radix, or a
	// length above the algorithm's maximum.
	ErrInvalidInput = errors.New("fpe: invalid input")

	// ErrInvalidTweak reports a tweak of a length the algorithm does not
	// accept (FF3-1: exactly 7 bytes; FF1: at most [MaxTweakLenFF1] bytes).
	ErrInvalidTweak = errors.New("fpe: invalid tweak")

	// ErrInvalidKey reports a key that is not 16, 24 or 32 bytes long.
	ErrInvalidKey = errors.New("fpe: invalid key")

	// ErrInvalidAlphabet reports an alphabet that has fewer than 2 or more
	// than 65536 characters, repeats a character, is not valid UTF-8 or
	// contains U+FFFD.
	ErrInvalidAlphabet = errors.New("fpe: invalid alphabet")
)

// wrapf returns an error that wraps sentinel and reads "sentinel: detail".
func wrapf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)
}
