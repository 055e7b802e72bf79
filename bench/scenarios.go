package main

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	capff1 "github.com/capitalone/fpe/ff1"
	capff3 "github.com/capitalone/fpe/ff3"
	gosqlite "github.com/glebarez/sqlite"
	"github.com/tink-crypto/tink-go/v2/aead"
	aeadsubtle "github.com/tink-crypto/tink-go/v2/aead/subtle"
	"github.com/tink-crypto/tink-go/v2/daead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/gormcrypt"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
	"github.com/fieldcrypt/fieldcrypt/keys/sqlstore/sqlite"
	"github.com/fieldcrypt/fieldcrypt/tokenize"
	"github.com/fieldcrypt/fieldcrypt/tokenize/fpe"
)

// A scenario is one fieldcrypt operation and the peers it is compared with.
type scenario struct {
	name  string
	group string
	note  string
	// setup prepares the subjects in dir (a fresh temporary directory).
	// A non-empty skip means the scenario cannot run here, and why.
	setup func(ctx context.Context, cfg *config, dir string) (subs []subject, cleanup func(), skip string, err error)
}

// A subject is one measured function. Peers are the baselines: every
// non-peer subject gets its ratio to every peer of the scenario.
type subject struct {
	name  string
	peer  bool
	bytes int64  // payload per op, for MB/s; 0 when not meaningful
	unit  string // what one op is, when not obvious
	// latency marks a subject timed with measure, without allocation counts.
	latency bool
	// bench is run through testing.Benchmark; measure, when set instead,
	// takes one sample itself (for latencies that are not a loop).
	bench   func(b *testing.B)
	measure func(ctx context.Context) (Sample, error)
}

// benchErr is the error that stopped the last benchmark; the suite runs one
// benchmark at a time.
var benchErr error

// loop returns a benchmark that calls op b.N times.
func loop(op func() error) func(*testing.B) {
	return func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := op(); err != nil {
				benchErr = err
				b.Fatal(err)
			}
		}
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func noCleanup() {}

// memKeyring is a Keyring over an in-memory keystore and a fresh local root key.
func memKeyring(ctx context.Context) (*keys.Keyring, error) {
	root, err := localkms.Parse([]byte(localkms.GenerateKey()))
	if err != nil {
		return nil, err
	}
	return keys.Open(ctx, keys.Config{KMS: root, Store: memstore.New()})
}

func allScenarios() []scenario {
	var s []scenario
	s = append(s, envelopeScenarios()...)
	s = append(s, fpeScenarios()...)
	s = append(s, tokenizeScenarios()...)
	s = append(s, vaultScenario())
	s = append(s, gormScenario(), keyCacheScenario(), forgetScenario())
	return s
}

// ---- 1. envelope ----

func envelopeScenarios() []scenario {
	var out []scenario
	for _, op := range []string{"Encrypt", "Decrypt"} {
		for _, size := range []int{16, 64, 256, 4096} {
			out = append(out, scenario{
				name:  fmt.Sprintf("envelope/%s/%dB", op, size),
				group: "envelope",
				note:  "warm key cache (memstore + localkms); raw GCM reuses its output buffer and nonce",
				setup: func(ctx context.Context, _ *config, _ string) ([]subject, func(), string, error) {
					return envelopeSubjects(ctx, op, size)
				},
			})
		}
	}
	for _, op := range []string{"EncryptDeterministic", "DecryptDeterministic"} {
		for _, size := range []int{16, 32, 64} {
			out = append(out, scenario{
				name:  fmt.Sprintf("envelope/%s/%dB", op, size),
				group: "envelope, deterministic",
				note:  "AES-SIV on a warm key cache (memstore + localkms); Tink's deterministic AEAD (AES-SIV, 512-bit key) on a keyset handle, without a key lookup",
				setup: func(ctx context.Context, _ *config, _ string) ([]subject, func(), string, error) {
					return deterministicSubjects(ctx, op, size)
				},
			})
		}
	}
	for _, procs := range []int{1, 2, 4, 8} {
		out = append(out, scenario{
			name:  fmt.Sprintf("envelope/EncryptParallel/64B/cpu%d", procs),
			group: "envelope, parallel",
			note: fmt.Sprintf("b.RunParallel at GOMAXPROCS %d on %d logical CPUs: ns/op is wall time per message across all goroutines; "+
				"1000 subjects with warm keys, or one; Tink's bare AEAD holds one key", procs, runtime.NumCPU()),
			setup: func(ctx context.Context, _ *config, _ string) ([]subject, func(), string, error) {
				return parallelSubjects(ctx, procs)
			},
		})
	}
	return out
}

