package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore/postgres"
)

// postgresEnvs name the shared PostgreSQL keystore, in order of preference.
var postgresEnvs = []string{"FIELDCRYPT_BENCH_POSTGRES_DSN", "FIELDCRYPT_TEST_POSTGRES_DSN"}

func postgresDSN() string {
	for _, e := range postgresEnvs {
		if v := os.Getenv(e); v != "" {
			return v
		}
	}
	return ""
}

// withSearchPath appends search_path=schema to a pgx DSN (URL or key=value).
func withSearchPath(dsn, schema string) string {
	switch {
	case !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://"):
		return dsn + " search_path=" + schema
	case strings.Contains(dsn, "?"):
		return dsn + "&search_path=" + schema
	}
	return dsn + "?search_path=" + schema
}

const skipNoSharedStore = "skipped: no shared store configured (set FIELDCRYPT_BENCH_POSTGRES_DSN)"

func forgetScenario() scenario {
	return scenario{
		name:  "keys/forget-propagation",
		group: "keys",
		note: "PostgreSQL: Keyring A and B on two stores (own pools, fresh schema); time from Forget in A until " +
			"B's Current returns keys.ErrKeyDestroyed (B evicts on LISTEN/NOTIFY); sample = median of the repetition's Forgets",
		setup: func(ctx context.Context, cfg *config, _ string) ([]subject, func(), string, error) {
			dsn := postgresDSN()
			if dsn == "" {
				return nil, nil, skipNoSharedStore, nil
			}
			return forgetSubjects(ctx, cfg, dsn)
		},
	}
}

func forgetSubjects(ctx context.Context, cfg *config, dsn string) (subs []subject, cleanup func(), skip string, err error) {
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, nil, "", err
	}
	var closers []func()
	cleanup = func() {
		for _, c := range slices.Backward(closers) {
			c()
		}
	}
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	closers = append(closers, func() { admin.Close() })
	suffix := make([]byte, 6)
	rand.Read(suffix)
	schema := "fieldcrypt_bench_" + hex.EncodeToString(suffix)
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		return nil, nil, "", fmt.Errorf("create schema: %w", err)
	}
	closers = append(closers, func() { admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`) })
	var version string
	if err := admin.QueryRowContext(ctx, `SHOW server_version`).Scan(&version); err != nil {
		return nil, nil, "", err
	}
	dsn = withSearchPath(dsn, schema)
	root, err := localkms.Parse([]byte(localkms.GenerateKey()))
	if err != nil {
		return nil, nil, "", err
	}
	open := func(watch bool) (*keys.Keyring, error) {
		st, err := postgres.Open(ctx, dsn)
		if err != nil {
			return nil, err
		}
		closers = append(closers, func() { st.Close() })
		kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: st, DisableWatch: !watch})
		if err != nil {
			return nil, err
		}
		closers = append(closers, func() { kr.Close() })
		return kr, nil
	}
	a, err := open(false)
	if err != nil {
		return nil, nil, "", err
	}
	b, err := open(true)
	if err != nil {
		return nil, nil, "", err
	}
	if !b.Watching() {
		return nil, nil, "", errors.New("keyring B does not watch the PostgreSQL keystore")
	}
	n := 20
	if cfg.short {
		n = 5
	}
	seq := 0
	// once measures one Forget's propagation.
	once := func(ctx context.Context) (propagation, call time.Duration, err error) {
		seq++
		subj := fmt.Sprintf("forget-%d", seq)
		p := keys.DefaultPurpose
		if _, err := a.Current(ctx, subj, p); err != nil {
			return 0, 0, err
		}
		if _, err := b.Current(ctx, subj, p); err != nil { // now cached in B
			return 0, 0, err
		}
		t0 := time.Now()
		if _, err := a.Forget(ctx, subj, "benchmark"); err != nil {
			return 0, 0, err
		}
		call = time.Since(t0)
		for {
			_, err := b.Current(ctx, subj, p)
			if errors.Is(err, keys.ErrKeyDestroyed) {
				return time.Since(t0), call, nil
			}
			if err != nil {
				return 0, 0, err
			}
			if time.Since(t0) > 10*time.Second {
				return 0, 0, errors.New("forget not seen by keyring B within 10 s")
			}
			time.Sleep(20 * time.Microsecond)
		}
	}
	// Warm up: the listener is connected and the first NOTIFY has gone through.
	if _, _, err := once(ctx); err != nil {
		return nil, nil, "", err
	}
	// The first subject runs a batch of n Forgets per repetition; the other
	// two report the same batch, so all three describe the same Forgets.
	var lat, call []float64
	batch := func(ctx context.Context) (Sample, error) {
		lat, call = lat[:0], call[:0]
		for range n {
			d, c, err := once(ctx)
			if err != nil {
				return Sample{}, err
			}
			lat = append(lat, float64(d.Nanoseconds()))
			call = append(call, float64(c.Nanoseconds()))
		}
		slices.Sort(lat)
		slices.Sort(call)
		return Sample{NsPerOp: quantile(lat, 0.5), N: n}, nil
	}
	fromBatch := func(xs *[]float64, q float64) func(context.Context) (Sample, error) {
		return func(context.Context) (Sample, error) {
			if len(*xs) == 0 {
				return Sample{}, errors.New("no Forget measured")
			}
			return Sample{NsPerOp: quantile(*xs, q), N: len(*xs)}, nil
		}
	}
	unit := fmt.Sprintf("median of %d Forgets per run", n)
	return []subject{
		{name: "Forget in A → ErrKeyDestroyed in B", unit: fmt.Sprintf("PostgreSQL %s, %s", version, unit), latency: true, measure: batch},
		{name: "slowest Forget in A → ErrKeyDestroyed in B", unit: fmt.Sprintf("max of %d Forgets per run", n), latency: true, measure: fromBatch(&lat, 1)},
		{name: "Forget call returning in A", peer: true, unit: unit, latency: true, measure: fromBatch(&call, 0.5)},
	}, cleanup, "", nil
}
