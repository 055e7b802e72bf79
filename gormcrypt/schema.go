package gormcrypt

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

// TagName is the struct tag gormcrypt reads besides GORM's own.
const TagName = "fieldcrypt"

// The keys of the fieldcrypt tag.
const (
	tagSubject    = "subject"
	tagBlindIndex = "blind_index"
	tagNormalize  = "normalize"
	tagToken      = "token"
	tagScope      = "scope"
	tagVault      = "vault"
	tagForgotten  = "forgotten"
	tagMigrating  = "migrating"
	tagTokenized  = "tokenized"
	tagMask       = "mask"
	tagMaskColumn = "mask_column"
)

var knownTags = []string{tagSubject, tagBlindIndex, tagNormalize, tagToken, tagScope, tagVault, tagForgotten, tagMigrating, tagTokenized, tagMask, tagMaskColumn}

// Normalisations a blind index applies before hashing, selected with
// `fieldcrypt:"blind_index:Email;normalize:lower"`.
const (
	// NormalizeLower trims surrounding white space and lower-cases
	// (Unicode simple folding via strings.ToLower). The default.
	NormalizeLower = "lower"
	// NormalizeExact hashes the value as it is.
	NormalizeExact = "exact"
	// NormalizeDigits keeps only the ASCII digits (phone and card numbers).
	NormalizeDigits = "digits"
)

type kind uint8

const (
	kindString kind = iota + 1
	kindBytes
	kindTime
	kindInt
	kindUint
)

var timeType = reflect.TypeFor[time.Time]()

// columnMeta describes one encrypted column.
type columnMeta struct {
	model  *modelMeta
	field  *schema.Field
	dbName string
	mode   envelope.Mode
	kind   kind
	ptr    bool // the Go type is a pointer to the kind
	typ    reflect.Type

	// maxLen is the longest plaintext in bytes that the column's size
	// holds (0: no limit).
	maxLen int

	// Token columns only.
	format    tokenize.Format
	formatTag string // its name in the tag, for errors
	global    bool   // tokenize.Tokenizer global scope
	vault     bool   // random tokens from the Plugin's tokenize.Vault

	// migrating: the column may still hold plaintext (see migrate.go);
	// set by the tag or WithMigrating before the model is first used.
	migrating bool
	// mask is the mask reads apply without a reveal grant ("" none; see
	// mask.go).
	mask string
	// maskCol is the companion column holding the mask, written with the
	// value (nil when the mask comes from the stored token: card tokens).
	maskCol *blindMeta
	// mark is the token marker of a token column (`fieldcrypt:"tokenized:Card"`),
	// which says per row whether the column holds a token; nil if none.
	mark *blindMeta
}

// blindMeta describes one blind index column, or one token marker column
// (mark set): both are companions of an encrypted column, written whenever
// it is written.
type blindMeta struct {
	index     *schema.Field // the companion column
	source    *schema.Field // the encrypted column it indexes
	normalize string
	subject   string // keystore subject of its key
	mark      bool   // a token marker: true whenever the plugin writes the source
	mask      string // a mask column: the mask of the source (see mask.go)
}

// modelMeta is what gormcrypt knows about one model.
type modelMeta struct {
	table   string
	subject *schema.Field // nil: subjects come from the context
	columns map[string]*columnMeta
	blind   []*blindMeta
	// marks are the token markers; companions is blind and marks, the
	// columns written with their source.
	marks      []*blindMeta
	companions []*blindMeta
	// masks are the mask columns (also in companions); cleared holds
	// blind and masks, what an erasure sets to NULL.
	masks   []*blindMeta
	cleared []*blindMeta
	// migratingTokens: a token column is migrating, so queries must read
	// its marker before it (see orderMarks).
	migratingTokens bool
	// forgotten is the bool field tagged `fieldcrypt:"forgotten"`, set
	// when a value of the row is redacted; nil if none.
	forgotten *schema.Field
	err       error // set if the model is invalid; every use fails with it

	sortOnce sync.Once
	sorted   []*columnMeta // columns in declaration order
}

