package gormcrypt

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/keys"
)

// This file re-encrypts values after a subject key rotation (ReEncrypt),
// and counts what still uses old key versions (ValuesBelow), so that
// keys.Keyring.DestroyVersionsBelow can destroy them with evidence.

// ReEncryptOptions configures ReEncrypt.
type ReEncryptOptions struct {
	// Subject limits the walk to this subject's rows (the usual case after a
	// suspected leak of one customer's key); empty: every row. Only the
	// subject's rows are read (WHERE subject = ?, in primary-key order):
	// give the subject column an index, as shops do for their customer
	// reference, and the walk costs the subject's rows, not the table.
	Subject string
	// Columns are the encrypted fields to re-encrypt (Go field or column
	// names); none: every encrypted column except token columns, whose
	// tokens are always made under version 1 of the key and never rotate.
	Columns []string
	// BatchSize is the rows per transaction (default DefaultBackfillBatch).
	BatchSize int
	// Progress, if set, is called after every batch.
	Progress func(BackfillProgress)
}

type reencryptSpec struct {
	subject string // "" : every subject
}

// ReEncrypt rewrites every value of model's encrypted columns that was
// written under an older version of its subject's key than the current one
// (see keys.Keyring.Rotate), under the current version, with the same
// properties as Backfill: primary-key order, short transactions, a cursor
// committed with each batch (in BackfillTable) so that a stopped run
// resumes, per-row optimistic writes (a value the application changed since
// it was read is left alone: the application wrote it under the current
// version), and progress. It is idempotent; a run started after a finished
// one walks the table again. Values of forgotten subjects are left as they
// are (they cannot be read) and counted as Erased.
//
// The plaintext is never held longer than one row and never leaves the
// process; blind indexes do not change (they do not depend on the subject
// key). Afterwards [ValuesBelow] reports 0 for the subject and the new
// version, which keys.Keyring.DestroyVersionsBelow accepts as proof:
//
//	v, _ := kr.Rotate(ctx, "customer-42", keys.DefaultPurpose)
//	gormcrypt.ReEncrypt(ctx, db, &Customer{}, gormcrypt.ReEncryptOptions{Subject: "customer-42"})
//	kr.DestroyVersionsBelow(ctx, "customer-42", keys.DefaultPurpose, v,
//		keys.WhenUnused(func(ctx context.Context) (int64, error) {
//			return gormcrypt.ValuesBelow(ctx, db, &Customer{}, "customer-42", v)
//		}))
func ReEncrypt(ctx context.Context, db *gorm.DB, model any, opts ReEncryptOptions) (BackfillProgress, error) {
	p, err := pluginOf(db)
	if err != nil {
		return BackfillProgress{}, err
	}
	m, pk, cols, err := p.versionedColumns(db, model, opts.Columns, "ReEncrypt")
	if err != nil {
		return BackfillProgress{}, err
	}
	if opts.Subject != "" {
		if err := checkSubject(opts.Subject); err != nil {
			return BackfillProgress{}, fmt.Errorf("gormcrypt: ReEncrypt: %w", err)
		}
	}
	parseKey, err := keyParser(pk)
	if err != nil {
		return BackfillProgress{}, fmt.Errorf("%w: ReEncrypt of %s: %v", ErrUnsupported, m.table, err)
	}
	batch := opts.BatchSize
	if batch <= 0 {
		batch = DefaultBackfillBatch
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.dbName
	}
	// The cursor names the subject by its keystore reference, never in
	// clear.
	who := "all"
	if opts.Subject != "" {
		ref, err := p.kr.SubjectRef(opts.Subject)
		if err != nil {
			return BackfillProgress{}, fmt.Errorf("gormcrypt: ReEncrypt: %w", err)
		}
		who = hex.EncodeToString(ref[:])
	}
	key := "reencrypt:" + who + ":" + strings.Join(names, ",")
	bf := &backfiller{p: p, m: m, pk: pk, cols: cols, ctxSubject: subjectOf(ctx), reencrypt: &reencryptSpec{subject: opts.Subject}, only: opts.Subject}
	return bf.walk(ctx, db, "re-encrypt", names, key, batch, parseKey, true, opts.Progress)
}

// versionedColumns resolves the columns ReEncrypt and ValuesBelow work on:
// the named ones, or every encrypted column that is not a token column.
func (p *Plugin) versionedColumns(db *gorm.DB, model any, fields []string, op string) (*modelMeta, *schema.Field, []*columnMeta, error) {
	m, pk, err := p.walkTarget(db, model, op)
	if err != nil {
		return nil, nil, nil, err
	}
	if m.subject == nil {
		return nil, nil, nil, fmt.Errorf("%w: %s of %s needs a fieldcrypt:\"subject\" field", ErrUnsupported, op, m.table)
	}
	var cols []*columnMeta
	for _, c := range m.sortedColumns() {
		if len(fields) == 0 && c.mode != modeToken {
			cols = append(cols, c)
		}
	}
	for _, name := range fields {
		c := m.columnNamed(name)
		if c == nil {
			return nil, nil, nil, fmt.Errorf("%w: %s of %s: %q is not an encrypted field", ErrUnsupported, op, m.table, name)
		}
		if c.mode == modeToken {
			return nil, nil, nil, fmt.Errorf("%w: %s of %s.%s: tokens are made under version 1 of the key and are not re-encrypted",
				ErrUnsupported, op, m.table, c.dbName)
		}
		cols = append(cols, c)
	}
	if len(cols) == 0 {
		return nil, nil, nil, fmt.Errorf("%w: %s of %s: no encrypted column", ErrUnsupported, op, m.table)
	}
	sort.Slice(cols, func(i, j int) bool { return cols[i].dbName < cols[j].dbName })
	return m, pk, cols, nil
}

