package gormcrypt

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"
	"gorm.io/gorm/schema"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

// ErrPlaintext means an encrypted column that is not marked migrating holds
// a value that is not a ciphertext: plaintext left from before fieldcrypt
// was adopted, or written around the plugin. Mark the column migrating
// (`fieldcrypt:"migrating"` or [WithMigrating]) and run [Backfill]; see the
// package documentation's "Adopting on a live database" section. Errors
// wrapping it also match envelope.ErrMalformed.
var ErrPlaintext = errors.New("gormcrypt: the column holds plaintext, not a ciphertext")

type migrateSpec struct {
	model  any
	fields []string
}

// WithMigrating marks encrypted fields of model (Go field or column names;
// none: every encrypted string field of the model) as migrating, as the tag
// `fieldcrypt:"migrating"` does: reads accept plaintext beside ciphertexts,
// writes always encrypt, and the columns get no CHECK constraint. The mark
// belongs to model's Go type: another model of the same table (the plain
// one used before the adoption) is not affected. Remove it once
// [CountPlaintext] reports no plaintext left.
//
//	gormcrypt.New(kr, gormcrypt.WithModels(&Customer{}), gormcrypt.WithMigrating(&Customer{}, "Email", "Phone"))
func WithMigrating(model any, fields ...string) Option {
	return func(c *config) { c.migrating = append(c.migrating, migrateSpec{model, fields}) }
}

// resolveMigrating records the WithMigrating fields by model type (not by
// table: the plain model of the same table, used before the adoption, must
// stay valid), before any model's metadata is built.
func (p *Plugin) resolveMigrating(db *gorm.DB) error {
	for _, spec := range p.migrateSpecs {
		stmt := &gorm.Statement{DB: db}
		if err := stmt.Parse(spec.model); err != nil {
			return fmt.Errorf("gormcrypt: WithMigrating: parsing model %T: %w", spec.model, err)
		}
		fields := spec.fields
		if len(fields) == 0 {
			for _, f := range stmt.Schema.Fields {
				if _, ours := f.Serializer.(serializer); ours && f.Serializer.(serializer).mode != modeToken {
					fields = append(fields, f.Name)
				}
			}
		}
		p.mu.Lock()
		set := p.migrating[stmt.Schema.ModelType]
		if set == nil {
			set = map[string]bool{}
			p.migrating[stmt.Schema.ModelType] = set
		}
		for _, f := range fields {
			set[f] = true
		}
		p.mu.Unlock()
	}
	return nil
}

// markMigrating applies WithMigrating to a freshly built model; an unknown
// or unsuitable field makes the model invalid.
func (p *Plugin) markMigrating(m *modelMeta, s *schema.Schema) {
	p.mu.Lock()
	set := p.migrating[s.ModelType]
	p.mu.Unlock()
	names := make([]string, 0, len(set))
	for name := range set {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c := m.columnNamed(name)
		if c == nil {
			m.err = fmt.Errorf("%w: WithMigrating: %s has no encrypted field %q", ErrInvalidModel, m.table, name)
			return
		}
		if msg := canMigrate(c); msg != "" {
			m.err = fmt.Errorf("%w: WithMigrating: %s.%s: %s", ErrInvalidModel, m.table, c.dbName, msg)
			return
		}
		c.migrating = true
	}
}

// columnNamed finds an encrypted column by Go field or column name.
func (m *modelMeta) columnNamed(name string) *columnMeta {
	if c, ok := m.columns[name]; ok {
		return c
	}
	for _, c := range m.columns {
		if c.dbName == name {
			return c
		}
	}
	return nil
}

// canMigrate says why c cannot be migrating ("" if it can).
func canMigrate(c *columnMeta) string {
	if c.mode == modeToken && c.mark == nil {
		return "a token column can be migrating only with a token marker: a token and a plaintext look alike by design, so reads tell them apart " +
			"by a bool column declared before it, CardTokenized *bool `fieldcrypt:\"tokenized:Card\"` " +
			"(see \"Adopting on a live database\" in the package documentation)"
	}
	if c.kind != kindString {
		return "only string and *string columns can be migrating (their plaintext is the stored text)"
	}
	return ""
}

