package gormcrypt

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"
	"gorm.io/gorm/schema"

	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

// This file masks columns on read unless the context carries a grant to
// reveal them (least privilege: support staff see the card's last four,
// billing sees the number). The decision is made before any key is used:
// a masked read decrypts and detokenizes nothing. A card token keeps the
// value's last four digits, so its mask is computed from the token; every
// other mask is computed from the value when it is written and kept in a
// mask column beside it, which masked reads return instead of the value.

// The masks of the mask tag, `fieldcrypt:"mask:<name>"`.
const (
	// MaskCard shows a card number's last four digits (tokenize.MaskCard):
	// "************1111". On a card token column
	// (`fieldcrypt:"token:card;mask:card"`) it is computed from the stored
	// token, which keeps them; on an encrypted column it is kept in a mask
	// column.
	MaskCard = "card"
	// MaskEmail shows an email address's first character and domain
	// (tokenize.MaskEmail): "j***@example.com".
	MaskEmail = "email"
	// MaskPhone shows a phone number's last three digits
	// (tokenize.MaskPhone): "+** *** *** 567".
	MaskPhone = "phone"
	// MaskName shows a name's initial (MaskNameInitial): "J.".
	MaskName = "name"
)

// MaskUnavailable is what a masked read gives for a value whose mask
// column is empty: a row written before the column was added and not yet
// filled by BackfillMasks, or a query that did not select the mask
// column. It is refused on writes, like any mask.
const MaskUnavailable = "****"

// maskSize is the size suggested for mask columns: an email address's
// domain may be 253 bytes, plus its first character and "***@".
const maskSize = 320

// ErrMasked means a write would store a mask — a value read without a
// reveal grant (see Reveal) — over the value it hides. Nothing is written.
// The error also matches ErrUnsupported.
var ErrMasked = errors.New("gormcrypt: the value is a mask")

// MaskNameInitial is the mask of a name: its first letter, upper-cased,
// followed by "." ("jan kowalski" gives "J."). A value that does not
// start with a letter gives "*.". It never panics.
func MaskNameInitial(s string) string {
	s = strings.TrimLeftFunc(s, unicode.IsSpace)
	r, _ := utf8.DecodeRuneInString(s)
	if !unicode.IsLetter(r) {
		return "*."
	}
	return string(unicode.ToUpper(r)) + "."
}

// maskOf applies the mask named mask to s.
func maskOf(mask, s string) string {
	switch mask {
	case MaskCard:
		return tokenize.MaskCard(s)
	case MaskEmail:
		return tokenize.MaskEmail(s)
	case MaskPhone:
		return tokenize.MaskPhone(s)
	case MaskName:
		return MaskNameInitial(s)
	}
	return MaskUnavailable
}

// needsMaskColumn reports whether c's mask must be kept in a mask column:
// every mask but a card token's, which is computed from the token.
func needsMaskColumn(c *columnMeta) bool {
	_, card := c.format.(tokenize.Card)
	return !(c.mask == MaskCard && c.mode == modeToken && card)
}

// checkMask says why mask cannot apply to c ("" if it can).
func checkMask(c *columnMeta, mask string) string {
	switch mask {
	case MaskCard, MaskEmail, MaskPhone, MaskName:
	case "":
		return "the mask tag needs a value: mask:card, mask:email, mask:phone or mask:name"
	default:
		return fmt.Sprintf("unknown mask %q (known: card, email, phone, name)", mask)
	}
	if c.kind != kindString {
		return fmt.Sprintf("mask:%s needs a string or *string column, not %s", mask, c.typ)
	}
	if _, card := c.format.(tokenize.Card); mask == MaskCard && c.mode == modeToken && !card {
		return "mask:card on a token column needs a card token (fieldcrypt:\"token:card\" or another tokenize.Card format), " +
			"whose tokens keep the last four digits the mask shows"
	}
	return ""
}

// maskValue is the column value of the mask column b for v (a string or
// *string); NULL stays NULL.
func maskValue(b *blindMeta, v any) (any, error) {
	s, null, err := indexInput(b, v)
	if err != nil || null {
		return nil, err
	}
	m := maskOf(b.mask, s)
	if b.index.Size > 0 && utf8.RuneCountInString(m) > b.index.Size {
		// Refused here, where the message can name no value: a driver's
		// error or GORM's log of the statement would show the mask.
		return nil, fmt.Errorf("%w: gormcrypt: %s.%s: the mask is %d characters, the mask column's size:%d holds fewer",
			ErrValueTooLong, b.index.Schema.Table, b.index.DBName, utf8.RuneCountInString(m), b.index.Size)
	}
	return m, nil
}

type revealKey struct{}

// Reveal returns a context whose reads reveal the masked columns that one
// of roles may see (see WithReveal); other masked columns read masked. A
// role the plugin does not know reveals nothing and is not an error.
//
//	db.WithContext(gormcrypt.Reveal(ctx, "billing")).First(&payer) // payer.Card in clear
func Reveal(ctx context.Context, roles ...string) context.Context {
	have, _ := ctx.Value(revealKey{}).([]string)
	return context.WithValue(ctx, revealKey{}, append(append([]string(nil), have...), roles...))
}