func (p *Plugin) parse(db *gorm.DB, model any) (*modelMeta, error) {
	stmt := &gorm.Statement{DB: db}
	if err := stmt.Parse(model); err != nil {
		return nil, fmt.Errorf("gormcrypt: parsing model %T: %w", model, err)
	}
	return p.meta(stmt.Schema)
}

// fixColumnTypes makes every encrypted column of s a text column: GORM
// gives serializer fields of time and integer types their own column
// types, which cannot hold a ciphertext. It mutates GORM's cached schema,
// so it runs only in Initialize, before the model is used.
func fixColumnTypes(s *schema.Schema) {
	for _, f := range s.Fields {
		if _, ours := f.Serializer.(serializer); ours && f.TagSettings["TYPE"] == "" && f.DataType != schema.String {
			f.DataType = schema.String
			if f.TagSettings["SIZE"] == "" {
				f.Size = 0 // GORM sets the bit size of integers
			}
		}
	}
}

// meta returns the validated description of s, building it on first use.
func (p *Plugin) meta(s *schema.Schema) (*modelMeta, error) {
	if v, ok := p.metas.Load(s); ok {
		m := v.(*modelMeta)
		return m, m.err
	}
	m := buildMeta(s, p.formats, p.vault != nil)
	if m.err == nil {
		p.markMigrating(m, s)
	}
	for _, c := range m.columns {
		m.migratingTokens = m.migratingTokens || (c.migrating && c.mode == modeToken)
	}
	if v, loaded := p.metas.LoadOrStore(s, m); loaded {
		m = v.(*modelMeta)
		return m, m.err
	}
	if m.err == nil {
		for _, c := range m.columns {
			p.columns.Store(c.field, c)
		}
		p.mu.Lock()
		if len(m.columns) > 0 {
			p.tables[m.table] = m
		}
		if len(m.cleared) > 0 {
			p.models[m.table] = m
		}
		p.mu.Unlock()
	}
	return m, m.err
}

// column returns the description of an encrypted field, validating its
// model on first use.
func (p *Plugin) column(f *schema.Field) (*columnMeta, error) {
	if v, ok := p.columns.Load(f); ok {
		return v.(*columnMeta), nil
	}
	if _, err := p.meta(f.Schema); err != nil {
		return nil, err
	}
	if v, ok := p.columns.Load(f); ok {
		return v.(*columnMeta), nil
	}
	return nil, fmt.Errorf("%w: %s.%s is not an encrypted column", ErrInvalidModel, f.Schema.Table, f.DBName)
}

func parseTag(tag string) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range strings.Split(tag, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v := part, ""
		if i := strings.IndexByte(part, ':'); i >= 0 {
			k, v = part[:i], part[i+1:]
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if i := strings.IndexByte(k, '='); i >= 0 {
			// One syntax, GORM's: key:value. "token=card" was accepted once.
			return nil, fmt.Errorf("fieldcrypt tag %q: write %s:%s (key:value, as in gorm tags)", part, k[:i], strings.TrimSpace(part[strings.IndexByte(part, '=')+1:]))
		}
		known := false
		for _, t := range knownTags {
			known = known || k == t
		}
		if !known {
			return nil, fmt.Errorf("unknown fieldcrypt tag key %q (known keys: %s)", k, strings.Join(knownTags, ", "))
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("fieldcrypt tag key %q given twice", k)
		}
		out[k] = strings.TrimSpace(v)
	}
	return out, nil
}