// strictText is the one accepted spelling of a ciphertext's text form.
var strictText = base64.RawURLEncoding.Strict()

// headerV1Size is the shortest header fieldcrypt ever wrote (format 1:
// version, mode, key ID, key version).
const headerV1Size = 2 + 16 + 4

// isCiphertext classifies a stored value of a migrating column: it is a
// ciphertext if it is strict unpadded URL-safe base64 (no padding, no line
// breaks, no stray bits) that decodes to at least a version 1 header whose
// first byte is format version 1 or 2. Everything else is plaintext. A
// value classified as a ciphertext must then decrypt, or the read fails:
// a plaintext can never be made to pass for a decrypted value.
func isCiphertext(s string) bool {
	if len(s) < textLen(headerV1Size) || s[0] != 'A' || strings.ContainsAny(s, "\r\n") {
		return false // every format 1 or 2 text form starts with 'A' (first byte < 4)
	}
	b, err := strictText.DecodeString(s)
	return err == nil && len(b) >= headerV1Size && (b[0] == 1 || b[0] == 2)
}

func storedText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case []byte:
		return string(x), true
	}
	return "", false
}

// openPlaintext sets a migrating column's field to a stored plaintext.
func openPlaintext(c *columnMeta, s string, rv reflect.Value) {
	if c.ptr {
		pv := reflect.New(c.typ.Elem())
		pv.Elem().SetString(s)
		rv.Set(pv)
		return
	}
	rv.SetString(s)
}

// BackfillTable is the table in which Backfill keeps its cursors, one row
// per (table, columns). Backfill creates it.
const BackfillTable = "fieldcrypt_backfill"

type backfillCursor struct {
	Tbl       string    `gorm:"column:table_name;primaryKey;size:191"`
	Columns   string    `gorm:"primaryKey;size:191"` // the column names, sorted, comma-separated
	LastKey   *string   `gorm:"size:255"`            // primary key of the last row done, as text
	Done      bool      `gorm:"not null;default:false"`
	Scanned   int64     `gorm:"not null;default:0"`
	Updated   int64     `gorm:"not null;default:0"`
	Skipped   int64     `gorm:"not null;default:0"`
	Erased    int64     `gorm:"not null;default:0"`
	UpdatedAt time.Time `gorm:"autoUpdateTime:false"`
}

func (backfillCursor) TableName() string { return BackfillTable }

// DefaultBackfillBatch is the default number of rows Backfill reads and
// rewrites per transaction.
const DefaultBackfillBatch = 500

// BackfillOptions configures Backfill.
type BackfillOptions struct {
	// Columns names the encrypted fields to protect (Go field or column
	// names). Empty means every migrating column of the model.
	Columns []string
	// BatchSize is how many rows are read, and rewritten in one
	// transaction together with the cursor, per step. 0 means
	// DefaultBackfillBatch.
	BatchSize int
	// Progress, if set, is called after every committed batch.
	Progress func(BackfillProgress)
}

// BackfillProgress reports a backfill. The counts include those of earlier,
// interrupted runs; the rate and ETA are of this run.
type BackfillProgress struct {
	Table   string
	Columns []string // column names
	Total   int64    // rows in the table when this run started
	Scanned int64    // rows read
	Updated int64    // rows whose plaintext was replaced by ciphertext (and blind index)
	// Skipped counts rows a concurrent write changed (or deleted) between
	// the read and the rewrite and that, read again, had nothing left in
	// clear: that write stored the protected form itself. (A row the
	// write left partly in clear is read again and counted as Updated.)
	Skipped int64
	// Erased counts rows of forgotten subjects whose plaintext was set to
	// NULL, since it can no longer be encrypted for them.
	Erased        int64
	Elapsed       time.Duration // of this run
	RowsPerSecond float64       // rows read per second in this run
	ETA           time.Duration // estimated time left, from Total and the rate
	Done          bool
}

