package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

// This file is the token vault's table (keystore.TokenVaultStore, used by
// tokenize.Vault): fieldcrypt_token_vault, one row per token. The table is
// created by every constructor but is not part of a schema version: it is
// new and independent of the others, so versions of this package that do
// not know it open the database as before and ignore it.

var _ keystore.TokenVaultStore = (*Store)(nil)

func (d SQL) tokenVaultSchema() []string {
	var ref, field, lookup, blob, bigint, suffix, unique string
	switch d {
	case SQLite:
		ref, field, lookup, blob, bigint = "BLOB", "BLOB", "BLOB", "BLOB", "INTEGER"
	case Postgres:
		ref, field, lookup, blob, bigint = "BYTEA", "BYTEA", "BYTEA", "BYTEA", "BIGINT"
	case MySQL:
		// Binary columns: tokens and fields are compared byte for byte,
		// never by a case-insensitive collation.
		ref, field, lookup, blob, bigint = "BINARY(16)", "VARBINARY(255)", "BINARY(32)", "BLOB", "BIGINT"
		suffix = " ENGINE=InnoDB"
	}
	unique = `,
	CONSTRAINT fieldcrypt_token_vault_lookup UNIQUE (field, lookup)`
	return []string{`CREATE TABLE IF NOT EXISTS fieldcrypt_token_vault (
	field ` + field + ` NOT NULL,
	token ` + field + ` NOT NULL,
	lookup ` + lookup + ` NOT NULL,
	subject_ref ` + ref + ` NOT NULL,
	key_id ` + ref + ` NOT NULL,
	sealed ` + blob + ` NOT NULL,
	created_at ` + bigint + ` NOT NULL,
	PRIMARY KEY (field, token)` + unique + `
)` + suffix}
}

const tokenEntryColumns = `token, lookup, subject_ref, key_id, sealed, created_at`

// PutTokenEntry implements keystore.TokenVaultStore. Both uniqueness rules
// are the table's constraints, so they hold across processes: of two
// concurrent inserts of one lookup, the second fails on the constraint
// (after the first commits) and returns the first's entry.
func (s *Store) PutTokenEntry(ctx context.Context, e keystore.TokenEntry) (keystore.TokenEntry, error) {
	if err := keystore.CheckTokenEntry(e); err != nil {
		return keystore.TokenEntry{}, fmt.Errorf("sqlstore: put token entry: %w", err)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q.insertTokenEntry, []byte(e.Field), []byte(e.Token), e.Lookup,
			e.Subject[:], e.Key[:], e.Sealed, micros(e.Created))
		return err
	})
	switch {
	case err == nil:
		return e, nil
	case s.dialect.Classify(err) != UniqueViolation:
		return keystore.TokenEntry{}, fmt.Errorf("sqlstore: put token entry: %w", err)
	}
	// The lookup or the token was taken; the winner has committed.
	got, err := s.TokenEntryByLookup(ctx, e.Field, e.Lookup)
	if errors.Is(err, keystore.ErrTokenNotFound) {
		return keystore.TokenEntry{}, keystore.ErrTokenTaken
	}
	return got, err
}

// TokenEntryByToken implements keystore.TokenVaultStore.
func (s *Store) TokenEntryByToken(ctx context.Context, field, token string) (keystore.TokenEntry, error) {
	return s.tokenEntry(ctx, field, s.q.tokenEntryByToken, []byte(token))
}

// TokenEntryByLookup implements keystore.TokenVaultStore.
func (s *Store) TokenEntryByLookup(ctx context.Context, field string, lookup []byte) (keystore.TokenEntry, error) {
	return s.tokenEntry(ctx, field, s.q.tokenEntryByLookup, lookup)
}

func (s *Store) tokenEntry(ctx context.Context, field, query string, key []byte) (keystore.TokenEntry, error) {
	e := keystore.TokenEntry{Field: field}
	var token, subject, id []byte
	var created int64
	err := s.db.QueryRowContext(ctx, query, []byte(field), key).Scan(&token, &e.Lookup, &subject, &id, &e.Sealed, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return keystore.TokenEntry{}, keystore.ErrTokenNotFound
	}
	if err != nil {
		return keystore.TokenEntry{}, fmt.Errorf("sqlstore: read token entry: %w", err)
	}
	if len(subject) != len(e.Subject) || len(id) != len(e.Key) {
		return keystore.TokenEntry{}, errors.New("sqlstore: read token entry: malformed subject or key reference")
	}
	e.Token = string(token)
	copy(e.Subject[:], subject)
	copy(e.Key[:], id)
	e.Created = fromMicros(created)
	return e, nil
}
