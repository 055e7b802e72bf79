module github.com/fieldcrypt/fieldcrypt

go 1.25.5

require (
	github.com/nyaruka/phonenumbers v1.8.1
	github.com/tink-crypto/tink-go/v2 v2.9.0
	golang.org/x/sys v0.46.0
)

require (
	golang.org/x/crypto v0.53.0 // indirect
	golang.org/x/text v0.38.0 // indirect
	google.golang.org/protobuf v1.36.11 // indirect
)
