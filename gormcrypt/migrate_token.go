package gormcrypt

import (
	"context"
	"fmt"
	"reflect"
	"slices"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// This file lets token columns be migrating. A token looks like the value
// it stands for (a tokenized card number is a card number), so no reader
// could tell a token from a plaintext by looking at it. A token marker, a
// bool column declared before the token column,
//
//	CardTokenized *bool  `fieldcrypt:"tokenized:Card"`
//	Card          string `gorm:"serializer:fieldcrypt_token" fieldcrypt:"token:card;migrating"`
//
// tells it per row instead: gormcrypt sets it to true in every write of the
// token column (Create, Save, Updates from a struct or a map, upserts), and
// Backfill sets it with the token it writes. A read of a migrating token
// column detokenizes the value if the row's marker is true and returns it
// as stored otherwise; Backfill and CountPlaintext treat a value as
// plaintext if and only if its marker is not true.

// prepareRead is prepareQuery for statements that read rows (Query and
// Row callbacks): it also makes them read token markers first.
func (p *Plugin) prepareRead(db *gorm.DB) {
	p.prepareQuery(db)
	if db.Error != nil || db.Statement.Schema == nil {
		return
	}
	if m, err := p.meta(db.Statement.Schema); err == nil && m.migratingTokens {
		p.orderMarks(db, m)
	}
}

// orderMarks makes a query of a model with migrating token columns read
// each column's token marker before it (rows are read column by column, and
// the marker decides how the token is read), and records in the statement
// state whether that is so. GORM would otherwise SELECT *, whose order is
// the table's, and a marker added to an existing table comes last. Raw SQL
// and SELECT clauses of the caller keep their own order; reads of a
// migrating token column through them fail unless the marker comes first.
func (p *Plugin) orderMarks(db *gorm.DB, m *modelMeta) {
	stmt := db.Statement
	st, err := stateFrom(stmt.Context)
	if err != nil {
		return
	}
	if stmt.SQL.Len() > 0 {
		return // raw SQL
	}
	if c, ok := stmt.Clauses["SELECT"]; ok {
		if sel, ok := c.Expression.(clause.Select); ok && len(sel.Columns) > 0 {
			names := make([]string, len(sel.Columns))
			for i, col := range sel.Columns {
				names[i] = col.Name
			}
			st.marksFirst = marksBefore(m, names)
		}
		return
	}
	switch {
	case len(stmt.Selects) > 0 && !(len(stmt.Selects) == 1 && stmt.Selects[0] == "*"):
		stmt.Selects = withMarksFirst(m, stmt.Selects)
		st.marksFirst = true
	case len(stmt.Omits) > 0 || len(stmt.Joins) > 0:
		// GORM names the model's columns in declaration order, where the
		// marker comes first; unless the marker is omitted.
		sel, _ := stmt.SelectAndOmitColumns(false, false)
		ok := true
		for _, c := range m.columns {
			if c.migrating && c.mark != nil {
				markOut := !sel[c.mark.index.DBName] && hasKey(sel, c.mark.index.DBName)
				tokenIn := sel[c.dbName] || !hasKey(sel, c.dbName)
				ok = ok && !(markOut && tokenIn)
			}
		}
		st.marksFirst = ok
	default:
		cols := make([]clause.Column, 0, len(stmt.Schema.DBNames))
		for _, name := range stmt.Schema.DBNames {
			cols = append(cols, clause.Column{Table: clause.CurrentTable, Name: name})
		}
		stmt.AddClause(clause.Select{Distinct: stmt.Distinct, Columns: cols})
		st.marksFirst = true
	}
}

func hasKey(m map[string]bool, k string) bool {
	_, ok := m[k]
	return ok
}

// errMarkOrder fails a read of a migrating token column whose marker was
// not read first.
var errMarkOrder = fmt.Errorf("%w: the column is migrating and the query did not read its token marker before it "+
	"(raw SQL or a SELECT clause of its own): select the marker column first, or read through the model's query methods", ErrUnsupported)

// withMarksFirst returns the selected fields with the marker of every
// selected migrating token column right before it.
func withMarksFirst(m *modelMeta, selects []string) []string {
	out := make([]string, 0, len(selects)+len(m.marks))
	for _, s := range selects {
		c := m.columnNamed(s)
		if c != nil && c.migrating && c.mark != nil {
			out = slices.DeleteFunc(out, func(x string) bool { return x == c.mark.index.Name || x == c.mark.index.DBName })
			out = append(out, c.mark.index.DBName)
		} else if b := m.markNamed(s); b != nil && slices.Contains(out, b.index.DBName) {
			continue // already placed before its token column
		}
		out = append(out, s)
	}
	return out
}

// markNamed finds a token marker by Go field or column name.
func (m *modelMeta) markNamed(name string) *blindMeta {
	for _, b := range m.marks {
		if b.index.Name == name || b.index.DBName == name {
			return b
		}
	}
	return nil
}

// marksBefore reports whether, in the column names of a result, every
// migrating token column is preceded by its marker.
func marksBefore(m *modelMeta, names []string) bool {
	for _, c := range m.columns {
		if !c.migrating || c.mark == nil {
			continue
		}
		at := slices.Index(names, c.dbName)
		if at < 0 {
			continue
		}
		if mk := slices.Index(names, c.mark.index.DBName); mk < 0 || mk > at {
			return false
		}
	}
	return true
}

// tokenMarked reports whether the row dst says its value of the migrating
// token column c is a token, or an error if the read cannot know.
func (st *stmtState) tokenMarked(ctx context.Context, c *columnMeta, dst reflect.Value) (bool, error) {
	first := st.marksFirst
	if st.columns != nil {
		first = marksBefore(c.model, st.columns)
	}
	if !first {
		return false, c.errorf(errMarkOrder)
	}
	row := reflect.Indirect(dst)
	if !row.IsValid() || row.Kind() != reflect.Struct {
		return false, c.errorf(errMarkOrder)
	}
	v := reflect.Indirect(c.mark.index.ReflectValueOf(ctx, row))
	return v.IsValid() && v.Kind() == reflect.Bool && v.Bool(), nil
}
