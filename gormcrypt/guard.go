package gormcrypt

import (
	"context"
	"fmt"
	"reflect"
	"slices"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"
)

// This file holds what keeps plaintext out of the database, out of driver
// errors and out of logs, and what keeps blind indexes and subjects
// consistent with their columns, whatever GORM API writes them.

// sealKey names one encrypted field of one row of a statement.
type sealKey struct {
	f   *schema.Field
	row uintptr
}

// rowAddr returns the address of the row dst (a struct), or 0 when it is
// not addressable.
func rowAddr(dst reflect.Value) uintptr {
	dst = reflect.Indirect(dst)
	if dst.IsValid() && dst.Kind() == reflect.Struct && dst.CanAddr() {
		return dst.Addr().Pointer()
	}
	return 0
}

// presealed returns the column value computed for f of row dst before the
// statement reached the driver.
func (st *stmtState) presealed(f *schema.Field, dst reflect.Value) (any, bool) {
	addr := rowAddr(dst)
	if addr == 0 {
		return nil, false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	v, ok := st.sealed[sealKey{f, addr}]
	return v, ok
}

// preseal computes, before GORM hands anything to the driver, the column
// value of every encrypted field of row that the statement writes, so that
// a failure (no subject, a destroyed key, a value the token format rejects)
// is reported by gormcrypt, with no value in the message, instead of by the
// driver: pgx formats the arguments it cannot encode — GORM's serializer
// wrapper, plaintext included — into its error, and GORM logs it. The
// serializers then return the stored results.
func (p *Plugin) preseal(db *gorm.DB, m *modelMeta, row reflect.Value, written func(*schema.Field) bool) error {
	if len(m.columns) == 0 {
		return nil
	}
	ctx := db.Statement.Context
	st, err := stateFrom(ctx)
	if err != nil {
		return err
	}
	row = reflect.Indirect(row)
	addr := rowAddr(row)
	if addr == 0 {
		return nil // the serializers will compute (and report) themselves
	}
	var subject string
	for _, c := range m.sortedColumns() {
		if !written(c.field) {
			continue
		}
		if subject == "" {
			if subject, err = st.subject(ctx, m, row); err != nil {
				return c.errorf(err)
			}
		}
		v, err := p.seal(ctx, c, subject, c.field.ReflectValueOf(ctx, row).Interface())
		if err != nil {
			return err
		}
		st.mu.Lock()
		if st.sealed == nil {
			st.sealed = map[sealKey]any{}
		}
		st.sealed[sealKey{c.field, addr}] = v
		st.mu.Unlock()
	}
	return nil
}

// prealAll runs preseal for every row of rv (a struct or a slice).
func (p *Plugin) presealAll(db *gorm.DB, m *modelMeta, rv reflect.Value, written func(*schema.Field) bool) error {
	rv = reflect.Indirect(rv)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		for i := 0; i < rv.Len(); i++ {
			if err := p.preseal(db, m, rv.Index(i), written); err != nil {
				return err
			}
		}
	case reflect.Struct:
		return p.preseal(db, m, rv, written)
	}
	return nil
}

// createWritten reports which fields an INSERT of the statement writes.
func createWritten(stmt *gorm.Statement) func(*schema.Field) bool {
	sel, restricted := stmt.SelectAndOmitColumns(true, false)
	return func(f *schema.Field) bool {
		if !f.Creatable {
			return false
		}
		if v, ok := sel[f.DBName]; ok {
			return v
		}
		return !restricted
	}
}

// updateWritten reports which fields an UPDATE from the struct row writes,
// by GORM's own rule (callbacks.ConvertToAssignments): selected fields, or
// with no Select the non-zero ones, minus the omitted.
func updateWritten(stmt *gorm.Statement, row reflect.Value) func(*schema.Field) bool {
	sel, restricted := stmt.SelectAndOmitColumns(false, true)
	ctx := stmt.Context
	return func(f *schema.Field) bool {
		if !f.Updatable || f.PrimaryKey {
			return false
		}
		if v, ok := sel[f.DBName]; ok {
			return v
		}
		if restricted {
			return false
		}
		_, zero := f.ValueOf(ctx, row)
		return !zero
	}
}

// sortedColumns returns the encrypted columns in declaration order, so that
// errors are reported in a stable order.
func (m *modelMeta) sortedColumns() []*columnMeta {
	m.sortOnce.Do(func() {
		for _, c := range m.columns {
			m.sorted = append(m.sorted, c)
		}
		slices.SortFunc(m.sorted, func(a, b *columnMeta) int {
			return slices.Compare(a.field.StructField.Index, b.field.StructField.Index)
		})
	})
	return m.sorted
}

