package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fieldcrypt/fieldcrypt/gormcrypt"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

func formatNames() string {
	var names []string
	for n := range gormcrypt.DefaultTokenFormats() {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// tokenizer is what tokenize.Tokenizer and tokenize.Vault share.
type tokenizer interface {
	Tokenize(ctx context.Context, subject, field string, f tokenize.Format, value string) (string, error)
	Detokenize(ctx context.Context, subject, field string, f tokenize.Format, token string) (string, error)
	TokenizeGlobal(ctx context.Context, field string, f tokenize.Format, value string) (string, error)
	DetokenizeGlobal(ctx context.Context, field string, f tokenize.Format, token string) (string, error)
}

func newTokenize(e *env, reverse bool) *cobra.Command {
	var column, format, subjectColumn, field string
	var global, skipInvalid, vault bool
	name, verb := "tokenize", "Tokenize"
	if reverse {
		name, verb = "detokenize", "Detokenize"
	}
	cmd := &cobra.Command{
		Use:   name + " --column NAME --format FORMAT (--subject-column NAME | --global) --field LABEL < in.csv > out.csv",
		Short: verb + " one column of a CSV file from stdin to stdout, streaming, header row kept",
		Long: verb + ` one column of a CSV file read from stdin, writing the CSV to stdout
with the header row kept and the other columns as they are. Memory stays
constant for any file size. A row whose value does not fit the format (or,
detokenizing, whose customer was forgotten) is reported on stderr by its
line number (never its value) and is fatal, unless --skip-invalid leaves it
out of the output.

Formats: ` + formatNames() + `.

--field is the tokenization domain (for example customers.card): the same
value under two labels gives unrelated tokens, so detokenize with the label
it was tokenized with. Tokens are per customer (--subject-column names the
column holding the customer identifier) or shared by every customer
(--global).

--vault issues random tokens from the token vault in the keystore database
instead of FPE tokens (the same formats; for PCI DSS such tokens are not
card data): tokenizing a value again gives the token it was given before,
and detokenize reads the vault, so detokenize with --vault what was
tokenized with it.`,
		Args: args(0, "no arguments (the CSV is read from stdin)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := gormcrypt.DefaultTokenFormats()[strings.ToLower(format)]
			switch {
			case column == "":
				return usagef("%s needs --column", name)
			case f == nil:
				return usagef("unknown --format %q (known: %s)", format, formatNames())
			case field == "":
				return usagef("%s needs --field (the tokenization domain, for example customers.card)", name)
			case global == (subjectColumn != ""):
				return usagef("%s needs exactly one of --subject-column and --global", name)
			}
			ctx := cmd.Context()
			kr, st, done, err := e.open(ctx)
			if err != nil {
				return err
			}
			defer done()
			var tok tokenizer
			if vault {
				tok, err = tokenize.NewVault(kr, st)
			} else {
				tok, err = tokenize.New(kr)
			}
			if err != nil {
				return err
			}
			r := csv.NewReader(e.stdin)
			w := csv.NewWriter(e.stdout)
			header, err := r.Read()
			if err != nil {
				if errors.Is(err, io.EOF) {
					return errors.New("the input is empty: want a CSV file with a header row")
				}
				return csvError(err)
			}
			col, subj := indexOf(header, column), -1
			if col < 0 {
				return usagef("the header row has no column %q", column)
			}
			if subjectColumn != "" {
				if subj = indexOf(header, subjectColumn); subj < 0 {
					return usagef("the header row has no column %q", subjectColumn)
				}
			}
			if err := w.Write(header); err != nil {
				return err
			}
			bar := newProgress(e.stderr, "rows")
			defer bar.finish()
			conv := func(rec []string) (string, error) {
				v := rec[col]
				switch {
				case global && !reverse:
					return tok.TokenizeGlobal(ctx, field, f, v)
				case global:
					return tok.DetokenizeGlobal(ctx, field, f, v)
				case !reverse:
					return tok.Tokenize(ctx, rec[subj], field, f, v)
				}
				return tok.Detokenize(ctx, rec[subj], field, f, v)
			}
			var warm func([][]string)
			if !global {
				// One keystore query for the chunk's customers instead of
				// one per customer (a hint: errors show in the conversion).
				warm = func(rows [][]string) {
					subjects := make([]string, 0, len(rows))
					for _, rec := range rows {
						if rec != nil && keys.ValidateSubject(rec[subj]) == nil {
							subjects = append(subjects, rec[subj])
						}
					}
					kr.Warm(ctx, subjects, tokenize.DefaultPurpose)
				}
			}
			rows, skipped, err := pipeline(ctx, r, w, col, column, skipInvalid, conv, warm, func(n int64) { bar.set(n, 0) }, e.stderr)
			if err != nil {
				return err
			}
			w.Flush()
			if err := w.Error(); err != nil {
				return err
			}
			if skipped > 0 {
				fmt.Fprintf(e.stderr, "fieldcrypt: %d rows written, %d skipped\n", rows, skipped)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&column, "column", "", "the header name of the column to "+name)
	cmd.Flags().StringVar(&format, "format", "", "the token format: "+formatNames())
	cmd.Flags().StringVar(&subjectColumn, "subject-column", "", "the header name of the column holding each row's customer identifier")
	cmd.Flags().BoolVar(&global, "global", false, "tokens shared by every customer (no subject column)")
	cmd.Flags().StringVar(&field, "field", "", "the tokenization domain, for example customers.card")
	cmd.Flags().BoolVar(&vault, "vault", false, "random tokens kept in the keystore's token vault instead of FPE tokens")
	cmd.Flags().BoolVar(&skipInvalid, "skip-invalid", false, "leave rows that do not fit the format out of the output instead of stopping")
	return cmd
}

// rowError reports whether err is about one row's value (skippable), not
// about the keystore or the key.
func rowError(err error) bool {
	return errors.Is(err, tokenize.ErrInvalidFormat) || errors.Is(err, tokenize.ErrDomainTooSmall) || errors.Is(err, keys.ErrInvalidSubject) ||
		errors.Is(err, keys.ErrKeyDestroyed) // a forgotten customer's row: its token reads no more

}

// csvError keeps encoding/csv's position and reason, which never quote the
// field.
func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("line %d: malformed CSV: %v", pe.Line, pe.Err)
	}
	return fmt.Errorf("reading the CSV: %w", err)
}

func indexOf(header []string, name string) int {
	for i, h := range header {
		if strings.TrimSpace(h) == name {
			return i
		}
	}
	return -1
}
