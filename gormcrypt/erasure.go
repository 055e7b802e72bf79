package gormcrypt

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/fieldcrypt/fieldcrypt/keys"
)

// Forget is the erasure request for one data subject: it crypto-shreds the
// subject's keys with keys.Keyring.Forget, so every ciphertext of theirs in
// every service sharing the keystore becomes unreadable, and then sets to
// NULL their blind index values in every model gormcrypt knows (those
// given to Models and those used since), in one transaction, so lookups by
// their old values find nothing. Rows are not deleted.
//
// Forget is idempotent: if clearing the indexes fails, call it again.
// Global-scope tokens (when the tokenize package provides them) survive
// Forget by design; delete their rows to erase them. reason is stored and
// logged: use a ticket reference, not personal data.
func Forget(ctx context.Context, db *gorm.DB, subject, reason string) (keys.Tombstone, error) {
	p, err := pluginOf(db)
	if err != nil {
		return keys.Tombstone{}, err
	}
	if err := checkSubject(subject); err != nil {
		return keys.Tombstone{}, fmt.Errorf("gormcrypt: forget: %w", err)
	}
	t, err := p.kr.Forget(ctx, subject, reason)
	if err != nil {
		return keys.Tombstone{}, fmt.Errorf("gormcrypt: forget: %w", err)
	}
	p.mu.Lock()
	models := make([]*modelMeta, 0, len(p.models))
	for _, m := range p.models {
		models = append(models, m)
	}
	p.mu.Unlock()
	sort.Slice(models, func(i, j int) bool { return models[i].table < models[j].table })
	err = db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for _, m := range models {
			set := make(map[string]any, len(m.blind))
			for _, b := range m.blind {
				set[b.index.DBName] = nil
			}
			res := tx.Table(m.table).
				Where(clause.Eq{Column: clause.Column{Name: m.subject.DBName}, Value: subject}).
				UpdateColumns(set)
			if res.Error != nil && !errors.Is(res.Error, gorm.ErrMissingWhereClause) {
				return fmt.Errorf("clearing blind indexes of %s: %w", m.table, res.Error)
			}
		}
		return nil
	})
	if err != nil {
		return t, fmt.Errorf("gormcrypt: forget: keys destroyed, but %w; call Forget again", err)
	}
	return t, nil
}