// keepIndexesInStep makes every blind index of an UPDATE from the struct
// row follow its source: written (and recomputed) when the source is, never
// written when it is not.
func (p *Plugin) keepIndexesInStep(db *gorm.DB, m *modelMeta, row reflect.Value, written func(*schema.Field) bool) error {
	stmt := db.Statement
	ctx := stmt.Context
	sel, restricted := stmt.SelectAndOmitColumns(false, true)
	for _, b := range m.companions {
		if written(b.source) {
			v, err := p.indexValue(ctx, b, b.source.ReflectValueOf(ctx, row).Interface())
			if err != nil {
				return err
			}
			if err := b.index.Set(ctx, row, v); err != nil {
				return fmt.Errorf("gormcrypt: setting blind index %s.%s: %w", m.table, b.index.DBName, err)
			}
			if isSel, ok := sel[b.index.DBName]; (restricted && !(ok && isSel)) || (ok && !isSel) || v == nil {
				// Selected away, omitted, or NULL (which GORM would skip as
				// zero): select it explicitly.
				stmt.Omits = slices.DeleteFunc(stmt.Omits, func(s string) bool { return s == b.index.DBName || s == b.index.Name })
				stmt.Selects = append(stmt.Selects, b.index.DBName)
				if !restricted {
					// Selecting one column restricts the update to the selected
					// ones: name every column GORM would have written.
					for _, f := range stmt.Schema.Fields {
						if f.DBName != "" && f != b.index && written(f) && !slices.Contains(stmt.Selects, f.DBName) {
							stmt.Selects = append(stmt.Selects, f.DBName)
						}
					}
					restricted = true
				}
			}
			continue
		}
		if slices.Contains(stmt.Selects, b.index.DBName) || slices.Contains(stmt.Selects, b.index.Name) {
			return fmt.Errorf("%w: %s.%s is a %s, filled from %s; select %s instead of it",
				ErrUnsupported, m.table, b.index.DBName, b.what(), b.source.Name, b.source.Name)
		}
		stmt.Omits = append(stmt.Omits, b.index.DBName) // also against Select("*")
	}
	return nil
}

// guardSubject keeps an UPDATE from the struct row from moving rows to
// another subject while leaving ciphertexts bound to the old one. Writing
// the subject column together with every encrypted column re-encrypts the
// row for the new subject (Save does that) and is allowed; otherwise the
// update is limited to rows that already have the subject it writes, and
// fails with ErrUnsupported when that matches no row.
func (p *Plugin) guardSubject(db *gorm.DB, m *modelMeta, row reflect.Value, written func(*schema.Field) bool) {
	if m.subject == nil || len(m.columns) == 0 || !written(m.subject) {
		return
	}
	all := true
	for _, c := range m.columns {
		all = all && written(c.field)
	}
	if all {
		return
	}
	ctx := db.Statement.Context
	to := m.subject.ReflectValueOf(ctx, row).String()
	db.Statement.AddClause(clause.Where{Exprs: []clause.Expression{
		clause.Eq{Column: clause.Column{Table: clause.CurrentTable, Name: m.subject.DBName}, Value: to},
	}})
	if st, err := stateFrom(ctx); err == nil {
		st.subjectGuard = true
	}
}

// afterUpdate reports a guarded update that matched no row.
func (p *Plugin) afterUpdate(db *gorm.DB) {
	st, err := stateFrom(db.Statement.Context)
	if err != nil || !st.subjectGuard {
		return
	}
	st.subjectGuard = false
	if db.Error == nil && db.RowsAffected == 0 {
		db.AddError(fmt.Errorf("%w: the update of %s writes the subject column but matched no row that already has that subject: "+
			"changing a row's subject is refused (its other ciphertexts would stop decrypting); nothing was written. "+
			"Write every encrypted column with it (Save) to re-encrypt the row for the new subject",
			ErrUnsupported, db.Statement.Table))
	}
}

