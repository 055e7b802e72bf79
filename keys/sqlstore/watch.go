package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

// DefaultPollInterval is how often Watch reads the tombstones of a keystore
// whose [Dialect] is not a [Listener] (MySQL, MariaDB, SQLite) or cannot
// listen on the Store's pool (a PostgreSQL *sql.DB not opened through pgx).
const DefaultPollInterval = 250 * time.Millisecond

// lookback is how far before the newest tombstone seen Watch looks for
// tombstones it has not seen yet. A Forget's tombstone carries the time
// its process read from its own clock before the transaction began, so a
// tombstone can become visible after a newer one: it is still found while
// the difference (clock skew between the writers plus the transaction's
// duration) is under lookback. Later than that, only the cache MaxAge
// bounds how long other processes keep the key.
const lookback = 5 * time.Second

// Option configures a Store.
type Option func(*options)

type options struct {
	pollInterval time.Duration
	ownDB        bool
	noNotify     bool
}

// WithOwnedDB hands the *sql.DB given to [New] over to the Store: Close
// closes it, and New closes it if it fails. Most users won't need this:
// the driver packages' Open functions use it.
func WithOwnedDB() Option {
	return func(o *options) { o.ownDB = true }
}

// WithPollInterval sets how often Watch reads the tombstones when it polls
// (MySQL/MariaDB, SQLite): the usual time for a Forget to reach other
// processes is this interval plus one query. The default is
// [DefaultPollInterval]; each poll is one indexed range query returning the
// tombstones of the last few seconds.
func WithPollInterval(d time.Duration) Option {
	return func(o *options) { o.pollInterval = d }
}

// WithoutNotify turns PostgreSQL's LISTEN/NOTIFY off: Forget sends no
// NOTIFY and Watch polls the tombstones every poll interval (see
// [WithPollInterval]), as on MySQL/MariaDB. For servers that speak
// PostgreSQL's protocol but not LISTEN/NOTIFY (CockroachDB and others),
// where pg_notify fails or LISTEN is refused. Every process on the keystore
// should use it: a Store with it still hears the NOTIFY of a Store without
// it only by polling. Without it, Watch also switches to polling by itself,
// logging once, when the server refuses LISTEN as not supported (SQLSTATE
// 0A000); Forget's NOTIFY must then still be accepted, or Forget fails.
func WithoutNotify() Option {
	return func(o *options) { o.noNotify = true }
}

// notifyChannel names the PostgreSQL NOTIFY channel of the keystore in
// schema, so that keystores in different schemas of one database do not
// hear each other.
func notifyChannel(schema string) string {
	c := "fieldcrypt_forget." + schema
	if len(c) > 63 { // NAMEDATALEN - 1
		sum := sha256.Sum256([]byte(schema))
		c = "fieldcrypt_forget." + hex.EncodeToString(sum[:16])
	}
	return c
}

// Watch implements keystore.Watcher: it calls forgotten with the reference of
// every subject forgotten in the keystore, by any process, until ctx is done
// (then it returns nil) or the Store is closed (then it returns an error).
// keys.Open calls it; most users won't.
//
// If the Store's [Dialect] is a [Listener] (PostgreSQL through pgx), Forget
// sends a NOTIFY on the channel "fieldcrypt_forget.<schema>" inside its
// transaction, so it is delivered when the transaction commits, and Watch
// listens on one connection taken from the Store's pool for as long as it
// runs. Latency: typically a few milliseconds. When the connection is lost,
// Watch reconnects with backoff (50 ms doubling to 5 s) and, once listening
// again, reads the tombstones written since the newest one it had seen
// (less a 5 s lookback) and reports them.
//
// Otherwise (MySQL/MariaDB, SQLite), Watch polls the tombstones every poll
// interval ([DefaultPollInterval], 250 ms; see [WithPollInterval]) with one
// indexed query. Latency: the interval plus the query's time. A failed poll
// is simply retried at the next interval; nothing is missed, because each
// poll reads everything newer than the newest tombstone seen (less the
// lookback).
//
// [WithoutNotify] turns LISTEN/NOTIFY off, for PostgreSQL-compatible
// servers without it: Watch then polls as on MySQL. A server that refuses
// LISTEN as not supported (SQLSTATE 0A000) makes Watch poll by itself,
// with one warning logged (log/slog) per Store.
//
// Either way, the hard bound when reports are lost for longer is the
// reading process's cache MaxAge plus keys.MaxAgeSlack.
func (s *Store) Watch(ctx context.Context, forgotten func(keystore.SubjectRef)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	c := &cursor{seen: make(map[keystore.SubjectRef]int64), report: forgotten}
	l, ok := s.dialect.(Listener)
	if !ok || s.sql != Postgres || s.opts.noNotify || !s.listen(ctx, l, c) {
		s.poll(ctx, c)
	}
	select {
	case <-s.closed:
		return errors.New("sqlstore: watch: store closed")
	default:
		return nil
	}
}

