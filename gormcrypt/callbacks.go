package gormcrypt

import (
	"fmt"
	"reflect"
	"slices"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// modelOf returns the meta of the statement's model, or nil if it has
// nothing encrypted.
func (p *Plugin) modelOf(db *gorm.DB) *modelMeta {
	if db.Error != nil {
		return nil
	}
	if db.Statement.Schema == nil {
		p.checkTableWrite(db)
		return nil
	}
	m, err := p.meta(db.Statement.Schema)
	if err != nil {
		db.AddError(err)
		return nil
	}
	if len(m.columns) == 0 && len(m.blind) == 0 {
		return nil
	}
	return m
}

// beforeCreate runs after the user's BeforeCreate/BeforeSave hooks, so the
// blind indexes see the values that will be written.
func (p *Plugin) beforeCreate(db *gorm.DB) {
	m := p.modelOf(db)
	if m == nil {
		return
	}
	switch db.Statement.Dest.(type) {
	case map[string]any, *map[string]any, []map[string]any, *[]map[string]any:
		// GORM writes map values as they are, bypassing the serializers.
		db.AddError(fmt.Errorf("%w: Create from a map on %s, which has encrypted columns; create from the struct",
			ErrUnsupported, m.table))
		return
	}
	p.fillAll(db, m, db.Statement.ReflectValue, false)
	if db.Error != nil {
		return
	}
	if err := p.guardUpsert(db, m); err != nil {
		db.AddError(err)
		return
	}
	if err := p.presealAll(db, m, db.Statement.ReflectValue, createWritten(db.Statement)); err != nil {
		db.AddError(err)
	}
}

// fillAll sets the blind indexes of every row in rv (a struct or a slice).
func (p *Plugin) fillAll(db *gorm.DB, m *modelMeta, rv reflect.Value, nonZeroOnly bool) {
	if len(m.companions) == 0 {
		return
	}
	rv = reflect.Indirect(rv)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		for i := 0; i < rv.Len(); i++ {
			if err := p.fill(db, m, reflect.Indirect(rv.Index(i)), nonZeroOnly); err != nil {
				db.AddError(err)
				return
			}
		}
	case reflect.Struct:
		db.AddError(p.fill(db, m, rv, nonZeroOnly))
	}
}

func (p *Plugin) fill(db *gorm.DB, m *modelMeta, row reflect.Value, nonZeroOnly bool) error {
	ctx := db.Statement.Context
	if !row.CanAddr() {
		return fmt.Errorf("%w: %s has blind indexes: pass a pointer so they can be filled", ErrUnsupported, m.table)
	}
	for _, b := range m.companions {
		src := b.source.ReflectValueOf(ctx, row)
		if nonZeroOnly && src.IsZero() {
			continue
		}
		if b.mask != "" {
			// Before the mask column is recomputed from what may be a mask.
			if err := refuseMask(ctx, m.columns[b.source.Name], row, src); err != nil {
				return err
			}
		}
		v, err := p.indexValue(ctx, b, src.Interface())
		if err != nil {
			return err
		}
		if err := b.index.Set(ctx, row, v); err != nil {
			return fmt.Errorf("gormcrypt: setting blind index %s.%s: %w", m.table, b.index.DBName, err)
		}
	}
	return nil
}

// beforeUpdate encrypts map updates (which GORM writes without calling the
// serializers) and refreshes the blind indexes of updated columns.
func (p *Plugin) beforeUpdate(db *gorm.DB) {
	m := p.modelOf(db)
	if m == nil {
		return
	}
	stmt := db.Statement
	switch dest := stmt.Dest.(type) {
	case map[string]any:
		out, err := p.convertMap(db, m, dest)
		if err != nil {
			db.AddError(err)
			return
		}
		stmt.Dest = out
	case *map[string]any, []map[string]any:
		db.AddError(fmt.Errorf("%w: update %s with a map[string]any", ErrUnsupported, m.table))
		return
	default:
		dv := reflect.ValueOf(stmt.Dest)
		same := stmt.Dest == stmt.Model
		if !same && dv.Kind() == reflect.Pointer && !dv.IsNil() && stmt.ReflectValue.CanAddr() {
			same = dv.Pointer() == stmt.ReflectValue.Addr().Pointer()
		}
		var row reflect.Value
		switch iv := reflect.Indirect(dv); {
		case same:
			row = reflect.Indirect(stmt.ReflectValue)
		case iv.Kind() == reflect.Struct && iv.Type() == stmt.Schema.ModelType:
			if err := p.checkSubjectChange(db, m, iv); err != nil {
				db.AddError(err)
				return
			}
			// Updates(Customer{Email: ...}): the caller's value must not be
			// changed, so update from an (addressable) copy carrying the
			// indexes.
			cp := reflect.New(iv.Type())
			cp.Elem().Set(iv)
			stmt.Dest = cp.Interface()
			row = cp.Elem()
		default:
			return // another struct type: its own serializers apply
		}
		if row.Kind() != reflect.Struct {
			// Save or Updates of a slice: every row is written whole.
			p.fillAll(db, m, stmt.ReflectValue, false)
			if db.Error == nil {
				db.AddError(p.presealAll(db, m, stmt.ReflectValue, createWritten(stmt)))
			}
			return
		}
		written := updateWritten(stmt, row)
		if err := refuseMasks(db, m, row, written); err != nil {
			db.AddError(err)
			return
		}
		if err := p.keepIndexesInStep(db, m, row, written); err != nil {
			db.AddError(err)
			return
		}
		p.guardSubject(db, m, row, written)
		if err := p.preseal(db, m, row, written); err != nil {
			db.AddError(err)
		}
		return
	}
	p.selectIndexes(stmt, m)
}

