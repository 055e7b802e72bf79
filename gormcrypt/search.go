package gormcrypt

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/fieldcrypt/fieldcrypt/envelope"
)

// sealAll returns the column values a deterministic column holds for v
// under every live key version of subject, newest first: rows written
// before a rotation keep the old version's ciphertext. nil means v is NULL
// or the subject has no key yet, so no row can match.
func (p *Plugin) sealAll(ctx context.Context, c *columnMeta, subject string, v any) ([]any, error) {
	pt, null, err := encode(c, v)
	if err != nil {
		return nil, c.errorf(err)
	}
	if null {
		return nil, nil
	}
	cts, err := p.c.EncryptDeterministicAll(ctx, subject, pt, envelope.AssociatedData(c.model.table, c.dbName, subject))
	if err != nil {
		return nil, c.errorf(err)
	}
	out := make([]any, len(cts))
	for i, ct := range cts {
		out[i] = text.EncodeToString(ct)
	}
	return out, nil
}

// equalExpr is WhereEqual's condition: column IN (values). The column's
// table is resolved when the SQL is built, once GORM has parsed the
// statement's model and knows its joins (scopes run before that).
type equalExpr struct {
	table  string // the model's table
	alias  string // set by WhereEqualAs
	column string
	values []any
}

// Build implements clause.Expression.
func (e equalExpr) Build(b clause.Builder) {
	table := e.alias
	if table == "" {
		table = e.table
		if stmt, ok := b.(*gorm.Statement); ok {
			t, err := resolveTable(stmt, e.table)
			if err != nil {
				stmt.AddError(err)
			}
			table = t
		}
	}
	clause.IN{Column: clause.Column{Table: table, Name: e.column}, Values: e.values}.Build(b)
}

// resolveTable returns how the statement names table: as its own table
// (clause.CurrentTable, which GORM writes with the statement's alias), as
// the alias of a relation joined with Joins, or by its name.
func resolveTable(stmt *gorm.Statement, table string) (string, error) {
	if stmt.Schema == nil {
		if stmt.Table == table {
			return clause.CurrentTable, nil
		}
		return table, nil
	}
	if stmt.Schema.Table == table {
		return clause.CurrentTable, nil
	}
	// The aliases GORM's query callback gives joined relations
	// (callbacks.BuildQuerySQL): the relation's name, nested ones joined
	// with "__", or the join's own alias for the last one.
	var found []string
	for _, j := range stmt.Joins {
		rels := stmt.Schema.Relationships.Relations
		names := strings.Split(j.Name, ".")
		parent := ""
		for i, name := range names {
			rel, ok := rels[name]
			if !ok {
				break
			}
			alias := rel.Name
			if parent != "" {
				alias = parent + "__" + rel.Name
			}
			parent = alias
			if i == len(names)-1 && j.Alias != "" {
				alias = j.Alias
			}
			if rel.FieldSchema != nil && rel.FieldSchema.Table == table && !slices.Contains(found, alias) {
				found = append(found, alias)
			}
			if rel.FieldSchema == nil {
				break
			}
			rels = rel.FieldSchema.Relationships.Relations
		}
	}
	switch len(found) {
	case 0:
		return table, nil
	case 1:
		return found[0], nil
	}
	return table, fmt.Errorf("%w: WhereEqual on %s, which is joined more than once (%s): name the one meant with WhereEqualAs",
		ErrUnsupported, table, strings.Join(found, ", "))
}
