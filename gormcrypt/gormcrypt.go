package gormcrypt

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

// Serializer names, for the gorm tag: `gorm:"serializer:encrypt"`.
const (
	// SerializerName selects randomised encryption (AES-256-GCM): equal
	// values give unrelated ciphertexts. Use it unless lookups are needed.
	SerializerName = "encrypt"
	// DeterministicSerializerName selects deterministic encryption (AES-SIV):
	// equal values of one subject in one column give equal ciphertexts, so
	// [WhereEqual] can find them for a known subject.
	DeterministicSerializerName = "encrypt_det"
	// TokenSerializerName selects a format-preserving token (package
	// tokenize); the format comes from the fieldcrypt tag:
	// `gorm:"serializer:token" fieldcrypt:"token:card"`.
	TokenSerializerName = "token"
)

// modeToken marks the token serializer among the envelope modes; it is
// never written into a ciphertext.
const modeToken envelope.Mode = 0xf0

// Reserved subjects and purposes.
const (
	// ReservedSubjectPrefix starts every subject gormcrypt uses for its own
	// keys. Data subjects must not start with it, and [Forget] refuses it.
	ReservedSubjectPrefix = "fieldcrypt/"
	// BlindIndexSubjectPrefix is followed by "<table>.<column>" (the index
	// column) to name the keystore subject whose key is the column's blind
	// index key.
	BlindIndexSubjectPrefix = ReservedSubjectPrefix + "blind-index/"
	// BlindIndexPurpose is the purpose of blind index keys.
	BlindIndexPurpose = "blind-index"
)

// Errors callers branch on, matched with errors.Is. Writing a forgotten
// subject's data (and, with [WithStrict], reading it) fails with
// keys.ErrKeyDestroyed instead.
var (
	// ErrNoSubject means no data subject could be found for a value: the
	// model has no non-empty `fieldcrypt:"subject"` field and the context
	// carries none (see WithSubject).
	ErrNoSubject = errors.New("gormcrypt: no data subject")
	// ErrInvalidModel means a model's tags cannot be honoured: an unknown
	// fieldcrypt tag key, an unsupported field type, an unknown token
	// format, a misplaced subject field. Nothing is written for such a model.
	ErrInvalidModel = errors.New("gormcrypt: invalid model")
	// ErrNotRegistered means an encrypted column was used through a
	// *gorm.DB on which the Plugin was not installed (db.Use).
	ErrNotRegistered = errors.New("gormcrypt: the gormcrypt plugin is not installed on this *gorm.DB (db.Use(gormcrypt.New(...)))")
	// ErrValueTooLong means a value's ciphertext would not fit the
	// column's declared size (see HeaderOverhead for the formula); nothing
	// is written, where a database in a permissive mode would truncate it.
	ErrValueTooLong = errors.New("gormcrypt: value too long for its column")
	// ErrUnsupported means the operation cannot be done safely on a model
	// with encrypted columns (for example Create from a map).
	ErrUnsupported = errors.New("gormcrypt: unsupported operation")
)

const pluginName = "fieldcrypt:gormcrypt"

// Plugin is the gorm.Plugin that New returns: it holds the Keyring
// and Cipher the serializers use and keeps blind indexes up to date. It is
// safe for concurrent use.
//
// Installed on a database, it also clears in the background the blind
// indexes of subjects forgotten by other services on the same keystore
// (see the package documentation's Erasure section); Close stops that.
type Plugin struct {
	kr      *keys.Keyring
	c       *envelope.Cipher
	purpose string // of the subject keys, WithPurpose
	tok     *tokenize.Tokenizer
	vault   *tokenize.Vault // WithTokenVault; nil without
	formats map[string]tokenize.Format
	redact  bool
	grace   time.Duration // see WithBlindIndexGrace

	metas   sync.Map // *schema.Schema -> *modelMeta
	columns sync.Map // *schema.Field -> *columnMeta

	pending  []any // the models given to WithModels, validated by Initialize
	noChecks bool  // WithoutCheckConstraints

	migrateSpecs []migrateSpec                    // WithMigrating, resolved by Initialize
	migrating    map[reflect.Type]map[string]bool // by model type, the fields WithMigrating marked (under mu)

	sweepEvery     time.Duration
	onErasureError func(error)

	reveal map[string][]string           // WithReveal: role -> "table.column"
	access func(context.Context, Access) // WithAccessAudit

	mu      sync.Mutex
	models  map[string]*modelMeta // by table, the models Forget clears
	tables  map[string]*modelMeta // by table, every model with encrypted columns
	erasers []*eraser             // one per database installed on (erasure.go)
	closed  bool
}

