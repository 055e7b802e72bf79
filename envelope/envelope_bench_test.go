package envelope_test

// Benchmarks of the hot path (warm key cache) beside the raw primitive and
// beside Tink's KMS envelope AEAD, all in one run so the ratios are
// meaningful on a noisy machine:
//
//	go test -run '^$' -bench . -count 10 ./envelope/ | benchstat -

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/tink-crypto/tink-go/v2/aead"
	aeadsubtle "github.com/tink-crypto/tink-go/v2/aead/subtle"
	"github.com/tink-crypto/tink-go/v2/daead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/keys"
)

var benchSizes = []int{16, 32, 64, 256, 4096}

func benchInput(size int) []byte {
	b := make([]byte, size)
	rand.Read(b)
	return b
}

var benchAD = envelope.AssociatedData("customers", "email", "cust-1")

func BenchmarkEncrypt(b *testing.B) {
	c := newCipher(b)
	for _, size := range benchSizes {
		pt := benchInput(size)
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			c.Encrypt(ctx, "cust-1", pt, benchAD) // warm the cache
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Encrypt(ctx, "cust-1", pt, benchAD); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecrypt(b *testing.B) {
	c := newCipher(b)
	for _, size := range benchSizes {
		ct, _ := c.Encrypt(ctx, "cust-1", benchInput(size), benchAD)
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Decrypt(ctx, ct, benchAD); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncryptDeterministic(b *testing.B) {
	c := newCipher(b)
	for _, size := range benchSizes {
		pt := benchInput(size)
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			c.EncryptDeterministic(ctx, "cust-1", pt, benchAD)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.EncryptDeterministic(ctx, "cust-1", pt, benchAD); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAppendEncrypt is Encrypt into a reused buffer: no allocation
// once the key is cached.
func BenchmarkAppendEncrypt(b *testing.B) {
	c := newCipher(b)
	for _, size := range benchSizes {
		pt := benchInput(size)
		dst := make([]byte, 0, size+envelope.HeaderSize+28)
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			c.Encrypt(ctx, "cust-1", pt, benchAD)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if dst, err = c.AppendEncrypt(ctx, dst[:0], "cust-1", pt, benchAD); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendDecrypt(b *testing.B) {
	c := newCipher(b)
	for _, size := range benchSizes {
		ct, _ := c.Encrypt(ctx, "cust-1", benchInput(size), benchAD)
		dst := make([]byte, 0, size)
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if dst, err = c.AppendDecrypt(ctx, dst[:0], ct, benchAD); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendEncryptDeterministic(b *testing.B) {
	c := newCipher(b)
	for _, size := range benchSizes {
		pt := benchInput(size)
		dst := make([]byte, 0, size+envelope.HeaderSize+16)
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			c.EncryptDeterministic(ctx, "cust-1", pt, benchAD)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if dst, err = c.AppendEncryptDeterministic(ctx, dst[:0], "cust-1", pt, benchAD); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecryptDeterministic is Decrypt of EncryptDeterministic's
// output, the peer of BenchmarkTinkDAEADDecrypt.
func BenchmarkDecryptDeterministic(b *testing.B) {
	c := newCipher(b)
	for _, size := range benchSizes {
		ct, _ := c.EncryptDeterministic(ctx, "cust-1", benchInput(size), benchAD)
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Decrypt(ctx, ct, benchAD); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// tinkDAEAD is Tink's deterministic AEAD primitive (AES-SIV, 512-bit key)
// on a keyset handle: no key lookup, a Tink output prefix — the peer of
// EncryptDeterministic on a warm cache.
func tinkDAEAD(b *testing.B) tink.DeterministicAEAD {
	h, err := keyset.NewHandle(daead.AESSIVKeyTemplate())
	if err != nil {
		b.Fatal(err)
	}
	p, err := daead.New(h)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func BenchmarkTinkDAEADEncrypt(b *testing.B) {
	p := tinkDAEAD(b)
	for _, size := range benchSizes {
		pt := benchInput(size)
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.EncryptDeterministically(pt, benchAD); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkTinkDAEADDecrypt(b *testing.B) {
	p := tinkDAEAD(b)
	for _, size := range benchSizes {
		ct, err := p.EncryptDeterministically(benchInput(size), benchAD)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.DecryptDeterministically(ct, benchAD); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncryptString(b *testing.B) {
	c := newCipher(b)
	pt := "ada.lovelace@example.com"
	c.EncryptString(ctx, "cust-1", pt, benchAD)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.EncryptString(ctx, "cust-1", pt, benchAD); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncryptCold is the first use of a subject: a key is generated,
// wrapped by the root key and stored (in memory here; see keys/sqlstore
// for the SQLite figure), then the value encrypted.
func BenchmarkEncryptCold(b *testing.B) {
	c := newCipher(b)
	pt := benchInput(64)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := c.Encrypt(ctx, fmt.Sprintf("cold-%d", i), pt, benchAD); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncryptUncached is a known subject whose key is not cached:
// keystore read, unwrap and data-key derivation, then the encryption.
func BenchmarkEncryptUncached(b *testing.B) {
	c, err := envelope.New(newKeyring(b, keys.Config{CacheEntries: -1}))
	if err != nil {
		b.Fatal(err)
	}
	pt := benchInput(64)
	c.Encrypt(ctx, "cust-1", pt, benchAD)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Encrypt(ctx, "cust-1", pt, benchAD); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawAESGCMSeal is the floor: crypto/cipher AES-256-GCM Seal of
// the same sizes into a reused buffer, with a fixed nonce.
func BenchmarkRawAESGCMSeal(b *testing.B) {
	key := benchInput(32)
	block, _ := aes.NewCipher(key)
	gcm, _ := cipher.NewGCM(block)
	nonce := benchInput(12)
	for _, size := range benchSizes {
		pt := benchInput(size)
		dst := make([]byte, 0, size+16)
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				dst = gcm.Seal(dst[:0], nonce, pt, benchAD)
			}
		})
	}
}

func BenchmarkRawAESGCMOpen(b *testing.B) {
	key := benchInput(32)
	block, _ := aes.NewCipher(key)
	gcm, _ := cipher.NewGCM(block)
	nonce := benchInput(12)
	for _, size := range benchSizes {
		ct := gcm.Seal(nil, nonce, benchInput(size), benchAD)
		dst := make([]byte, 0, size)
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if dst, err = gcm.Open(dst[:0], nonce, ct, benchAD); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func tinkEnvelope(b *testing.B) *aead.KMSEnvelopeAEAD {
	kek, err := aeadsubtle.NewAESGCM(benchInput(32))
	if err != nil {
		b.Fatal(err)
	}
	return aead.NewKMSEnvelopeAEAD2(aead.AES256GCMKeyTemplate(), kek)
}

// BenchmarkTinkKMSEnvelopeEncrypt is Tink's KMS envelope AEAD with a local
// AES-256-GCM key as the key-encryption key: it makes and wraps a fresh data
// key per message.
func BenchmarkTinkKMSEnvelopeEncrypt(b *testing.B) { benchTinkEncrypt(b, tinkEnvelope(b)) }

func BenchmarkTinkKMSEnvelopeDecrypt(b *testing.B) { benchTinkDecrypt(b, tinkEnvelope(b)) }

// tinkBareAEAD is Tink's AEAD primitive on an AES256-GCM keyset handle: no
// key lookup, a Tink output prefix, and a nonce read from the operating
// system for every message — the peer of Encrypt on a warm cache.
func tinkBareAEAD(b *testing.B) tink.AEAD {
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		b.Fatal(err)
	}
	p, err := aead.New(h)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func BenchmarkTinkAEADEncrypt(b *testing.B) { benchTinkEncrypt(b, tinkBareAEAD(b)) }

func BenchmarkTinkAEADDecrypt(b *testing.B) { benchTinkDecrypt(b, tinkBareAEAD(b)) }

// benchTinkEncrypt and benchTinkDecrypt run a Tink AEAD over benchSizes.
func benchTinkEncrypt(b *testing.B, p tink.AEAD) {
	for _, size := range benchSizes {
		pt := benchInput(size)
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Encrypt(pt, benchAD); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchTinkDecrypt(b *testing.B, p tink.AEAD) {
	for _, size := range benchSizes {
		ct, err := p.Encrypt(benchInput(size), benchAD)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Decrypt(ct, benchAD); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