func buildMeta(s *schema.Schema, formats map[string]tokenize.Format, haveVault bool) *modelMeta {
	m := &modelMeta{table: s.Table, columns: map[string]*columnMeta{}}
	fail := func(f *schema.Field, format string, args ...any) *modelMeta {
		where := s.Name
		if f != nil {
			where += "." + f.Name
		}
		m.err = fmt.Errorf("%w: %s: %s", ErrInvalidModel, where, fmt.Sprintf(format, args...))
		return m
	}
	type pending struct {
		field *schema.Field
		tags  map[string]string
	}
	var blinds, marks, masks []pending
	firstEncrypted := -1
	subjectAt := -1
	for i, f := range s.Fields {
		tag, hasTag := f.StructField.Tag.Lookup(TagName)
		var tags map[string]string
		if hasTag {
			var err error
			if tags, err = parseTag(tag); err != nil {
				return fail(f, "%v", err)
			}
		}
		name := strings.ToLower(f.TagSettings["SERIALIZER"])
		ser, ours := f.Serializer.(serializer)
		_, hasToken := tags[tagToken]
		if _, ok := tags[tagScope]; ok && !hasToken {
			return fail(f, "scope is only valid with token")
		}
		if _, ok := tags[tagVault]; ok && !hasToken {
			return fail(f, "vault is only valid with token")
		}
		if hasToken && (!ours || ser.mode != modeToken) {
			return fail(f, "a token column needs gorm:\"serializer:%s\" beside fieldcrypt:\"token:...\"", TokenSerializerName)
		}
		if name == SerializerName || name == DeterministicSerializerName || name == TokenSerializerName || ours {
			if !ours {
				return fail(f, "serializer %q is not gormcrypt's (another package replaced it)", name)
			}
			var format tokenize.Format
			var global, vault bool
			var fname string
			if ser.mode == modeToken {
				fname = strings.ToLower(tags[tagToken])
				if fname == "" {
					return fail(f, "serializer:%s needs a format: fieldcrypt:\"token:card\" (known: %s)", TokenSerializerName, formatNames(formats))
				}
				if format = formats[fname]; format == nil {
					return fail(f, "unknown token format %q (known: %s)", fname, formatNames(formats))
				}
				switch tags[tagScope] {
				case "", "subject":
				case "global":
					global = true
				default:
					return fail(f, "unknown token scope %q (known: subject, global)", tags[tagScope])
				}
				if v, ok := tags[tagVault]; ok {
					if v != "" {
						return fail(f, "the vault tag takes no value")
					}
					if !haveVault {
						return fail(f, "a vault token column needs gormcrypt.WithTokenVault(store) when the plugin is created")
					}
					vault = true
				}
				delete(tags, tagToken)
				delete(tags, tagScope)
				delete(tags, tagVault)
			}
			mask, hasMask := tags[tagMask]
			maskColumn, hasMaskColumn := tags[tagMaskColumn]
			delete(tags, tagMask)
			delete(tags, tagMaskColumn)
			if hasMaskColumn && (!hasMask || maskColumn == "") {
				return fail(f, "mask_column names the column of a mask: give it a value and a mask (mask:email;mask_column:email_masked)")
			}
			_, migrating := tags[tagMigrating]
			if migrating && tags[tagMigrating] != "" {
				return fail(f, "the migrating tag takes no value")
			}
			delete(tags, tagMigrating)
			if len(tags) > 0 {
				return fail(f, "an encrypted field takes no fieldcrypt tag besides token, scope, mask, mask_column and migrating; put blind_index on the index field")
			}
			if f.DBName == "" {
				return fail(f, "encrypted field has no column")
			}
			if f.DataType != schema.String && f.TagSettings["TYPE"] == "" {
				return fail(f, "a %s column cannot hold a ciphertext: pass the model to gormcrypt.WithModels, "+
					"or give the field gorm:\"type:text\"", f.DataType)
			}
			c, err := newColumn(m, f)
			if err != nil {
				return fail(f, "%v", err)
			}
			if ser.mode == modeToken {
				if c.kind != kindString {
					return fail(f, "a token column must be a string or *string, not %s", f.FieldType)
				}
				c.format, c.formatTag, c.global, c.vault = format, fname, global, vault
			}
			if hasMask {
				if msg := checkMask(c, mask); msg != "" {
					return fail(f, "%s", msg)
				}
				c.mask = mask
				if needsMaskColumn(c) {
					if maskColumn == "" {
						maskColumn = c.dbName + "_mask"
					}
					masks = append(masks, pending{f, map[string]string{tagMaskColumn: maskColumn}})
				} else if hasMaskColumn {
					return fail(f, "mask:%s on a card token column is computed from the token and has no mask_column", mask)
				}
			}
			if msg := checkColumnTags(c); msg != "" {
				return fail(f, "%s", msg)
			}
			if migrating {
				// A token column's marker is resolved below.
				if msg := canMigrate(c); msg != "" && c.mode != modeToken {
					return fail(f, "%s", msg)
				}
				c.migrating = true
			}
			m.columns[f.Name] = c
			if firstEncrypted < 0 {
				firstEncrypted = i
			}
			continue
		}
		if _, ok := tags[tagSubject]; ok {
			if len(tags) != 1 || tags[tagSubject] != "" {
				return fail(f, "the subject tag takes no value and no other keys")
			}
			if m.subject != nil {
				return fail(f, "two subject fields (%s and %s)", m.subject.Name, f.Name)
			}
			if f.FieldType.Kind() != reflect.String || f.DBName == "" {
				return fail(f, "the subject field must be a string column, not %s", f.FieldType)
			}
			m.subject, subjectAt = f, i
			continue
		}
		if _, ok := tags[tagBlindIndex]; ok {
			blinds = append(blinds, pending{f, tags})
			continue
		}
		if _, ok := tags[tagTokenized]; ok {
			marks = append(marks, pending{f, tags})
			continue
		}
		if _, ok := tags[tagForgotten]; ok {
			if len(tags) != 1 || tags[tagForgotten] != "" || m.forgotten != nil ||
				f.FieldType.Kind() != reflect.Bool || f.DBName != "" {
				return fail(f, "the forgotten tag takes no value and no other keys, once per model, "+
					"on a bool field without a column: Forgotten bool `gorm:\"-\" fieldcrypt:\"forgotten\"`")
			}
			m.forgotten = f
			continue
		}
		if _, ok := tags[tagNormalize]; ok {
			return fail(f, "normalize is only valid with blind_index")
		}
	}
	if m.subject != nil && firstEncrypted >= 0 && subjectAt > firstEncrypted {
		// Rows are decrypted as they are scanned, column by column, and the
		// associated data names the subject: it must be read first.
		return fail(m.subject, "the subject field must be declared before the encrypted fields (%s)",
			s.Fields[firstEncrypted].Name)
	}
	for _, b := range blinds {
		f := b.field
		src := s.LookUpField(b.tags[tagBlindIndex])
		if src == nil {
			return fail(f, "blind_index names an unknown field %q", b.tags[tagBlindIndex])
		}
		c, ok := m.columns[src.Name]
		if !ok {
			return fail(f, "blind_index source %s is not an encrypted field", src.Name)
		}
		if c.mode == modeToken {
			return fail(f, "%s is a token column: tokens are deterministic, search by tokenizing the value instead of a blind index", src.Name)
		}
		if c.kind != kindString && c.kind != kindBytes {
			return fail(f, "blind indexes need a string or []byte source, %s is %s", src.Name, src.FieldType)
		}
		t := f.FieldType
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.String || f.DBName == "" || f.Serializer != nil {
			return fail(f, "a blind index field must be a string or *string column without serializer, not %s", f.FieldType)
		}
		if m.subject == nil {
			return fail(f, "a model with blind indexes needs a fieldcrypt:\"subject\" field, so that Forget can clear them")
		}
		if f.Size > 0 && f.Size < 2*BlindIndexSize {
			return fail(f, "size:%d cannot hold a blind index, which is %d hex characters: use size:%d", f.Size, 2*BlindIndexSize, 2*BlindIndexSize)
		}
		norm := b.tags[tagNormalize]
		switch norm {
		case "":
			norm = NormalizeLower
		case NormalizeLower, NormalizeExact, NormalizeDigits:
		default:
			return fail(f, "unknown normalize %q (known: %s, %s, %s)", norm, NormalizeLower, NormalizeExact, NormalizeDigits)
		}
		for _, other := range m.blind {
			if other.source == src {
				return fail(f, "%s already has a blind index (%s)", src.Name, other.index.Name)
			}
		}
		m.blind = append(m.blind, &blindMeta{
			index: f, source: src, normalize: norm,
			subject: BlindIndexSubjectPrefix + s.Table + "." + f.DBName,
		})
	}
	sort.Slice(m.blind, func(i, j int) bool { return m.blind[i].index.DBName < m.blind[j].index.DBName })
	for _, mk := range marks {
		f := mk.field
		if len(mk.tags) != 1 {
			return fail(f, "the tokenized tag takes no other keys")
		}
		src := s.LookUpField(mk.tags[tagTokenized])
		if src == nil {
			return fail(f, "tokenized names an unknown field %q", mk.tags[tagTokenized])
		}
		c, ok := m.columns[src.Name]
		if !ok || c.mode != modeToken {
			return fail(f, "tokenized:%s: %s is not a token column", src.Name, src.Name)
		}
		t := f.FieldType
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Bool || f.DBName == "" || f.Serializer != nil {
			return fail(f, "a token marker must be a bool or *bool column without serializer, not %s", f.FieldType)
		}
		if c.mark != nil {
			return fail(f, "%s already has a token marker (%s)", src.Name, c.mark.index.Name)
		}
		if slices.Compare(f.StructField.Index, src.StructField.Index) > 0 {
			// Rows are read column by column: the marker decides how the
			// token column is read, so it must be read first.
			return fail(f, "the token marker must be declared before %s, the token field it marks", src.Name)
		}
		c.mark = &blindMeta{index: f, source: src, mark: true}
		m.marks = append(m.marks, c.mark)
	}
	for _, c := range m.columns {
		if c.migrating {
			if msg := canMigrate(c); msg != "" {
				return fail(c.field, "%s", msg)
			}
		}
	}
	for _, mk := range masks {
		c := m.columns[mk.field.Name]
		name := mk.tags[tagMaskColumn]
		f := s.LookUpField(name)
		if f == nil || f.DBName != name {
			return fail(mk.field, "mask:%s keeps the mask in a column %s, which the model lacks: declare it before %s, "+
				"%sMask *string `gorm:\"size:%d\"` (or name another column with mask_column:...)", c.mask, name, mk.field.Name, mk.field.Name, maskSize)
		}
		if _, tagged := f.StructField.Tag.Lookup(TagName); tagged || m.columns[f.Name] != nil || f.Serializer != nil || f == m.subject {
			return fail(f, "the mask column %s of %s must be a plain string column, without serializer or fieldcrypt tag", name, mk.field.Name)
		}
		t := f.FieldType
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.String {
			return fail(f, "the mask column %s of %s must be a string or *string, not %s", name, mk.field.Name, f.FieldType)
		}
		if m.subject == nil {
			return fail(mk.field, "a model with mask columns needs a fieldcrypt:\"subject\" field, so that Forget can clear them")
		}
		for _, other := range slices.Concat(m.blind, m.marks, m.masks) {
			if other.index == f {
				return fail(f, "%s is already the %s of %s", name, other.what(), other.source.Name)
			}
		}
		c.maskCol = &blindMeta{index: f, source: mk.field, mask: c.mask}
		m.masks = append(m.masks, c.maskCol)
	}
	m.companions = append(append(slices.Clip(m.blind), m.marks...), m.masks...)
	m.cleared = append(slices.Clip(m.blind), m.masks...)
	if m.subject != nil {
		// Rows of a related model read through Preload or Joins come many
		// customers at a time: each needs a subject field of its own.
		names := make([]string, 0, len(s.Relationships.Relations))
		for name := range s.Relationships.Relations {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			rs := s.Relationships.Relations[name].FieldSchema
			if rs == nil || rs == s {
				continue
			}
			if enc, subj := encryptedWithoutSubject(rs); enc != "" && !subj {
				return fail(s.LookUpField(name), "the related model %s has encrypted field %s but no fieldcrypt:\"subject\" field, "+
					"so its rows read through Preload or Joins have no subject: give %s a subject field (for example %sRef string `fieldcrypt:\"subject\"`, "+
					"filled with the %s's subject)", rs.Name, enc, rs.Name, s.Name, s.Name)
			}
		}
	}
	return m
}

