package gormcrypt

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/keys"
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

// MaxClockSkew is how far apart the clocks of the processes sharing a
// keystore may be for the default [WithBlindIndexGrace] to hold.
const MaxClockSkew = time.Second

// WithBlindIndexGrace sets how long a new version of a blind index key waits
// before writes use it: until then they keep using the previous version,
// so that every process sharing the keystore matches a version in its
// lookups before any process writes under it, and a rotation leaves no gap
// in search anywhere. It must be at least the longest Config.CacheMaxAge
// of those processes (how long they take to notice a Rotate) plus the
// skew between their clocks. The default is this Keyring's CacheMaxAge +
// keys.MaxAgeSlack + MaxClockSkew (1 minute + 1 ms + 1 s by default).
// 0 makes a new version active at once, which is only gap-free in a single
// process. Reindex waits for the same moment.
func WithBlindIndexGrace(d time.Duration) Option {
	return func(c *config) { c.grace = &d }
}

func graceOf(kr *keys.Keyring, d *time.Duration) time.Duration {
	if d != nil {
		return max(*d, 0)
	}
	return kr.CacheMaxAge() + keys.MaxAgeSlack + MaxClockSkew
}

// writeKey returns the version of b's key that writes use: the newest
// created at least the grace period ago, else (a new index, or rotations
// in quick succession) the oldest live one. The first use creates the key.
func (p *Plugin) writeKey(ctx context.Context, b *blindMeta) (*keys.Key, error) {
	k, err := p.kr.Current(ctx, b.subject, BlindIndexPurpose)
	if err != nil || k.Version() == 1 || p.active(k) {
		return k, err
	}
	ks, err := p.kr.LiveKeys(ctx, b.subject, BlindIndexPurpose)
	if err != nil || len(ks) == 0 {
		return k, err
	}
	for _, k := range ks {
		if p.active(k) {
			return k, nil
		}
	}
	return ks[len(ks)-1], nil
}

func (p *Plugin) active(k *keys.Key) bool { return time.Since(k.Created()) >= p.grace }

// RotateBlindIndex adds a version of the blind index key of model's
// encrypted field (named by Go field or column name) and returns it.
// Lookups in this process match it at once; other processes notice it
// within their Keyring's Config.CacheMaxAge (as for
// keys.Keyring.Rotate), so writes keep using the previous version for
// [WithBlindIndexGrace] and only then switch to the new one: every process
// matches a version before any writes under it. Rows indexed before stay
// found, since lookups match every live version; [Reindex] then rewrites
// them under the new version in the background. See the package
// documentation (# Key rotation and search) for the procedure.
func RotateBlindIndex(ctx context.Context, db *gorm.DB, model any, field string) (uint32, error) {
	p, _, b, err := blindOf(db, model, field)
	if err != nil {
		return 0, err
	}
	v, err := p.kr.Rotate(ctx, b.subject, BlindIndexPurpose)
	if err != nil {
		return 0, fmt.Errorf("gormcrypt: rotating the blind index key of %s: %w", b.index.DBName, err)
	}
	return v, nil
}

// BlindIndexes is BlindIndex under every live version of the index key,
// newest first: the values a row whose field equals value may hold while a
// re-index is pending, and what WhereEqual matches. It is empty if nothing
// was ever indexed. Most users want WhereEqual instead.
func BlindIndexes(ctx context.Context, db *gorm.DB, model any, field string, value string) (column string, indexes []string, err error) {
	p, _, b, err := blindOf(db, model, field)
	if err != nil {
		return "", nil, err
	}
	vs, err := p.indexValues(ctx, b, value)
	if err != nil {
		return "", nil, err
	}
	indexes = make([]string, len(vs))
	for i, v := range vs {
		indexes[i] = v.(string)
	}
	return b.index.DBName, indexes, nil
}

func blindOf(db *gorm.DB, model any, field string) (*Plugin, *columnMeta, *blindMeta, error) {
	p, err := pluginOf(db)
	if err != nil {
		return nil, nil, nil, err
	}
	c, b, err := p.lookup(db, model, field)
	if err != nil {
		return nil, nil, nil, err
	}
	if b == nil {
		return nil, nil, nil, fmt.Errorf("%w: %s.%s has no blind index", ErrUnsupported, c.model.table, c.dbName)
	}
	return p, c, b, nil
}

