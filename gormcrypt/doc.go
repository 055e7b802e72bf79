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
//	plugin, _ := gormcrypt.New(keyring, gormcrypt.WithModels(&Customer{}))
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
// takes ceil(4·(n+82)/3) characters (ceil(4·(n+70)/3) deterministic); integers are
// encrypted as 8 bytes so their size does not leak. Installing the plugin makes the
// encrypted columns of the models given to [WithModels] text columns (GORM
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
// The query methods (Find, First, Take, Last, Preload, Raw().Find and the
// reads of FirstOrInit and FirstOrCreate) decrypt a result once all its rows
// are scanned (see Cost); queries with Joins, Scan, Raw().Scan and
// [ScanRows] decrypt while they scan, column by column, so there the subject
// column must come before the encrypted ones. The plugin rejects a model
// whose subject field is declared after an encrypted field (AutoMigrate
// creates columns in declaration order, and SELECT * returns them so), and
// such a read whose result has the subject after them fails with
// [ErrNoSubject].
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
//     keep using the previous version for [WithBlindIndexGrace] (by default
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
// longer found. Writing for them afterwards fails with
// keys.ErrKeyDestroyed. Other customers are untouched. Global-scope token
// columns (scope:global) survive Forget: delete or rewrite such rows as
// part of the erasure if they must go too.
//
// Reading their rows afterwards works, so that a list which includes one
// forgotten customer does not fail as a whole: each encrypted or
// subject-scoped token column whose key was destroyed reads as the field's
// zero value (nil for pointers and []byte, "" for strings, the zero time,
// 0), and a bool field tagged `gorm:"-" fieldcrypt:"forgotten"` is set to
// true on that row:
//
//	type Customer struct {
//		...
//		Forgotten bool `gorm:"-" fieldcrypt:"forgotten"`
//	}
//
// The mark means "a value of this row was redacted": a row whose encrypted
// columns are all NULL, or were not selected, is not marked; read into a
// fresh value, since the Plugin never sets the mark back to false. Only
// keys.ErrKeyDestroyed is redacted; every other failure (a ciphertext
// moved from another row, a malformed value, an unreachable keystore)
// still fails the query. A forgotten customer's ciphertext copied into
// another customer's row is redacted there too, since its key is gone.
// With [WithStrict], reads of forgotten customers fail with an error matching
// keys.ErrKeyDestroyed instead, a query over many rows as a whole.
//
// Crypto-shredding reaches every service that shares the keystore, but a
// blind index is a keyed hash kept in each service's own database, and
// Forget clears only the database it is given. So every installed Plugin
// also finishes erasures made elsewhere, in the background, for each
// database it is installed on:
//
//   - Reported Forgets: the Plugin subscribes to its Keyring's reports of
//     forgotten subjects (keys.Keyring.OnForget: every Forget through a
//     Keyring of this process on the keystore, and every one its watcher
//     reports from other processes). Reports carry only a keys.SubjectRef,
//     which cannot be inverted, so one pass reads the distinct subjects
//     that still have a blind index value (500 per query), computes their
//     references and sets the matching rows' indexes to NULL. Reports that
//     arrive during a pass are handled together by the next one.
//   - Missed Forgets (this service was down, its watcher lost a report):
//     a sweep at install and then every [WithSweepEvery] (default
//     [DefaultSweepInterval], one hour) checks every subject that still has
//     a blind index value against the keystore (keys.Keyring.ForgottenRefs:
//     one keystore query per 500 subjects with keys/sqlstore) and clears
//     the forgotten ones. A sweep that fails is retried from the page it
//     stopped at. Its position is kept in memory only, so a restarted
//     service sweeps from the start: TestSweepDuration measures a whole
//     sweep over 200,000 indexed subjects at 1.0 s on SQLite and
//     PostgreSQL and 1.6 s on MariaDB (SQLite keystore, 2 cores), about
//     5 to 8 µs per subject, which is cheaper than keeping a cursor.
//
// The bound, from a Forget returning in one service until another
// service's lookups no longer find the subject: the keystore watcher's
// latency (keys/sqlstore: a few milliseconds on PostgreSQL, up to the
// 250 ms poll interval plus one query on MySQL/MariaDB and SQLite) plus
// one pass over that service's indexed subjects (one query per 500
// subjects and one UPDATE per page with a match; about the sweep's cost
// per subject, without the keystore). In the same process it is one pass.
// A Forget whose report is missed is caught within WithSweepEvery's interval plus one
// sweep. None of this bounds the keys: their hard bound stays the
// Keyring's CacheMaxAge plus keys.MaxAgeSlack.
//
// TestTwoServices measures it with the two services in two OS processes
// sharing a keystore on the same backend, on 2 cores (PostgreSQL 15,
// MariaDB 10.11): with 20 other indexed customers in the second service,
// over 200 trials each, p50 2 ms, p99 13 ms, max 55 ms on PostgreSQL;
// p50 241 ms, p99 253 ms, max 301 ms on SQLite; p50 236 ms, p99 297 ms,
// max 324 ms on MariaDB. With 10,000 other indexed customers (50 trials):
// p50 18 ms, max 42 ms on PostgreSQL; p50 233 ms, max 250 ms on SQLite;
// p50 232 ms, max 244 ms on MariaDB.
//
// On MySQL/MariaDB, give the subject column a binary or case-sensitive
// collation (`gorm:"type:varchar(64) COLLATE utf8mb4_bin"`): under the
// default case-insensitive one, subjects that differ only in case are one
// value to the database, so Forget and the erasure would clear the index
// of both and a sweep could check only one of them.
//
// Every step is idempotent, so several replicas of a service may run it at
// once (they repeat each other's work, nothing more), and a step that
// fails is retried with backoff (up to a minute) and reported to
// [WithErasureErrorHandler]. [Plugin.Close] stops it. The cost at rest is two
// goroutines per database and, every WithSweepEvery interval, one sweep.
//
// # Masked reads
//
// A column tagged with a mask reads as its mask unless the context carries
// a reveal grant for it: roles get columns with [WithReveal], and a
// request names its roles with [Reveal]:
//
//	type Customer struct {
//		ID        uint
//		Ref       string  `gorm:"size:64;uniqueIndex" fieldcrypt:"subject"`
//		EmailMask *string `gorm:"size:320"`
//		Email     string  `gorm:"serializer:encrypt" fieldcrypt:"mask:email"`
//		Card      string  `gorm:"size:32;serializer:token" fieldcrypt:"token:card;mask:card"`
//	}
//
//	gormcrypt.New(kr, gormcrypt.WithReveal("support", "customers.email"), gormcrypt.WithReveal("billing", "customers.*"))
//	db.WithContext(ctx).First(&c)                               // c.Email == "j***@example.com", c.Card == "************1111"
//	db.WithContext(gormcrypt.Reveal(ctx, "support")).First(&c) // c.Email in clear, c.Card masked
//
// The masks are [MaskCard] (last four digits), [MaskEmail] (first
// character and domain), [MaskPhone] (last three digits) and [MaskName]
// (the initial, [MaskNameInitial]), on string encrypted (encrypt,
// encrypt_det) and token columns. The decision is made before any key is
// used, and a masked read decrypts and detokenizes nothing (the tests count
// key uses and access records: zero). A card token keeps the value's last
// four digits, so its mask is computed from the stored token. Every other
// mask cannot be computed without the value: it is computed when the value
// is written (Create, Save, Updates from a struct or a map, upserts) and
// kept in a mask column, `<column>_mask` by default or the one named with
// `mask_column:<name>`, which the model declares as a plain string or
// *string field (AutoMigrate adds it) and the plugin fills; setting it
// yourself is refused. A model with mask columns needs a subject field:
// Forget clears them, as it clears blind indexes (a mask shows part of the
// value).
//
// A masked field holds the mask string. A row whose mask column is empty —
// written before the column existed, or read with a Select that leaves the
// mask column out — reads as [MaskUnavailable]. Reads through Find, First,
// Take and Preload put the mask in place whatever the column order; the
// masked columns of a model read through Joins, and reads through GORM's
// Row, Rows and Scan and gormcrypt.ScanRows (which run no callback after
// scanning), give MaskUnavailable. A role the plugin does not know reveals
// nothing and is no error. A mask is never written back over the value:
// a write of a masked field that holds its mask (the value equals the row's
// mask column, or MaskUnavailable; for a card token, any '*') fails with
// [ErrMasked] (which also matches ErrUnsupported) before anything is
// encrypted. Write with a grant, or Select the columns you change. A value
// that is its own mask (a name "J.") can only be written as a new value or
// from a revealed read of another value.
//
// Adding a mask to a table that holds values: declare the mask column,
// run AutoMigrate, then [BackfillMasks], which decrypts each row whose
// mask column is empty once (reported to the access audit) and fills it
// without overwriting concurrent writes. Until it has run, those rows read
// as MaskUnavailable.
//
// Masked reads still fetch the ciphertexts with the row (SELECT *); they
// are not decrypted. BenchmarkMaskedRead (bench_mask_test.go) compares a masked and a revealed
// read of 1000 rows of four masked columns.
//
// # Access audit
//
// [WithAccessAudit] sees every read in clear of an encrypted or token
// column — who ([WithActor], the roles of [Reveal]), which table and
// column, the key purpose, how many values and the distinct subjects'
// references, when; never a value. Reads are aggregated per statement and
// column, so a list page of 1000 rows with two encrypted columns gives two
// records; masked reads are not reported. gormcrypt.ScanRows reports per
// call, and GORM's own Row, Rows and Scan, which run no callback after
// scanning, per value. Two sinks are ready: [AccessLog] appends each
// record to the keystore's tamper-evident audit log (keys.Keyring.RecordAccess,
// with keys.Lifecycle.AuditLog: one keys.EventAccessed entry per record,
// checked by VerifyAuditLog and exported by ExportAuditLog), and
// [AccessSlog] writes it to a slog.Logger.
//
// # Right of access and portability
//
// [Export] answers a subject access request (GDPR Art. 15, and Art. 20's
// machine-readable copy): every row of the models passed to [WithModels]
// whose subject field names the customer, each column decrypted and each
// token detokenized, blind indexes and token markers left out, as a
// [SubjectExport] for json.Marshal:
//
//	ex, err := gormcrypt.Export(ctx, db, "customer-42")
//	json.NewEncoder(w).Encode(ex) // {"subject":…, "tables":[{"table":"customers","rows":[{…}]}]}
//
// It costs one query per model (WHERE subject = ?). Models without a
// subject field cannot be searched and are listed in SubjectExport.Skipped.
// A forgotten customer fails with keys.ErrKeyDestroyed; every export is
// recorded through keys.Keyring.RecordExport (the subject's reference, never
// the values).
//
// # GORM APIs: what works, what does not, and why
//
// Tested on SQLite, PostgreSQL and MariaDB (TestSuite, TestSafety).
//
//	API                                        works?   notes
//	Create, CreateInBatches, Save              yes      Save writes every column, so it may change the subject (re-encrypts)
//	Updates(struct), Updates(&struct)          yes      only the non-zero fields, as GORM does; indexes follow their sources
//	Updates(map), Update, UpdateColumn(s)      yes      encrypted by the plugin (GORM calls no serializer for maps); one subject per statement
//	Select/Omit with Updates or Save           yes      an index is written exactly when its source is
//	OnConflict UpdateAll / DoNothing           yes
//	OnConflict AssignmentColumns               yes      the index is assigned with its source; the conflict target must include the subject column
//	OnConflict Assignments(map)                no       ErrUnsupported: the value would be written as given, unencrypted
//	FirstOrCreate, FirstOrInit, Attrs, Assign  yes      conditions on plain columns only (the subject, say)
//	First, Find, Take, Scan, Raw().Scan        yes      into the model; Pluck, maps and Row give the stored text
//	Rows                                       yes      with ScanRows in place of db.ScanRows
//	Joins, Preload                             yes      related models need their own subject field (checked when the plugin is installed)
//	WhereEqual scope                           yes      blind index (any subject) or deterministic column (one subject)
//	Where/First/Find/Delete/Not/Or with a
//	  struct or map naming an encrypted column no       ErrUnsupported: the column holds ciphertexts; GORM compared with NULL or plaintext
//	Where("email = ?", v) (SQL strings)        no       not seen by the plugin: it compares with the stored ciphertext text
//	Create from a map                          no       ErrUnsupported: create from the struct
//	SQL expressions for encrypted columns      no       ErrUnsupported
//	setting a blind index column yourself      no       ErrUnsupported: it is filled from its source
//	Updates that change only the subject       no       ErrUnsupported, nothing written: other ciphertexts would stop decrypting
//	default:, uniqueIndex on encrypted columns no       ErrInvalidModel: a default is stored in clear; put uniqueIndex on a blind index
//	size: shorter than a ciphertext            no       ErrInvalidModel; a longer value than size: holds fails with ErrValueTooLong
//
// Sizes: a randomised column needs ceil(4·(n+82)/3) characters for n bytes
// of plaintext, encrypt_det ceil(4·(n+70)/3); so size:S holds
// floor(3·S/4) − 82 bytes (− 70 deterministic) and no size gives a text
// column. Integer columns encrypt 8 bytes, time columns 15 or 16. A token
// column has the length of its value; a blind index 32 characters.
//
// Failures are reported before the driver sees the statement: every
// written encrypted column is computed in the plugin's callbacks, so no
// error or log line carries a value (pgx would otherwise format GORM's
// serializer wrapper, plaintext included, into its error, and GORM would
// log it).
//
// # Writers without the plugin
//
// A *gorm.DB without db.Use(plugin) writing a model with encrypted columns
// fails: struct writes with [ErrNotRegistered] from the serializers (or, in
// a process where no plugin was ever installed, GORM's "invalid serializer"
// error). Map writes, Table() writes and raw SQL bypass GORM's serializers
// and every callback of this package, so the plugin also gives the
// encrypted and blind index columns of the models passed to [WithModels] CHECK
// constraints, created by AutoMigrate: the database refuses a value that
// cannot be a ciphertext (it must start with "A" and be at least 51
// characters long) or a blind index (32 characters). This stops mistakes — another service, an admin tool, a
// missing db.Use — not an attacker with write access. Limits: token
// columns get no constraint (a token has its value's format by design), so
// a writer without the plugin can store a real card number there; on
// PostgreSQL, the error a *gorm.DB without the plugin gets from pgx for a
// struct write quotes the value, because pgx formats the argument it could
// not encode. [WithoutCheckConstraints] leaves the constraints out (a table that
// still holds plaintext, where AutoMigrate could not add them).
//
// Unknown fieldcrypt tag keys, unknown token formats and unsupported field
// types are refused with [ErrInvalidModel] when the plugin is installed or
// the model first used.
//
// # Token columns
//
// A string or *string field tagged
// `gorm:"serializer:token" fieldcrypt:"token:card"` stores a
// format-preserving token (package tokenize) instead of a ciphertext: a
// card number stays a 16-digit number with its last four digits, an email a
// valid address at its domain, so legacy validators, schemas and analytics
// keep working. The format names are those of [DefaultTokenFormats] plus
// any added with [WithTokenFormat]. The FF1 tweak is "<table>.<column>", so the
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
// With `fieldcrypt:"token:card;vault"` and [WithTokenVault](store) the
// column's tokens come from a token vault (tokenize.Vault) instead: random,
// in the same shape, the mapping sealed under the customer's key in the
// keystore database. For PCI DSS such a column holds no card data (an FPE
// token is encrypted card data). Each new value costs a keystore insert and
// each revealed read a keystore query; mask:card reads query nothing.
// Search by value with [Plugin.Vault]().Lookup(ctx, subject,
// "<table>.<column>", format, value), which never issues a token.
// With scope:global the vault gives one token per value across customers.
//
// # Adopting on a live database
//
// A table that already holds personal data in clear is adopted without
// downtime in four steps (examples/migrate runs them):
//
//  1. Deploy the encrypted model with its columns marked migrating: the tag
//     `fieldcrypt:"migrating"` on each encrypted field, or
//     [WithMigrating](&Customer{}, "Email", ...) (no fields: every
//     encrypted string field). Add the blind index columns; AutoMigrate
//     adds them, NULL, and gives migrating columns no CHECK constraint
//     (the table still holds plaintext). Reads accept both plaintext and
//     ciphertext; every write (Create, Save, Updates) stores the ciphertext
//     and its blind index, as without the flag.
//  2. Run [Backfill] in the background (a job, a goroutine). It walks the
//     table in primary-key order, [BackfillOptions].BatchSize rows
//     (default 500) per short transaction, encrypts each plaintext value
//     for the row's subject and fills its blind index, with UPDATE … WHERE
//     pk = ? AND subject = old AND column = old for every column it
//     changes. A concurrent application write is therefore never
//     overwritten with a stale value; the row is read again and whatever
//     it still holds in clear is protected. Its cursor, in [BackfillTable]
//     (fieldcrypt_backfill), is committed with each batch, so a killed
//     Backfill resumes after the last committed batch, and one that is
//     done returns at once; a batch whose transaction fails (a deadlock
//     with the application) is retried up to 5 times. Ciphertexts are
//     skipped, so running it again, or twice at once, is harmless. No
//     table lock is taken. Progress reports rows read, protected and
//     skipped, rows/s and an ETA after every batch. Plaintext of a
//     subject already forgotten (keys.ErrKeyDestroyed) is set to NULL.
//  3. Check: [CountPlaintext] reads the table and reports the plaintext
//     values left per column. Zero everywhere is the evidence for step 4.
//  4. Remove the flag and deploy again. AutoMigrate now adds the CHECK
//     constraints, and a plaintext value read from the column fails with
//     [ErrPlaintext] (which also matches envelope.ErrMalformed).
//
// How a stored value of a migrating column is classified: it is a
// ciphertext if it is strict unpadded URL-safe base64 (the one spelling
// fieldcrypt writes: no padding, no line breaks, no non-zero unused bits)
// that decodes to at least 22 bytes (a format 1 header) whose first byte is
// format version 1 or 2; every fieldcrypt ciphertext is. Anything else is
// plaintext and read as it is stored. A value classified as a ciphertext
// must decrypt and authenticate for the row's subject, table and column, or
// the read fails with the usual error (envelope.ErrDecrypt,
// envelope.ErrMalformed): a value crafted to look like a ciphertext is never
// returned, neither as plaintext nor as a decryption, and a ciphertext
// copied from another row does not decrypt there. The classification is the
// same in Backfill and CountPlaintext, which leave such values as they are
// and do not count them; a genuine plaintext that happens to look like a
// ciphertext (a base64url string of 30 characters or more whose first
// character is "A" and second one of Q–Z or a–v) cannot be adopted this way and fails its reads: rewrite it
// through the plugin. NULL stays NULL.
//
// Token columns. A token looks like its value by design (a tokenized card
// number is a card number), so no reader could tell a token from a
// plaintext by looking at it. A migrating token column therefore needs a
// token marker, a bool column declared before it (AutoMigrate adds it,
// NULL), which says per row which one the column holds:
//
//	CardTokenized *bool  `fieldcrypt:"tokenized:Card"`
//	Card          string `gorm:"size:32;serializer:token" fieldcrypt:"token:card;migrating"`
//
// Every write of the token column through the plugin (Create, Save,
// Updates from a struct or a map, upserts) stores the token and sets the
// marker to true; setting the marker by hand is refused (ErrUnsupported).
// A read detokenizes a value whose marker is true and returns any other as
// it is stored; Backfill (name the column: BackfillOptions.Columns, since
// WithMigrating without fields leaves token columns alone) tokenizes the
// values whose marker is not true with UPDATE … WHERE column = old AND
// (marker IS NULL OR marker = false), so a token is never tokenized twice,
// and CountPlaintext counts them. Classification is by the marker only: a
// plaintext that happens to be another value's token is read as the
// plaintext it is. Rows are read column by column and the marker decides
// how the token is read, so queries read it first: the plugin names the
// model's columns in declaration order instead of SELECT *, and adds the
// marker before the token column to a Select that names only the latter.
// Raw SQL and SELECT clauses of the caller keep their order: reading a
// migrating token column through them fails with ErrUnsupported unless it
// goes through [ScanRows], which sees the columns and accepts the marker
// before the token. Once CountPlaintext reports 0, remove the migrating
// flag; the marker column may stay (it is still written) or be dropped.
//
// Limits: only string and *string columns can be migrating (their
// plaintext is the stored text; an integer or time column changes its
// representation and needs its own copy-and-switch), and token columns
// only with a marker. During the migration, WhereEqual finds a row
// only once it is protected (its blind index or deterministic ciphertext
// is written by the application's write or by Backfill), and Reindex of
// the column fails on its plaintext rows. The model needs a single-column
// integer or string primary key. Rows with an empty subject field are
// encrypted for the subject of Backfill's context (WithSubject).
//
// Cost: one read of the table, one encryption per plaintext value, one
// HMAC per blind index and one UPDATE per row. BenchmarkBackfill
// (PostgreSQL 15, 2000 rows, 3 migrating columns, one blind index, 2
// shared cores, medians of 6) measures 10,550 rows/s beside 15,300 rows/s
// for a loop doing the same reads and per-row optimistic UPDATEs without
// encryption: 0.69× (17 MB and 249,000 allocations per 2000 rows against
// 4.4 MB and 91,000).
// TestBackfillEndToEnd runs it in a child process that is killed with
// SIGKILL and resumed while four writers update and insert rows.
//
// # Re-encrypting after a key rotation
//
// After keys.Keyring.Rotate of a customer's key (a suspected leak, say),
// new writes use the new version and old values keep reading. [ReEncrypt]
// rewrites the old ones under the current version with Backfill's
// properties (primary-key order, short transactions, a resumable cursor,
// per-row optimistic writes, progress); [ValuesBelow] counts what still
// uses an older version, and is the evidence keys.Keyring.DestroyVersionsBelow
// asks for before it destroys the old versions:
//
//	v, _ := kr.Rotate(ctx, "customer-42", keys.DefaultPurpose)
//	gormcrypt.ReEncrypt(ctx, db, &Customer{}, gormcrypt.ReEncryptOptions{Subject: "customer-42"})
//	kr.DestroyVersionsBelow(ctx, "customer-42", keys.DefaultPurpose, v,
//		keys.WhenUnused(func(ctx context.Context) (int64, error) {
//			return gormcrypt.ValuesBelow(ctx, db, &Customer{}, "customer-42", v)
//		}))
//
// Pass one WhenUnused per table that holds the customer's data. Blind
// indexes need no rewrite (their keys are not the customer's). Tokens are
// always made under version 1 of the key and are not re-encrypted, so
// ValuesBelow counts every subject-scoped token for a version above 1: a
// customer with tokens keeps version 1 (rotate their tokens by deleting and
// re-creating them, or use a global-scope token column). ReEncrypt reads
// the whole table even with Subject set; other customers' rows are
// skipped after one key lookup each (the Keyring's cache).
//
// # Cost
//
// Per encrypted value: one AES-GCM or AES-SIV operation and a base64 step,
// with the subject key served from the Keyring's cache (about 5% of the CPU
// profile of BenchmarkShop); a customer's first write creates and wraps
// their key (a keystore insert). The larger cost is the database's: rows
// grow by about 4/3·82 characters per encrypted value plus 32 per blind index.
// BenchmarkShop (1000 customers, 3 encrypted columns, 1 token column, 1
// blind index, created in one transaction and read back, pure-Go SQLite,
// 2 shared cores, medians of 6, CPU time) measures, against plain GORM
// storing values of the ciphertexts' length: 1.48× with CreateInBatches(100)
// and 1.89× with 1000 single Creates; with [WithoutCheckConstraints] 1.29× and
// 0.83×. The difference is SQLite's: a table with a CHECK constraint makes
// every INSERT ... RETURNING inside a transaction keep a statement journal
// (the constraint may abort the statement, and RETURNING is compiled as a
// trigger), which doubles the cost of a one-row insert. The same scenario
// with 1000 single Creates on the machine's servers (wall time, medians of
// 3): PostgreSQL 15 1.6× with the constraints and 1.16× without (it
// prepares the constraint expressions for every execution of an INSERT, about
// 30 µs for four); MariaDB 10.11 1.19× and 1.16×. What remains is mostly
// cryptography: three encryptions, a token and an HMAC per row written,
// three decryptions and a detokenization per row read, about 10 µs a row.
//
// A process whose key cache is cold would pay one keystore read and one KMS
// unwrap per customer on its first read of them: 1000 of each for a list
// page of 1000 customers. So the query methods keep the stored values while
// GORM scans the rows and, once the result is scanned (before Preload and
// the AfterFind hooks), load every key its rows need at once: the key
// versions named by the ciphertext headers with keys.Keyring.WarmVersions
// and the token columns' subject keys with keys.Keyring.Warm, one keystore
// query and one KMS call per 500 keys where the Store and KMS support batches
// (keys/memstore, keys/sqlstore, keys/localkms, keys/vaultkms). A cold
// 1000-row Find over 1000 customers then costs 2 keystore queries and 2 KMS
// calls, 4 and 4 with a token column (TestFindWarmsKeys; with a PostgreSQL
// keystore and Vault, TestFindWarmsKeysPostgresVault in examples/coldread).
// Columns read masked load no key at all (TestMaskedFindLoadsNoKeys).
// Queries with Joins, Scan, Raw().Scan and [ScanRows] decrypt while they
// scan and do not batch (GORM runs no callback after their scan): use Find
// (Raw().Find for raw SQL), or call keys.Keyring.Warm with the subjects
// first.
//
// # Concurrency
//
// A [Plugin] and the serializers are safe for concurrent use by many
// goroutines, as is a *gorm.DB with the plugin installed.
package gormcrypt