// selectIndexes adds the blind index columns to a Select that names their
// source, so an index is never left describing an old value.
func (p *Plugin) selectIndexes(stmt *gorm.Statement, m *modelMeta) {
	if len(stmt.Selects) == 0 || slices.Contains(stmt.Selects, "*") {
		return
	}
	for _, b := range m.companions {
		has := func(f string) bool { return slices.Contains(stmt.Selects, f) }
		if (has(b.source.Name) || has(b.source.DBName)) && !has(b.index.Name) && !has(b.index.DBName) {
			stmt.Selects = append(stmt.Selects, b.index.DBName)
		}
	}
}

func (p *Plugin) convertMap(db *gorm.DB, m *modelMeta, in map[string]any) (map[string]any, error) {
	stmt := db.Statement
	ctx := stmt.Context
	st, err := stateFrom(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(in)+len(m.companions))
	var subject string
	for k, v := range in {
		out[k] = v
		f := stmt.Schema.LookUpField(k)
		if f == nil {
			continue
		}
		c, ok := m.columns[f.Name]
		if !ok {
			for _, b := range m.companions {
				if b.index == f {
					return nil, fmt.Errorf("%w: %s.%s is a %s, filled from %s; do not set it",
						ErrUnsupported, m.table, f.DBName, b.what(), b.source.Name)
				}
			}
			if f == m.subject {
				return nil, fmt.Errorf("%w: changing the subject of %s rows would orphan their ciphertexts",
					ErrUnsupported, m.table)
			}
			continue
		}
		if u, ok := gormSerializerValue(ctx, v); ok {
			v = u // from a struct, as FirstOrCreate's Assign passes it
		}
		switch v.(type) {
		case clause.Expression, *gorm.DB:
			return nil, fmt.Errorf("%w: SQL expression for encrypted column %s.%s", ErrUnsupported, m.table, c.dbName)
		}
		if c.maskCol != nil {
			if err := refuseMask(ctx, c, stmt.ReflectValue, v); err != nil {
				return nil, err
			}
		}
		if subject == "" {
			if subject, err = st.subject(ctx, m, stmt.ReflectValue); err != nil {
				return nil, c.errorf(err)
			}
		}
		sealed, err := p.seal(ctx, c, subject, v)
		if err != nil {
			return nil, err
		}
		// An expression is written as it is and not copied into the model.
		out[k] = clause.Expr{SQL: "?", Vars: []any{sealed}}
		if rv := reflect.Indirect(stmt.ReflectValue); rv.Kind() == reflect.Struct && rv.CanAddr() {
			if err := c.field.Set(ctx, rv, v); err != nil {
				return nil, c.errorf(err)
			}
		}
		for _, b := range m.companions {
			if b.source != f {
				continue
			}
			iv, err := p.indexValue(ctx, b, v)
			if err != nil {
				return nil, err
			}
			out[b.index.DBName] = iv
		}
	}
	return out, nil
}

// checkSubjectChange refuses Updates(struct) that would move rows to
// another subject: their other encrypted columns would stop decrypting.
func (p *Plugin) checkSubjectChange(db *gorm.DB, m *modelMeta, dest reflect.Value) error {
	if m.subject == nil || len(m.columns) == 0 {
		return nil
	}
	ctx := db.Statement.Context
	to := m.subject.ReflectValueOf(ctx, dest).String()
	model := reflect.Indirect(db.Statement.ReflectValue)
	if to == "" || model.Kind() != reflect.Struct {
		return nil
	}
	if from := m.subject.ReflectValueOf(ctx, model).String(); from != "" && from != to {
		return fmt.Errorf("%w: changing the subject of %s rows would orphan their ciphertexts", ErrUnsupported, m.table)
	}
	return nil
}

// checkTableWrite refuses db.Table(name).Create/Updates with a map that
// names an encrypted column of a known model: without the model GORM would
// write the value in clear.
func (p *Plugin) checkTableWrite(db *gorm.DB) {
	p.mu.Lock()
	m := p.tables[db.Statement.Table]
	p.mu.Unlock()
	if m == nil {
		return
	}
	var maps []map[string]any
	switch d := db.Statement.Dest.(type) {
	case map[string]any:
		maps = append(maps, d)
	case *map[string]any:
		maps = append(maps, *d)
	case []map[string]any:
		maps = d
	case *[]map[string]any:
		maps = *d
	}
	for _, row := range maps {
		for k := range row {
			for _, c := range m.columns {
				if k == c.dbName || k == c.field.Name {
					db.AddError(fmt.Errorf("%w: writing encrypted column %s.%s through Table() without the model",
						ErrUnsupported, m.table, c.dbName))
					return
				}
			}
		}
	}
}