// ReindexTable is the table in which Reindex keeps its cursors, one row per
// (table, index column, key version). Reindex creates it.
const ReindexTable = "fieldcrypt_reindex"

// reindexCursor is one row of ReindexTable.
type reindexCursor struct {
	Tbl         string    `gorm:"column:table_name;primaryKey;size:191"`
	IndexColumn string    `gorm:"primaryKey;size:191"`
	Version     uint32    `gorm:"primaryKey;autoIncrement:false"`
	LastKey     *string   `gorm:"size:255"` // primary key of the last row done, as text; NULL before the first batch
	Done        bool      `gorm:"not null;default:false"`
	Scanned     int64     `gorm:"not null;default:0"`
	Updated     int64     `gorm:"not null;default:0"`
	Skipped     int64     `gorm:"not null;default:0"`
	UpdatedAt   time.Time `gorm:"autoUpdateTime:false"`
}

func (reindexCursor) TableName() string { return ReindexTable }

// DefaultReindexBatch is the default number of rows Reindex reads and
// rewrites per transaction.
const DefaultReindexBatch = 500

// ReindexOptions configures Reindex.
type ReindexOptions struct {
	// BatchSize is how many rows are read, and rewritten in one
	// transaction together with the cursor, per step. 0 means
	// DefaultReindexBatch.
	BatchSize int
	// Progress, if set, is called after every committed batch with the
	// totals so far (including those of earlier, interrupted runs).
	Progress func(ReindexProgress)
}

// ReindexProgress reports a re-index.
type ReindexProgress struct {
	Table   string // the model's table
	Column  string // the blind index column
	Version uint32 // the key version indexes are rewritten under
	Scanned int64  // rows read
	Updated int64  // rows whose index was rewritten
	// Skipped counts rows a concurrent write changed (or deleted) between
	// the read and the rewrite: that write set their index itself, so they
	// were left as they were.
	Skipped int64
	Done    bool // the whole table was walked for Version
}

