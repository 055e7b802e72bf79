// Package gormcrypt encrypts GORM model columns under each customer's own
// key (see package keys), fills blind indexes so encrypted columns can be
// searched by equality, and erases a customer with one call.
//
//	type Customer struct {
//		ID         uint
//		Ref        string    `gorm:"uniqueIndex;size:64" fieldcrypt:"subject"`
//		Email      string    `gorm:"serializer:encrypt"`
//		EmailIndex *string   `gorm:"size:32;index" fieldcrypt:"blind_index:Email;normalize:lower"`
//		Phone      *string   `gorm:"serializer:encrypt"`
//		Born       time.Time `gorm:"serializer:encrypt"`
//	}
//
//	plugin, _ := gormcrypt.New(keyring, gormcrypt.Models(&Customer{}))
//	db.Use(plugin)
//	db.Create(&Customer{Ref: "customer-42", Email: "ada@example.com"})
//	db.WithContext(ctx).Scopes(gormcrypt.WhereEqual(&Customer{}, "Email", "Ada@Example.com")).First(&c)
//	gormcrypt.RotateBlindIndex(ctx, db, &Customer{}, "Email") // then, in the background:
//	gormcrypt.Reindex(ctx, db, &Customer{}, "Email", gormcrypt.ReindexOptions{})
//	gormcrypt.Forget(ctx, db, "customer-42", "erasure ticket 1001")
//
// # Serializers and registration
//
// Two GORM serializers do the work: `serializer:encrypt` (AES-256-GCM,
// randomised) and `serializer:encrypt_det` (AES-SIV, deterministic; equal
// values of one customer in one column look equal). GORM's serializer
// registry is global, so the serializers hold no state: [New] returns a
// gorm.Plugin, installed with db.Use, whose callbacks put it into each statement's context, and
// the serializers, which GORM calls with that context, find the Keyring
// there. Several *gorm.DB with different Keyrings can therefore live in one
// process, and an encrypted column used through a *gorm.DB without the plugin
// fails with [ErrNotRegistered] instead of being written in clear.
//
// Supported field types: string, []byte, time.Time, signed and unsigned
// integers, named types over them, and pointers to all but []byte. NULL (a
// nil pointer or nil []byte) stays NULL; empty strings and empty slices are
// encrypted and round-trip. Columns hold the ciphertext's text form
// (unpadded URL-safe base64), so they are text columns: a value of n bytes
// takes 4/3·(n+50) characters (4/3·(n+38) deterministic); integers are
// encrypted as 8 bytes so their size does not leak. Installing the plugin makes the
// encrypted columns of the models given to [Models] text columns (GORM
// would otherwise give time and integer fields their own column types); a
// model first seen in a query needs `gorm:"type:text"` on such fields, and
// is refused with [ErrInvalidModel] without it.
//
// # Data subject and associated data
//
// Each value is encrypted for one data subject: the model's string field
// tagged `fieldcrypt:"subject"`, or, when the model has none or it is
// empty, the subject given with [WithSubject]. It must not start with
// [ReservedSubjectPrefix]. The associated data is
// envelope.AssociatedData(table, column, subject), so a value copied to
// another column, or to a row of another customer, fails to decrypt
// (envelope.ErrDecrypt) instead of being read as theirs. Moving a value
// between two rows of the same customer and column is not detected.
//
// Rows are decrypted while they are scanned, column by column, so the
// subject column must come before the encrypted ones: the plugin rejects a
// model whose subject field is declared after an encrypted field (AutoMigrate
// creates columns in declaration order, and SELECT * returns them so), and
// a query that selects the subject after them fails with [ErrNoSubject].
//
// # Blind indexes
//
// A string or *string field tagged `fieldcrypt:"blind_index:Email"` is filled
// on Create, Save and Updates (struct or map) with a keyed hash of the
// Email field: the first 16 bytes ([BlindIndexSize]) of HMAC-SHA256, hex
// encoded (32 characters), over the value after normalisation (normalize:lower,
// the default, trims and lower-cases; exact; digits). [WhereEqual] and
// [BlindIndex] search with it. Each index column has its own HMAC key: the
// key of the reserved subject "fieldcrypt/blind-index/<table>.<index column>"
// and purpose [BlindIndexPurpose] in the same Keyring, so it is wrapped by
// the root key like every other key. It is not per customer, since a lookup
// must work across customers; do not forget it. fieldcrypt tags are written like GORM's: keys
// separated by semicolons, values after ':' (one syntax; 'key=value' is refused with a hint); unknown
// keys are refused.
//
// [WhereEqual] reads the keys and, for deterministic columns, the subject
// from the statement's context (db.WithContext), and names the column with
// the model's table as the query knows it: the statement's table, or the
// alias of a relation joined with Joins ([WhereEqualAs] for raw joins).
//
// # Key rotation and search
//
// Lookups match every live key version, so rows written before a rotation
// are still found. A deterministic column (encrypt_det) is matched with
// IN over the value's ciphertext under each live version of the subject's
// key (after keys.Keyring.Rotate of that customer); a blind index with IN
// over its index under each live version of the index key. The cost per
// lookup is one AES-SIV operation (deterministic) or one HMAC-SHA256
// (blind index) per live version, plus one key cache lookup per version
// (keys.Keyring.LiveKeys; a keystore read and unwrap for a version not in
// the cache) and one more value in the IN list for the database. Measured
// by BenchmarkWhereEqual (pure-Go SQLite, 1000 rows, 2 shared cores,
// medians of 6), a second version adds about 0.8 µs (HMAC) or 0.9 µs
// (AES-SIV) to computing the values, while the database's IN over two
// values makes an indexed blind index lookup 1.25× as long (58 → 73 µs)
// and a deterministic lookup on an unindexed column 1.03× (145 → 149 µs).
// Versions are never retired (the keys package destroys a subject's keys
// only all at once), so the cost grows by one such operation and one IN
// value per rotation. Another process notices a Rotate within its
// Keyring's Config.CacheMaxAge: for a deterministic column, until then it
// neither writes nor matches the new version, so a row the rotating process
// writes in that window is found by the others only once they catch up.
//
// Blind index keys are rotated with [RotateBlindIndex] and rows moved to
// the new version with [Reindex]:
//
//  1. RotateBlindIndex adds a version of the index key. Lookups in every
//     process match it once they notice it (within CacheMaxAge); writes
//     keep using the previous version for [BlindIndexGrace] (by default
//     CacheMaxAge + 1 s) and then switch, so every process matches a
//     version before any process writes under it: no lookup misses a row
//     at any point.
//  2. Reindex, in the background, waits for the same grace period, then
//     walks the table in primary-key order, BatchSize rows per
//     transaction, decrypting the source column and writing the index under
//     the new version with UPDATE … WHERE pk = ? AND index = old, so that a
//     concurrent application write is never overwritten. Its cursor is kept
//     in the table [ReindexTable] (fieldcrypt_reindex), keyed by table,
//     index column and version, so an interrupted run resumes where it
//     stopped, and a finished one returns at once. Progress is reported per
//     batch.
//
// Its cost is one read of the table and one decryption, HMAC and UPDATE
// per row. Afterwards lookups still compute the index under every live
// version (the old ones are not retired), one HMAC per version.
//
// Leakage: a blind index reveals which rows hold equal (normalised) values
// across the whole column, and so the frequency of each value; whoever has
// the index key can test guesses. 16 bytes keep accidental collisions
// negligible (about 2^-65 for 2^32 rows, birthday bound) while halving the
// index size; they are not meant to make the index ambiguous. A model with
// a blind index needs a subject field, so that Forget can find its rows.
//
// # Erasure
//
// [Forget] calls keys.Keyring.Forget and then sets the subject's blind
// index values to NULL in every known model, so their old values are no
// longer found. Afterwards reading an encrypted column of theirs fails with
// an error matching keys.ErrKeyDestroyed, unless New was given
// [RedactForgotten], which yields the zero value instead; writing for them
// fails with keys.ErrKeyDestroyed. Other customers are untouched.
// Global-scope token columns (scope:global) survive Forget: delete or
// rewrite such rows as part of the erasure if they must go too.
//
// # Operations
//
// Create, CreateInBatches, Save, Updates with a struct or a map, Update,
// First, Find, Scan, Raw(...).Scan, Joins, Preload, transactions and user
// hooks work; Rows needs [ScanRows] in place of db.ScanRows. Map updates are encrypted by the plugin (GORM does not call
// serializers for them) and must address rows of one subject: the model's
// subject field or WithSubject. Not supported, and refused with
// [ErrUnsupported] rather than written in clear: Create from a map, SQL
// expressions assigned to encrypted columns, setting a blind index column
// yourself, changing a row's subject with Updates (its other ciphertexts
// would stop decrypting). Updating with Select keeps an index in step with
// its source. Results scanned into something other than the model (Pluck,
// maps, Row) hold the stored ciphertext text, not the plaintext.
// Unknown fieldcrypt tag keys, unknown token formats and unsupported field
// types are refused with [ErrInvalidModel] when the model is registered or
// first used.
//
// # Token columns
//
// A string or *string field tagged
// `gorm:"serializer:token" fieldcrypt:"token:card"` stores a
// format-preserving token (package tokenize) instead of a ciphertext: a
// card number stays a 16-digit number with its last four digits, an email a
// valid address at its domain, so legacy validators, schemas and analytics
// keep working. The format names are those of [DefaultTokenFormats] plus
// any added with [TokenFormat]. The FF1 tweak is "<table>.<column>", so the
// same value in two columns gives unrelated tokens. Tokens are
// subject-scoped by default (Forget makes them unreadable); with
// `fieldcrypt:"token:email;scope:global"` one tenant-wide key is used, so
// equal values of different customers have equal tokens and can be joined
// or searched (tokenize the value with tokenize.Tokenizer.TokenizeGlobal
// and field "<table>.<column>"), and the tokens survive Forget. Tokens are
// deterministic and not authenticated: they leak equality (per customer, or
// across the column with scope:global) and a swapped token is not detected.
// NULL stays NULL and "" stays "". A value the format rejects (a malformed
// card number, an email whose local part is too short for 10^6 tokens)
// fails the write with tokenize.ErrInvalidFormat or
// tokenize.ErrDomainTooSmall.
//
// # Cost
//
// Per encrypted value: one AES-GCM or AES-SIV operation and a base64 step,
// with the subject key served from the Keyring's cache (about 5% of the CPU
// profile of BenchmarkShop); a customer's first write creates and wraps
// their key (a keystore insert). The larger cost is the database's: rows
// grow by 4/3·50 characters per encrypted value plus 32 per blind index.
// BenchmarkShop (1000 customers, 3 encrypted columns, 1 blind index,
// created in one transaction and read back, pure-Go SQLite, 2 shared
// cores, medians of 5, CPU time) measured 1.18× plain GORM with
// CreateInBatches(100) and 2.1× with 1000 single Creates, where plain GORM
// storing values of the same length as the ciphertexts already takes 1.8×:
// the pure-Go SQLite pays per statement for larger rows. GORM's
// PrepareStmt brings the single-Create case to about 1.3×.
//
// # Concurrency
//
// A [Plugin] and the serializers are safe for concurrent use by many
// goroutines, as is a *gorm.DB with gormcrypt registered.
package gormcrypt
