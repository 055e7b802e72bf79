// Package fpe implements format-preserving encryption: FF1 and FF3-1 from
// NIST SP 800-38G (Rev.1), with AES-128, AES-192 or AES-256 keys, over any
// alphabet of 2 to 65536 distinct Unicode characters.
//
// A ciphertext has the same length and alphabet as its plaintext: a 16-digit
// card number encrypts to 16 digits, a Polish surname over
// "aąbcćdeęfghijklłmnńoóprsśtuwyzźż" to a string over the same 32 letters.
// fieldcrypt uses it for tokens that must fit an existing column format.
//
//	c, err := fpe.NewFF1(key, "0123456789")
//	token, err := c.Encrypt("4111111111111111", []byte("payments.pan"))
//	plain, err := c.Decrypt(token, []byte("payments.pan"))
//
// Most users need only [NewFF1], [FF1.Encrypt] and [FF1.Decrypt]. The
// numeral API ([FF1.EncryptNumerals], [Alphabet]) is for callers that keep
// data as numerals and want zero allocations. [FF31] exists for
// compatibility with tokens issued by other FF3-1 systems.
//
// # Alphabets and strict input
//
// An alphabet lists its characters in numeral order: numeral i is the i-th
// character (code point). Constructors reject an alphabet that repeats a
// character, has fewer than 2 or more than 65536 characters, is not valid
// UTF-8 or contains U+FFFD, and a key that is not 16, 24 or 32 bytes long.
// There is no default alphabet.
//
// Every input character must belong to the alphabet exactly: no sign, no
// spaces or separators, no case folding, no Unicode normalization, no
// look-alike digits. "+123456789" and "0123456789" never map to the same
// token; the first is an error. Errors name the position, never the
// character, the input or the output.
//
// # Security limits
//
//   - Minimum domain: radix^length must be at least 1,000,000
//     ([MinDomainSize], SP 800-38G Rev.1; the 2016 edition allowed 100).
//     Shorter inputs fail with [ErrDomainTooSmall]: at least 6 decimal
//     digits, 5 letters a-z, 4 characters of a 36- to 62-character alphabet,
//     20 binary digits.
//     Inputs of 2 to 4 digits must be padded or tokenized another way.
//   - A domain of N = radix^length values is small: whoever can obtain
//     encryptions of chosen values under one key and tweak can tabulate the
//     whole permutation with N queries (10^6 for six digits), and published
//     message-recovery attacks on FF1 and FF3 become cheap when N is small
//     (Bellare, Hoang and Tessaro 2016; Durak and Vaudenay 2017; Hoang,
//     Tessaro and Trieu 2018). Prefer
//     domains of 10^9 and more, and treat the encryption oracle as sensitive.
//   - Determinism: the same key, tweak and plaintext always give the same
//     ciphertext, so tokens reveal equality of plaintexts (which is what makes
//     them joinable). Use a distinct tweak per column or tenant so that equal
//     values in different contexts get unrelated tokens; the tweak is not
//     secret and must be available again for decryption.
//   - FF1: 10 Feistel rounds over AES; tweaks of 0 to [MaxTweakLenFF1]
//     (65536) bytes; inputs of 2 to 2^32-1 numerals ([MaxLenFF1]).
//   - FF3-1: 8 rounds, tweaks of exactly 7 bytes ([TweakLenFF31]), inputs up
//     to 2·⌊log_radix(2^96)⌋ numerals (56 decimal digits). Use it only to
//     interoperate with existing FF3-1 tokens, never for new data: NIST's
//     2025 second public draft of SP 800-38G Rev.1 withdraws FF3-1, and
//     Beyne (CRYPTO 2021) gives a linear attack on FF3-1 (and FF3) that is
//     practical for small domains.
//   - Neither mode authenticates: a modified token decrypts to a different
//     valid-looking value, not an error.
//
// # Performance
//
// The AES key schedule is built once by the constructor. A Feistel half is
// kept in 64- or 128-bit integers when it has at most twice as many numerals
// as fit in 64 bits: 38 decimal digits, 24 base-36 characters, 6 numerals of
// radix 65536, so FF1 inputs of up to 76 decimal digits and every FF3-1
// input. Those calls allocate nothing in the numeral API and only the
// returned string in the string API (plus a numeral buffer above 128
// characters). Longer FF1 inputs use math/big, whose
// cost grows quadratically with the length. An FF1 call on 16 digits costs
// 11 AES block encryptions, an FF3-1 call 8; the first FF1 block (and any
// block of the tweak alone) is remembered per (length, tweak), so a field's
// repeated calls pay 10.
//
// The ten FF1 rounds are one chain of dependent steps, so their latency is
// FF1's time. On amd64 with AES-NI and SSE4.1, when the halves fit the
// 64-bit path (up to 32 decimal digits) and the key is 16 or 32 bytes, the
// rounds run in assembly with the block in registers: AES-NI with
// fieldcrypt's own key schedule (internal/aesni: AESKEYGENASSIST, no
// table lookups), and the
// modular step as multiplies and conditional moves (a division for halves
// above 2^32). A 16-digit FF1 then costs about 1.2 times 11 chained
// crypto/aes block calls on the machine the project benchmarks on. With
// FIPS 140-3 mode on (GODEBUG=fips140=on or only), on other CPUs, for
// 24-byte keys, or with the purego build tag, every block goes through
// crypto/aes. Both paths are checked against each other and against
// FIPS 197 and SP 800-38G vectors.
//
// Timing: AES-NI, the multiplies and conditional moves take the same time
// for every value. The division used for halves above 2^32 (in assembly
// and in the Go path, through bits.Div64) may take a time that depends on
// its operands on some CPUs; it divides PRF output, and inputs of up to
// 18 decimal digits (halves below 2^32: cards, phone numbers, national
// IDs) never reach it.
//
// # Concurrency
//
// [Alphabet], [FF1] and [FF31] are immutable after construction and safe
// for concurrent use by any number of goroutines. Per-call state lives on
// the stack or in pooled scratch blocks that are never shared between calls.
// Caller slices (key, tweak, src) are never modified or retained.
//
// # Errors
//
// Errors wrap one of [ErrInvalidKey], [ErrInvalidAlphabet],
// [ErrInvalidInput], [ErrInvalidTweak] or [ErrDomainTooSmall]; match them
// with [errors.Is]. Misuse of the numeral API (dst shorter than src) panics.
package fpe