// encryptedWithoutSubject reports the first encrypted field of s and
// whether s has a subject field.
func encryptedWithoutSubject(s *schema.Schema) (encrypted string, subject bool) {
	for _, f := range s.Fields {
		if _, ours := f.Serializer.(serializer); ours && encrypted == "" {
			encrypted = f.Name
		}
		if tag, ok := f.StructField.Tag.Lookup(TagName); ok {
			if tags, err := parseTag(tag); err == nil {
				_, has := tags[tagSubject]
				subject = subject || has
			}
		}
	}
	return encrypted, subject
}

// Ciphertext overheads in bytes: header (54) plus GCM nonce and tag (28),
// or plus the SIV (16).
const (
	overheadRandomized    = HeaderOverhead
	overheadDeterministic = envelope.HeaderSize + 16
	// HeaderOverhead is what a randomised ciphertext adds to the plaintext,
	// in bytes: its column needs ceil(4·(n+82)/3) characters for n bytes of
	// plaintext (ceil(4·(n+70)/3) for encrypt_det).
	HeaderOverhead = envelope.HeaderSize + 28
)

// textLen is the length of the unpadded base64 form of n bytes.
func textLen(n int) int { return (4*n + 2) / 3 }

// checkColumnTags refuses gorm tags that cannot work on an encrypted
// column, and sets c.maxLen from its size.
func checkColumnTags(c *columnMeta) string {
	f := c.field
	if _, ok := f.TagSettings["DEFAULT"]; ok {
		return "default:" + f.TagSettings["DEFAULT"] + " on an encrypted column would be stored by the database in clear: " +
			"set the default in Go instead (in the constructor or a BeforeCreate hook), where gormcrypt encrypts it"
	}
	_, unique := f.TagSettings["UNIQUE"]
	_, uniqueIndex := f.TagSettings["UNIQUEINDEX"]
	if idx, ok := f.TagSettings["INDEX"]; ok && strings.Contains(strings.ToUpper(idx), "UNIQUE") {
		uniqueIndex = true
	}
	if (unique || uniqueIndex) && !(c.mode == modeToken && c.global) {
		return "uniqueIndex (or unique) on an encrypted column cannot be enforced by the database: equal values have " +
			"different ciphertexts (and different tokens per customer). Put the uniqueIndex on a blind index of it instead: " +
			"XIndex *string `gorm:\"size:32;uniqueIndex\" fieldcrypt:\"blind_index:" + f.Name + "\"`"
	}
	if c.mode == modeToken || f.Size <= 0 || f.TagSettings["SIZE"] == "" {
		return ""
	}
	over := overheadRandomized
	if c.mode == envelope.Deterministic {
		over = overheadDeterministic
	}
	fixed := 0
	switch c.kind {
	case kindInt, kindUint:
		fixed = 8
	case kindTime:
		fixed = 16 // time.Time.MarshalBinary with a zone offset in seconds
	}
	need := textLen(over + fixed)
	if f.Size < need {
		return fmt.Sprintf("size:%d is too small for a ciphertext: this column needs at least size:%d "+
			"(ceil(4·(n+%d)/3) characters for n plaintext bytes), or no size for a text column", f.Size, need, over)
	}
	if fixed == 0 {
		c.maxLen = 3*f.Size/4 - over
	}
	return ""
}

func newColumn(m *modelMeta, f *schema.Field) (*columnMeta, error) {
	c := &columnMeta{model: m, field: f, dbName: f.DBName, typ: f.FieldType}
	c.mode = f.Serializer.(serializer).mode
	t := f.FieldType
	if t.Kind() == reflect.Pointer {
		c.ptr = true
		t = t.Elem()
	}
	switch {
	case t == timeType:
		c.kind = kindTime
	case t.Kind() == reflect.String:
		c.kind = kindString
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 && !c.ptr:
		c.kind = kindBytes
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		c.kind = kindInt
	case t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64:
		c.kind = kindUint
	default:
		return nil, fmt.Errorf("unsupported type %s for an encrypted column (supported: string, []byte, time.Time, integers, and pointers to them except []byte)", f.FieldType)
	}
	return c, nil
}

func formatNames(formats map[string]tokenize.Format) string {
	names := make([]string, 0, len(formats))
	for n := range formats {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