// newCipher is an envelope Cipher over a fresh in-memory keyring.
func newCipher(ctx context.Context) (*envelope.Cipher, error) {
	kr, err := memKeyring(ctx)
	if err != nil {
		return nil, err
	}
	return envelope.New(kr)
}

// tinkBareAEAD is Tink's AES256-GCM AEAD on a keyset handle: no key
// lookup, a Tink output prefix and an OS nonce per message, the peer of a
// warm Encrypt.
func tinkBareAEAD() (tink.AEAD, error) {
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		return nil, err
	}
	return aead.New(h)
}

// deterministicSubjects measures EncryptDeterministic or its Decrypt
// against Tink's deterministic AEAD.
func deterministicSubjects(ctx context.Context, op string, size int) ([]subject, func(), string, error) {
	c, err := newCipher(ctx)
	if err != nil {
		return nil, nil, "", err
	}
	h, err := keyset.NewHandle(daead.AESSIVKeyTemplate())
	if err != nil {
		return nil, nil, "", err
	}
	tink, err := daead.New(h)
	if err != nil {
		return nil, nil, "", err
	}
	ad := envelope.AssociatedData("customers", "email", "cust-1")
	pt := randomBytes(size)
	ct, err := c.EncryptDeterministic(ctx, "cust-1", pt, ad) // also warms the cache
	if err != nil {
		return nil, nil, "", err
	}
	tinkCT, err := tink.EncryptDeterministically(pt, ad)
	if err != nil {
		return nil, nil, "", err
	}
	buf := make([]byte, 0, len(ct))
	n := int64(size)
	if op == "EncryptDeterministic" {
		return []subject{
			{name: "fieldcrypt EncryptDeterministic", bytes: n, bench: loop(func() error { _, err := c.EncryptDeterministic(ctx, "cust-1", pt, ad); return err })},
			{name: "fieldcrypt AppendEncryptDeterministic (reused buffer)", bytes: n, bench: loop(func() error {
				var err error
				buf, err = c.AppendEncryptDeterministic(ctx, buf[:0], "cust-1", pt, ad)
				return err
			})},
			{name: "Tink DAEAD EncryptDeterministically", peer: true, bytes: n, bench: loop(func() error { _, err := tink.EncryptDeterministically(pt, ad); return err })},
		}, noCleanup, "", nil
	}
	return []subject{
		{name: "fieldcrypt Decrypt (deterministic)", bytes: n, bench: loop(func() error { _, err := c.Decrypt(ctx, ct, ad); return err })},
		{name: "fieldcrypt AppendDecrypt (deterministic, reused buffer)", bytes: n, bench: loop(func() error {
			var err error
			buf, err = c.AppendDecrypt(ctx, buf[:0], ct, ad)
			return err
		})},
		{name: "Tink DAEAD DecryptDeterministically", peer: true, bytes: n, bench: loop(func() error { _, err := tink.DecryptDeterministically(tinkCT, ad); return err })},
	}, noCleanup, "", nil
}

// parallelOp returns a benchmark that runs op from b.RunParallel's
// goroutines at GOMAXPROCS procs, restoring the setting after. Each
// goroutine starts at its own index and passes it to op.
func parallelOp(procs int, op func(i int, buf []byte) ([]byte, error)) func(*testing.B) {
	return func(b *testing.B) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		var seed atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			i := int(seed.Add(7919))
			var buf []byte
			for pb.Next() {
				var err error
				if buf, err = op(i, buf); err != nil {
					benchErr = err
					b.Error(err)
					return
				}
				i++
			}
		})
	}
}

