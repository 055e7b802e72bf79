//go:build scale

package sqlstore_test

// Scale figures, not run in CI:
//
//	FIELDCRYPT_TEST_POSTGRES_DSN=... go test -tags scale -run TestScale -v -timeout 30m ./keys/sqlstore/

import (
	"context"
	"crypto/rand"
	"database/sql"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

const scaleSubjects = 1_000_000

// TestScalePostgres fills a keystore with a million subjects, one key each
// (a tenth of them forgotten, over the past year), and measures the
// keystore's size, cold key reads through a Keyring and the Watch query.
func TestScalePostgres(t *testing.T) {
	ctx := context.Background()
	c := processTarget(t, "Postgres")
	// Real keys through a Keyring, so that cold reads can unwrap them.
	kr, store := c.openKeyring(t, keys.Config{DisableWatch: true})
	defer store.Close()
	const realKeys = 5_000
	ids := make([]keystore.KeyID, realKeys)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < realKeys; i += 8 {
				k, err := kr.Current(ctx, "scale-customer-"+strconv.Itoa(i), keys.DefaultPurpose)
				if err != nil {
					t.Error(err)
					return
				}
				ids[i] = k.ID()
			}
		})
	}
	wg.Wait()
	// The rest: synthetic rows of the same shape, copied in bulk.
	conn, err := pgx.Connect(ctx, c.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	wrapped := make([]byte, 61) // localkms: 1 + 12 + 32 + 16
	now := time.Now().UnixMicro()
	year := int64(365 * 24 * time.Hour / time.Microsecond)
	start := time.Now()
	const chunk = 100_000
	for base := realKeys; base < scaleSubjects; base += chunk {
		n := min(chunk, scaleSubjects-base)
		subj := make([][]any, n)
		key := make([][]any, n)
		for i := range n {
			ref, id := make([]byte, 16), make([]byte, 16)
			rand.Read(ref)
			rand.Read(id)
			rand.Read(wrapped)
			var forgotten any
			w := append([]byte(nil), wrapped...)
			var destroyedAt any
			if i%10 == 0 {
				at := now - int64(i)*year/int64(n)
				forgotten, w, destroyedAt = at, nil, at
			}
			subj[i] = []any{ref, forgotten, nil, int64(0)}
			key[i] = []any{id, int64(1), ref, "default", w, now, destroyedAt}
		}
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{"fieldcrypt_subjects"},
			[]string{"subject_ref", "forgotten_at", "reason", "destroyed"}, pgx.CopyFromRows(subj)); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{"fieldcrypt_keys"},
			[]string{"key_id", "version", "subject_ref", "purpose", "wrapped", "created_at", "destroyed_at"}, pgx.CopyFromRows(key)); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("bulk load of %d subjects: %v", scaleSubjects-realKeys, time.Since(start))
	if _, err := conn.Exec(ctx, `VACUUM ANALYZE fieldcrypt_subjects`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `VACUUM ANALYZE fieldcrypt_keys`); err != nil {
		t.Fatal(err)
	}
	var subjects, keyRows, subjBytes, keyBytes, forgottenIdx int64
	conn.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM fieldcrypt_subjects), (SELECT COUNT(*) FROM fieldcrypt_keys),
pg_total_relation_size('fieldcrypt_subjects'), pg_total_relation_size('fieldcrypt_keys'),
pg_relation_size('fieldcrypt_subjects_forgotten')`).Scan(&subjects, &keyRows, &subjBytes, &keyBytes, &forgottenIdx)
	t.Logf("%d subjects, %d keys: subjects %d MB, keys %d MB (tables + indexes): %d bytes per subject (forgotten_at index %d MB)",
		subjects, keyRows, subjBytes>>20, keyBytes>>20, (subjBytes+keyBytes)/subjects, forgottenIdx>>20)

	// Building the tombstone time index on an existing table of this size.
	if _, err := conn.Exec(ctx, `DROP INDEX fieldcrypt_subjects_forgotten`); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if _, err := conn.Exec(ctx, `CREATE INDEX IF NOT EXISTS fieldcrypt_subjects_forgotten ON fieldcrypt_subjects (forgotten_at)`); err != nil {
		t.Fatal(err)
	}
	t.Logf("CREATE INDEX fieldcrypt_subjects_forgotten on %d subjects: %v", subjects, time.Since(start))

	// Cold reads: a fresh Keyring with an empty cache, one KeyVersion each.
	cold, store2 := c.openKeyring(t, keys.Config{DisableWatch: true, CacheEntries: -1})
	defer store2.Close()
	lat := make([]time.Duration, 0, 2000)
	for i := range 2000 {
		start := time.Now()
		if _, err := cold.KeyVersion(ctx, ids[(i*7919)%realKeys], 1); err != nil {
			t.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	t.Logf("cold KeyVersion (keystore read + unwrap) on %d subjects: p50 %v, p99 %v, max %v",
		subjects, lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1])

	// The Watch query: tombstones of the last 5 s, with 100,000 tombstones in the table.
	db, err := sql.Open("pgx", c.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lat = lat[:0]
	for range 200 {
		start := time.Now()
		rows, err := db.Query(`SELECT subject_ref, forgotten_at FROM fieldcrypt_subjects WHERE forgotten_at > $1`, now-5_000_000)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
		}
		rows.Close()
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	t.Logf("Watch poll/catch-up query with %d tombstones: p50 %v, p99 %v", subjects/10, lat[len(lat)/2], lat[len(lat)*99/100])
}

// TestScaleCacheMemory measures the memory one cached key takes: bare, and
// with the AES-GCM primitive envelope derives from it.
func TestScaleCacheMemory(t *testing.T) {
	ctx := context.Background()
	root, _ := localkms.Parse([]byte(localkms.GenerateKey()))
	const n = 100_000
	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: memstore.New(), CacheEntries: 2 * n, CacheMaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	subjects := make([]string, n)
	for i := range subjects {
		subjects[i] = "customer-" + strconv.Itoa(i)
	}
	for _, s := range subjects { // create every key, so the store's memory is counted before
		if _, err := kr.Current(ctx, s, keys.DefaultPurpose); err != nil {
			t.Fatal(err)
		}
	}
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	kr.EvictAll()
	before := heap()
	for _, s := range subjects {
		if _, err := kr.Current(ctx, s, keys.DefaultPurpose); err != nil {
			t.Fatal(err)
		}
	}
	bare := heap()
	c, _ := envelope.New(kr)
	for _, s := range subjects {
		if _, err := c.Encrypt(ctx, s, []byte("x"), nil); err != nil {
			t.Fatal(err)
		}
	}
	derived := heap()
	if st := kr.CacheStats(); st.Entries != n {
		t.Fatalf("cache holds %d entries, want %d", st.Entries, n)
	}
	t.Logf("warm cache, %d keys: %d bytes per key (unwrapped key and cache entry), %d bytes with envelope's AES-GCM derived",
		n, int64(bare-before)/n, int64(derived-before)/n)
	runtime.KeepAlive(subjects)
}