// Backfill protects the plaintext values of model's migrating columns
// (see "Adopting on a live database" in the package documentation). It
// walks the table in primary-key order, BatchSize rows per transaction:
// it reads each row's primary key, subject and columns, encrypts each
// plaintext value for the row's subject (ciphertexts are skipped, so it is
// idempotent) and fills its blind index, and writes the row with UPDATE …
// WHERE pk = ? AND subject = old AND column = old for every column it
// changes: a concurrent application write (which always stores the
// protected form) is never overwritten or lost; such a row is counted as
// Skipped. Each batch commits with a cursor in [BackfillTable], so an
// interrupted Backfill (cancelled context, crash, SIGKILL) continues after
// the last committed batch when called again, and a finished one returns at
// once. It takes no table lock; each transaction holds the row locks of one
// batch. On SQLite, which has one write lock for the whole database, every
// application write waits for the batch in progress: keep BatchSize near
// 100 there (about 50 ms a batch on 2 cores), well inside busy_timeout.
//
// Plaintext of a forgotten subject (keys.ErrKeyDestroyed) is set to NULL,
// with its blind index. A row with an empty subject field is encrypted for
// the subject of ctx (WithSubject), as writes are. The model needs a
// single-column integer or string primary key. Run it in the background and
// stop it with ctx; afterwards, [CountPlaintext] gives the evidence for
// removing the migrating flag.
func Backfill(ctx context.Context, db *gorm.DB, model any, opts BackfillOptions) (BackfillProgress, error) {
	p, err := pluginOf(db)
	if err != nil {
		return BackfillProgress{}, err
	}
	m, pk, cols, err := p.migrationTarget(db, model, opts.Columns, "Backfill", true)
	if err != nil {
		return BackfillProgress{}, err
	}
	parseKey, err := keyParser(pk)
	if err != nil {
		return BackfillProgress{}, fmt.Errorf("%w: Backfill of %s: %v", ErrUnsupported, m.table, err)
	}
	if m.subject == nil && subjectOf(ctx) == "" {
		return BackfillProgress{}, fmt.Errorf("%w: Backfill of %s: the model has no subject field and the context names none (WithSubject)", ErrNoSubject, m.table)
	}
	batch := opts.BatchSize
	if batch <= 0 {
		batch = DefaultBackfillBatch
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.dbName
	}
	bf := &backfiller{p: p, m: m, pk: pk, cols: cols, ctxSubject: subjectOf(ctx)}
	return bf.walk(ctx, db, "backfill", names, strings.Join(names, ","), batch, parseKey, false, opts.Progress)
}

