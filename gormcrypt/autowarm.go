package gormcrypt

import (
	"context"
	"encoding/binary"
	"fmt"
	"reflect"
	"slices"
	"sync"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"

	"github.com/fieldcrypt/fieldcrypt/keys"
)

// This file makes a query load the keys of all its rows at once. GORM
// scans a result row by row and column by column, calling the serializer's
// Scan for each value; decrypting there costs, on a cold key cache, one
// keystore read and one KMS unwrap per customer, 1000 of each for a list
// page of 1000 customers. So in a Query statement Scan only keeps the
// stored value (deferRead), and a callback right after gorm:query
// (openDeferred) reads the key versions from the ciphertext headers and
// the subjects of the token columns, loads them with keys.Keyring's
// batched WarmVersions and Warm (one keystore query and one KMS call per
// 500 keys where the Store and KMS support batches), and then decrypts
// every value as Scan would have, before Preload and the AfterFind hooks
// run.
//
// GORM scans each row of a []Model into a new value and appends a copy of
// it, so the values are decrypted into the rows Scan was given and those
// are then copied over the result's elements, which are numbered as GORM
// numbers the rows (db.RowsAffected). Queries with Joins, whose nested
// rows are harder to place, and ScanRows, which runs no callbacks, decrypt
// in Scan as before.

// deferredReads are the values a Query statement's Scan calls kept.
type deferredReads struct {
	db    *gorm.DB     // the statement's: its RowsAffected numbers the row being scanned
	rows  []scannedRow // by row number; invalid for a row with no value kept
	items []deferredRead

	// The keys to warm, kept for reuse (deferredPool).
	refs     []keys.KeyVersionRef
	subjects []string
}

// scannedRow is the value GORM scanned one result row into.
type scannedRow struct {
	v   reflect.Value
	sch *schema.Schema
}

// deferredRead is one value to decrypt: what Scan was given (dst is the
// row's value in rows).
type deferredRead struct {
	field *schema.Field
	row   int
	value any // a string: the driver's []byte is only valid until the next row
}

// deferReads makes the Scan calls of a Query statement keep the values
// for openDeferred. It runs just before gorm:query.
func (p *Plugin) deferReads(db *gorm.DB) {
	st, err := stateFrom(db.Statement.Context)
	if err != nil || st.p != p {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.deferred = nil
	if db.Error != nil || db.Statement.Schema == nil || len(db.Statement.Joins) > 0 {
		return
	}
	d := deferredPool.Get().(*deferredReads)
	d.db = db
	st.deferred = d
}

// deferredPool keeps the lists of past queries: a 1000-row page keeps
// thousands of values, and growing the lists anew each time would cost
// more than the rest of the deferral.
var deferredPool = sync.Pool{New: func() any { return new(deferredReads) }}

// maxPooled bounds the values of the lists deferredPool keeps.
const maxPooled = 1 << 16

// release returns d to deferredPool, holding nothing of its query.
func (d *deferredReads) release() {
	if cap(d.items) > maxPooled || cap(d.rows) > maxPooled {
		return
	}
	clear(d.rows)
	clear(d.items)
	clear(d.subjects)
	*d = deferredReads{rows: d.rows[:0], items: d.items[:0], refs: d.refs[:0], subjects: d.subjects[:0]}
	deferredPool.Put(d)
}

// deferRead keeps the value of field in row dst for openDeferred and
// reports whether it did; if not, Scan decrypts it now.
func (st *stmtState) deferRead(field *schema.Field, dst, rv reflect.Value, dbValue any) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	d := st.deferred
	if d == nil {
		return false
	}
	n := int(d.db.RowsAffected) - 1
	if n < 0 || !d.isRow(dst) {
		return false
	}
	for len(d.rows) <= n {
		d.rows = append(grow(d.rows), scannedRow{})
	}
	if !d.rows[n].v.IsValid() {
		d.rows[n] = scannedRow{dst, field.Schema}
	} else if r := d.rows[n].v; r.Type() != dst.Type() || addressOf(r) != addressOf(dst) {
		return false // another value than the row's (not expected): decrypt now
	}
	if b, ok := dbValue.([]byte); ok {
		dbValue = string(b)
	}
	d.items = append(grow(d.items), deferredRead{field: field, row: n, value: dbValue})
	rv.Set(reflect.Zero(field.FieldType))
	return true
}