// cursor tracks which tombstones Watch has reported.
type cursor struct {
	started bool
	newest  int64                         // newest forgotten_at seen, microseconds
	seen    map[keystore.SubjectRef]int64 // reported within lookback of newest
	report  func(keystore.SubjectRef)
}

// queryFunc runs a query returning (subject_ref, forgotten_at) rows.
type queryFunc func(ctx context.Context, query string, args ...any) ([][2]any, error)

// catchUp reports every tombstone newer than the cursor's newest less the
// lookback that it has not reported yet.
func (s *Store) catchUp(ctx context.Context, c *cursor, query queryFunc) error {
	if !c.started {
		rows, err := query(ctx, s.q.lastForget)
		if err != nil {
			return err
		}
		if len(rows) == 1 {
			if v, ok := rows[0][1].(int64); ok {
				c.advance(v)
			}
		}
		c.started = true
	}
	since := c.newest - lookback.Microseconds()
	rows, err := query(ctx, s.q.recentForgets, since)
	if err != nil {
		return err
	}
	for _, r := range rows {
		ref, at := r[0].(keystore.SubjectRef), r[1].(int64)
		c.saw(ref, at)
	}
	for ref, at := range c.seen {
		if at <= c.newest-lookback.Microseconds() {
			delete(c.seen, ref)
		}
	}
	return nil
}

// saw reports ref unless it was reported already and advances the cursor.
func (c *cursor) saw(ref keystore.SubjectRef, at int64) {
	if _, dup := c.seen[ref]; !dup {
		c.seen[ref] = at
		c.report(ref)
	}
	c.advance(at)
}

// advance moves the cursor to at, but never past this process's clock: a
// tombstone from a process whose clock runs ahead must not make Watch skip
// the tombstones of every other process until that time. (It is reported
// by every poll until then, and dropped by seen.)
func (c *cursor) advance(at int64) {
	c.newest = max(c.newest, min(at, time.Now().UnixMicro()))
}

// scanTombstoneRow reads one (subject_ref, forgotten_at) row; the first
// query of catchUp returns (nil, MAX(forgotten_at)).
func scanTombstoneRow(scan func(dest ...any) error, maxOnly bool) ([2]any, error) {
	if maxOnly {
		var at sql.NullInt64
		if err := scan(&at); err != nil {
			return [2]any{}, err
		}
		if !at.Valid {
			return [2]any{nil, nil}, nil
		}
		return [2]any{nil, at.Int64}, nil
	}
	var ref []byte
	var at int64
	if err := scan(&ref, &at); err != nil {
		return [2]any{}, err
	}
	if len(ref) != len(keystore.SubjectRef{}) {
		return [2]any{}, errors.New("malformed subject row")
	}
	return [2]any{keystore.SubjectRef(ref), at}, nil
}