// parallelSubjects is Encrypt of 64 bytes from every goroutine of
// b.RunParallel: over 1000 subjects (per-customer keys, 1000 key schedules
// in the cache), over one, and with the append API; the peer is Tink's
// bare AEAD, one key.
func parallelSubjects(ctx context.Context, procs int) ([]subject, func(), string, error) {
	c, err := newCipher(ctx)
	if err != nil {
		return nil, nil, "", err
	}
	bare, err := tinkBareAEAD()
	if err != nil {
		return nil, nil, "", err
	}
	ad := envelope.AssociatedData("customers", "email", "cust-1")
	pt := randomBytes(64)
	subjects := make([]string, 1000)
	for i := range subjects {
		subjects[i] = fmt.Sprintf("cust-%d", i)
		if _, err := c.Encrypt(ctx, subjects[i], pt, ad); err != nil { // warm the cache
			return nil, nil, "", err
		}
	}
	return []subject{
		{name: "fieldcrypt Encrypt, 1000 subjects", bytes: 64, bench: parallelOp(procs, func(i int, _ []byte) ([]byte, error) {
			_, err := c.Encrypt(ctx, subjects[i%len(subjects)], pt, ad)
			return nil, err
		})},
		{name: "fieldcrypt Encrypt, 1 subject", bytes: 64, bench: parallelOp(procs, func(_ int, _ []byte) ([]byte, error) {
			_, err := c.Encrypt(ctx, subjects[0], pt, ad)
			return nil, err
		})},
		{name: "fieldcrypt AppendEncrypt, 1000 subjects (reused buffer)", bytes: 64, bench: parallelOp(procs, func(i int, buf []byte) ([]byte, error) {
			return c.AppendEncrypt(ctx, buf[:0], subjects[i%len(subjects)], pt, ad)
		})},
		{name: "Tink AEAD Encrypt", peer: true, bytes: 64, bench: parallelOp(procs, func(_ int, _ []byte) ([]byte, error) {
			_, err := bare.Encrypt(pt, ad)
			return nil, err
		})},
	}, noCleanup, "", nil
}

func envelopeSubjects(ctx context.Context, op string, size int) ([]subject, func(), string, error) {
	c, err := newCipher(ctx)
	if err != nil {
		return nil, nil, "", err
	}
	ad := envelope.AssociatedData("customers", "email", "cust-1")
	pt := randomBytes(size)
	block, _ := aes.NewCipher(randomBytes(32))
	gcm, _ := cipher.NewGCM(block)
	nonce := randomBytes(gcm.NonceSize())
	kek, err := aeadsubtle.NewAESGCM(randomBytes(32))
	if err != nil {
		return nil, nil, "", err
	}
	tink := aead.NewKMSEnvelopeAEAD2(aead.AES256GCMKeyTemplate(), kek)
	bare, err := tinkBareAEAD()
	if err != nil {
		return nil, nil, "", err
	}
	ct, err := c.Encrypt(ctx, "cust-1", pt, ad) // also warms the cache
	if err != nil {
		return nil, nil, "", err
	}
	gcmCT := gcm.Seal(nil, nonce, pt, ad)
	tinkCT, err := tink.Encrypt(pt, ad)
	if err != nil {
		return nil, nil, "", err
	}
	bareCT, err := bare.Encrypt(pt, ad)
	if err != nil {
		return nil, nil, "", err
	}
	dst := make([]byte, 0, size+16)
	buf := make([]byte, 0, len(ct))
	n := int64(size)
	if op == "Encrypt" {
		return []subject{
			{name: "fieldcrypt Encrypt", bytes: n, bench: loop(func() error { _, err := c.Encrypt(ctx, "cust-1", pt, ad); return err })},
			{name: "fieldcrypt AppendEncrypt (reused buffer)", bytes: n, bench: loop(func() error {
				var err error
				buf, err = c.AppendEncrypt(ctx, buf[:0], "cust-1", pt, ad)
				return err
			})},
			{name: "raw AES-GCM Seal", peer: true, bytes: n, bench: loop(func() error { dst = gcm.Seal(dst[:0], nonce, pt, ad); return nil })},
			{name: "Tink AEAD Encrypt", peer: true, bytes: n, bench: loop(func() error { _, err := bare.Encrypt(pt, ad); return err })},
			{name: "Tink KMS envelope Encrypt", peer: true, bytes: n, bench: loop(func() error { _, err := tink.Encrypt(pt, ad); return err })},
		}, noCleanup, "", nil
	}
	return []subject{
		{name: "fieldcrypt Decrypt", bytes: n, bench: loop(func() error { _, err := c.Decrypt(ctx, ct, ad); return err })},
		{name: "fieldcrypt AppendDecrypt (reused buffer)", bytes: n, bench: loop(func() error {
			var err error
			buf, err = c.AppendDecrypt(ctx, buf[:0], ct, ad)
			return err
		})},
		{name: "raw AES-GCM Open", peer: true, bytes: n, bench: loop(func() error {
			var err error
			dst, err = gcm.Open(dst[:0], nonce, gcmCT, ad)
			return err
		})},
		{name: "Tink AEAD Decrypt", peer: true, bytes: n, bench: loop(func() error { _, err := bare.Decrypt(bareCT, ad); return err })},
		{name: "Tink KMS envelope Decrypt", peer: true, bytes: n, bench: loop(func() error { _, err := tink.Decrypt(tinkCT, ad); return err })},
	}, noCleanup, "", nil
}