// keyVersionOf returns the key version a stored ciphertext text form was
// written under (bytes 18-21 of the header in formats 1 and 2), or false
// for anything that is not one.
func keyVersionOf(s string) (uint32, []byte, bool) {
	if !isCiphertext(s) {
		return 0, nil, false
	}
	b, err := strictText.DecodeString(s)
	if err != nil || len(b) < headerV1Size {
		return 0, nil, false
	}
	return binary.BigEndian.Uint32(b[18:22]), b, true
}

// reencryptOnce rewrites the row's values that are older than the
// subject's current key version.
func (bf *backfiller) reencryptOnce(ctx context.Context, tx *gorm.DB, row *migrateRow, subject string) (rowResult, error) {
	spec := bf.reencrypt
	if spec.subject != "" && subject != spec.subject {
		return rowUnchanged, nil
	}
	if subject == "" {
		return rowUnchanged, nil // no subject: not this walk's to judge
	}
	if err := checkSubject(subject); err != nil {
		return 0, err
	}
	var current uint32
	var sets, conds []any
	for i, c := range bf.cols {
		v := row.values[i]
		if !v.Valid {
			continue
		}
		version, ct, ok := keyVersionOf(v.String)
		if !ok {
			continue // plaintext of a migrating column: Backfill's job
		}
		if current == 0 {
			k, err := bf.p.kr.Current(ctx, subject, bf.p.purpose)
			if errors.Is(err, keys.ErrKeyDestroyed) {
				return rowErased, nil
			}
			if err != nil {
				return 0, err
			}
			current = k.Version()
		}
		if version >= current {
			continue
		}
		ad := envelope.AssociatedData(bf.m.table, c.dbName, subject)
		pt, err := bf.p.c.Decrypt(ctx, ct, ad)
		if err != nil {
			if errors.Is(err, keys.ErrKeyDestroyed) {
				continue // an old version destroyed already: nothing to save
			}
			return 0, c.errorf(err)
		}
		var out []byte
		if c.mode == envelope.Deterministic {
			out, err = bf.p.c.EncryptDeterministic(ctx, subject, pt, ad)
		} else {
			out, err = bf.p.c.Encrypt(ctx, subject, pt, ad)
		}
		clear(pt)
		if err != nil {
			return 0, c.errorf(err)
		}
		sets = append(sets, clause.Column{Name: c.dbName}, text.EncodeToString(out))
		conds = append(conds, clause.Eq{Column: clause.Column{Name: c.dbName}, Value: v.String})
	}
	if len(sets) == 0 {
		return rowUnchanged, nil
	}
	return bf.write(tx, row, sets, conds)
}

// ValuesBelow counts the values of model's encrypted columns in rows of
// subject that still use a key version below version: ciphertexts written
// under an older version (ReEncrypt rewrites them), and, when version > 1,
// every token of a subject-scoped token column (tokens are made under
// version 1 and would stop detokenizing). Zero is the evidence
// keys.Keyring.DestroyVersionsBelow asks for through keys.WhenUnused. It
// reads the subject's rows (WHERE subject = ?) in primary-key order, 1000
// rows per query.
func ValuesBelow(ctx context.Context, db *gorm.DB, model any, subject string, version uint32) (int64, error) {
	p, err := pluginOf(db)
	if err != nil {
		return 0, err
	}
	if err := checkSubject(subject); err != nil {
		return 0, fmt.Errorf("gormcrypt: ValuesBelow: %w", err)
	}
	m, pk, err := p.walkTarget(db, model, "ValuesBelow")
	if err != nil {
		return 0, err
	}
	if m.subject == nil {
		return 0, fmt.Errorf("%w: ValuesBelow of %s needs a fieldcrypt:\"subject\" field", ErrUnsupported, m.table)
	}
	cols := m.sortedColumns()
	db = db.WithContext(ctx)
	var n int64
	const page = 1000
	var after any
	for {
		rows, err := readRows(db, m, pk, cols, subject, after, page)
		if err != nil {
			return 0, fmt.Errorf("gormcrypt: counting old key versions in %s: %w", m.table, err)
		}
		for _, row := range rows {
			if row.subject.String != subject {
				continue
			}
			for i, c := range cols {
				v := row.values[i]
				if !v.Valid || v.String == "" {
					continue
				}
				if c.mode == modeToken {
					if !c.global && version > 1 {
						n++
					}
					continue
				}
				if ver, _, ok := keyVersionOf(v.String); ok && ver < version {
					n++
				}
			}
		}
		if len(rows) < page {
			return n, nil
		}
		after = rows[len(rows)-1].key
	}
}
