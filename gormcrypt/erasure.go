package gormcrypt

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

// ErrErasure wraps the failures of the background erasure (see [Plugin]
// and [WithErasureErrorHandler]): a query of the service database or of the
// keystore that failed. The erasure retries by itself.
var ErrErasure = errors.New("gormcrypt: erasure")

// Defaults of the background erasure.
const (
	// DefaultSweepInterval is how often a Plugin checks every subject that
	// still has a blind index value against the keystore, to catch Forget
	// calls whose report it missed (see [WithSweepEvery]).
	DefaultSweepInterval = time.Hour
	// sweepPage is how many distinct subjects one query reads and one
	// keystore batch checks.
	sweepPage = keystore.ForgottenBatch
	// Retry delays after a failed pass.
	retryMin, retryMax = 100 * time.Millisecond, time.Minute
)

// Forget is the erasure request for one data subject: it crypto-shreds the
// subject's keys with keys.Keyring.Forget, so every ciphertext of theirs in
// every service sharing the keystore becomes unreadable, and then sets to
// NULL their blind index values in every model gormcrypt knows (those
// given to WithModels and those used since), in one transaction, so lookups by
// their old values find nothing. Rows are not deleted.
//
// Other services' Plugins on the same keystore clear their own databases'
// blind indexes for the subject in the background, within the bound the
// package documentation's Erasure section states.
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
	err = p.clearIndexes(db.WithContext(ctx), p.indexedModels(), []string{subject})
	if err != nil {
		return t, fmt.Errorf("gormcrypt: forget: keys destroyed, but clearing blind indexes failed: %w; call Forget again", err)
	}
	return t, nil
}

// redacted gives the field rv of a forgotten subject's row dst its zero
// value and marks the row with the model's forgotten field, if it has one.
func (p *Plugin) redacted(ctx context.Context, c *columnMeta, dst, rv reflect.Value) {
	rv.Set(reflect.Zero(c.field.FieldType))
	f := c.model.forgotten
	if f == nil {
		return
	}
	if v := reflect.Indirect(dst); v.IsValid() && v.Type() == f.Schema.ModelType {
		if fv := f.ReflectValueOf(ctx, v); fv.CanSet() {
			fv.SetBool(true)
		}
	}
}

// indexedModels returns the models with blind indexes or mask columns that the Plugin
// knows, by table name.
func (p *Plugin) indexedModels() []*modelMeta {
	p.mu.Lock()
	models := make([]*modelMeta, 0, len(p.models))
	for _, m := range p.models {
		models = append(models, m)
	}
	p.mu.Unlock()
	sort.Slice(models, func(i, j int) bool { return models[i].table < models[j].table })
	return models
}

// clearIndexes sets every blind index of subjects' rows in models to NULL,
// in one transaction.
func (p *Plugin) clearIndexes(db *gorm.DB, models []*modelMeta, subjects []string) error {
	if len(subjects) == 0 {
		return nil
	}
	in := make([]any, len(subjects))
	for i, s := range subjects {
		in[i] = s
	}
	return db.Transaction(func(tx *gorm.DB) error {
		for _, m := range models {
			set := make(map[string]any, len(m.cleared))
			for _, b := range m.cleared {
				set[b.index.DBName] = nil
			}
			res := tx.Table(m.table).
				Where(clause.IN{Column: clause.Column{Name: m.subject.DBName}, Values: in}).
				UpdateColumns(set)
			if res.Error != nil && !errors.Is(res.Error, gorm.ErrMissingWhereClause) {
				return fmt.Errorf("clearing blind indexes of %s: %w", m.table, res.Error)
			}
		}
		return nil
	})
}

// eraser finishes erasures in one database the Plugin is installed on: it
// clears the blind indexes of subjects forgotten anywhere on the keystore,
// as the Keyring reports them (keys.Keyring.OnForget), and sweeps every
// indexed subject against the keystore at start and every sweep interval,
// for the reports it missed.
type eraser struct {
	p      *Plugin
	db     *gorm.DB
	every  time.Duration // <0: no sweeps
	report func(error)

	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	stopHook func()

	mu      sync.Mutex
	pending map[keys.SubjectRef]bool
	wake    chan struct{} // capacity 1

	// The sweep's position, so that a failed sweep resumes where it
	// stopped instead of starting over (in memory only).
	cursor struct {
		table string
		after string
	}
}

// startEraser starts the background erasure for db; Initialize calls it.
func (p *Plugin) startEraser(db *gorm.DB) {
	e := &eraser{p: p, every: p.sweepEvery, report: p.onErasureError,
		pending: map[keys.SubjectRef]bool{}, wake: make(chan struct{}, 1)}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.db = db.Session(&gorm.Session{NewDB: true, Context: e.ctx})
	if e.report == nil {
		e.report = func(err error) { db.Logger.Error(e.ctx, "%v", err) }
	}
	// Under p.mu, so that a concurrent Close finds it whole or not at all.
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.erasers = append(p.erasers, e)
	e.stopHook = p.kr.OnForget(e.forgotten)
	e.wg.Add(1)
	go e.runEvents()
	if e.every >= 0 {
		e.wg.Add(1)
		go e.runSweeps()
	}
}

// forgotten queues ref; the Keyring calls it from its own goroutine.
func (e *eraser) forgotten(ref keys.SubjectRef) {
	e.mu.Lock()
	e.pending[ref] = true
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *eraser) stop() {
	e.stopHook()
	e.cancel()
	e.wg.Wait()
}