// ---- 2. FF1 / FF3-1 ----

const (
	digits = "0123456789"
	base36 = "0123456789abcdefghijklmnopqrstuvwxyz"
	latin  = "abcdefghijklmnopqrstuvwxyz"
)

var fpeKey = bytes.Repeat([]byte{0x2B}, 32) // AES-256, as tokenize derives

// aesChain is the floor of a Feistel cipher: n dependent AES blocks.
func aesChain(n int) subject {
	block, _ := aes.NewCipher(fpeKey)
	var buf [16]byte
	name := "AES-256 1 block"
	if n > 1 {
		name = fmt.Sprintf("AES-256 %d-block chain", n)
	}
	return subject{name: name, peer: true, bench: loop(func() error {
		for range n {
			block.Encrypt(buf[:], buf[:])
		}
		return nil
	})}
}

func fpeScenarios() []scenario {
	cases := []struct {
		name, alphabet, input string
	}{
		{"radix10-len16", digits, "4111111111111111"},
		{"radix10-len9", digits, "123456789"},
		{"radix36-len20", base36, "0123456789abcdefghij"},
	}
	var out []scenario
	for _, tc := range cases {
		out = append(out, scenario{
			name:  "fpe/FF1/" + tc.name,
			group: "fpe",
			note:  "empty tweak; FF1 needs 11 dependent AES blocks here (P, then one per round)",
			setup: func(context.Context, *config, string) ([]subject, func(), string, error) {
				c, err := fpe.NewFF1(fpeKey, tc.alphabet)
				if err != nil {
					return nil, nil, "", err
				}
				src, err := c.Alphabet().AppendNumerals(nil, tc.input)
				if err != nil {
					return nil, nil, "", err
				}
				dst := make([]uint16, len(src))
				ref, err := capff1.NewCipher(len(tc.alphabet), 16, bytes.Clone(fpeKey), nil)
				if err != nil {
					return nil, nil, "", err
				}
				n := int64(len(tc.input))
				return []subject{
					{name: "fieldcrypt FF1 EncryptNumerals", bytes: n, bench: loop(func() error { return c.EncryptNumerals(dst, src, nil) })},
					{name: "fieldcrypt FF1 Encrypt (string)", bytes: n, bench: loop(func() error { _, err := c.Encrypt(tc.input, nil); return err })},
					{name: "capitalone/fpe ff1", peer: true, bytes: n, bench: loop(func() error { _, err := ref.Encrypt(tc.input); return err })},
					aesChain(1),
					aesChain(11),
				}, noCleanup, "", nil
			},
		})
	}
	out = append(out, scenario{
		name:  "fpe/FF3-1/radix10-len16",
		group: "fpe",
		note:  "7-byte tweak (FF3-1); capitalone implements the original FF3 with an 8-byte tweak; 8 rounds of one AES block each",
		setup: func(context.Context, *config, string) ([]subject, func(), string, error) {
			const input = "4111111111111111"
			tweak := []byte{1, 2, 3, 4, 5, 6, 7}
			c, err := fpe.NewFF31(fpeKey, digits)
			if err != nil {
				return nil, nil, "", err
			}
			src, _ := c.Alphabet().AppendNumerals(nil, input)
			dst := make([]uint16, len(src))
			ref, err := capff3.NewCipher(10, bytes.Clone(fpeKey), []byte{1, 2, 3, 4, 5, 6, 7, 8})
			if err != nil {
				return nil, nil, "", err
			}
			n := int64(len(input))
			return []subject{
				{name: "fieldcrypt FF3-1 EncryptNumerals", bytes: n, bench: loop(func() error { return c.EncryptNumerals(dst, src, tweak) })},
				{name: "fieldcrypt FF3-1 Encrypt (string)", bytes: n, bench: loop(func() error { _, err := c.Encrypt(input, tweak); return err })},
				{name: "capitalone/fpe ff3", peer: true, bytes: n, bench: loop(func() error { _, err := ref.Encrypt(input); return err })},
				aesChain(1),
				aesChain(8),
			}, noCleanup, "", nil
		},
	})
	return out
}