// walk runs bf over the table in primary-key order, batch by batch, each
// committed together with the cursor row (table, key) in BackfillTable, so
// that a walk stopped anywhere resumes where it stopped. restart begins a
// walk whose cursor is done again from the start.
func (bf *backfiller) walk(ctx context.Context, db *gorm.DB, op string, names []string, key string, batch int,
	parseKey func(string) (any, error), restart bool, report func(BackfillProgress)) (BackfillProgress, error) {
	m := bf.m
	var err error
	fail := func(err error) (BackfillProgress, error) {
		return BackfillProgress{}, fmt.Errorf("gormcrypt: %s %s: %w", op, m.table, err)
	}
	start := time.Now()
	db = db.WithContext(ctx)
	if err := ensureTable(db, &backfillCursor{}, BackfillTable); err != nil {
		return fail(err)
	}
	cur := backfillCursor{Tbl: m.table, Columns: key, UpdatedAt: time.Now().UTC()}
	if err := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&cur).Error; err != nil {
		return fail(fmt.Errorf("creating the cursor: %w", err))
	}
	where := map[string]any{"table_name": cur.Tbl, "columns": cur.Columns}
	if err := db.Where(where).Take(&cur).Error; err != nil {
		return fail(fmt.Errorf("reading the cursor: %w", err))
	}
	if cur.Done && restart {
		cur = backfillCursor{Tbl: cur.Tbl, Columns: cur.Columns, UpdatedAt: time.Now().UTC()}
		if err := db.Model(&backfillCursor{}).Where(where).Updates(map[string]any{
			"last_key": nil, "done": false, "scanned": 0, "updated": 0, "skipped": 0, "erased": 0, "updated_at": cur.UpdatedAt,
		}).Error; err != nil {
			return fail(fmt.Errorf("restarting the cursor: %w", err))
		}
	}
	var total int64
	if !cur.Done {
		q := db.Table(m.table)
		if bf.only != "" && m.subject != nil {
			q = q.Session(&gorm.Session{Logger: q.Logger.LogMode(logger.Silent)}).
				Where(clause.Eq{Column: clause.Column{Name: m.subject.DBName}, Value: bf.only})
		}
		if err := q.Count(&total).Error; err != nil {
			return fail(fmt.Errorf("counting rows: %w", err))
		}
	}
	startScanned := cur.Scanned
	progress := func() BackfillProgress {
		pr := BackfillProgress{Table: m.table, Columns: names, Total: max(total, cur.Scanned), Scanned: cur.Scanned,
			Updated: cur.Updated, Skipped: cur.Skipped, Erased: cur.Erased, Elapsed: time.Since(start), Done: cur.Done}
		if s := pr.Elapsed.Seconds(); s > 0 {
			pr.RowsPerSecond = float64(cur.Scanned-startScanned) / s
		}
		if pr.RowsPerSecond > 0 && !cur.Done {
			pr.ETA = time.Duration(float64(pr.Total-pr.Scanned) / pr.RowsPerSecond * float64(time.Second))
		}
		return pr
	}
	for !cur.Done {
		var after any
		if cur.LastKey != nil {
			if after, err = parseKey(*cur.LastKey); err != nil {
				return fail(fmt.Errorf("the cursor holds an unreadable key: %w", err))
			}
		}
		var next backfillCursor
		for attempt := 1; ; attempt++ {
			next, err = bf.batch(ctx, db, cur, after, batch, where)
			if err == nil || attempt == batchAttempts || ctx.Err() != nil {
				break
			}
			// A deadlock or serialization failure with the application's
			// writes (MySQL/MariaDB pick the backfill as the victim): the
			// batch was rolled back, so it is read and done again.
			t := time.NewTimer(time.Duration(attempt) * 50 * time.Millisecond)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
		if err != nil {
			return fail(err)
		}
		cur = next
		if report != nil {
			report(progress())
		}
	}
	return progress(), nil
}

// batchAttempts is how often Backfill tries a batch whose transaction
// fails before it gives up (it resumes at its cursor when called again).
const batchAttempts = 5

// batch reads and protects the rows after after and commits the cursor
// with them; it returns the new cursor.
func (bf *backfiller) batch(ctx context.Context, db *gorm.DB, cur backfillCursor, after any, batch int, where map[string]any) (backfillCursor, error) {
	rows, err := readRows(db, bf.m, bf.pk, bf.cols, bf.only, after, batch)
	if err != nil {
		return cur, err
	}
	if err := bf.keys(ctx); err != nil {
		return cur, err
	}
	if err := bf.warm(ctx, rows); err != nil {
		return cur, err
	}
	next := cur
	err = db.Transaction(func(tx *gorm.DB) error {
		for i := range rows {
			res, err := bf.protect(ctx, tx, &rows[i])
			if err != nil {
				return err
			}
			next.Scanned++
			switch res {
			case rowUpdated:
				next.Updated++
			case rowSkipped:
				next.Skipped++
			case rowErased:
				next.Erased++
			}
		}
		if len(rows) > 0 {
			last := fmt.Sprint(rows[len(rows)-1].key)
			next.LastKey = &last
		}
		next.Done = len(rows) < batch
		next.UpdatedAt = time.Now().UTC()
		return tx.Model(&backfillCursor{}).Where(where).Updates(map[string]any{
			"last_key": next.LastKey, "done": next.Done, "scanned": next.Scanned, "updated": next.Updated,
			"skipped": next.Skipped, "erased": next.Erased, "updated_at": next.UpdatedAt,
		}).Error
	})
	return next, err
}