// guardUpsert keeps ON CONFLICT updates consistent: encrypted and index
// columns may only be assigned from the inserted row (AssignmentColumns or
// UpdateAll), an assigned source carries its blind index with it, and the
// existing row must be the same subject's.
func (p *Plugin) guardUpsert(db *gorm.DB, m *modelMeta) error {
	stmt := db.Statement
	c, ok := stmt.Clauses["ON CONFLICT"]
	if !ok {
		return nil
	}
	oc, ok := c.Expression.(clause.OnConflict)
	if !ok || oc.DoNothing || oc.UpdateAll {
		return nil // UpdateAll assigns every inserted column, subject included
	}
	assigned := map[string]bool{}
	protected := func(name string) bool {
		if m.subject != nil && name == m.subject.DBName {
			return true
		}
		for _, col := range m.columns {
			if col.dbName == name {
				return true
			}
		}
		for _, b := range m.companions {
			if b.index.DBName == name {
				return true
			}
		}
		return false
	}
	for _, a := range oc.DoUpdates {
		name := a.Column.Name
		assigned[name] = true
		if !protected(name) {
			continue
		}
		if col, ok := a.Value.(clause.Column); !ok || col.Table != "excluded" || col.Name != name {
			return fmt.Errorf("%w: ON CONFLICT assigns %s.%s a value of its own; assign it from the inserted row "+
				"(clause.AssignmentColumns) so that gormcrypt encrypts it", ErrUnsupported, m.table, name)
		}
	}
	var any, all = false, true
	for _, col := range m.columns {
		any = any || assigned[col.dbName]
		all = all && assigned[col.dbName]
	}
	for _, b := range m.companions {
		switch {
		case assigned[b.source.DBName] && !assigned[b.index.DBName]:
			oc.DoUpdates = append(oc.DoUpdates, clause.AssignmentColumns([]string{b.index.DBName})...)
			assigned[b.index.DBName] = true
		case assigned[b.index.DBName] && !assigned[b.source.DBName]:
			return fmt.Errorf("%w: ON CONFLICT assigns the blind index %s.%s without its source %s",
				ErrUnsupported, m.table, b.index.DBName, b.source.DBName)
		}
	}
	if m.subject != nil && (any || assigned[m.subject.DBName]) {
		target := false
		for _, col := range oc.Columns {
			target = target || col.Name == m.subject.DBName
		}
		whole := assigned[m.subject.DBName] && all
		if !target && !whole {
			return fmt.Errorf("%w: ON CONFLICT of %s assigns encrypted columns (or the subject) but its conflict target "+
				"does not include the subject column %s, so the existing row may be another customer's: add %s to "+
				"OnConflict.Columns, or assign %s and every encrypted column together",
				ErrUnsupported, m.table, m.subject.DBName, m.subject.DBName, m.subject.DBName)
		}
	}
	stmt.AddClause(oc)
	return nil
}

// gormSerializerValue returns the field value inside GORM's serializer
// wrapper (what schema.Field.ValueOf returns for a serializer field, and
// what GORM puts into conditions and FirstOrCreate's Assign maps built from
// structs); ok is false for any other value.
func gormSerializerValue(ctx context.Context, v any) (any, bool) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return nil, false
	}
	e := rv.Elem()
	if e.Kind() != reflect.Struct || e.Type().Name() != "serializer" || e.Type().PkgPath() != "gorm.io/gorm/schema" {
		return nil, false
	}
	f, _ := e.FieldByName("Field").Interface().(*schema.Field)
	dst, _ := e.FieldByName("Destination").Interface().(reflect.Value)
	if f == nil || !dst.IsValid() {
		return nil, false
	}
	return f.ReflectValueOf(ctx, dst).Interface(), true
}

// guardConditions refuses WHERE conditions that compare an encrypted column
// with a value: GORM would send the plaintext (map conditions) or, for
// struct conditions, swallow the serializer's missing context and compare
// with NULL — matching another customer's row.
func (p *Plugin) guardConditions(db *gorm.DB) {
	stmt := db.Statement
	if w, ok := stmt.Clauses["WHERE"].Expression.(clause.Where); ok {
		if err := p.checkExprs(stmt, stmt.Schema, w.Exprs); err != nil {
			db.AddError(err)
			return
		}
	}
	// Joins("Customer", db.Where(&Customer{...})): the conditions of the
	// joined model, built without the plugin's context.
	if stmt.Schema == nil {
		return
	}
	for _, j := range stmt.Joins {
		rel := stmt.Schema.Relationships.Relations[j.Name]
		if rel == nil || rel.FieldSchema == nil {
			continue
		}
		for _, cond := range j.Conds {
			sub, ok := cond.(*gorm.DB)
			if !ok || sub.Statement == nil {
				continue
			}
			if w, ok := sub.Statement.Clauses["WHERE"].Expression.(clause.Where); ok {
				if err := p.checkExprs(stmt, rel.FieldSchema, w.Exprs); err != nil {
					db.AddError(err)
					return
				}
			}
		}
	}
}

