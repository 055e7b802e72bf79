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
// Encrypt is randomised: AES-256-GCM with a random 96-bit nonce drawn inside
// the library for every message (callers cannot supply nonces, so no call
// sequence reuses one). EncryptDeterministic is AES-SIV (RFC 5297, Tink's
// implementation): equal plaintexts under one subject key, purpose and
// associated data give equal ciphertexts, which allows equality lookups and
// leaks exactly that equality (and the frequency of each value). Both modes
// decrypt with Decrypt.
//
// # Format
//
// A ciphertext is a self-describing binary value:
//
//	byte 0       format version (1)
//	byte 1       mode (1 = AES-256-GCM, 2 = AES-SIV)
//	bytes 2-17   key ID (names the subject key in the keystore, not the subject)
//	bytes 18-21  key version, big-endian
//	rest         GCM: nonce (12) | ciphertext | tag (16); SIV: synthetic IV (16) | ciphertext
//
// so randomised ciphertexts are 50 bytes longer than the plaintext and
// deterministic ones 38 bytes. The string forms are the unpadded URL-safe
// base64 of the same bytes (4/3 as long). The data key of each mode is
// derived from the subject key with HKDF-SHA256 under a label naming the
// format version and the mode, so altering any header byte selects another
// key and fails authentication.
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
// data, tampering, a key the keystore does not know — is the single opaque
// [ErrDecrypt]. Errors never contain plaintext, ciphertext or keys. No
// partial plaintext is ever returned.
//
// # Limits
//
//   - Randomised mode: at most 2^32 messages per subject key version (random
//     nonce collision bound); rotate with [keys.Keyring.Rotate] well before.
//     At most 64 GiB per message.
//   - Deterministic mode: at most 2^48 messages per subject key version.
//   - Associated data is not limited, but is hashed on every call.
//
// # Concurrency
//
// A Cipher is safe for concurrent use by many goroutines.
package envelope