var _ gorm.Plugin = (*Plugin)(nil)

type config struct {
	models         []any
	noChecks       bool
	migrating      []migrateSpec
	strict         bool
	purpose        string
	formats        map[string]tokenize.Format
	sweepEvery     time.Duration
	onErasureError func(error)
	grace          *time.Duration
	reveal         map[string][]string // WithReveal: role -> columns
	access         func(context.Context, Access)
	vault          keystore.TokenVaultStore // WithTokenVault
}

// Option configures New.
type Option func(*config)

// WithTokenVault keeps the tokens of columns tagged vault in a token vault
// (tokenize.Vault) on store, normally the keystore's own Store
// (keys/sqlstore), instead of computing them with FPE: the token is random,
// in the column format's shape, and the mapping is sealed under the
// customer's key in the keystore database.
//
//	Card string `gorm:"serializer:fieldcrypt_token" fieldcrypt:"token:card;vault;mask:card"`
//
//	gormcrypt.New(kr, gormcrypt.WithTokenVault(store))
//
// Each new value costs a keystore insert, each read a keystore query;
// masked reads (mask:card) use the token's kept last four and query
// nothing. Searching a vault column by value needs the token first:
// Plugin.Vault().Lookup, which never issues one.
func WithTokenVault(store keystore.TokenVaultStore) Option {
	return func(c *config) { c.vault = store }
}

// WithModels validates the given models (pointers to structs) when the Plugin is installed
// and records them for Forget, which clears the blind indexes of every
// model it knows. Pass every model that has a blind index: a model first
// seen in a query is validated and recorded then, but a Forget before that
// would not reach it.
func WithModels(models ...any) Option {
	return func(c *config) { c.models = append(c.models, models...) }
}

// WithoutCheckConstraints leaves out the CHECK constraints that the plugin
// otherwise gives the encrypted and blind index columns of the models passed
// to WithModels (see "Writers without the plugin" in the package
// documentation): for a table that still holds plaintext, where AutoMigrate
// could not add them.
func WithoutCheckConstraints() Option { return func(c *config) { c.noChecks = true } }

// WithStrict makes reads of a forgotten subject's encrypted and token columns
// fail with an error matching keys.ErrKeyDestroyed (a query over many rows
// fails as a whole) instead of giving the field's zero value, which is the
// default (see the package documentation's Erasure section). Use it where
// reading a forgotten customer is itself a bug to be found.
func WithStrict() Option { return func(c *config) { c.strict = true } }

// WithSweepEvery sets how often the Plugin checks every subject that still
// has a blind index value in its database against the keystore, to clear
// the indexes of those forgotten while it was not told (it was not
// running, or its watcher missed the report); see the package
// documentation's Erasure section. d > 0: at install and every d (default
// [DefaultSweepInterval]); 0: at install only; d < 0: never.
func WithSweepEvery(d time.Duration) Option { return func(c *config) { c.sweepEvery = d } }

// WithErasureErrorHandler hands f the failures of the Plugin's background
// erasure (all matching [ErrErasure]), which retries by itself. By default they
// are logged with the *gorm.DB's logger at error level. f may be called
// from several goroutines at once and must not block for long. The errors
// name tables and columns, never subjects or values.
func WithErasureErrorHandler(f func(error)) Option { return func(c *config) { c.onErasureError = f } }

