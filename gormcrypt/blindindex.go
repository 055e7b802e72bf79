package gormcrypt

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/keys"
)

// BlindIndexSize is the length of a blind index value in bytes, before hex
// encoding (so the column holds 32 characters).
const BlindIndexSize = 16

const labelBlindIndex = "fieldcrypt/gormcrypt/v1/blind-index/hmac-sha256"

// indexValue computes the blind index of v (a string, []byte or a pointer
// to one); nil stays nil.
func (p *Plugin) indexValue(ctx context.Context, b *blindMeta, v any) (any, error) {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case nil:
		return nil, nil
	default:
		rv := reflect.ValueOf(v)
		if rv.Kind() == reflect.Pointer {
			if rv.IsNil() {
				return nil, nil
			}
			rv = rv.Elem()
		}
		switch {
		case rv.Kind() == reflect.String:
			s = rv.String()
		case rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8:
			if rv.IsNil() {
				return nil, nil
			}
			s = string(rv.Bytes())
		default:
			return nil, fmt.Errorf("%w: blind index of %s: cannot index a %T", ErrInvalidModel, b.source.Name, v)
		}
	}
	k, err := p.kr.Current(ctx, b.subject, BlindIndexPurpose)
	if err != nil {
		return nil, fmt.Errorf("gormcrypt: blind index key for %s: %w", b.index.DBName, err)
	}
	key, err := k.Derive(labelBlindIndex, func(secret []byte) (any, error) {
		return hkdf.Key(sha256.New, secret, nil, labelBlindIndex, 32)
	})
	if err != nil {
		return nil, fmt.Errorf("gormcrypt: deriving blind index key: %w", err)
	}
	mac := hmac.New(sha256.New, key.([]byte))
	mac.Write([]byte(normalize(b.normalize, s)))
	var sum [sha256.Size]byte
	return hex.EncodeToString(mac.Sum(sum[:0])[:BlindIndexSize]), nil
}

func normalize(how, s string) string {
	switch how {
	case NormalizeExact:
		return s
	case NormalizeDigits:
		return strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, s)
	}
	return strings.ToLower(strings.TrimSpace(s))
}

// lookup finds the encrypted column field of model.
func (p *Plugin) lookup(db *gorm.DB, model any, field string) (*columnMeta, *blindMeta, error) {
	m, err := p.parse(db, model)
	if err != nil {
		return nil, nil, err
	}
	var c *columnMeta
	for _, col := range m.columns {
		if col.field.Name == field || col.dbName == field {
			c = col
		}
	}
	if c == nil {
		return nil, nil, fmt.Errorf("%w: %s has no encrypted field %q", ErrInvalidModel, m.table, field)
	}
	for _, b := range m.blind {
		if b.source == c.field {
			return c, b, nil
		}
	}
	return c, nil, nil
}

// BlindIndex returns the value the blind index of model's encrypted field
// (named by Go field or column name) holds for rows whose field equals
// value after normalisation, and the index column's name. Most users want
// WhereEqual instead.
func BlindIndex(ctx context.Context, db *gorm.DB, model any, field string, value string) (column, index string, err error) {
	p, err := pluginOf(db)
	if err != nil {
		return "", "", err
	}
	c, b, err := p.lookup(db, model, field)
	if err != nil {
		return "", "", err
	}
	if b == nil {
		return "", "", fmt.Errorf("%w: %s.%s has no blind index", ErrUnsupported, c.model.table, c.dbName)
	}
	v, err := p.indexValue(ctx, b, value)
	if err != nil {
		return "", "", err
	}
	return b.index.DBName, v.(string), nil
}