// isRow reports whether dst is a result row as GORM scans it: a new
// value for an element of a slice or array result (reflect.New, so not
// addressable; a nested struct of a joined row is a field, so it is), or
// the struct result itself. Values of other rows decrypt in Scan.
func (d *deferredReads) isRow(dst reflect.Value) bool {
	if dst.Kind() == reflect.Pointer {
		return !dst.CanAddr() && !dst.IsNil()
	}
	res := d.db.Statement.ReflectValue
	if res.Kind() == reflect.Interface {
		res = res.Elem()
	}
	return dst.Kind() == reflect.Struct && res.Kind() == reflect.Struct && dst.Type() == res.Type() &&
		addressOf(dst) != 0 && addressOf(dst) == addressOf(res)
}

// grow doubles the capacity of a full s: append grows large slices by a
// quarter, which for a 1000-row result allocates five times the final size.
func grow[T any](s []T) []T {
	if len(s) < cap(s) {
		return s
	}
	return slices.Grow(s, max(len(s), 16))
}

// openDeferred loads the keys of the values the statement's Scan calls
// kept, decrypts them and puts the rows in place. It runs just after
// gorm:query.
func (p *Plugin) openDeferred(db *gorm.DB) {
	ctx := db.Statement.Context
	st, err := stateFrom(ctx)
	if err != nil || st.p != p {
		return
	}
	st.mu.Lock()
	d := st.deferred
	st.deferred = nil // from now on, Scan calls with this state decrypt at once
	st.mu.Unlock()
	if d == nil {
		return
	}
	defer d.release()
	if len(d.items) == 0 {
		return
	}
	if err := p.warmDeferred(ctx, st, d); err != nil {
		st.failed.Store(true)
		db.AddError(err)
		return // every kept value is still zero
	}
	for _, it := range d.items {
		dst := d.rows[it.row].v
		if err := p.open(ctx, st, it.field, dst, it.field.ReflectValueOf(ctx, dst), it.value); err != nil {
			// One error is enough, and a failed query leaves no value
			// decrypted: the rows read into pointers would keep them.
			st.failed.Store(true)
			db.AddError(err)
			for _, it := range d.items {
				it.field.ReflectValueOf(ctx, d.rows[it.row].v).Set(reflect.Zero(it.field.FieldType))
			}
			return // the result's copied rows were made before any value was decrypted
		}
	}
	if err := d.place(ctx, db.Statement.ReflectValue); err != nil {
		st.failed.Store(true)
		db.AddError(err)
	}
}

// warmDeferred loads into the key cache, in batches, the key versions the
// kept ciphertexts name and the tokenization keys of the kept tokens'
// subjects.
func (p *Plugin) warmDeferred(ctx context.Context, st *stmtState, d *deferredReads) error {
	// A row's columns share its subject's key: consecutive repeats are
	// left out (Warm and WarmVersions skip the others once cached).
	refs, subjects := d.refs[:0], d.subjects[:0]
	defer func() { d.refs, d.subjects = refs, subjects }()
	var table string
	for _, it := range d.items {
		dst := d.rows[it.row].v
		c, err := p.column(it.field)
		if err != nil {
			continue // open reports it
		}
		table = c.model.table
		if c.mask != "" && !p.revealed(ctx, c) {
			continue // read masked: no key is used, none is loaded
		}
		if c.mode != modeToken {
			if ref, ok := headerRef(it.value); ok && (len(refs) == 0 || refs[len(refs)-1] != ref) {
				refs = append(refs, ref)
			}
			continue
		}
		if c.global {
			continue // one key for all rows
		}
		if s, err := st.subject(ctx, c.model, dst); err == nil && (len(subjects) == 0 || subjects[len(subjects)-1] != s) {
			subjects = append(subjects, s)
		}
	}
	if len(refs) > 0 {
		if err := p.kr.WarmVersions(ctx, refs); err != nil {
			return fmt.Errorf("gormcrypt: %s: loading the keys of the rows read: %w", table, err)
		}
	}
	if len(subjects) > 0 {
		if err := p.kr.Warm(ctx, subjects, tokenPurpose); err != nil {
			return fmt.Errorf("gormcrypt: %s: loading the token keys of the rows read: %w", table, err)
		}
	}
	return nil
}

