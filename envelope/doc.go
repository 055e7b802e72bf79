// Package envelope encrypts a customer's fields under that customer's own
// key, taken from a [keys.Keyring], so that forgetting the customer makes
// every one of their ciphertexts unreadable in every service.
//
//	c, _ := envelope.New(keyring)
//	ad := envelope.AssociatedData("customers", "email", "customer-42")
//	ct, _ := c.EncryptString(ctx, "customer-42", "ada@example.com", ad)
//	email, _ := c.DecryptString(ctx, ct, ad) // no subject needed: ct names its key
//
// # Modes
//
// Encrypt is randomised: AES-256-GCM with a random 96-bit nonce read from
// the operating system for every message (crypto/rand, getrandom on Linux;
// callers cannot supply nonces). Nothing of the nonce stream lives in
// process memory, so two clones of a VM snapshot or a checkpoint/restore
// (Firecracker, SnapStart-style, CRIU) never repeat a (key, nonce) pair as
// long as the kernel reseeds on restore, which Linux does for VM forks
// (vmgenid). EncryptDeterministic is AES-SIV (RFC 5297, AES-SIV-512;
// fieldcrypt's own implementation, byte for byte the output of Tink's
// DeterministicAEAD that earlier releases used; on amd64 with AES-NI its
// CMAC and CTR run in assembly on internal/aesni's key schedule, and
// with FIPS 140-3 mode on, elsewhere or with the purego tag every block
// goes through crypto/aes): equal plaintexts under one subject key, purpose and
// associated data give equal ciphertexts, which allows equality lookups and
// leaks exactly that equality (and the frequency of each value). Both modes
// decrypt with Decrypt.
//
// # Design: one Cipher for both modes
//
// Tink splits randomised and deterministic encryption into two primitives
// (tink.AEAD, tink.DeterministicAEAD) so that code holding one cannot use
// the other by accident. A Cipher offers both instead, for three reasons.
// The ciphertext names its mode, so one Decrypt reads both and a reader
// never needs to know how a column was written; two primitives would need
// two Decrypts or a third type that reads either. Both modes of a Cipher
// use the same (subject, purpose) key, so one Forget or Rotate covers a
// customer's randomised and deterministic fields alike, and gormcrypt,
// which writes both kinds of column for one model, holds one Cipher per
// purpose rather than a pair that must be kept in step. And the accident
// Tink guards against is already loud here: the deterministic methods say
// Deterministic in their names, and plain Encrypt is randomised.
//
// # Format
//
// A ciphertext is a self-describing binary value. Version 2, written since
// fieldcrypt's hardening release:
//
//	byte 0       format version (2)
//	byte 1       mode (1 = AES-256-GCM, 2 = AES-SIV)
//	bytes 2-17   key ID (names the subject key in the keystore, not the subject)
//	bytes 18-21  key version, big-endian
//	bytes 22-53  key commitment: HKDF-SHA256(subject key, "fieldcrypt/envelope/v2/key-commitment"), 32 bytes
//	rest         GCM: nonce (12) | ciphertext | tag (16); SIV: synthetic IV (16) | ciphertext
//
// Randomised ciphertexts are 82 bytes longer than the plaintext and
// deterministic ones 70 ([HeaderSize] 54 plus 28 or 16). Every header byte
// is checked: the AEAD's associated data is header bytes 0-21 followed by
// the caller's associated data (fixed size, so the join is unambiguous),
// and the commitment must equal the key's own, so an accepted ciphertext
// has exactly one header. The data key of each mode is derived from the
// subject key with HKDF-SHA256 under a label naming the format version and
// the mode.
//
// Key commitment: GCM and SIV alone do not commit to a key — a ciphertext
// can be built that opens under two chosen keys with two different
// plaintexts. Version 2 carries the key's commitment, derived once per
// cached key and compared in constant time before the AEAD runs, so a
// ciphertext opens under exactly one key: a second key would need an
// HKDF-SHA256 collision, 2^128 work. The cost is the 32 bytes per
// ciphertext; the comparison costs nanoseconds. Decrypt also checks that the
// key it finds serves the Cipher's purpose (see [WithPurpose]).
//
// The string forms are the unpadded URL-safe base64 of the same bytes (4/3
// as long), with exactly one accepted spelling: padding, line breaks, white
// space or non-zero unused bits in the last character are [ErrMalformed],
// so a deterministic column never holds two spellings of one value.
//
// # Backwards compatibility
//
// Version 1 ciphertexts keep decrypting; nothing writes them any more.
// Their layout is the first 22 bytes above (version 1) followed by the body,
// without commitment; the header was bound only through the key it
// selects, and the caller's associated data alone went to the AEAD.
//
// Version 1 deterministic ciphertexts are not confidential: format 1
// cleared the AES-SIV key it had handed to Tink's AESSIV, which keeps the
// slice, so their CTR layer ran under an all-zero key and anyone can read
// one from its synthetic IV alone, with or without the subject key — also
// after the subject was forgotten. Treat every version 1 deterministic
// value as stored in clear: re-encrypt it (decrypt and EncryptDeterministic
// again) and purge old copies; the randomised mode of version 1 is not
// affected. testdata/golden holds vectors of both versions, which must
// decrypt forever.
//
// # Buffers
//
// [Cipher.AppendEncrypt], [Cipher.AppendEncryptDeterministic] and
// [Cipher.AppendDecrypt] append to a caller's buffer, as cipher.AEAD's Seal
// and Open do, so that a loop over many fields reuses one buffer and
// allocates nothing once the subject's key is cached. Encrypt,
// EncryptDeterministic and Decrypt return a new slice each time.
//
// # Associated data
//
// Associated data is authenticated but not stored: Decrypt must be given the
// same bytes. Bind each value to where it lives — table, column and the row's
// subject or primary key, via [AssociatedData] — so a ciphertext copied to
// another row or customer fails to decrypt instead of being read as theirs.
//
// # Errors
//
// Decrypt of a forgotten subject's data fails with an error matching
// [keys.ErrKeyDestroyed]. Malformed input fails with [ErrMalformed], a newer
// format with [ErrUnsupportedVersion]; every other failure — wrong associated
// data, tampering, a key the keystore does not know, a key of another
// purpose, a key commitment that does not match — is the single opaque
// [ErrDecrypt]. Errors never contain plaintext, ciphertext or keys. No
// partial plaintext is ever returned.
//
// # Limits
//
//   - Randomised mode: at most 2^32 messages per subject key version (random
//     nonce bound of NIST SP 800-38D: it keeps the chance of any nonce
//     repeating below 2^-32); rotate with
//     [keys.Keyring.Rotate] well before. At most 64 GiB per message.
//   - Deterministic mode: at most 2^48 messages per subject key version.
//   - Associated data is not limited, but is hashed on every call.
//
// # Concurrency
//
// A Cipher is safe for concurrent use by many goroutines.
package envelope