// Reindex rewrites the blind index of model's encrypted field (named by Go
// field or column name) under the current version of its key, after
// [RotateBlindIndex]. It walks the table in primary-key order, BatchSize
// rows at a time: it reads each row's subject, ciphertext and index,
// decrypts, recomputes the index and writes it only if the row still holds
// the index it read (UPDATE … WHERE pk = ? AND index = old), so a
// concurrent application write is never overwritten. Each batch commits
// with a cursor in [ReindexTable], so an interrupted Reindex (cancelled
// context, crash) continues after the last committed batch when called
// again, and a finished one returns at once: it is idempotent. Lookups keep
// working throughout, since they match every live key version. Rows of
// forgotten subjects get a NULL index.
//
// Reindex first waits until the newest version of the key is
// [WithBlindIndexGrace] old, so that every process matches it before rows move
// to it. It also fills an index added to a model whose table already has
// rows (their index is NULL).
//
// Run it in the background (a goroutine, a job) and stop it with ctx; run
// one per index at a time (two are safe, but do the work twice). Its cost
// is one read of the table, one decryption and one HMAC per row, and one
// UPDATE per row whose index changes. The model needs a single-column
// integer or string primary key. Rows whose subject field is empty are
// decrypted for the subject of ctx (WithSubject), as reads are.
func Reindex(ctx context.Context, db *gorm.DB, model any, field string, opts ReindexOptions) (ReindexProgress, error) {
	p, c, b, err := blindOf(db, model, field)
	if err != nil {
		return ReindexProgress{}, err
	}
	m := c.model
	stmt := &gorm.Statement{DB: db}
	if err := stmt.Parse(model); err != nil {
		return ReindexProgress{}, fmt.Errorf("gormcrypt: parsing model %T: %w", model, err)
	}
	if len(stmt.Schema.PrimaryFields) != 1 {
		return ReindexProgress{}, fmt.Errorf("%w: Reindex of %s needs a single-column primary key", ErrUnsupported, m.table)
	}
	pk := stmt.Schema.PrimaryFields[0]
	parseKey, err := keyParser(pk)
	if err != nil {
		return ReindexProgress{}, fmt.Errorf("%w: Reindex of %s: %v", ErrUnsupported, m.table, err)
	}
	batch := opts.BatchSize
	if batch <= 0 {
		batch = DefaultReindexBatch
	}
	fail := func(err error) (ReindexProgress, error) {
		return ReindexProgress{}, fmt.Errorf("gormcrypt: reindex %s.%s: %w", m.table, b.index.DBName, err)
	}
	// The newest version becomes the write version after the grace
	// period (see WithBlindIndexGrace); re-indexing under it earlier would
	// move rows out of reach of processes that do not know it yet.
	k, err := p.kr.Current(ctx, b.subject, BlindIndexPurpose)
	if err != nil {
		return fail(err)
	}
	if wait := p.grace - time.Since(k.Created()); wait > 0 && k.Version() > 1 {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fail(ctx.Err())
		case <-t.C:
		}
	}
	db = db.WithContext(ctx)
	if err := ensureReindexTable(db); err != nil {
		return fail(err)
	}
	cur := reindexCursor{Tbl: m.table, IndexColumn: b.index.DBName, Version: k.Version(), UpdatedAt: time.Now().UTC()}
	if err := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&cur).Error; err != nil {
		return fail(fmt.Errorf("creating the cursor: %w", err))
	}
	where := map[string]any{"table_name": cur.Tbl, "index_column": cur.IndexColumn, "version": cur.Version}
	if err := db.Where(where).Take(&cur).Error; err != nil {
		return fail(fmt.Errorf("reading the cursor: %w", err))
	}
	progress := func() ReindexProgress {
		return ReindexProgress{Table: m.table, Column: b.index.DBName, Version: cur.Version,
			Scanned: cur.Scanned, Updated: cur.Updated, Skipped: cur.Skipped, Done: cur.Done}
	}
	r := reindexer{p: p, b: b, m: m, pk: pk.DBName, key: k, ctxSubject: subjectOf(ctx)}
	for !cur.Done {
		var after any
		if cur.LastKey != nil {
			if after, err = parseKey(*cur.LastKey); err != nil {
				return fail(fmt.Errorf("the cursor holds an unreadable key: %w", err))
			}
		}
		rows, err := r.read(db, after, batch, pk)
		if err != nil {
			return fail(err)
		}
		next := cur
		err = db.Transaction(func(tx *gorm.DB) error {
			for i := range rows {
				row := &rows[i]
				updated, err := r.rewrite(ctx, tx, row)
				if err != nil {
					return err
				}
				next.Scanned++
				if updated {
					next.Updated++
				} else if row.stale {
					next.Skipped++
				}
			}
			if len(rows) > 0 {
				last := fmt.Sprint(rows[len(rows)-1].key)
				next.LastKey = &last
			}
			next.Done = len(rows) < batch
			next.UpdatedAt = time.Now().UTC()
			return tx.Model(&reindexCursor{}).Where(where).Updates(map[string]any{
				"last_key": next.LastKey, "done": next.Done, "scanned": next.Scanned,
				"updated": next.Updated, "skipped": next.Skipped, "updated_at": next.UpdatedAt,
			}).Error
		})
		if err != nil {
			return fail(err)
		}
		cur = next
		if opts.Progress != nil {
			opts.Progress(progress())
		}
	}
	return progress(), nil
}

func subjectOf(ctx context.Context) string {
	s, _ := ctx.Value(subjectKey{}).(string)
	return s
}

// ensureReindexTable creates ReindexTable if it is missing; another
// process creating it at the same time is not an error.
func ensureReindexTable(db *gorm.DB) error {
	m := db.Migrator()
	if m.HasTable(&reindexCursor{}) {
		return nil
	}
	if err := m.CreateTable(&reindexCursor{}); err != nil && !m.HasTable(&reindexCursor{}) {
		return fmt.Errorf("creating %s: %w", ReindexTable, err)
	}
	return nil
}

// keyParser returns how to read a primary key back from its text form in
// the cursor.
func keyParser(f *schema.Field) (func(string) (any, error), error) {
	t := f.FieldType
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return func(s string) (any, error) { return strconv.ParseInt(s, 10, 64) }, nil
	case t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64:
		return func(s string) (any, error) { return strconv.ParseUint(s, 10, 64) }, nil
	case t.Kind() == reflect.String:
		return func(s string) (any, error) { return s, nil }, nil
	}
	return nil, fmt.Errorf("primary key %s is a %s, not an integer or string", f.Name, f.FieldType)
}

