package gormcrypt

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"time"

	"gorm.io/gorm"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

// Access is one record of the access audit (WithAccessAudit): the values
// of one column that one statement decrypted or detokenized. It never
// holds a value, and names subjects by their keystore references only.
type Access struct {
	Time    time.Time
	Actor   string   // from WithActor ("" if the context names none)
	Roles   []string // from Reveal
	Table   string
	Column  string
	Purpose string // of the subject keys (WithPurpose); tokenize.DefaultPurpose for token columns
	Values  int    // values read in clear
	// Subjects are the distinct subjects whose values were read, at most
	// MaxAccessSubjects of them; SubjectCount counts them all. Global
	// token columns have none.
	Subjects     []keys.SubjectRef
	SubjectCount int
}

// MaxAccessSubjects bounds Access.Subjects.
const MaxAccessSubjects = keys.MaxAccessSubjects

// WithAccessAudit calls f for every read in clear of an encrypted or token
// column — masked reads are not reveals and are not reported. Reads are
// aggregated per statement and column: a Find of 1000 rows with two
// encrypted columns gives two records, after the query, each counting
// 1000 values and listing the distinct subjects; gormcrypt.ScanRows gives
// one record per call and column. Reads through GORM's own Row, Rows or
// Scan, which run no callback after scanning, are reported one value at a
// time. f runs on the reading goroutine and must be quick (queue to the
// keys audit log or slog yourself); it must not keep the slices.
//
//	gormcrypt.New(kr, gormcrypt.WithAccessAudit(func(ctx context.Context, a gormcrypt.Access) {
//		slog.InfoContext(ctx, "pii read", "actor", a.Actor, "table", a.Table, "column", a.Column, "values", a.Values)
//	}))
func WithAccessAudit(f func(ctx context.Context, a Access)) Option {
	return func(c *config) { c.access = f }
}

type actorKey struct{}

// WithActor returns a context whose reads the access audit attributes to
// actor (a staff member's or service's name; not a customer's).
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

type accessCount struct {
	values   int
	subjects map[string]struct{}
}

// accessed records one value of c read in clear for subject ("" for a
// global token column).
func (st *stmtState) accessed(ctx context.Context, c *columnMeta, subject string) {
	if st.p.access == nil {
		return
	}
	st.mu.Lock()
	if st.reads == nil {
		st.reads = map[*columnMeta]*accessCount{}
	}
	a := st.reads[c]
	if a == nil {
		a = &accessCount{subjects: map[string]struct{}{}}
		st.reads[c] = a
	}
	a.values++
	if subject != "" {
		a.subjects[subject] = struct{}{}
	}
	st.mu.Unlock()
	if !st.aggregate {
		st.flushAccess(ctx)
	}
}

// prepareFind is prepareRead for Query statements, whose reads are
// reported after the query (flushAccess).
func (p *Plugin) prepareFind(db *gorm.DB) {
	p.prepareRead(db)
	if st, err := stateFrom(db.Statement.Context); err == nil {
		st.aggregate = true
	}
}

// flushAccess reports the statement's reads and puts the masks of the
// rows read masked in place (the Query callback after gorm:query).
func (p *Plugin) flushAccess(db *gorm.DB) {
	if db.Error == nil {
		p.fillMasks(db)
	}
	if st, err := stateFrom(db.Statement.Context); err == nil {
		st.flushAccess(db.Statement.Context)
	}
}

func (st *stmtState) flushAccess(ctx context.Context) {
	if st.p.access == nil {
		return
	}
	st.mu.Lock()
	reads := st.reads
	st.reads = nil
	st.mu.Unlock()
	if len(reads) == 0 {
		return
	}
	actor, _ := ctx.Value(actorKey{}).(string)
	roles, _ := ctx.Value(revealKey{}).([]string)
	now := time.Now().UTC()
	for _, c := range sortedReads(reads) {
		a := reads[c]
		rec := Access{Time: now, Actor: actor, Roles: roles, Table: c.model.table, Column: c.dbName,
			Purpose: st.p.purpose, Values: a.values, SubjectCount: len(a.subjects)}
		if c.mode == modeToken {
			rec.Purpose = tokenPurpose
		}
		for s := range a.subjects {
			if len(rec.Subjects) == MaxAccessSubjects {
				break
			}
			if ref, err := st.p.kr.SubjectRef(s); err == nil {
				rec.Subjects = append(rec.Subjects, ref)
			}
		}
		st.p.access(ctx, rec)
	}
}

// sortedReads orders the columns of a statement's reads by table and
// column, so records come in a stable order.
func sortedReads(reads map[*columnMeta]*accessCount) []*columnMeta {
	out := make([]*columnMeta, 0, len(reads))
	for c := range reads {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *columnMeta) int {
		return cmp.Or(cmp.Compare(a.model.table, b.model.table), cmp.Compare(a.dbName, b.dbName))
	})
	return out
}

// tokenPurpose is the keyring purpose of the plugin's tokens.
const tokenPurpose = tokenize.DefaultPurpose

// AccessLog returns a WithAccessAudit function that appends each record
// to kr's tamper-evident audit log (keys.Keyring.RecordAccess; the Keyring
// needs keys.Lifecycle.AuditLog) as a keys.EventAccessed entry whose
// resource is "table.column": one entry per statement and column read in
// clear, never a value. Each entry is a keystore read and write on the
// reading goroutine; a failed append is counted by
// keys.Keyring.AuditLogFailures, not returned to the query. An actor or
// role longer than keys.MaxReasonLen is cut to it, and roles past the
// sixteenth are left out, so that no read goes unrecorded.
//
//	p, err := gormcrypt.New(kr, gormcrypt.WithAccessAudit(gormcrypt.AccessLog(kr)))
func AccessLog(kr *keys.Keyring) func(context.Context, Access) {
	return func(ctx context.Context, a Access) {
		ev := keys.AccessEvent{Actor: cut(a.Actor), Resource: cut(a.Table + "." + a.Column), Values: a.Values,
			Subjects: a.Subjects, SubjectCount: a.SubjectCount}
		for _, r := range a.Roles[:min(len(a.Roles), 16)] {
			ev.Roles = append(ev.Roles, cut(r))
		}
		_ = kr.RecordAccess(ctx, cut(a.Purpose), ev) // valid by construction; appends are best effort
	}
}

func cut(s string) string { return s[:min(len(s), keys.MaxReasonLen)] }

// AccessSlog returns a WithAccessAudit function that writes each record as
// one Info record "fieldcrypt access" on l, with the actor, roles, table,
// column, purpose and the numbers of values and subjects; never a value
// or a subject.
//
//	gormcrypt.New(kr, gormcrypt.WithAccessAudit(gormcrypt.AccessSlog(slog.Default())))
func AccessSlog(l *slog.Logger) func(context.Context, Access) {
	return func(ctx context.Context, a Access) {
		l.LogAttrs(ctx, slog.LevelInfo, "fieldcrypt access", slog.String("actor", a.Actor), slog.Any("roles", a.Roles),
			slog.String("table", a.Table), slog.String("column", a.Column), slog.String("purpose", a.Purpose),
			slog.Int("values", a.Values), slog.Int("subjects", a.SubjectCount))
	}
}