// sqlQuery returns a queryFunc for catchUp that runs on db: the Store's
// pool or the listening connection.
func (s *Store) sqlQuery(db interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}) queryFunc {
	return func(ctx context.Context, query string, args ...any) ([][2]any, error) {
		rows, err := db.QueryContext(ctx, query, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out [][2]any
		for rows.Next() {
			r, err := scanTombstoneRow(rows.Scan, query == s.q.lastForget)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		return out, rows.Err()
	}
}

func (s *Store) poll(ctx context.Context, c *cursor) {
	t := time.NewTicker(s.opts.pollInterval)
	defer t.Stop()
	for {
		// An error (database restarting, say) is retried at the next tick;
		// the cursor makes that poll read what this one missed.
		_ = s.catchUp(ctx, c, s.sqlQuery(s.db))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// listen runs l until ctx is done and reports true, or reports false at
// once if l cannot listen on the Store's pool, so that Watch polls.
func (s *Store) listen(ctx context.Context, l Listener, c *cursor) bool {
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		start := time.Now()
		err := s.listenOnce(ctx, l, c)
		if errors.Is(err, ErrNotSupported) {
			return false
		}
		if featureNotSupported(err) {
			s.pollFallback.Do(func() {
				slog.Warn("sqlstore: the server refuses LISTEN as not supported (SQLSTATE 0A000); "+
					"watching for Forgets by polling instead (set sqlstore.WithoutNotify to say so)",
					"poll_interval", s.opts.pollInterval)
			})
			return false
		}
		if time.Since(start) > time.Minute {
			backoff = 50 * time.Millisecond // it worked for a while: reconnect quickly
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		backoff = min(2*backoff, 5*time.Second)
	}
	return true
}

// listenOnce holds one connection of the pool, has l listen on it, catches
// up on tombstones and reports notifications until the connection fails or
// ctx is done. The connection is then discarded rather than returned to
// the pool, so that no other user inherits the subscription or whatever
// else l set on it.
func (s *Store) listenOnce(ctx context.Context, l Listener, c *cursor) error {
	if listenHook != nil {
		l = listenHook(l)
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	err = l.Listen(ctx, conn, s.channel,
		func() error {
			// Listening now: whatever commits from here on is notified,
			// and the catch-up reads what committed before (or while
			// disconnected).
			return s.catchUp(ctx, c, s.sqlQuery(conn))
		},
		func(payload string) {
			ref, at, err := parseNotification(payload)
			if err != nil {
				return // not ours; the cache MaxAge still bounds staleness
			}
			// Not remembered in seen: notifications arrive once, and a
			// catch-up after a reconnect reporting it again does no harm.
			c.report(ref)
			c.advance(at)
		})
	if errors.Is(err, ErrNotSupported) {
		return err // conn is untouched: back to the pool
	}
	_ = conn.Raw(func(any) error { return driver.ErrBadConn }) // discard conn
	return err
}

// featureNotSupported reports whether err is the server's
// feature_not_supported (SQLSTATE 0A000), which PostgreSQL-compatible
// servers without LISTEN return for it. pgx's *pgconn.PgError has the
// SQLState method.
func featureNotSupported(err error) bool {
	var s interface{ SQLState() string }
	return errors.As(err, &s) && s.SQLState() == "0A000"
}

// listenHook, if set (by the tests), wraps the Listener of every listenOnce.
var listenHook func(Listener) Listener

// parseNotification reads the payload Forget sends: the subject reference
// in hex, a space, and the tombstone's time in microseconds since the epoch.
func parseNotification(p string) (keystore.SubjectRef, int64, error) {
	var ref keystore.SubjectRef
	hexRef, micros, ok := strings.Cut(p, " ")
	b, err := hex.DecodeString(hexRef)
	if !ok || err != nil || len(b) != len(ref) {
		return ref, 0, fmt.Errorf("sqlstore: malformed notification %q", p)
	}
	at, err := strconv.ParseInt(micros, 10, 64)
	if err != nil {
		return ref, 0, fmt.Errorf("sqlstore: malformed notification %q", p)
	}
	copy(ref[:], b)
	return ref, at, nil
}
