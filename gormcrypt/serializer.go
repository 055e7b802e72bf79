package gormcrypt

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"time"

	"gorm.io/gorm/schema"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/keys"
)

// serializer is the GORM serializer behind both names. It is stateless:
// GORM's registry is global, so the Cipher is found through the statement
// context, which the Plugin's callbacks prepare.
type serializer struct{ mode envelope.Mode }

var _ schema.SerializerInterface = serializer{}

var text = base64.RawURLEncoding

// Value encrypts fieldValue for the row's subject. NULL (a nil pointer or
// a nil []byte) stays NULL.
func (s serializer) Value(ctx context.Context, field *schema.Field, dst reflect.Value, fieldValue any) (any, error) {
	st, err := stateFrom(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w (writing %s.%s)", err, field.Schema.Table, field.DBName)
	}
	if v, ok := st.presealed(field, dst); ok {
		return v, nil
	}
	c, err := st.p.column(field)
	if err != nil {
		return nil, err
	}
	subject, err := st.subject(ctx, c.model, dst)
	if err != nil {
		return nil, c.errorf(err)
	}
	return st.p.seal(ctx, c, subject, fieldValue)
}

// seal encrypts v (of the column's type, or a pointer to it) for subject
// and returns the column value: the ciphertext's text form, or nil.
func (p *Plugin) seal(ctx context.Context, c *columnMeta, subject string, v any) (any, error) {
	if c.mode == modeToken {
		return p.tokenize(ctx, c, subject, v)
	}
	pt, null, err := encode(c, v)
	if err != nil {
		return nil, c.errorf(err)
	}
	if null {
		return nil, nil
	}
	if c.maxLen > 0 && len(pt) > c.maxLen {
		return nil, c.errorf(fmt.Errorf("%w: the value is %d bytes and the column's size:%d holds at most %d encrypted",
			ErrValueTooLong, len(pt), c.field.Size, c.maxLen))
	}
	ad := envelope.AssociatedData(c.model.table, c.dbName, subject)
	var ct []byte
	if c.mode == envelope.Deterministic {
		ct, err = p.c.EncryptDeterministic(ctx, subject, pt, ad)
	} else {
		ct, err = p.c.Encrypt(ctx, subject, pt, ad)
	}
	if err != nil {
		return nil, c.errorf(err)
	}
	return text.EncodeToString(ct), nil
}

// Scan decrypts dbValue into the field of dst. In a Query statement it
// keeps dbValue instead, for openDeferred to decrypt with the other rows'
// values once they are all scanned (autowarm.go). Otherwise the row's
// subject field must already be set, which it is when it is selected
// before the encrypted columns (see the package documentation).
func (s serializer) Scan(ctx context.Context, field *schema.Field, dst reflect.Value, dbValue any) error {
	rv := field.ReflectValueOf(ctx, dst)
	if dbValue == nil {
		rv.Set(reflect.Zero(field.FieldType))
		return nil
	}
	st, err := stateFrom(ctx)
	if err != nil {
		return fmt.Errorf("%w (reading %s.%s)", err, field.Schema.Table, field.DBName)
	}
	if st.failed.Load() {
		// The statement already failed; one error is enough, and a query
		// over many rows must not build a message per column.
		rv.Set(reflect.Zero(field.FieldType))
		return nil
	}
	if st.deferRead(field, dst, rv, dbValue) {
		return nil // decrypted with the statement's other rows (autowarm.go)
	}
	if err := st.p.open(ctx, st, field, dst, rv, dbValue); err != nil {
		st.failed.Store(true)
		rv.Set(reflect.Zero(field.FieldType))
		return err
	}
	return nil
}

func (p *Plugin) open(ctx context.Context, st *stmtState, field *schema.Field, dst, rv reflect.Value, dbValue any) error {
	c, err := p.column(field)
	if err != nil {
		return err
	}
	if p.hidden(ctx, c) {
		openMasked(c, rv) // decided before any key is used (mask.go)
		return nil
	}
	if c.mode == modeToken {
		return p.detokenize(ctx, st, c, dst, rv, dbValue)
	}
	if c.migrating {
		// Plaintext is accepted only if it cannot be taken for a
		// ciphertext; one that looks like a ciphertext must decrypt below.
		if s, ok := storedText(dbValue); ok && !isCiphertext(s) {
			openPlaintext(c, s, rv)
			return nil
		}
	}
	var ct []byte
	switch v := dbValue.(type) {
	case string:
		ct, err = text.DecodeString(v)
	case []byte:
		ct, err = text.AppendDecode(nil, v)
	default:
		return c.errorf(fmt.Errorf("%w: column holds %T, not text", envelope.ErrMalformed, dbValue))
	}
	if err != nil {
		return c.errorf(fmt.Errorf("%w (%w): not valid unpadded URL-safe base64; plaintext left from before adoption? "+
			"mark the column migrating and run Backfill", ErrPlaintext, envelope.ErrMalformed))
	}
	subject, err := st.subject(ctx, c.model, dst)
	if err != nil {
		return c.errorf(err)
	}
	pt, err := p.c.Decrypt(ctx, ct, envelope.AssociatedData(c.model.table, c.dbName, subject))
	if err != nil {
		if p.redact && errors.Is(err, keys.ErrKeyDestroyed) {
			p.redacted(ctx, c, dst, rv)
			return nil
		}
		return c.errorf(err)
	}
	st.accessed(ctx, c, subject)
	return decode(c, pt, rv)
}