// WithTokenFormat makes f available to token columns as
// `fieldcrypt:"token:<name>"`, adding to or replacing the built-in formats
// (see [DefaultTokenFormats]).
func WithTokenFormat(name string, f tokenize.Format) Option {
	return func(c *config) { c.formats[strings.ToLower(name)] = f }
}

// DefaultTokenFormats returns the token formats every Plugin knows by
// name: card (last 4 kept, Luhn-invalid), card_bin (BIN and last 4 kept,
// 16+ digits), email, phone (E.164, or Polish national numbers), pesel,
// nip, ssn, iban, zip4 (US ZIP+4), date (2006-01-02), name (Polish
// letters, case and punctuation kept); and phone_v2, pesel_v2, date_v2, the
// version 2 formats of package tokenize (faster, other tokens: choose them
// for new columns, never switch a column that holds tokens).
func DefaultTokenFormats() map[string]tokenize.Format {
	return map[string]tokenize.Format{
		"card":     tokenize.Card{},
		"card_bin": tokenize.Card{Keep: tokenize.KeepBINAndLast4, Luhn: tokenize.LuhnAny},
		"email":    tokenize.Email{},
		"phone":    tokenize.Phone{DefaultRegion: "PL"},
		"pesel":    tokenize.PESEL{},
		"nip":      tokenize.NIP{},
		"ssn":      tokenize.SSN{},
		"iban":     tokenize.IBAN{},
		"zip4":     tokenize.Postcode{Country: "US"},
		"date":     tokenize.Date{},
		"name":     tokenize.Text{},
		// The faster versions of the same formats: other tokens of the
		// same values, so a column keeps the version it was written with.
		"phone_v2": tokenize.Phone{DefaultRegion: "PL", Version: 2},
		"pesel_v2": tokenize.PESEL{Version: 2},
		"date_v2":  tokenize.Date{Version: 2},
	}
}

// WithPurpose selects the purpose of the subject keys used for columns (default
// keys.DefaultPurpose), as envelope.WithPurpose does.
func WithPurpose(p string) Option { return func(c *config) { c.purpose = p } }

// New returns the gormcrypt plugin for kr. Install it on a *gorm.DB with
// GORM's own entry point, db.Use:
//
//	p, err := gormcrypt.New(keyring, gormcrypt.WithModels(&Customer{}))
//	...
//	err = db.Use(p)
//
// db.Use registers the "encrypt", "encrypt_det" and "token" serializers
// (GORM's serializer registry is global; the serializers are stateless and
// find this db's Plugin through the statement context, so several *gorm.DB
// with different Keyrings can coexist in one process), validates the
// models given with WithModels and installs the callbacks that encrypt map
// updates, fill blind indexes and refuse what cannot be done safely.
//
// Install it once per *gorm.DB, before the models are used; sessions and
// transactions derived from db share it. One Plugin may be installed on
// several *gorm.DB (the same Keyring for all of them).
func New(kr *keys.Keyring, opts ...Option) (*Plugin, error) {
	if kr == nil {
		return nil, errors.New("gormcrypt: New needs a *keys.Keyring")
	}
	cfg := config{purpose: keys.DefaultPurpose, formats: DefaultTokenFormats(), sweepEvery: DefaultSweepInterval}
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("gormcrypt: New: nil Option")
		}
		o(&cfg)
	}
	c, err := envelope.New(kr, envelope.WithPurpose(cfg.purpose))
	if err != nil {
		return nil, fmt.Errorf("gormcrypt: %w", err)
	}
	tok, err := tokenize.New(kr)
	if err != nil {
		return nil, fmt.Errorf("gormcrypt: %w", err)
	}
	var vault *tokenize.Vault
	if cfg.vault != nil {
		if vault, err = tokenize.NewVault(kr, cfg.vault); err != nil {
			return nil, fmt.Errorf("gormcrypt: %w", err)
		}
	}
	return &Plugin{kr: kr, c: c, purpose: cfg.purpose, tok: tok, vault: vault, formats: cfg.formats, redact: !cfg.strict, grace: graceOf(kr, cfg.grace),
		sweepEvery: cfg.sweepEvery, onErasureError: cfg.onErasureError, pending: cfg.models,
		noChecks: cfg.noChecks, reveal: cfg.reveal, access: cfg.access, migrateSpecs: cfg.migrating, migrating: map[reflect.Type]map[string]bool{}, models: map[string]*modelMeta{}, tables: map[string]*modelMeta{}}, nil
}