// checkExprs checks conditions whose unqualified columns belong to s.
// WhereEqual's conditions (equalExpr) are of a type of their own and pass.
func (p *Plugin) checkExprs(stmt *gorm.Statement, s *schema.Schema, exprs []clause.Expression) error {
	for _, e := range exprs {
		var col any
		switch x := e.(type) {
		case clause.AndConditions:
			if err := p.checkExprs(stmt, s, x.Exprs); err != nil {
				return err
			}
			continue
		case clause.OrConditions:
			if err := p.checkExprs(stmt, s, x.Exprs); err != nil {
				return err
			}
			continue
		case clause.NotConditions:
			if err := p.checkExprs(stmt, s, x.Exprs); err != nil {
				return err
			}
			continue
		case clause.Where:
			if err := p.checkExprs(stmt, s, x.Exprs); err != nil {
				return err
			}
			continue
		case clause.Eq:
			col = x.Column
		case clause.Neq:
			col = x.Column
		case clause.IN:
			col = x.Column
		case clause.Gt:
			col = x.Column
		case clause.Gte:
			col = x.Column
		case clause.Lt:
			col = x.Column
		case clause.Lte:
			col = x.Column
		case clause.Like:
			col = x.Column
		default:
			continue
		}
		if c := p.encryptedColumn(stmt, s, col); c != nil {
			return fmt.Errorf("%w: a condition compares the encrypted column %s.%s with a value (a struct or map condition); "+
				"the database holds ciphertexts, so it would match nothing or the wrong rows: use gormcrypt.WhereEqual",
				ErrUnsupported, c.model.table, c.dbName)
		}
	}
	return nil
}

// encryptedColumn returns the encrypted column a condition's column names,
// in the statement's table or in a known model's table.
func (p *Plugin) encryptedColumn(stmt *gorm.Statement, s *schema.Schema, col any) *columnMeta {
	var table, name string
	switch c := col.(type) {
	case string:
		table, name = "", c
	case clause.Column:
		table, name = c.Table, c.Name
		if c.Raw {
			return nil
		}
	default:
		return nil
	}
	var m *modelMeta
	if table == "" || table == clause.CurrentTable || (s != nil && table == s.Table) {
		if s == nil {
			return nil
		}
		var err error
		if m, err = p.meta(s); err != nil {
			return nil
		}
	} else {
		p.mu.Lock()
		m = p.tables[table]
		p.mu.Unlock()
		if m == nil {
			return nil
		}
	}
	for _, c := range m.columns {
		if c.dbName == name || c.field.Name == name {
			return c
		}
	}
	return nil
}

// addCheckConstraints gives the encrypted and blind index columns of m
// CHECK constraints (through GORM's check tag, so AutoMigrate creates them)
// that refuse what cannot be a fieldcrypt value: a writer without the
// plugin — another service, an admin tool, a *gorm.DB on which db.Use was
// forgotten — fails at the database instead of storing plaintext. A
// ciphertext's text form starts with "A" (format version 1 or 2) and is at
// least 51 characters long (the shortest, a version 1 deterministic
// ciphertext of an empty value); a blind index is 32 characters. The
// expressions are kept to comparisons: SQLite compiles them into every
// INSERT and UPDATE that GORM does not prepare, and LIKE patterns there
// cost about a fifth of a one-row insert. This is a guard against mistakes, not against an
// attacker with write access, who can write any text of that shape. Token
// columns get none: a token has its value's format by design.
func addCheckConstraints(m *modelMeta) {
	safe := func(name string) bool {
		for _, r := range name {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
				return false
			}
		}
		return name != ""
	}
	for _, c := range m.sortedColumns() {
		// A migrating column still holds plaintext: its constraint comes
		// once the flag is removed (and AutoMigrate runs again).
		if c.mode == modeToken || c.migrating || !safe(c.dbName) || c.field.TagSettings["CHECK"] != "" {
			continue
		}
		c.field.TagSettings["CHECK"] = fmt.Sprintf("%[1]s IS NULL OR (%[1]s >= 'A' AND %[1]s < 'B' AND length(%[1]s) >= %[2]d)",
			c.dbName, minTextLen)
	}
	for _, b := range m.blind {
		if !safe(b.index.DBName) || b.index.TagSettings["CHECK"] != "" {
			continue
		}
		b.index.TagSettings["CHECK"] = fmt.Sprintf("%[1]s IS NULL OR length(%[1]s) = %[2]d", b.index.DBName, 2*BlindIndexSize)
	}
}

// minTextLen is the length of the shortest ciphertext text form fieldcrypt
// ever wrote: format 1, deterministic, empty plaintext (22 + 16 bytes).
const minTextLen = (4*38 + 2) / 3