// ---- 3. tokenize ----

// tokCase is one format of package tokenize with a sample value and the
// raw FF1 work it implies: rawLen symbols of rawAlphabet (none for the
// version 2 formats, whose FF1 runs on 2 or 3 numerals of a large radix:
// their peer is the card).
type tokCase struct {
	name        string
	f           tokenize.Format
	value       string
	rawAlphabet string
	rawLen      int
}

// tokCases lists the formats of package tokenize. A new format is added
// here with a sample value and the number of symbols it encrypts.
func tokCases() []tokCase {
	return []tokCase{
		{"card", tokenize.Card{}, "4111 1111 1111 1111", digits, 11},
		{"card/bin-last4-any", tokenize.Card{Keep: tokenize.KeepBINAndLast4, Luhn: tokenize.LuhnAny}, "4111111111111111", digits, 6},
		{"email", tokenize.Email{}, "jan.kowalski+shop@example.com", latin, 15},
		{"phone", tokenize.Phone{}, "+48 601 234 567", digits, 7},
		{"phone/v2", tokenize.Phone{Version: 2}, "+48 601 234 567", digits, 7},
		{"iban", tokenize.IBAN{}, "PL61 1090 1014 0000 0712 1981 2874", digits, 24},
		{"pesel", tokenize.PESEL{}, "44051401359", digits, 10},
		{"pesel/v2", tokenize.PESEL{Version: 2}, "44051401359", "", 0},
		{"nip", tokenize.NIP{}, "1234563218", digits, 9},
		{"ssn", tokenize.SSN{}, "123-45-6789", digits, 9},
		{"postcode/US", tokenize.Postcode{Country: "US"}, "94105-1804", digits, 9},
		{"date", tokenize.Date{}, "1985-03-14", digits, 7},
		{"date/v2", tokenize.Date{Version: 2}, "1985-03-14", "", 0},
		{"text/latin", tokenize.Text{Letters: latin}, "Anna Maria Smith", latin, 14},
		{"pattern", tokenize.Pattern{Mask: "999-999-999"}, "123-456-789", digits, 9},
	}
}

// tokTweak is the tweak the Tokenizer uses for (field, format), so the raw
// FF1 call hashes as many tweak blocks.
func tokTweak(field, format string) []byte {
	t := []byte("fieldcrypt/tok/v1")
	t = binary.AppendUvarint(t, uint64(len(field)))
	t = append(t, field...)
	t = binary.AppendUvarint(t, uint64(len(format)))
	return append(t, format...)
}