// migrationTarget resolves the model and the columns Backfill or
// CountPlaintext work on.
func (p *Plugin) migrationTarget(db *gorm.DB, model any, fields []string, op string, onlyStrings bool) (*modelMeta, *schema.Field, []*columnMeta, error) {
	m, pk, err := p.walkTarget(db, model, op)
	if err != nil {
		return nil, nil, nil, err
	}
	var cols []*columnMeta
	if len(fields) == 0 {
		for _, c := range m.sortedColumns() {
			if c.migrating {
				cols = append(cols, c)
			}
		}
		if len(cols) == 0 {
			return nil, nil, nil, fmt.Errorf("%w: %s of %s: no column is migrating; name the columns", ErrUnsupported, op, m.table)
		}
	}
	for _, name := range fields {
		c := m.columnNamed(name)
		if c == nil {
			return nil, nil, nil, fmt.Errorf("%w: %s of %s: %q is not an encrypted field", ErrUnsupported, op, m.table, name)
		}
		if msg := canMigrate(c); msg != "" && (c.mode == modeToken || onlyStrings) {
			return nil, nil, nil, fmt.Errorf("%w: %s of %s.%s: %s", ErrUnsupported, op, m.table, c.dbName, msg)
		}
		cols = append(cols, c)
	}
	sort.Slice(cols, func(i, j int) bool { return cols[i].dbName < cols[j].dbName })
	return m, pk, slices.Compact(cols), nil
}

// walkTarget parses model for a table walk (Backfill, CountPlaintext,
// ReEncrypt, ValuesBelow) and returns its description and its primary key,
// which must be a single column.
func (p *Plugin) walkTarget(db *gorm.DB, model any, op string) (*modelMeta, *schema.Field, error) {
	stmt := &gorm.Statement{DB: db}
	if err := stmt.Parse(model); err != nil {
		return nil, nil, fmt.Errorf("gormcrypt: parsing model %T: %w", model, err)
	}
	m, err := p.meta(stmt.Schema)
	if err != nil {
		return nil, nil, err
	}
	if len(stmt.Schema.PrimaryFields) != 1 {
		return nil, nil, fmt.Errorf("%w: %s of %s needs a single-column primary key", ErrUnsupported, op, m.table)
	}
	return m, stmt.Schema.PrimaryFields[0], nil
}

// ensureTable creates a bookkeeping table if it is missing; another
// process creating it at the same time is not an error.
func ensureTable(db *gorm.DB, model any, name string) error {
	m := db.Migrator()
	if m.HasTable(model) {
		return nil
	}
	if err := m.CreateTable(model); err != nil && !m.HasTable(model) {
		return fmt.Errorf("creating %s: %w", name, err)
	}
	return nil
}

type migrateRow struct {
	key     any
	subject sql.NullString
	values  []sql.NullString // one per column
	marks   []sql.NullBool   // one per column: its token marker, if it has one
}

// plaintext reports whether the row's value of cols[i] (c) is plaintext:
// not NULL and not a ciphertext, or, in a token column, not NULL, not empty
// and not marked as a token.
func (r *migrateRow) plaintext(i int, c *columnMeta) bool {
	v := r.values[i]
	if c.mode == modeToken {
		return v.Valid && v.String != "" && !r.marks[i].Bool
	}
	return v.Valid && !isCiphertext(v.String)
}