// WhereEqual returns a scope that keeps the rows whose encrypted field
// (named by Go field or column name) equals value, without decrypting the
// table:
//
//	db.Scopes(gormcrypt.WhereEqual(ctx, &Customer{}, "Email", "Ada@Example.com")).Find(&found)
//
// A field with a blind index is matched through it, across all subjects
// and after the index's normalisation. A deterministic field without one
// is matched exactly, for the one subject named by the context (see
// WithSubject). A randomised field without a blind index cannot be
// searched: the scope fails the query with ErrUnsupported.
func WhereEqual(ctx context.Context, model any, field string, value any) func(*gorm.DB) *gorm.DB {
	return func(db *gorm.DB) *gorm.DB {
		p, err := pluginOf(db)
		if err != nil {
			db.AddError(err)
			return db
		}
		c, b, err := p.lookup(db, model, field)
		if err != nil {
			db.AddError(err)
			return db
		}
		var col string
		var vs []any
		switch {
		case b != nil:
			col = b.index.DBName
			var v any
			if v, err = p.indexValue(ctx, b, value); v != nil {
				vs = []any{v}
			}
		case c.mode == envelope.Deterministic:
			col = c.dbName
			subject, _ := ctx.Value(subjectKey{}).(string)
			if subject == "" {
				err = fmt.Errorf("%w: WhereEqual on deterministic %s.%s needs the subject in the context (WithSubject)",
					ErrNoSubject, c.model.table, c.dbName)
				break
			}
			if err = checkSubject(subject); err == nil {
				vs, err = p.sealAll(ctx, c, subject, value)
			}
		default:
			err = fmt.Errorf("%w: %s.%s is randomised and has no blind index, so it cannot be searched",
				ErrUnsupported, c.model.table, c.dbName)
		}
		if err != nil {
			db.AddError(err)
			return db
		}
		if len(vs) == 0 {
			return db.Where(clause.Expr{SQL: "1 = 0"})
		}
		return db.Where(clause.IN{Column: clause.Column{Table: clause.CurrentTable, Name: col}, Values: vs})
	}
}

// Forget is the erasure request for one data subject: it crypto-shreds the
// subject's keys with keys.Keyring.Forget, so every ciphertext of theirs in
// every service sharing the keystore becomes unreadable, and then sets to
// NULL their blind index values in every model gormcrypt knows (those
// given to Models and those used since), in one transaction, so lookups by
// their old values find nothing. Rows are not deleted.
//
// Forget is idempotent: if clearing the indexes fails, call it again.
// Global-scope tokens (when the tokenize package provides them) survive
// Forget by design; delete their rows to erase them. reason is stored and
// logged: use a ticket reference, not personal data.
func Forget(ctx context.Context, db *gorm.DB, subject, reason string) (keys.Tombstone, error) {
	p, err := pluginOf(db)
	if err != nil {
		return keys.Tombstone{}, err
	}
	if err := checkSubject(subject); err != nil {
		return keys.Tombstone{}, fmt.Errorf("gormcrypt: forget: %w", err)
	}
	t, err := p.kr.Forget(ctx, subject, reason)
	if err != nil {
		return keys.Tombstone{}, fmt.Errorf("gormcrypt: forget: %w", err)
	}
	p.mu.Lock()
	models := make([]*modelMeta, 0, len(p.models))
	for _, m := range p.models {
		models = append(models, m)
	}
	p.mu.Unlock()
	sort.Slice(models, func(i, j int) bool { return models[i].table < models[j].table })
	err = db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for _, m := range models {
			set := make(map[string]any, len(m.blind))
			for _, b := range m.blind {
				set[b.index.DBName] = nil
			}
			res := tx.Table(m.table).
				Where(clause.Eq{Column: clause.Column{Name: m.subject.DBName}, Value: subject}).
				UpdateColumns(set)
			if res.Error != nil && !errors.Is(res.Error, gorm.ErrMissingWhereClause) {
				return fmt.Errorf("clearing blind indexes of %s: %w", m.table, res.Error)
			}
		}
		return nil
	})
	if err != nil {
		return t, fmt.Errorf("gormcrypt: forget: keys destroyed, but %w; call Forget again", err)
	}
	return t, nil
}