// headerRef returns the key version named by the header of a stored
// ciphertext text form (key ID in bytes 2-17 and version in bytes 18-21,
// formats 1 and 2), or false for anything else, which open will judge.
func headerRef(v any) (keys.KeyVersionRef, bool) {
	s, ok := v.(string)
	// 32 characters of unpadded base64 are the first 24 bytes.
	if !ok || len(s) < 32 {
		return keys.KeyVersionRef{}, false
	}
	var b [24]byte
	if n, err := text.Decode(b[:], []byte(s[:32])); err != nil || n != len(b) || (b[0] != 1 && b[0] != 2) {
		return keys.KeyVersionRef{}, false
	}
	var ref keys.KeyVersionRef
	copy(ref.ID[:], b[2:18])
	ref.Version = binary.BigEndian.Uint32(b[18:22])
	return ref, true
}

// place copies the scanned rows that GORM appended to the result as
// copies, made while their values were still to be decrypted, over those
// copies. result is the statement's ReflectValue.
func (d *deferredReads) place(ctx context.Context, result reflect.Value) error {
	if result.Kind() == reflect.Interface {
		result = result.Elem()
	}
	for n, row := range d.rows {
		if !row.v.IsValid() {
			continue
		}
		var to reflect.Value
		switch result.Kind() {
		case reflect.Slice, reflect.Array:
			if n >= result.Len() {
				continue // an array shorter than the result: GORM dropped the row
			}
			to = result.Index(n)
		default:
			if n > 0 {
				return fmt.Errorf("%w: %s: a query read %d rows into one value", ErrUnsupported, row.sch.Table, n+1)
			}
			to = result
		}
		if addressOf(to) != 0 && addressOf(to) == addressOf(row.v) {
			continue // scanned in place
		}
		from := reflect.Indirect(row.v)
		if to.Kind() != reflect.Struct || !to.CanSet() || to.Type() != from.Type() || !sameKey(ctx, row.sch, to, from) {
			return fmt.Errorf("%w: %s: cannot tell which result row a scanned row became; its values were not decrypted",
				ErrUnsupported, row.sch.Table)
		}
		to.Set(from)
	}
	return nil
}

// addressOf returns the address of the struct v is or points to, or 0.
func addressOf(v reflect.Value) uintptr {
	switch {
	case v.Kind() == reflect.Pointer:
		return v.Pointer()
	case v.CanAddr():
		return v.Addr().Pointer()
	}
	return 0
}

// sameKey reports whether rows a and b of sch have equal primary keys
// (true for a schema without one): a check that a copy is put back where
// it came from.
func sameKey(ctx context.Context, sch *schema.Schema, a, b reflect.Value) bool {
	pk := sch.PrioritizedPrimaryField
	if pk == nil || pk.Schema != sch {
		return true
	}
	va, vb := pk.ReflectValueOf(ctx, a), pk.ReflectValueOf(ctx, b)
	if !va.Type().Comparable() {
		return true
	}
	return va.Interface() == vb.Interface()
}