// Vault returns the token vault of WithTokenVault, or nil: for searches by
// value on a vault column (Vault().Lookup, with the column's field name
// "table.column") and for tokens outside GORM.
func (p *Plugin) Vault() *tokenize.Vault { return p.vault }

var serializerOnce sync.Mutex

func registerSerializers() error {
	serializerOnce.Lock()
	defer serializerOnce.Unlock()
	for name, want := range map[string]schema.SerializerInterface{
		SerializerName:              serializer{mode: envelope.Randomized},
		DeterministicSerializerName: serializer{mode: envelope.Deterministic},
		TokenSerializerName:         serializer{mode: modeToken},
	} {
		if got, ok := schema.GetSerializer(name); ok {
			if _, ours := got.(serializer); !ours {
				return fmt.Errorf("gormcrypt: another package registered a GORM serializer named %q", name)
			}
			continue
		}
		schema.RegisterSerializer(name, want)
	}
	return nil
}

// Name implements gorm.Plugin.
func (p *Plugin) Name() string { return pluginName }

// Initialize implements gorm.Plugin; db.Use calls it.
func (p *Plugin) Initialize(db *gorm.DB) error {
	if err := registerSerializers(); err != nil {
		return err
	}
	if err := p.resolveMigrating(db); err != nil {
		return err
	}
	for _, m := range p.pending {
		stmt := &gorm.Statement{DB: db}
		if err := stmt.Parse(m); err != nil {
			return fmt.Errorf("gormcrypt: parsing model %T: %w", m, err)
		}
		fixColumnTypes(stmt.Schema)
		meta, err := p.meta(stmt.Schema)
		if err != nil {
			return err
		}
		if !p.noChecks {
			addCheckConstraints(meta)
		}
	}
	cb := db.Callback()
	regs := []struct {
		name string
		err  error
	}{
		{"create prepare", cb.Create().Before("*").Register("fieldcrypt:prepare", p.prepare)},
		{"create", cb.Create().After("gorm:before_create").Before("gorm:create").Register("fieldcrypt:before_create", p.beforeCreate)},
		{"update prepare", cb.Update().Before("*").Register("fieldcrypt:prepare", p.prepareQuery)},
		{"update", cb.Update().After("gorm:before_update").Before("gorm:update").Register("fieldcrypt:before_update", p.beforeUpdate)},
		{"update check", cb.Update().After("gorm:update").Register("fieldcrypt:after_update", p.afterUpdate)},
		{"query prepare", cb.Query().Before("*").Register("fieldcrypt:prepare", p.prepareFind)},
		{"query defer", cb.Query().Before("gorm:query").Register("fieldcrypt:defer_reads", p.deferReads)},
		{"query open", cb.Query().After("gorm:query").Before("gorm:preload").Register("fieldcrypt:open", p.openDeferred)},
		{"query access", cb.Query().After("gorm:query").Register("fieldcrypt:access", p.flushAccess)},
		{"delete prepare", cb.Delete().Before("*").Register("fieldcrypt:prepare", p.prepareQuery)},
		{"row prepare", cb.Row().Before("*").Register("fieldcrypt:prepare", p.prepareRead)},
		{"raw prepare", cb.Raw().Before("*").Register("fieldcrypt:prepare", p.prepare)},
	}
	for _, r := range regs {
		if r.err != nil {
			return fmt.Errorf("gormcrypt: registering %s callback: %w", r.name, r.err)
		}
	}
	p.startEraser(db)
	return nil
}

func pluginOf(db *gorm.DB) (*Plugin, error) {
	if db == nil || db.Config == nil {
		return nil, ErrNotRegistered
	}
	if v, ok := db.Config.Plugins[pluginName]; ok {
		if p, ok := v.(*Plugin); ok {
			return p, nil
		}
	}
	return nil, ErrNotRegistered
}