func (c *columnMeta) errorf(err error) error {
	return fmt.Errorf("gormcrypt: %s.%s: %w", c.model.table, c.dbName, err)
}

// subject finds the data subject of the row dst: its subject field, else
// the statement's model (Updates with a separate struct), else the context.
func (st *stmtState) subject(ctx context.Context, m *modelMeta, dst reflect.Value) (string, error) {
	var s string
	if m.subject != nil {
		if v := reflect.Indirect(dst); v.IsValid() && v.Kind() == reflect.Struct {
			s = m.subject.ReflectValueOf(ctx, v).String()
		}
		if s == "" && st.stmt != nil && st.stmt.Schema != nil && st.stmt.Schema.LookUpField(m.subject.Name) == m.subject {
			if v := reflect.Indirect(st.stmt.ReflectValue); v.IsValid() && v.Kind() == reflect.Struct {
				s = m.subject.ReflectValueOf(ctx, v).String()
			}
		}
	}
	if s == "" {
		s, _ = ctx.Value(subjectKey{}).(string)
	}
	if s == "" {
		if m.subject != nil {
			return "", fmt.Errorf("%w: the subject field %s is empty (or was not selected before the encrypted columns) and the context names none",
				ErrNoSubject, m.subject.Name)
		}
		return "", fmt.Errorf("%w: the model has no fieldcrypt:\"subject\" field; use gormcrypt.WithSubject", ErrNoSubject)
	}
	if err := checkSubject(s); err != nil {
		return "", err
	}
	return s, nil
}

// encode turns a value of the column's type into plaintext bytes.
func encode(c *columnMeta, v any) (pt []byte, null bool, err error) {
	switch x := v.(type) { // the common cases, without reflection
	case string:
		if c.kind == kindString {
			return []byte(x), false, nil
		}
	case []byte:
		if c.kind == kindBytes {
			if x == nil {
				return nil, true, nil
			}
			return x, false, nil
		}
	case nil:
		return nil, true, nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil, true, nil
		}
		rv = rv.Elem()
	}
	bad := func() ([]byte, bool, error) {
		return nil, false, fmt.Errorf("%w: cannot store a %T in a %s column", ErrInvalidModel, v, c.typ)
	}
	switch c.kind {
	case kindString:
		if rv.Kind() != reflect.String {
			return bad()
		}
		return []byte(rv.String()), false, nil
	case kindBytes:
		if rv.Kind() != reflect.Slice || rv.Type().Elem().Kind() != reflect.Uint8 {
			return bad()
		}
		if rv.IsNil() {
			return nil, true, nil
		}
		return rv.Bytes(), false, nil
	case kindTime:
		t, ok := rv.Interface().(time.Time)
		if !ok {
			return bad()
		}
		b, err := t.MarshalBinary()
		if err != nil {
			return nil, false, fmt.Errorf("%w: %v", ErrInvalidModel, err)
		}
		return b, false, nil
	case kindInt, kindUint:
		var u uint64
		switch {
		case rv.CanInt():
			i := rv.Int()
			if c.kind == kindUint && i < 0 {
				return bad()
			}
			u = uint64(i)
		case rv.CanUint():
			u = rv.Uint()
			if c.kind == kindInt && u > math.MaxInt64 {
				return bad()
			}
		default:
			return bad()
		}
		// Fixed width, so the ciphertext length does not reveal magnitude.
		return binary.BigEndian.AppendUint64(make([]byte, 0, 8), u), false, nil
	}
	return bad()
}

// decode stores plaintext pt into the field rv.
func decode(c *columnMeta, pt []byte, rv reflect.Value) error {
	target := rv
	var ptr reflect.Value
	if c.ptr {
		ptr = reflect.New(c.typ.Elem())
		target = ptr.Elem()
	}
	switch c.kind {
	case kindString:
		target.SetString(string(pt))
	case kindBytes:
		target.SetBytes(pt)
	case kindTime:
		var t time.Time
		if err := t.UnmarshalBinary(pt); err != nil {
			return c.errorf(errors.New("stored value is not a time"))
		}
		target.Set(reflect.ValueOf(t))
	case kindInt, kindUint:
		if len(pt) != 8 {
			return c.errorf(errors.New("stored value is not an integer"))
		}
		u := binary.BigEndian.Uint64(pt)
		if c.kind == kindInt {
			if target.OverflowInt(int64(u)) {
				return c.errorf(errors.New("stored integer overflows the field"))
			}
			target.SetInt(int64(u))
		} else {
			if target.OverflowUint(u) {
				return c.errorf(errors.New("stored integer overflows the field"))
			}
			target.SetUint(u)
		}
	}
	if c.ptr {
		rv.Set(ptr)
	}
	return nil
}
