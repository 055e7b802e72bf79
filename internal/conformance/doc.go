// Package conformance holds fieldcrypt's tests against third-party
// references that would raise what the core module asks of its users:
// Project Wycheproof's vectors (its module needs Go 1.26.4) for the
// primitives under envelope and for FF1, and cross-checks and benchmarks
// against github.com/capitalone/fpe. It is a module of its own, never
// imported; `go test github.com/fieldcrypt/fieldcrypt/...` runs it with
// the others.
package conformance
