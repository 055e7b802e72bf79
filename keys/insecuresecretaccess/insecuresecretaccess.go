// Package insecuresecretaccess gates access to raw subject key material.
//
// A subject key's secret is reachable only through keys.Derive, which
// requires a [Token]. The Token carries no capability of its own: it exists
// so that every place that handles raw key material imports this loudly
// named package and can be found with
//
//	grep -rn insecuresecretaccess .
//
// and reviewed. Code that only encrypts, decrypts or tokenizes through
// packages envelope, tokenize and gormcrypt never needs it. Most users
// won't import this package.
package insecuresecretaccess

// Token is passed to keys.Derive to mark a use of raw key material. Its
// zero value, Token{}, is the only value.
type Token struct{}
