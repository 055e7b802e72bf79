module github.com/fieldcrypt/fieldcrypt/internal/conformance

go 1.26.4

require (
	github.com/c2sp/wycheproof v0.0.0-20260902155932-3fa63dd0344a
	github.com/capitalone/fpe v1.2.1
	github.com/fieldcrypt/fieldcrypt v0.0.0-00010101000000-000000000000
	github.com/tink-crypto/tink-go/v2 v2.9.0
)

require golang.org/x/sys v0.46.0 // indirect

replace github.com/fieldcrypt/fieldcrypt => ../..