func tokNote(tc tokCase) string {
	if tc.rawLen == 0 {
		return fmt.Sprintf("%q, warm key cache; beside the card in the same run", tc.value)
	}
	return fmt.Sprintf("%q, warm key cache; raw FF1 on the %d symbols (radix %d) the format encrypts, same tweak", tc.value, tc.rawLen, len(tc.rawAlphabet))
}

func tokenizeScenarios() []scenario {
	var out []scenario
	for _, tc := range tokCases() {
		out = append(out, scenario{
			name:  "tokenize/" + tc.name,
			group: "tokenize",
			note:  tokNote(tc),
			setup: func(ctx context.Context, _ *config, _ string) ([]subject, func(), string, error) {
				kr, err := memKeyring(ctx)
				if err != nil {
					return nil, nil, "", err
				}
				tk, err := tokenize.New(kr)
				if err != nil {
					return nil, nil, "", err
				}
				const field = "customers.col"
				if _, err := tk.Tokenize(ctx, "cust-1", field, tc.f, tc.value); err != nil {
					return nil, nil, fmt.Sprintf("sample value refused: %v", err), nil
				}
				n := int64(len(tc.value))
				subjects := []subject{
					{name: "fieldcrypt Tokenize " + tc.name, bytes: n, bench: loop(func() error {
						_, err := tk.Tokenize(ctx, "cust-1", field, tc.f, tc.value)
						return err
					})},
				}
				if tc.rawLen > 0 {
					c, err := fpe.NewFF1(fpeKey, tc.rawAlphabet)
					if err != nil {
						return nil, nil, "", err
					}
					src := make([]uint16, tc.rawLen)
					for i := range src {
						src[i] = uint16(i*7+3) % uint16(len(tc.rawAlphabet))
					}
					dst := make([]uint16, len(src))
					tweak := tokTweak(field, tc.f.Name())
					subjects = append(subjects, subject{name: fmt.Sprintf("raw FF1 %d symbols", tc.rawLen), peer: true, bytes: n, bench: loop(func() error {
						return c.EncryptNumerals(dst, src, tweak)
					})})
				}
				if tc.name != "card" {
					// The card in the same run: the format's cost beside the
					// most common token's.
					card := tokCases()[0]
					subjects = append(subjects, subject{name: "Tokenize card", peer: true, bench: loop(func() error {
						_, err := tk.Tokenize(ctx, "cust-1", field, card.f, card.value)
						return err
					})})
				}
				return subjects, noCleanup, "", nil
			},
		})
	}
	return out
}

// vaultScenario measures random vault tokens on a SQLite keystore beside
// the FPE token of the same card: what a token vault costs.
func vaultScenario() scenario {
	return scenario{
		name:  "tokenize/vault-card",
		group: "tokenize",
		note:  "tokenize.Vault on a SQLite keystore file (synced WAL), warm key cache; the peer is the FPE token of the same card",
		setup: func(ctx context.Context, _ *config, dir string) ([]subject, func(), string, error) {
			root, err := localkms.OpenFile(filepath.Join(dir, "root.key"))
			if err != nil {
				return nil, nil, "", err
			}
			store, err := sqlite.Open(ctx, filepath.Join(dir, "vault.db"))
			if err != nil {
				return nil, nil, "", err
			}
			kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: store, DisableWatch: true})
			if err != nil {
				store.Close()
				return nil, nil, "", err
			}
			cleanup := func() { kr.Close(); store.Close() }
			tk, err1 := tokenize.New(kr)
			v, err2 := tokenize.NewVault(kr, store)
			if err := errors.Join(err1, err2); err != nil {
				cleanup()
				return nil, nil, "", err
			}
			const pan, field = "4111111111111111", "payments.card"
			f := tokenize.Card{}
			tok, err := v.Tokenize(ctx, "cust-1", field, f, pan)
			if err != nil {
				cleanup()
				return nil, nil, "", err
			}
			n := int64(len(pan))
			return []subject{
				{name: "Vault Tokenize card (issued before)", bytes: n, bench: loop(func() error {
					_, err := v.Tokenize(ctx, "cust-1", field, f, pan)
					return err
				})},
				{name: "Vault Detokenize card", bytes: n, bench: loop(func() error {
					_, err := v.Detokenize(ctx, "cust-1", field, f, tok)
					return err
				})},
				{name: "FPE Tokenize card", peer: true, bytes: n, bench: loop(func() error {
					_, err := tk.Tokenize(ctx, "cust-1", field, f, pan)
					return err
				})},
			}, cleanup, "", nil
		},
	}
}