// readRows returns up to n rows after the primary key after (nil: from the
// start), in primary-key order; with subject, only that subject's rows
// (the model has a subject field); with one, the row whose primary key is
// one.
func readRows(db *gorm.DB, m *modelMeta, pk *schema.Field, cols []*columnMeta, subject string, after any, n int, one ...any) ([]migrateRow, error) {
	sel := []clause.Column{{Name: pk.DBName}}
	if m.subject != nil {
		sel = append(sel, clause.Column{Name: m.subject.DBName})
	}
	for _, c := range cols {
		sel = append(sel, clause.Column{Name: c.dbName})
	}
	for _, c := range cols {
		if c.mark != nil {
			sel = append(sel, clause.Column{Name: c.mark.index.DBName})
		}
	}
	q := db.Table(m.table).Clauses(clause.Select{Columns: sel})
	if after != nil {
		q = q.Where(clause.Gt{Column: clause.Column{Name: pk.DBName}, Value: after})
	}
	if len(one) == 1 {
		q = q.Where(clause.Eq{Column: clause.Column{Name: pk.DBName}, Value: one[0]})
	}
	if subject != "" && m.subject != nil {
		// Silent: GORM's logger would print the subject with a slow query.
		q = q.Session(&gorm.Session{Logger: q.Logger.LogMode(logger.Silent)}).
			Where(clause.Eq{Column: clause.Column{Name: m.subject.DBName}, Value: subject})
	}
	rows, err := q.Order(clause.OrderByColumn{Column: clause.Column{Name: pk.DBName}}).Limit(n).Rows()
	if err != nil {
		return nil, fmt.Errorf("reading rows: %w", err)
	}
	defer rows.Close()
	keyType := pk.IndirectFieldType
	var out []migrateRow
	for rows.Next() {
		row := migrateRow{values: make([]sql.NullString, len(cols)), marks: make([]sql.NullBool, len(cols))}
		key := reflect.New(keyType)
		dest := []any{key.Interface()}
		if m.subject != nil {
			dest = append(dest, &row.subject)
		}
		for i := range row.values {
			dest = append(dest, &row.values[i])
		}
		for i, c := range cols {
			if c.mark != nil {
				dest = append(dest, &row.marks[i])
			}
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("reading rows: %w", err)
		}
		row.key = key.Elem().Interface()
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading rows: %w", err)
	}
	return out, nil
}

type backfiller struct {
	p          *Plugin
	m          *modelMeta
	pk         *schema.Field
	cols       []*columnMeta
	ctxSubject string
	reencrypt  *reencryptSpec // set: ReEncrypt, not Backfill
	only       string         // set: walk only this subject's rows
	blind      []*blindMeta   // per column, nil if it has no blind index
	writeKeys  []*keys.Key    // per column, the blind index write key of this batch
}

// keys picks the blind index write keys for one batch (the write version
// may change between batches, see WithBlindIndexGrace).
func (bf *backfiller) keys(ctx context.Context) error {
	if bf.blind == nil {
		bf.blind = make([]*blindMeta, len(bf.cols))
		bf.writeKeys = make([]*keys.Key, len(bf.cols))
		for i, c := range bf.cols {
			for _, b := range bf.m.blind {
				if b.source == c.field {
					bf.blind[i] = b
				}
			}
		}
	}
	for i, b := range bf.blind {
		if b == nil {
			continue
		}
		k, err := bf.p.writeKey(ctx, b)
		if err != nil {
			return fmt.Errorf("blind index key for %s: %w", b.index.DBName, err)
		}
		bf.writeKeys[i] = k
	}
	return nil
}

