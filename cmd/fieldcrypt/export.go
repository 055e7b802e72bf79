package main

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/fieldcrypt/fieldcrypt/gormcrypt"
)

func newExport(e *env) *cobra.Command {
	var dsn string
	cmd := &cobra.Command{
		Use:   "export SUBJECT --config FILE [--dsn DSN]",
		Short: "Subject access export (GDPR Art. 15/20): what the configured tables hold about one customer, decrypted, as JSON",
		Long: `export prints, as JSON, every row of the tables listed in the
configuration file's "export" section whose subject column names SUBJECT,
each listed column decrypted (encrypt, encrypt_det) or detokenized
(token:FORMAT), plain columns as stored. A forgotten customer is refused.
The output holds personal data: hand it to the customer, do not log it.`,
		Args: args(1, "one SUBJECT"),
		RunE: func(cmd *cobra.Command, a []string) error {
			if dsn == "" {
				dsn = e.cfg.Export.DSN
			}
			if len(e.cfg.Export.Tables) == 0 {
				return usagef("export needs --config with an \"export\" section listing the tables")
			}
			if dsn == "" {
				return usagef("export needs --dsn (or export.dsn in the configuration)")
			}
			ctx := cmd.Context()
			kr, _, done, err := e.open(ctx)
			if err != nil {
				return err
			}
			defer done()
			out := gormcrypt.SubjectExport{Subject: a[0], ExportedAt: time.Now().UTC(), Tables: []gormcrypt.TableExport{}}
			for _, t := range e.cfg.Export.Tables {
				model, err := exportModel(t)
				if err != nil {
					return err
				}
				// A *gorm.DB per table: the run-time models are unnamed
				// types, and each DB's naming strategy names one table.
				db, err := gorm.Open(dialector(dsn), &gorm.Config{Logger: logger.Discard, NamingStrategy: tableNamer{table: t.Table}})
				if err != nil {
					return fmt.Errorf("opening the database: %w", err)
				}
				p, err := gormcrypt.New(kr, gormcrypt.WithModels(model), gormcrypt.WithSweepEvery(-1), gormcrypt.WithStrict())
				if err != nil {
					return err
				}
				if err := db.Use(p); err != nil {
					p.Close()
					return err
				}
				ex, err := gormcrypt.Export(ctx, db, a[0])
				p.Close()
				if s, derr := db.DB(); derr == nil {
					s.Close()
				}
				if err != nil {
					return fmt.Errorf("table %s: %w", t.Table, err)
				}
				out.Tables = append(out.Tables, ex.Tables...)
			}
			sort.Slice(out.Tables, func(i, j int) bool { return out.Tables[i].Table < out.Tables[j].Table })
			e.json = true // the export is JSON
			return e.print(out, "")
		},
	}
	cmd.Flags().StringVar(&dsn, "dsn", "", "the application database (default: export.dsn of the configuration)")
	return cmd
}

// exportModel builds the run-time model of one configured table.
func exportModel(t tableConfig) (any, error) {
	pk, pkType := t.PK, t.PKType
	if pk == "" {
		pk = "id"
	}
	for _, id := range []string{t.Table, t.SubjectColumn, pk} {
		if !identifier.MatchString(id) {
			return nil, usagef("config: export table %q: table, subject_column and pk must be plain SQL identifiers", t.Table)
		}
	}
	var keyType reflect.Type
	switch pkType {
	case "", "int":
		keyType = reflect.TypeFor[int64]()
	case "string":
		keyType = reflect.TypeFor[string]()
	default:
		return nil, usagef("config: export table %s: pk_type is int or string", t.Table)
	}
	fields := []reflect.StructField{
		{Name: "Key", Type: keyType, Tag: reflect.StructTag(fmt.Sprintf(`gorm:"column:%s;primaryKey;autoIncrement:false"`, pk))},
		{Name: "Subject", Type: reflect.TypeFor[string](), Tag: reflect.StructTag(fmt.Sprintf(`gorm:"column:%s" fieldcrypt:"subject"`, t.SubjectColumn))},
	}
	cols := make([]string, 0, len(t.Columns))
	for c := range t.Columns {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	for i, c := range cols {
		if !identifier.MatchString(c) {
			return nil, usagef("config: export table %s: column %q is not a plain SQL identifier", t.Table, c)
		}
		name := fmt.Sprintf("C%d%s", i, goName(c))
		var tag string
		switch mode := t.Columns[c]; {
		case mode == "plain":
			tag = fmt.Sprintf(`gorm:"column:%s"`, c)
		case mode == "encrypt" || mode == "encrypt_det":
			tag = fmt.Sprintf(`gorm:"column:%s;serializer:%s"`, c, mode)
		case strings.HasPrefix(mode, "token:"):
			format := strings.TrimPrefix(mode, "token:")
			if gormcrypt.DefaultTokenFormats()[format] == nil {
				return nil, usagef("config: export table %s column %s: unknown token format %q (known: %s)", t.Table, c, format, formatNames())
			}
			tag = fmt.Sprintf(`gorm:"column:%s;serializer:token" fieldcrypt:"token:%s"`, c, format)
		default:
			return nil, usagef("config: export table %s column %s: mode is plain, encrypt, encrypt_det or token:FORMAT, not %q", t.Table, c, mode)
		}
		fields = append(fields, reflect.StructField{Name: name, Type: reflect.TypeFor[*string](), Tag: reflect.StructTag(tag)})
	}
	return reflect.New(reflect.StructOf(fields)).Interface(), nil
}

func goName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}