// WithReveal lets role see masked columns in clear, named "table.column"
// ("table.*" for every masked column of a table, "*" for all): reads with
// gormcrypt.Reveal(ctx, role) decrypt or detokenize them.
//
//	gormcrypt.New(kr, gormcrypt.WithReveal("billing", "payers.card"))
func WithReveal(role string, columns ...string) Option {
	return func(c *config) {
		if c.reveal == nil {
			c.reveal = map[string][]string{}
		}
		c.reveal[role] = append(c.reveal[role], columns...)
	}
}

// revealed reports whether ctx may see column c in clear.
func (p *Plugin) revealed(ctx context.Context, c *columnMeta) bool {
	if ctx.Value(revealAllKey{}) != nil {
		return true // BackfillMasks
	}
	roles, _ := ctx.Value(revealKey{}).([]string)
	for _, r := range roles {
		for _, col := range p.reveal[r] {
			if col == "*" || col == c.model.table+".*" || col == c.model.table+"."+c.dbName {
				return true
			}
		}
	}
	return false
}

// masked sets rv to the mask of the stored text s (a card token, or a
// plaintext not yet tokenized).
func masked(c *columnMeta, s string, rv reflect.Value) {
	openPlaintext(c, tokenize.MaskCard(s), rv)
}

// hidden reports whether a read of c through ctx returns the mask kept in
// its mask column instead of the value (the serializer asks before it
// decrypts or detokenizes anything).
func (p *Plugin) hidden(ctx context.Context, c *columnMeta) bool {
	return c.maskCol != nil && !p.revealed(ctx, c)
}

// openMasked sets the field rv of a column read masked to
// MaskUnavailable; fillMasks puts the mask in its place once the row's
// mask column is read (rows are read column by column, and the mask
// column, added to an existing table, may come after the value's).
func openMasked(c *columnMeta, rv reflect.Value) {
	openPlaintext(c, MaskUnavailable, rv)
}

// fillMasks copies, after a query, the mask column of every row read
// masked into the masked field.
func (p *Plugin) fillMasks(db *gorm.DB) {
	stmt := db.Statement
	if stmt.Schema == nil || !stmt.ReflectValue.IsValid() {
		return
	}
	m, err := p.meta(stmt.Schema)
	if err != nil || len(m.masks) == 0 {
		return
	}
	ctx := stmt.Context
	var hide []*columnMeta
	for _, b := range m.masks {
		if c := m.columns[b.source.Name]; p.hidden(ctx, c) {
			hide = append(hide, c)
		}
	}
	if len(hide) == 0 {
		return
	}
	fill := func(row reflect.Value) {
		row = reflect.Indirect(row)
		if !row.IsValid() || row.Kind() != reflect.Struct || row.Type() != stmt.Schema.ModelType {
			return
		}
		for _, c := range hide {
			rv := c.field.ReflectValueOf(ctx, row)
			if s, ok := fieldText(rv); !ok || s != MaskUnavailable {
				continue // not read masked by this statement (not selected, or NULL)
			}
			if s, ok := fieldText(c.maskCol.index.ReflectValueOf(ctx, row)); ok && s != "" {
				openPlaintext(c, s, rv)
			}
		}
	}
	rv := reflect.Indirect(stmt.ReflectValue)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		for i := range rv.Len() {
			fill(rv.Index(i))
		}
	case reflect.Struct:
		fill(rv)
	}
}

// fieldText returns the string in rv (a string or *string field).
func fieldText(rv reflect.Value) (string, bool) {
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return "", false
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.String {
		return "", false
	}
	return rv.String(), true
}

// maskedWrite refuses to write a masked value back: it would replace the
// stored token with the token of the mask.
func maskedWrite(c *columnMeta, s string) error {
	if c.mask != "" && c.maskCol == nil && strings.ContainsRune(s, '*') {
		return c.errorf(errMasked)
	}
	return nil
}

var errMasked = fmt.Errorf("%w (%w): it was read without a reveal grant; read the row with gormcrypt.Reveal to change the value, "+
	"or Select the columns you change", ErrMasked, ErrUnsupported)

// refuseMasks refuses an UPDATE from the struct row (the statement's
// model, or a copy of the struct given to Updates) whose written masked
// fields hold their mask: the value equals the mask column of the row or
// of the statement's model (as a masked read leaves them), or is
// MaskUnavailable. It runs before anything is encrypted or any mask
// column recomputed.
func refuseMasks(db *gorm.DB, m *modelMeta, row reflect.Value, written func(*schema.Field) bool) error {
	ctx := db.Statement.Context
	for _, b := range m.masks {
		c := m.columns[b.source.Name]
		if !written(c.field) {
			continue
		}
		v := c.field.ReflectValueOf(ctx, row)
		if err := refuseMask(ctx, c, row, v); err != nil {
			return err
		}
		if err := refuseMask(ctx, c, db.Statement.ReflectValue, v); err != nil {
			return err
		}
	}
	return nil
}