// ---- 4. GORM ----

// gormPlain and gormEncrypted are the same shop customer, in clear and
// with three encrypted columns and one blind index (as in
// gormcrypt/bench_test.go).
type gormPlain struct {
	ID         uint
	Batch      int    `gorm:"index"`
	Ref        string `gorm:"size:64"`
	Email      string
	EmailLower string `gorm:"size:128;index"` // what the blind index replaces
	Name       string
	Phone      string
	Tier       string
}

type gormEncrypted struct {
	ID         uint
	Batch      int     `gorm:"index"`
	Ref        string  `gorm:"size:64" fieldcrypt:"subject"`
	Email      string  `gorm:"serializer:encrypt"`
	EmailIndex *string `gorm:"size:32;index" fieldcrypt:"blind_index:Email"`
	Name       string  `gorm:"serializer:encrypt"`
	Phone      string  `gorm:"serializer:encrypt"`
	Tier       string
}

func openGorm(path string) (*gorm.DB, error) {
	return gorm.Open(gosqlite.Open(path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)"),
		&gorm.Config{Logger: logger.Default.LogMode(logger.Silent)})
}

func closeGorm(db *gorm.DB) {
	if s, err := db.DB(); err == nil {
		s.Close()
	}
}

// padded gives a plaintext value the length of its ciphertext column.
func padded(v string) string {
	return v + strings.Repeat("x", base64.RawURLEncoding.EncodedLen(len(v)+50)-len(v))
}

// shopOp returns one op: create rows rows of batch (a new batch each call)
// in one transaction, then read them back.
func shopOp[T any](db *gorm.DB, rows int, row func(batch, i int) T) func() error {
	batch := 0
	return func() error {
		batch++
		s := make([]T, rows)
		for i := range s {
			s[i] = row(batch, i)
		}
		err := db.Transaction(func(tx *gorm.DB) error { return tx.CreateInBatches(&s, 100).Error })
		if err != nil {
			return err
		}
		var back []T
		if err := db.Where("batch = ?", batch).Find(&back).Error; err != nil {
			return err
		}
		if len(back) != rows {
			return fmt.Errorf("read %d rows, want %d", len(back), rows)
		}
		return nil
	}
}