// warm loads (creating them where needed) the keys the batch's rows need
// before its transaction begins, so that the transaction holds its row
// locks (on SQLite: the database's write lock) only while it encrypts and
// writes, not while the keystore creates and the KMS wraps new keys. A
// subject forgotten meanwhile is left to protect, which erases its values.
func (bf *backfiller) warm(ctx context.Context, rows []migrateRow) error {
	if bf.reencrypt != nil {
		return nil // re-encryption uses keys that exist
	}
	var enc, tok bool
	for _, c := range bf.cols {
		enc = enc || c.mode != modeToken
		tok = tok || (c.mode == modeToken && !c.global)
	}
	seen := map[string]bool{}
	for i := range rows {
		subject := rows[i].subject.String
		if subject == "" {
			subject = bf.ctxSubject
		}
		if seen[subject] || checkSubject(subject) != nil {
			continue
		}
		seen[subject] = true
		plain := false
		for j, c := range bf.cols {
			plain = plain || rows[i].plaintext(j, c)
		}
		if !plain {
			continue
		}
		for _, w := range []struct {
			on      bool
			purpose string
		}{{enc, bf.p.purpose}, {tok, tokenize.DefaultPurpose}} {
			if !w.on {
				continue
			}
			if _, err := bf.p.kr.Current(ctx, subject, w.purpose); err != nil && !errors.Is(err, keys.ErrKeyDestroyed) {
				return err
			}
		}
	}
	return nil
}

type rowResult uint8

const (
	rowUnchanged rowResult = iota
	rowUpdated
	rowSkipped
	rowErased
)

// maxRaces is how often protect re-reads a row that concurrent writes keep
// changing before the batch fails (and, retried, resumes at its cursor).
const maxRaces = 10

// protect encrypts one row's plaintext values and writes them if the row
// still holds what was read. If a concurrent write changed the row in
// between, it re-reads the row and starts again: the write may have
// protected some columns and left others (an Updates of one field) in
// clear.
func (bf *backfiller) protect(ctx context.Context, tx *gorm.DB, row *migrateRow) (rowResult, error) {
	raced := false
	for range maxRaces {
		res, err := bf.protectOnce(ctx, tx, row)
		if err != nil || res != rowSkipped {
			if res == rowUnchanged && raced {
				res = rowSkipped
			}
			return res, err
		}
		raced = true
		rows, err := readRows(tx, bf.m, bf.pk, bf.cols, "", nil, 1, row.key)
		if err != nil {
			return 0, err
		}
		if len(rows) == 0 {
			return rowSkipped, nil // deleted
		}
		*row = rows[0]
	}
	return 0, fmt.Errorf("a row kept changing during %d attempts to protect it", maxRaces)
}

func (bf *backfiller) protectOnce(ctx context.Context, tx *gorm.DB, row *migrateRow) (rowResult, error) {
	subject := row.subject.String
	if subject == "" {
		subject = bf.ctxSubject
	}
	var sets, conds []any
	erased := false
	if bf.reencrypt != nil {
		return bf.reencryptOnce(ctx, tx, row, subject)
	}
	for i, c := range bf.cols {
		v := row.values[i]
		if !row.plaintext(i, c) {
			continue
		}
		if c.mode == modeToken {
			if !c.global {
				if subject == "" {
					return 0, fmt.Errorf("%w: a row has an empty %s and the context names none (WithSubject)", ErrNoSubject, bf.m.subject.DBName)
				}
				if err := checkSubject(subject); err != nil {
					return 0, err
				}
			}
			tok, err := bf.p.tokenize(ctx, c, subject, v.String)
			switch {
			case errors.Is(err, keys.ErrKeyDestroyed):
				erased, tok = true, nil
			case err != nil:
				return 0, err
			}
			col, mark := clause.Column{Name: c.dbName}, clause.Column{Name: c.mark.index.DBName}
			sets = append(sets, col, tok, mark, true)
			conds = append(conds, clause.Eq{Column: col, Value: v.String},
				clause.Expr{SQL: "(? IS NULL OR ? = ?)", Vars: []any{mark, mark, false}})
			continue
		}
		if subject == "" {
			return 0, fmt.Errorf("%w: a row has an empty %s and the context names none (WithSubject)", ErrNoSubject, bf.m.subject.DBName)
		}
		if err := checkSubject(subject); err != nil {
			return 0, err
		}
		var ct, idx any
		sealed, err := bf.p.seal(ctx, c, subject, v.String)
		switch {
		case errors.Is(err, keys.ErrKeyDestroyed):
			erased = true // ct and idx stay NULL
		case err != nil:
			return 0, err
		default:
			ct = sealed
			if k := bf.writeKeys[i]; k != nil {
				s, err := indexUnder(k, bf.blind[i].normalize, v.String)
				if err != nil {
					return 0, err
				}
				idx = s
			}
		}
		sets = append(sets, clause.Column{Name: c.dbName}, ct)
		if b := bf.blind[i]; b != nil {
			sets = append(sets, clause.Column{Name: b.index.DBName}, idx)
		}
		conds = append(conds, clause.Eq{Column: clause.Column{Name: c.dbName}, Value: v.String})
	}
	if len(sets) == 0 {
		return rowUnchanged, nil
	}
	res, err := bf.write(tx, row, sets, conds)
	if err != nil || res == rowSkipped {
		return res, err
	}
	if erased {
		return rowErased, nil
	}
	return rowUpdated, nil
}

