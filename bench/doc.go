// Command bench runs fieldcrypt's benchmark suite and writes a performance
// report a user can reproduce with one command:
//
//	go run ./bench                      # full suite, -count 6
//	go run ./bench -short               # CI smoke run, under a minute
//	go run ./bench -compare old.json    # run, then flag regressions against old.json
//
// Flags: -count N (repetitions, default 6; 2 with -short), -benchtime D
// (per benchmark run, default 500ms; 50ms with -short), -run REGEXP (select
// scenarios by name, such as "envelope/" or "fpe/FF1"), -out-dir DIR
// (default ./bench from the module root), -compare OLD.json,
// -against NEW.json (compare two files without running),
// -fail-on-regression, and -chart-only (redraw the chart from -out-dir's
// results.json without running anything).
//
// # What is measured
//
// Each scenario measures one fieldcrypt operation beside its peers, all in
// the same process and run:
//
//   - envelope: Cipher.Encrypt and Decrypt of 16 B to 4 KiB with a warm key
//     cache (memstore + localkms), and their Append forms into a reused
//     buffer, beside crypto/cipher AES-256-GCM Seal/Open into a reused
//     buffer (the floor: no key lookup, no header, no nonce generation),
//     Tink's bare AEAD on a keyset handle (one key, an OS nonce per
//     message) and Tink's KMS envelope AEAD with a local AES-256-GCM
//     key-encryption key (a fresh data key per message).
//   - envelope, deterministic: EncryptDeterministic and its Decrypt (AES-SIV)
//     of 16, 32 and 64 B beside Tink's deterministic AEAD (AES-SIV,
//     512-bit key).
//   - envelope, parallel: Encrypt of 64 B from b.RunParallel's goroutines at
//     GOMAXPROCS 1, 2, 4 and 8 — over 1000 subjects with warm keys, over
//     one, and AppendEncrypt over 1000 — beside Tink's bare AEAD the same
//     way. On a machine with fewer CPUs than GOMAXPROCS the larger settings
//     show contention, not more throughput.
//   - fpe: FF1 and FF3-1 (numerals and string forms) beside
//     github.com/capitalone/fpe v1.2.1 and the AES floor (one block, and the
//     chain of dependent blocks the Feistel rounds need: 11 for FF1, 8 for
//     FF3-1).
//   - tokenize: Tokenizer.Tokenize for every format of package tokenize,
//     warm key cache, beside the raw FF1 engine on the same number of
//     secret symbols; and tokenize.Vault's random card tokens on a SQLite
//     keystore beside the FPE token of the same card.
//   - gorm: creating and reading back 100 rows (-short) or 1000 rows in one
//     transaction on SQLite, with three encrypted columns and one blind
//     index, beside plain GORM storing the same model in clear, and plain
//     GORM storing values as long as the ciphertexts.
//   - keys: Keyring.Current on a new subject (key created, wrapped, stored
//     in the SQLite keystore) and on an existing subject with the cache
//     disabled, beside a cached subject.
//   - keys/forget-propagation: with FIELDCRYPT_BENCH_POSTGRES_DSN (or
//     FIELDCRYPT_TEST_POSTGRES_DSN) set, the time from Forget in one Keyring
//     until a second Keyring, on its own connection pool, refuses the
//     subject with keys.ErrKeyDestroyed (LISTEN/NOTIFY). Without it the
//     scenario is recorded as skipped.
//
// # Reading the report
//
// Every benchmark runs through testing.Benchmark, -count times, and the
// subjects of a scenario are interleaved within each repetition (A, B, C,
// A, B, C …) so that drift on a shared machine hits them all equally. The
// report gives medians, not means, and the interquartile range as the
// spread. A ratio "2.2× raw AES-GCM Seal" means the fieldcrypt median
// is 2.2 times the peer's median in the same run: below 1× fieldcrypt is
// faster. Ratios between subjects of one run are far steadier than the
// absolute figures, which depend on the machine and its load.
//
// The run writes RESULTS.md, the chart as ratios.png and ratios.svg,
// results.json (environment and every sample) and results.txt (every
// sample in Go's benchmark format, for benchstat) to -out-dir. The chart
// (gonum/plot) has one panel per scenario group, with one bar per
// fieldcrypt subject and peer, labelled with both ("Encrypt 64 B vs Tink
// KMS envelope Encrypt"): the ratio of their medians on a log scale that
// starts at 1×, fieldcrypt faster to the left and slower to the right,
// with the ratio printed at the bar's end; each panel has its own scale.
//
// With -compare old.json a subject is flagged as a regression as
// benchstat would call it significant: a Mann-Whitney U test of the two
// runs' samples (golang.org/x/perf/benchmath) with p < 0.05, and a median
// at least 5% slower; improvements likewise. Runs of fewer than 4
// samples a subject can never be significant, so compare runs of the
// default -count 6. The exit status is non-zero only with
// -fail-on-regression.
package main
