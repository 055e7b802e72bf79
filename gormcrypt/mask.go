package gormcrypt

import (
	"context"
	"fmt"
	"reflect"
	"strings"

	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

// This file masks token columns on read unless the context carries a
// grant to reveal them (least privilege: support staff see the card's last
// four, billing sees the number).

// MaskCard is the mask of a card token column, `fieldcrypt:"token:card;mask:card"`:
// every digit but the last four is shown as '*' (tokenize.MaskCard). Every
// card token keeps the value's last four digits and separators, so the
// mask is computed from the stored token: a masked read detokenizes
// nothing and uses no key.
const MaskCard = "card"

// checkMask says why mask cannot apply to c ("" if it can).
func checkMask(c *columnMeta, mask string) string {
	switch mask {
	case MaskCard:
		if _, ok := c.format.(tokenize.Card); c.mode != modeToken || !ok {
			return "mask:card needs a card token column (fieldcrypt:\"token:card\" or another tokenize.Card format), " +
				"whose tokens keep the last four digits the mask shows"
		}
		return ""
	case "":
		return "the mask tag needs a value: mask:card"
	}
	return fmt.Sprintf("unknown mask %q (known: card)", mask)
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
// gormcrypt.Reveal(ctx, role) detokenize them.
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

// masked sets rv to the mask of the stored text s (a token, or a
// plaintext not yet tokenized).
func masked(c *columnMeta, s string, rv reflect.Value) {
	openPlaintext(c, tokenize.MaskCard(s), rv)
}

// maskedWrite refuses to write a masked value back: it would replace the
// stored token with the token of the mask.
func maskedWrite(c *columnMeta, s string) error {
	if c.mask != "" && strings.ContainsRune(s, '*') {
		return c.errorf(fmt.Errorf("%w: the value is a mask (read without a reveal grant); read it with gormcrypt.Reveal to change it",
			ErrUnsupported))
	}
	return nil
}