// write updates one row's columns (sets: column, value pairs) if it still
// holds what was read (conds) and still belongs to the subject read.
func (bf *backfiller) write(tx *gorm.DB, row *migrateRow, sets, conds []any) (rowResult, error) {
	conds = append(conds, clause.Eq{Column: clause.Column{Name: bf.pk.DBName}, Value: row.key})
	if bf.m.subject != nil {
		var old any
		if row.subject.Valid {
			old = row.subject.String
		}
		conds = append(conds, clause.Eq{Column: clause.Column{Name: bf.m.subject.DBName}, Value: old})
	}
	// A statement of its own, as in Reindex: the write callbacks refuse to
	// set a blind index column by hand, which is what this is.
	var q strings.Builder
	q.WriteString("UPDATE ? SET ")
	args := []any{clause.Table{Name: bf.m.table}}
	for i := 0; i < len(sets); i += 2 {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("? = ?")
		args = append(args, sets[i], sets[i+1])
	}
	q.WriteString(" WHERE ?")
	args = append(args, conds[0])
	for _, c := range conds[1:] {
		q.WriteString(" AND ?")
		args = append(args, c)
	}
	// Silent: GORM's logger prints slow and failed statements with their
	// arguments, and the WHERE clause holds the plaintext.
	res := tx.Session(&gorm.Session{Logger: tx.Logger.LogMode(logger.Silent)}).Exec(q.String(), args...)
	if res.Error != nil {
		return 0, fmt.Errorf("writing a row: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return rowSkipped, nil // changed or deleted since the read
	}
	return rowUpdated, nil
}

// CountPlaintext reports, per column name, how many values of model's
// encrypted fields (Go field or column names; none: every migrating
// column) are still plaintext, classified as reads of a migrating column
// classify them (see "Adopting on a live database" in the package
// documentation). It reads the whole table in primary-key order, 1000 rows
// per query; NULL is not plaintext. Zero for every column is the evidence
// for removing the migrating flag, after which a plaintext read fails with
// [ErrPlaintext].
func CountPlaintext(ctx context.Context, db *gorm.DB, model any, fields ...string) (map[string]int64, error) {
	p, err := pluginOf(db)
	if err != nil {
		return nil, err
	}
	m, pk, cols, err := p.migrationTarget(db, model, fields, "CountPlaintext", false)
	if err != nil {
		return nil, err
	}
	db = db.WithContext(ctx)
	out := make(map[string]int64, len(cols))
	for _, c := range cols {
		out[c.dbName] = 0
	}
	const page = 1000
	var after any
	for {
		rows, err := readRows(db, m, pk, cols, "", after, page)
		if err != nil {
			return nil, fmt.Errorf("gormcrypt: counting plaintext in %s: %w", m.table, err)
		}
		for _, row := range rows {
			for i, c := range cols {
				if row.plaintext(i, c) {
					out[c.dbName]++
				}
			}
		}
		if len(rows) < page {
			return out, nil
		}
		after = rows[len(rows)-1].key
	}
}