// refuseMask refuses writing v (a value, or a reflect.Value of the field)
// to the masked column c of row (the struct a masked read filled, or an
// invalid Value).
func refuseMask(ctx context.Context, c *columnMeta, row reflect.Value, v any) error {
	rv, ok := v.(reflect.Value)
	if !ok {
		rv = reflect.ValueOf(v)
	}
	s, ok := fieldText(rv)
	if !ok || s == "" {
		return nil
	}
	if s == MaskUnavailable {
		return c.errorf(errMasked)
	}
	if row = reflect.Indirect(row); row.IsValid() && row.Kind() == reflect.Struct && row.Type() == c.field.Schema.ModelType {
		if old, ok := fieldText(c.maskCol.index.ReflectValueOf(ctx, row)); ok && old == s {
			return c.errorf(errMasked)
		}
	}
	return nil
}

type revealAllKey struct{}

// BackfillMasks fills the empty mask columns of model's rows (a pointer to
// a struct), for a mask added to a table that already holds values: until
// then their masked reads give MaskUnavailable. It walks the table in
// primary-key order, batchSize rows per query (0: 500), reads and decrypts
// the rows whose mask column is NULL while their value is not (these reads
// are real and reported to WithAccessAudit, with the actor
// "gormcrypt:BackfillMasks" unless ctx names one), and writes each mask
// with UPDATE … SET mask = ? WHERE pk = ? AND mask IS NULL, so a
// concurrent write (which always writes the mask) is never overwritten. It
// returns how many masks it wrote. It is idempotent; stop it with ctx and
// call it again to go on. Values of forgotten subjects are left without a
// mask. The model needs a single-column primary key.
func BackfillMasks(ctx context.Context, db *gorm.DB, model any, batchSize int) (int64, error) {
	p, err := pluginOf(db)
	if err != nil {
		return 0, err
	}
	m, err := p.parse(db, model)
	if err != nil {
		return 0, err
	}
	if len(m.masks) == 0 {
		return 0, nil
	}
	s := m.masks[0].index.Schema
	if len(s.PrimaryFields) != 1 {
		return 0, fmt.Errorf("%w: BackfillMasks of %s needs a single-column primary key", ErrUnsupported, m.table)
	}
	pk := s.PrimaryFields[0]
	if batchSize <= 0 {
		batchSize = 500
	}
	if a, _ := ctx.Value(actorKey{}).(string); a == "" {
		ctx = WithActor(ctx, "gormcrypt:BackfillMasks")
	}
	read := context.WithValue(ctx, revealAllKey{}, true)
	empty := make([]clause.Expression, 0, len(m.masks))
	for _, b := range m.masks {
		empty = append(empty, clause.And(
			clause.Eq{Column: clause.Column{Table: clause.CurrentTable, Name: b.index.DBName}, Value: nil},
			clause.Expr{SQL: "? IS NOT NULL", Vars: []any{clause.Column{Table: clause.CurrentTable, Name: b.source.DBName}}}))
	}
	quiet := db.Session(&gorm.Session{NewDB: true, Logger: db.Logger.LogMode(logger.Silent)})
	var written int64
	var after any
	for {
		if err := ctx.Err(); err != nil {
			return written, err
		}
		rows := reflect.New(reflect.SliceOf(s.ModelType))
		q := quiet.WithContext(read).Model(model).Where(clause.Or(empty...)).
			Order(clause.OrderByColumn{Column: clause.Column{Table: clause.CurrentTable, Name: pk.DBName}}).Limit(batchSize)
		if after != nil {
			q = q.Where(clause.Gt{Column: clause.Column{Table: clause.CurrentTable, Name: pk.DBName}, Value: after})
		}
		if err := q.Find(rows.Interface()).Error; err != nil {
			return written, fmt.Errorf("gormcrypt: BackfillMasks: reading %s: %w", m.table, err)
		}
		rv := rows.Elem()
		for i := range rv.Len() {
			row := rv.Index(i)
			id, _ := pk.ValueOf(ctx, row)
			after = id
			for _, b := range m.masks {
				if s, ok := fieldText(b.index.ReflectValueOf(ctx, row)); ok && s != "" {
					continue
				}
				v, ok := fieldText(b.source.ReflectValueOf(ctx, row))
				if !ok || v == "" {
					continue // NULL, or a forgotten subject's value (read as zero)
				}
				res := quiet.WithContext(ctx).Table(m.table).
					Where(clause.Eq{Column: clause.Column{Name: pk.DBName}, Value: id}).
					Where(clause.Eq{Column: clause.Column{Name: b.index.DBName}, Value: nil}).
					UpdateColumn(b.index.DBName, maskOf(b.mask, v))
				if res.Error != nil {
					return written, fmt.Errorf("gormcrypt: BackfillMasks: writing %s.%s: %w", m.table, b.index.DBName, res.Error)
				}
				written += res.RowsAffected
			}
		}
		if rv.Len() < batchSize {
			return written, nil
		}
	}
}
