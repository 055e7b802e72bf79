package gormcrypt

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"
	"gorm.io/gorm/schema"

	"github.com/fieldcrypt/fieldcrypt/keys"
)

// SubjectExport is what the models registered with [WithModels] hold about
// one data subject, decrypted and detokenized: the answer to a subject
// access request (GDPR Art. 15) in a machine-readable form for portability
// (Art. 20). Its JSON encoding is stable: tables sorted by name, rows in
// primary-key order, columns by name. It holds personal data: hand it to
// the subject, do not log it.
type SubjectExport struct {
	Subject    string        `json:"subject"`
	ExportedAt time.Time     `json:"exported_at"`
	Tables     []TableExport `json:"tables"`
	// Skipped names registered models that were not searched, because
	// they have no fieldcrypt:"subject" field to find the subject's rows
	// by (their rows name subjects through the context only).
	Skipped []string `json:"skipped,omitempty"`
}

// TableExport is one table of a SubjectExport.
type TableExport struct {
	Table string `json:"table"`
	// Rows hold every column of the model (column name → value), blind
	// index and token marker columns excepted: they are derived from the
	// values and mean nothing to the subject.
	Rows []map[string]any `json:"rows"`
}

// Export collects everything the models registered with [WithModels] hold
// about subject: every row whose subject field is subject, every column
// decrypted (tokens detokenized), as a [SubjectExport] ready for
// json.Marshal. It reads each model's table with one query per model
// (WHERE subject = ?, ordered by primary key), in one read-only pass; give
// the subject columns an index.
//
// A forgotten subject has nothing left to export: Export fails with
// keys.ErrKeyDestroyed (checked before any row is read, so that a plugin
// without [WithStrict], which reads a forgotten subject's values as zero
// values, does not hand out an export of empty values). Each export is
// reported through keys.Keyring.RecordExport, an audit event naming the
// subject's reference, never its values.
func Export(ctx context.Context, db *gorm.DB, subject string) (SubjectExport, error) {
	p, err := pluginOf(db)
	if err != nil {
		return SubjectExport{}, err
	}
	if err := checkSubject(subject); err != nil {
		return SubjectExport{}, fmt.Errorf("gormcrypt: export: %w", err)
	}
	gone, err := p.kr.Forgotten(ctx, subject)
	if err != nil {
		return SubjectExport{}, fmt.Errorf("gormcrypt: export: %w", err)
	}
	if gone {
		return SubjectExport{}, fmt.Errorf("gormcrypt: export: %w: the subject was forgotten", keys.ErrKeyDestroyed)
	}
	out := SubjectExport{Subject: subject, ExportedAt: time.Now().UTC(), Tables: []TableExport{}}
	// Silent: GORM's logger would print the subject with a slow query.
	db = db.WithContext(WithSubject(ctx, subject)).Session(&gorm.Session{Logger: db.Logger.LogMode(logger.Silent)})
	seen := map[string]bool{}
	for _, model := range p.pending {
		stmt := &gorm.Statement{DB: db}
		if err := stmt.Parse(model); err != nil {
			return SubjectExport{}, fmt.Errorf("gormcrypt: export: parsing model %T: %w", model, err)
		}
		s := stmt.Schema
		m, err := p.meta(s)
		if err != nil {
			return SubjectExport{}, fmt.Errorf("gormcrypt: export: %w", err)
		}
		if seen[s.Table] {
			continue // two models of one table (a migration's before and after)
		}
		seen[s.Table] = true
		if m.subject == nil {
			out.Skipped = append(out.Skipped, s.Table)
			continue
		}
		rows := reflect.New(reflect.SliceOf(s.ModelType))
		q := db.Model(reflect.New(s.ModelType).Interface()).
			Where(clause.Eq{Column: clause.Column{Table: clause.CurrentTable, Name: m.subject.DBName}, Value: subject})
		for _, f := range s.PrimaryFields {
			q = q.Order(clause.OrderByColumn{Column: clause.Column{Table: clause.CurrentTable, Name: f.DBName}})
		}
		if err := q.Find(rows.Interface()).Error; err != nil {
			return SubjectExport{}, fmt.Errorf("gormcrypt: export: reading %s: %w", s.Table, err)
		}
		te := TableExport{Table: s.Table, Rows: []map[string]any{}}
		derived := map[*schema.Field]bool{}
		for _, b := range m.companions {
			derived[b.index] = true
		}
		rv := rows.Elem()
		for i := range rv.Len() {
			row := rv.Index(i)
			values := map[string]any{}
			for _, f := range s.Fields {
				if f.DBName == "" || derived[f] {
					continue
				}
				v := f.ReflectValueOf(ctx, row)
				if v.Kind() == reflect.Pointer && v.IsNil() {
					values[f.DBName] = nil
					continue
				}
				values[f.DBName] = reflect.Indirect(v).Interface()
			}
			te.Rows = append(te.Rows, values)
		}
		out.Tables = append(out.Tables, te)
	}
	sort.Slice(out.Tables, func(i, j int) bool { return out.Tables[i].Table < out.Tables[j].Table })
	sort.Strings(out.Skipped)
	if err := p.kr.RecordExport(ctx, subject); err != nil {
		return SubjectExport{}, fmt.Errorf("gormcrypt: export: %w", err)
	}
	return out, nil
}