// sleep waits d or until the eraser stops, reporting whether it may go on.
func (e *eraser) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-e.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func nextDelay(d time.Duration) time.Duration { return min(max(2*d, retryMin), retryMax) }

// runEvents clears the indexes of reported subjects, all those reported
// since the last pass in one pass.
func (e *eraser) runEvents() {
	defer e.wg.Done()
	var delay time.Duration
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-e.wake:
		}
		e.mu.Lock()
		batch := e.pending
		e.pending = map[keys.SubjectRef]bool{}
		e.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		err := e.clearReported(batch)
		if err == nil {
			delay = 0
			continue
		}
		if e.ctx.Err() != nil {
			return
		}
		e.report(err)
		for ref := range batch { // try again, with what came in meanwhile
			e.forgotten(ref)
		}
		delay = nextDelay(delay)
		if !e.sleep(delay) {
			return
		}
	}
}

// clearReported is one pass over the indexed subjects of every model,
// clearing those whose reference is in refs: the references cannot be
// inverted, so the subjects are read and their references computed.
func (e *eraser) clearReported(refs map[keys.SubjectRef]bool) error {
	models := e.p.indexedModels()
	for _, m := range models {
		err := e.scan(m, "", func(subjects []string) error {
			var gone []string
			for _, s := range subjects {
				if ref, err := e.p.kr.SubjectRef(s); err == nil && refs[ref] {
					gone = append(gone, s)
				}
			}
			return e.clear(models, gone)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// runSweeps checks every indexed subject against the keystore at start and
// then every e.every, resuming a failed sweep where it stopped.
func (e *eraser) runSweeps() {
	defer e.wg.Done()
	var delay time.Duration
	for {
		err := e.sweep()
		switch {
		case e.ctx.Err() != nil:
			return
		case err != nil:
			e.report(err)
			delay = nextDelay(delay)
			if !e.sleep(delay) {
				return
			}
			continue
		}
		delay = 0
		if e.every == 0 || !e.sleep(e.every) {
			return
		}
	}
}

// sweep checks, page by page, the subjects that still have a blind index
// value against the keystore and clears the forgotten ones. It starts at
// e.cursor, which it advances page by page and resets when done.
func (e *eraser) sweep() error {
	models := e.p.indexedModels()
	for _, m := range models {
		if e.cursor.table != "" && m.table < e.cursor.table {
			continue // done before the failure this sweep resumes from
		}
		after := ""
		if m.table == e.cursor.table {
			after = e.cursor.after
		}
		err := e.scan(m, after, func(subjects []string) error {
			bySubject := make(map[keys.SubjectRef][]string, len(subjects))
			refs := make([]keys.SubjectRef, 0, len(subjects))
			for _, s := range subjects {
				ref, err := e.p.kr.SubjectRef(s)
				if err != nil {
					continue // not a subject the Keyring could have a key for
				}
				if _, seen := bySubject[ref]; !seen {
					refs = append(refs, ref)
				}
				bySubject[ref] = append(bySubject[ref], s)
			}
			forgotten, err := e.p.kr.ForgottenRefs(e.ctx, refs)
			if err != nil {
				return fmt.Errorf("%w: checking the keystore: %w", ErrErasure, err)
			}
			var gone []string
			for _, ref := range forgotten {
				gone = append(gone, bySubject[ref]...)
			}
			if err := e.clear(models, gone); err != nil {
				return err
			}
			e.cursor.table, e.cursor.after = m.table, subjects[len(subjects)-1]
			return nil
		})
		if err != nil {
			return err
		}
	}
	e.cursor.table, e.cursor.after = "", ""
	return nil
}

// scan calls page with the distinct subjects of m's rows that still have a
// blind index value, in pages of at most sweepPage in the database's order,
// starting after the subject after.
func (e *eraser) scan(m *modelMeta, after string, page func(subjects []string) error) error {
	col := clause.Column{Name: m.subject.DBName}
	indexed := make([]clause.Expression, len(m.cleared))
	for i, b := range m.cleared {
		indexed[i] = clause.Neq{Column: clause.Column{Name: b.index.DBName}, Value: nil}
	}
	for {
		var subjects []string
		err := e.db.Table(m.table).
			Distinct(m.subject.DBName).
			Where(clause.Or(indexed...)).
			Where(clause.Gt{Column: col, Value: after}).
			Order(clause.OrderByColumn{Column: col}).
			Limit(sweepPage).
			Pluck(m.subject.DBName, &subjects).Error
		if err != nil {
			return fmt.Errorf("%w: reading the indexed subjects of %s: %w", ErrErasure, m.table, err)
		}
		if len(subjects) == 0 {
			return nil
		}
		if err := page(subjects); err != nil {
			return err
		}
		if len(subjects) < sweepPage {
			return nil
		}
		after = subjects[len(subjects)-1]
	}
}

func (e *eraser) clear(models []*modelMeta, subjects []string) error {
	if err := e.p.clearIndexes(e.db, models, subjects); err != nil {
		return fmt.Errorf("%w: %w", ErrErasure, err)
	}
	return nil
}

// Close stops the Plugin's background erasure in every database it is
// installed on and waits for it to end; queued reports are dropped (the
// next start's sweep finds them). The Plugin keeps working otherwise:
// reads, writes and [Forget] are unaffected, but blind indexes of
// subjects forgotten by other services are no longer cleared here. Close
// does not close the Keyring or the databases. It is idempotent and
// always returns nil.
func (p *Plugin) Close() error {
	p.mu.Lock()
	erasers := p.erasers
	p.erasers, p.closed = nil, true
	p.mu.Unlock()
	for _, e := range erasers {
		e.stop()
	}
	return nil
}
