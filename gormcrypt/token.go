package gormcrypt

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

// tokenizer is what tokenize.Tokenizer (FPE tokens) and tokenize.Vault
// (random tokens) share.
type tokenizer interface {
	Tokenize(ctx context.Context, subject, field string, f tokenize.Format, value string) (string, error)
	Detokenize(ctx context.Context, subject, field string, f tokenize.Format, token string) (string, error)
	TokenizeGlobal(ctx context.Context, field string, f tokenize.Format, value string) (string, error)
	DetokenizeGlobal(ctx context.Context, field string, f tokenize.Format, token string) (string, error)
}

// tokenizer returns the tokenizer of token column c.
func (p *Plugin) tokenizer(c *columnMeta) tokenizer {
	if c.vault {
		return p.vault
	}
	return p.tok
}

// tokenField is the tweak domain of a token column: the same value in two
// columns gives two unrelated tokens.
func tokenField(c *columnMeta) string { return c.model.table + "." + c.dbName }

// tokenize returns the column value for v (a string or *string): its token,
// nil for NULL, and "" for "" (an empty value has nothing to hide and no
// format to keep).
func (p *Plugin) tokenize(ctx context.Context, c *columnMeta, subject string, v any) (any, error) {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case *string:
		if x == nil {
			return nil, nil
		}
		s = *x
	default:
		rv := reflect.ValueOf(v)
		if rv.Kind() == reflect.Pointer {
			if rv.IsNil() {
				return nil, nil
			}
			rv = rv.Elem()
		}
		if rv.Kind() != reflect.String {
			return nil, c.errorf(fmt.Errorf("%w: a token column holds strings, got %T", ErrUnsupported, v))
		}
		s = rv.String()
	}
	if s == "" {
		return "", nil
	}
	if err := maskedWrite(c, s); err != nil {
		return nil, err
	}
	var tok string
	var err error
	if c.global {
		tok, err = p.tokenizer(c).TokenizeGlobal(ctx, tokenField(c), c.format, s)
	} else {
		tok, err = p.tokenizer(c).Tokenize(ctx, subject, tokenField(c), c.format, s)
	}
	if err != nil {
		return nil, c.errorf(err)
	}
	return tok, nil
}

// detokenize sets rv to the value of the token dbValue.
func (p *Plugin) detokenize(ctx context.Context, st *stmtState, c *columnMeta, dst, rv reflect.Value, dbValue any) error {
	var tok string
	switch v := dbValue.(type) {
	case string:
		tok = v
	case []byte:
		tok = string(v)
	default:
		return c.errorf(fmt.Errorf("%w: token column holds %T, not text", ErrUnsupported, dbValue))
	}
	hide := c.mask != "" && !p.revealed(ctx, c)
	if c.migrating && c.mark != nil && tok != "" {
		marked, err := st.tokenMarked(ctx, c, dst)
		if err != nil {
			return err
		}
		if !marked {
			if hide {
				masked(c, tok, rv)
			} else {
				openPlaintext(c, tok, rv) // plaintext from before the adoption
			}
			return nil
		}
	}
	if hide {
		masked(c, tok, rv) // decided before any key is used
		return nil
	}
	var val string
	if tok != "" {
		var err error
		if c.global {
			val, err = p.tokenizer(c).DetokenizeGlobal(ctx, tokenField(c), c.format, tok)
		} else {
			var subject string
			if subject, err = st.subject(ctx, c.model, dst); err != nil {
				return c.errorf(err)
			}
			val, err = p.tokenizer(c).Detokenize(ctx, subject, tokenField(c), c.format, tok)
			if err == nil {
				st.accessed(ctx, c, subject)
			}
		}
		if err != nil {
			if p.redact && errors.Is(err, keys.ErrKeyDestroyed) {
				p.redacted(ctx, c, dst, rv)
				return nil
			}
			return c.errorf(err)
		}
		if c.global {
			st.accessed(ctx, c, "")
		}
	}
	if c.ptr {
		pv := reflect.New(c.typ.Elem())
		pv.Elem().SetString(val)
		rv.Set(pv)
		return nil
	}
	rv.SetString(val)
	return nil
}