type reindexer struct {
	p          *Plugin
	b          *blindMeta
	m          *modelMeta
	pk         string
	key        *keys.Key
	ctxSubject string // WithSubject of Reindex's context, for rows with an empty subject field
}

type reindexRow struct {
	key     any
	subject string
	source  sql.NullString
	index   sql.NullString
	stale   bool // the index is not of the target version and was not rewritten
}

// read returns up to n rows after the primary key after (nil: from the
// start), in primary-key order.
func (r *reindexer) read(db *gorm.DB, after any, n int, pk *schema.Field) ([]reindexRow, error) {
	q := db.Table(r.m.table).Clauses(clause.Select{Columns: []clause.Column{
		{Name: r.pk}, {Name: r.m.subject.DBName}, {Name: r.b.source.DBName}, {Name: r.b.index.DBName},
	}})
	if after != nil {
		q = q.Where(clause.Gt{Column: clause.Column{Name: r.pk}, Value: after})
	}
	rows, err := q.Order(clause.OrderByColumn{Column: clause.Column{Name: r.pk}}).Limit(n).Rows()
	if err != nil {
		return nil, fmt.Errorf("reading rows: %w", err)
	}
	defer rows.Close()
	var out []reindexRow
	for rows.Next() {
		var row reindexRow
		var subject sql.NullString
		key := reflect.New(reflect.Indirect(reflect.New(pk.IndirectFieldType)).Type())
		if err := rows.Scan(key.Interface(), &subject, &row.source, &row.index); err != nil {
			return nil, fmt.Errorf("reading rows: %w", err)
		}
		row.key, row.subject = key.Elem().Interface(), subject.String
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading rows: %w", err)
	}
	return out, nil
}

// rewrite recomputes one row's index and writes it if the row still holds
// the index read; it reports whether it wrote.
func (r *reindexer) rewrite(ctx context.Context, tx *gorm.DB, row *reindexRow) (bool, error) {
	want, err := r.index(ctx, row)
	if err != nil {
		return false, err
	}
	if want.Valid == row.index.Valid && want.String == row.index.String {
		return false, nil // already of the target version (or NULL for NULL)
	}
	var set any
	if want.Valid {
		set = want.String
	}
	var old any
	if row.index.Valid {
		old = row.index.String
	}
	// A statement of its own rather than an Update: the write callbacks
	// refuse to set a blind index column by hand, which is what this is.
	// clause.Eq with a nil value is IS NULL.
	idx := clause.Column{Name: r.b.index.DBName}
	res := tx.Exec("UPDATE ? SET ? = ? WHERE ? AND ?", clause.Table{Name: r.m.table}, idx, set,
		clause.Eq{Column: clause.Column{Name: r.pk}, Value: row.key}, clause.Eq{Column: idx, Value: old})
	if res.Error != nil {
		return false, fmt.Errorf("writing an index: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		row.stale = true // changed or deleted since the read: the writer set its index
		return false, nil
	}
	return true, nil
}

// index is the index row should hold under the target key version: NULL
// for a NULL source or a forgotten subject.
func (r *reindexer) index(ctx context.Context, row *reindexRow) (sql.NullString, error) {
	if !row.source.Valid {
		return sql.NullString{}, nil
	}
	subject := row.subject
	if subject == "" {
		subject = r.ctxSubject
	}
	if subject == "" {
		return sql.NullString{}, fmt.Errorf("%w: a row has an empty %s and the context names none (WithSubject)",
			ErrNoSubject, r.m.subject.DBName)
	}
	if err := checkSubject(subject); err != nil {
		return sql.NullString{}, err
	}
	ct, err := text.DecodeString(row.source.String)
	if err != nil {
		return sql.NullString{}, fmt.Errorf("%w: %s holds a value that is not unpadded URL-safe base64", envelope.ErrMalformed, r.b.source.DBName)
	}
	pt, err := r.p.c.Decrypt(ctx, ct, envelope.AssociatedData(r.m.table, r.b.source.DBName, subject))
	if errors.Is(err, keys.ErrKeyDestroyed) {
		return sql.NullString{}, nil
	}
	if err != nil {
		return sql.NullString{}, fmt.Errorf("decrypting %s: %w", r.b.source.DBName, err)
	}
	s, err := indexUnder(r.key, r.b.normalize, string(pt))
	if err != nil {
		return sql.NullString{}, err
	}
	return sql.NullString{String: s, Valid: true}, nil
}