// stmtState is what the serializers find in a statement's context.
type stmtState struct {
	p      *Plugin
	stmt   *gorm.Statement
	failed atomic.Bool // a Scan failed: later ones only zero their field

	mu           sync.Mutex
	sealed       map[sealKey]any // column values computed before the driver ran (preseal)
	subjectGuard bool            // guardSubject limited the update to rows of its subject

	// marksFirst: the query reads every token marker before its token
	// column (orderMarks made sure); columns: the result's columns, when
	// ScanRows knows them.
	marksFirst bool
	columns    []string

	// reads are the decryptions of this statement, for WithAccessAudit;
	// aggregate: they are reported once, after the statement (Query
	// callbacks, ScanRows), else one by one.
	reads     map[*columnMeta]*accessCount
	aggregate bool

	// deferred holds a Query's values until its rows are scanned, so that
	// their keys load in one batch (autowarm.go); nil when reading eagerly.
	deferred *deferredReads
}

type stateKey struct{}

type subjectKey struct{}

// WithSubject returns a context that names the data subject of the values
// written and read through it, for models without a `fieldcrypt:"subject"`
// field (or rows whose subject field is empty):
//
//	db.WithContext(gormcrypt.WithSubject(ctx, "customer-42")).Create(&note)
func WithSubject(ctx context.Context, subject string) context.Context {
	return context.WithValue(ctx, subjectKey{}, subject)
}

// prepare points the statement's context at p, so the serializers, which
// GORM calls with that context, find the Cipher.
func (p *Plugin) prepare(db *gorm.DB) {
	ctx := db.Statement.Context
	if ctx == nil {
		ctx = context.Background()
	}
	if st, ok := ctx.Value(stateKey{}).(*stmtState); ok && st.p == p && st.stmt == db.Statement {
		st.failed.Store(false) // the statement is being reused
		st.mu.Lock()
		st.sealed, st.subjectGuard, st.marksFirst = nil, false, false
		st.reads, st.aggregate = nil, false
		st.mu.Unlock()
		return
	}
	db.Statement.Context = context.WithValue(ctx, stateKey{}, &stmtState{p: p, stmt: db.Statement})
}

func (p *Plugin) prepareQuery(db *gorm.DB) {
	p.prepare(db)
	if db.Error == nil && db.Statement.Schema != nil {
		if _, err := p.meta(db.Statement.Schema); err != nil {
			db.AddError(err)
		}
	}
	if db.Error == nil {
		p.guardConditions(db)
	}
}

func stateFrom(ctx context.Context) (*stmtState, error) {
	if st, ok := ctx.Value(stateKey{}).(*stmtState); ok {
		return st, nil
	}
	return nil, ErrNotRegistered
}

func checkSubject(s string) error {
	if strings.HasPrefix(s, ReservedSubjectPrefix) {
		return fmt.Errorf("%w: subjects starting with %q are reserved", keys.ErrInvalidSubject, ReservedSubjectPrefix)
	}
	return keys.ValidateSubject(s)
}

// ScanRows is db.ScanRows for rows of a model with encrypted columns:
// GORM runs no callbacks for ScanRows, so the serializers would not find
// the Keyring and would fail with ErrNotRegistered.
//
//	rows, _ := db.Model(&Customer{}).Where("tier = ?", "gold").Rows()
//	defer rows.Close()
//	for rows.Next() {
//		var c Customer
//		err := gormcrypt.ScanRows(db, rows, &c)
//		...
//	}
func ScanRows(db *gorm.DB, rows *sql.Rows, dest any) error {
	p, err := pluginOf(db)
	if err != nil {
		return err
	}
	ctx := db.Statement.Context
	if ctx == nil {
		ctx = context.Background()
	}
	st := &stmtState{p: p, aggregate: true}
	if cols, err := rows.Columns(); err == nil {
		st.columns = cols
	}
	err = db.WithContext(context.WithValue(ctx, stateKey{}, st)).ScanRows(rows, dest)
	st.flushAccess(ctx)
	return err
}
