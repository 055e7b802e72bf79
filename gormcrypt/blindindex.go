package gormcrypt

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/insecuresecretaccess"
)

// BlindIndexSize is the length of a blind index value in bytes, before hex
// encoding (so the column holds 32 characters).
const BlindIndexSize = 16

const labelBlindIndex = "fieldcrypt/gormcrypt/v1/blind-index/hmac-sha256"

// what names the kind of companion column b is, for errors.
func (b *blindMeta) what() string {
	if b.mark {
		return "token marker"
	}
	if b.mask != "" {
		return "mask column"
	}
	return "blind index"
}

// indexValue computes the blind index of v (a string, []byte or a pointer
// to one) under the version of the index key writes use (see
// WithBlindIndexGrace); nil stays nil.
func (p *Plugin) indexValue(ctx context.Context, b *blindMeta, v any) (any, error) {
	if b.mark {
		return true, nil // the plugin writes the source: it holds a token (or NULL)
	}
	if b.mask != "" {
		return maskValue(b, v)
	}
	s, null, err := indexInput(b, v)
	if err != nil || null {
		return nil, err
	}
	k, err := p.writeKey(ctx, b)
	if err != nil {
		return nil, fmt.Errorf("gormcrypt: blind index key for %s: %w", b.index.DBName, err)
	}
	return indexUnder(k, b.normalize, s)
}

// indexValues computes the blind index of v under every live version of
// the index key, newest first: what a lookup must match, since rows
// indexed before a rotation (and not yet re-indexed) hold older values.
// nil means v is NULL or nothing was ever indexed, so no row can match.
func (p *Plugin) indexValues(ctx context.Context, b *blindMeta, v any) ([]any, error) {
	s, null, err := indexInput(b, v)
	if err != nil || null {
		return nil, err
	}
	ks, err := p.kr.LiveKeys(ctx, b.subject, BlindIndexPurpose)
	if err != nil {
		return nil, fmt.Errorf("gormcrypt: blind index keys for %s: %w", b.index.DBName, err)
	}
	out := make([]any, 0, len(ks))
	for _, k := range ks {
		x, err := indexUnder(k, b.normalize, s)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

// indexInput returns the string a blind index hashes (before
// normalisation), or null for NULL.
func indexInput(b *blindMeta, v any) (s string, null bool, err error) {
	switch x := v.(type) {
	case string:
		return x, false, nil
	case nil:
		return "", true, nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return "", true, nil
		}
		rv = rv.Elem()
	}
	switch {
	case rv.Kind() == reflect.String:
		return rv.String(), false, nil
	case rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8:
		if rv.IsNil() {
			return "", true, nil
		}
		return string(rv.Bytes()), false, nil
	}
	return "", false, fmt.Errorf("%w: blind index of %s: cannot index a %T", ErrInvalidModel, b.source.Name, v)
}

// indexUnder is the blind index of s under one version of the index key:
// hex(HMAC-SHA256(HKDF(key), normalize(s))[:BlindIndexSize]).
func indexUnder(k *keys.Key, how, s string) (string, error) {
	key, err := keys.Derive(k, insecuresecretaccess.Token{}, labelBlindIndex, func(secret []byte) ([]byte, error) {
		return hkdf.Key(sha256.New, secret, nil, labelBlindIndex, 32)
	})
	if err != nil {
		return "", fmt.Errorf("gormcrypt: deriving blind index key: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(normalize(how, s)))
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
// value after normalisation, as writes store it now, and the index
// column's name. After RotateBlindIndex, rows not yet re-indexed hold the
// value of an older key version: match [BlindIndexes] for those. Most
// users want WhereEqual instead.
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
//	db.Scopes(gormcrypt.WhereEqual(&Customer{}, "Email", "Ada@Example.com")).Find(&found)
//
// A field with a blind index is matched through it, across all subjects
// and after the index's normalisation. A deterministic field without one
// is matched exactly, for the one subject named by the statement's context
// (db.WithContext(gormcrypt.WithSubject(ctx, "customer-42"))). A randomised
// field without a blind index cannot be searched: the scope fails the
// query with ErrUnsupported. Keys are read with the statement's context.
//
// Rows written before a key rotation are found: the value is computed under
// every live version of the key (the blind index key, or the subject's key
// for a deterministic field) and matched with IN, one HMAC or AES-SIV
// operation per live version.
//
// The condition names the column with the table of model, as the
// statement knows it when the SQL is built: the statement's own table
// (with its alias, as in db.Table("customers c")), else the alias GORM
// gives a relation joined with Joins (the relation's name, "Customer" for
// Joins("Customer"), or "Customer__Company" for a nested join), else the
// model's table name. So it works inside Preload conditions and on joined
// relations:
//
//	db.Joins("Customer").Scopes(gormcrypt.WhereEqual(&Customer{}, "Email", v)).Find(&orders)
//
// If the model's table is joined twice, or under an alias GORM does not
// know (a raw JOIN), use [WhereEqualAs].
func WhereEqual(model any, field string, value any) func(*gorm.DB) *gorm.DB {
	return whereEqual("", model, field, value)
}

// WhereEqualAs is WhereEqual with the table of the column named explicitly:
// alias is the name or alias under which model's table appears in the
// query, as in
//
//	db.Joins("JOIN customers c ON c.id = orders.customer_id").
//		Scopes(gormcrypt.WhereEqualAs("c", &Customer{}, "Email", v))
//
// Most users won't need it: WhereEqual finds the statement's table and the
// relations joined with Joins on its own.
func WhereEqualAs(alias string, model any, field string, value any) func(*gorm.DB) *gorm.DB {
	if alias == "" {
		panic("gormcrypt: WhereEqualAs needs a table name or alias")
	}
	return whereEqual(alias, model, field, value)
}

func whereEqual(alias string, model any, field string, value any) func(*gorm.DB) *gorm.DB {
	return func(db *gorm.DB) *gorm.DB {
		ctx := db.Statement.Context
		if ctx == nil {
			ctx = context.Background()
		}
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
			vs, err = p.indexValues(ctx, b, value)
		case c.mode == envelope.Deterministic:
			col = c.dbName
			subject, _ := ctx.Value(subjectKey{}).(string)
			if subject == "" {
				err = fmt.Errorf("%w: WhereEqual on deterministic %s.%s needs the subject in the statement's context (db.WithContext(gormcrypt.WithSubject(ctx, ...)))",
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
		return db.Where(equalExpr{table: c.model.table, alias: alias, column: col, values: vs})
	}
}
