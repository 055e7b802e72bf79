// Package coldread measures what a cold key cache costs a gormcrypt list
// page with the keystore in PostgreSQL (keys/sqlstore/postgres) and the
// root key in HashiCorp Vault Transit (keys/vaultkms): its test counts the
// keystore statements and Vault requests of a 1000-row Find over 1000
// customers, and its benchmark times that Find cold, warm and without the
// plugin. Both need the servers of .ci/run:
//
//	eval "$(bash internal/vaultharness/start.sh)"
//	FIELDCRYPT_TEST_POSTGRES_DSN='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' \
//		go test -run . -bench . ./examples/coldread
package coldread