func gormScenario() scenario {
	return scenario{
		name:  "gorm/create+read",
		group: "gorm",
		note:  "one op = create N rows in one transaction (batches of 100) and read them back, SQLite file; rows of 10 customers whose keys are cached",
		setup: func(ctx context.Context, cfg *config, dir string) ([]subject, func(), string, error) {
			rows := cfg.gormRows()
			unit := fmt.Sprintf("create+read %d rows", rows)
			var dbs []*gorm.DB
			cleanup := func() {
				for _, db := range dbs {
					closeGorm(db)
				}
			}
			open := func(name string, model any) (*gorm.DB, error) {
				db, err := openGorm(filepath.Join(dir, name+".db"))
				if err != nil {
					return nil, err
				}
				dbs = append(dbs, db)
				if _, ok := model.(*gormEncrypted); ok {
					kr, err := memKeyring(ctx)
					if err != nil {
						return nil, err
					}
					p, err := gormcrypt.New(kr, gormcrypt.WithModels(&gormEncrypted{}))
					if err != nil {
						return nil, err
					}
					if err := db.Use(p); err != nil {
						return nil, err
					}
				}
				return db, db.AutoMigrate(model)
			}
			enc, err := open("encrypted", &gormEncrypted{})
			if err != nil {
				cleanup()
				return nil, nil, "", err
			}
			plain, err := open("plain", &gormPlain{})
			if err != nil {
				cleanup()
				return nil, nil, "", err
			}
			same, err := open("samesize", &gormPlain{})
			if err != nil {
				cleanup()
				return nil, nil, "", err
			}
			encOp := shopOp(enc, rows, func(batch, i int) gormEncrypted {
				return gormEncrypted{Batch: batch, Ref: fmt.Sprintf("c-%d", i%10), Email: fmt.Sprintf("user%d@example.com", i),
					Name: fmt.Sprintf("Customer %d", i), Phone: "+48 600 100 200", Tier: "gold"}
			})
			plainOp := shopOp(plain, rows, func(batch, i int) gormPlain {
				email := fmt.Sprintf("user%d@example.com", i)
				return gormPlain{Batch: batch, Ref: fmt.Sprintf("c-%d", i%10), Email: email, EmailLower: strings.ToLower(email),
					Name: fmt.Sprintf("Customer %d", i), Phone: "+48 600 100 200", Tier: "gold"}
			})
			sameOp := shopOp(same, rows, func(batch, i int) gormPlain {
				email := fmt.Sprintf("user%d@example.com", i)
				return gormPlain{Batch: batch, Ref: fmt.Sprintf("c-%d", i%10), Email: padded(email),
					EmailLower: hex.EncodeToString([]byte(email))[:32], Name: padded(fmt.Sprintf("Customer %d", i)),
					Phone: padded("+48 600 100 200"), Tier: "gold"}
			})
			// Warm up: the customers' keys, the blind-index key, GORM's schema cache.
			for _, op := range []func() error{encOp, plainOp, sameOp} {
				if err := op(); err != nil {
					cleanup()
					return nil, nil, "", err
				}
			}
			return []subject{
				{name: "gormcrypt (3 encrypted columns + blind index)", unit: unit, bench: loop(encOp)},
				{name: "plain GORM", peer: true, unit: unit, bench: loop(plainOp)},
				{name: "plain GORM (values padded to ciphertext length)", peer: true, unit: unit, bench: loop(sameOp)},
			}, cleanup, "", nil
		},
	}
}

// ---- 5. key cache ----

func keyCacheScenario() scenario {
	return scenario{
		name:  "keys/Current-cold-vs-warm",
		group: "keys",
		note:  "SQLite keystore file (synced WAL) + local root key file",
		setup: func(ctx context.Context, _ *config, dir string) ([]subject, func(), string, error) {
			root, err := localkms.OpenFile(filepath.Join(dir, "root.key"))
			if err != nil {
				return nil, nil, "", err
			}
			store, err := sqlite.Open(ctx, filepath.Join(dir, "keys.db"))
			if err != nil {
				return nil, nil, "", err
			}
			warm, err := keys.Open(ctx, keys.Config{KMS: root, Store: store, DisableWatch: true})
			if err != nil {
				store.Close()
				return nil, nil, "", err
			}
			uncached, err := keys.Open(ctx, keys.Config{KMS: root, Store: store, DisableWatch: true, CacheEntries: -1})
			if err != nil {
				warm.Close()
				store.Close()
				return nil, nil, "", err
			}
			cleanup := func() {
				warm.Close()
				uncached.Close()
				store.Close()
			}
			p := keys.DefaultPurpose
			if _, err := warm.Current(ctx, "cust-1", p); err != nil {
				cleanup()
				return nil, nil, "", err
			}
			i := 0
			return []subject{
				{name: "Current, new subject (create + wrap + store)", bench: loop(func() error {
					i++
					_, err := warm.Current(ctx, fmt.Sprintf("new-%d", i), p)
					return err
				})},
				{name: "Current, existing subject, cache disabled (read + unwrap)", bench: loop(func() error {
					_, err := uncached.Current(ctx, "cust-1", p)
					return err
				})},
				{name: "Current, cached subject", peer: true, bench: loop(func() error {
					_, err := warm.Current(ctx, "cust-1", p)
					return err
				})},
			}, cleanup, "", nil
		},
	}
}
