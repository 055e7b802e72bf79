package main

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/glebarez/sqlite"
	"github.com/spf13/cobra"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
	"gorm.io/gorm/schema"

	"github.com/fieldcrypt/fieldcrypt/gormcrypt"
)

// identifier is what migrate accepts as a table or column name: it becomes
// part of SQL statements.
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

func newMigrate(e *env) *cobra.Command {
	var dsn, table, column, subjectColumn, pk, pkType, mode, indexColumn, normalize string
	var batch int
	cmd := &cobra.Command{
		Use:   "migrate --dsn DSN --table T --column C --subject-column S --mode encrypt|token=FORMAT|blind-index",
		Short: "Backfill: protect the plaintext values of one column of a live table, resumable, with progress",
		Long: `migrate runs gormcrypt.Backfill for one column of a table that holds
plaintext: it walks the table in primary-key order, in short transactions,
and writes each plaintext value's ciphertext (--mode encrypt) or token
(--mode token=FORMAT) for the customer named in --subject-column, with an
optimistic UPDATE that never overwrites a concurrent write. A cursor in the
table fieldcrypt_backfill makes it resumable: run it again after a crash.
Afterwards it prints how many plaintext values are left (0 is the evidence
for removing the migrating flag from the application's model).

--mode token=FORMAT adds the token marker column <column>_tokenized (a
boolean, NULL for rows not yet tokenized) if it is missing; the
application's model must declare it (see gormcrypt, "Adopting on a live
database"). The ciphertext of --mode encrypt is longer than the plaintext:
make sure the column holds it (gormcrypt's size: checks do not apply here).

--mode blind-index fills the blind index of a column that is already
encrypted (gormcrypt.Reindex): --index-column (default <column>_index) is
added if it is missing (32 characters), rows whose index is missing or
under an older key version get it, with an optimistic UPDATE. The
application's model declares it with fieldcrypt:"blind_index:...;
normalize:..." and the same --normalize (lower, exact or digits).

--dsn is a postgres:// URL, a MySQL DSN (user:pass@tcp(host:3306)/db) or a
SQLite path.`,
		Args: args(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			for flag, v := range map[string]string{"--table": table, "--column": column, "--subject-column": subjectColumn, "--pk": pk} {
				if !identifier.MatchString(v) {
					return usagef("migrate needs %s, a plain SQL identifier (letters, digits, _)", flag)
				}
			}
			if dsn == "" {
				return usagef("migrate needs --dsn")
			}
			var format string
			switch {
			case mode == "encrypt", mode == "blind-index":
			case strings.HasPrefix(mode, "token="):
				format = strings.ToLower(strings.TrimPrefix(mode, "token="))
				if gormcrypt.DefaultTokenFormats()[format] == nil {
					return usagef("unknown token format %q (known: %s)", format, formatNames())
				}
			default:
				return usagef("--mode is encrypt, token=FORMAT or blind-index, not %q", mode)
			}
			var keyType reflect.Type
			switch pkType {
			case "int":
				keyType = reflect.TypeFor[int64]()
			case "string":
				keyType = reflect.TypeFor[string]()
			default:
				return usagef("--pk-type is int or string, not %q", pkType)
			}
			ctx := cmd.Context()
			kr, _, done, err := e.open(ctx)
			if err != nil {
				return err
			}
			defer done()
			if mode == "blind-index" {
				if indexColumn == "" {
					indexColumn = column + "_index"
				}
				if !identifier.MatchString(indexColumn) {
					return usagef("--index-column must be a plain SQL identifier")
				}
				switch normalize {
				case gormcrypt.NormalizeLower, gormcrypt.NormalizeExact, gormcrypt.NormalizeDigits:
				default:
					return usagef("--normalize is lower, exact or digits, not %q", normalize)
				}
			}
			model := migrationModel(keyType, pk, subjectColumn, column, format)
			if mode == "blind-index" {
				model = indexModel(keyType, pk, subjectColumn, column, indexColumn, normalize)
			}
			db, err := gorm.Open(dialector(dsn), &gorm.Config{
				Logger:         logger.Discard, // its lines could quote values
				NamingStrategy: tableNamer{table: table},
			})
			if err != nil {
				return fmt.Errorf("opening the database: %w", err)
			}
			if s, err := db.DB(); err == nil {
				defer s.Close()
			}
			p, err := gormcrypt.New(kr, gormcrypt.WithModels(model), gormcrypt.WithSweepEvery(-1))
			if err != nil {
				return err
			}
			defer p.Close()
			if err := db.Use(p); err != nil {
				return err
			}
			if !db.Migrator().HasTable(table) {
				return fmt.Errorf("the database has no table %s", table)
			}
			if format != "" && !db.Migrator().HasColumn(model, "Tokenized") {
				if err := db.Migrator().AddColumn(model, "Tokenized"); err != nil {
					return fmt.Errorf("adding the token marker column %s_tokenized: %w", column, err)
				}
			}
			if mode == "blind-index" {
				if !db.Migrator().HasColumn(model, "Index") {
					if err := db.Migrator().AddColumn(model, "Index"); err != nil {
						return fmt.Errorf("adding the blind index column %s: %w", indexColumn, err)
					}
				}
				bar := newProgress(e.stderr, "rows")
				pr, err := gormcrypt.Reindex(ctx, db, model, "Value", gormcrypt.ReindexOptions{BatchSize: batch,
					Progress: func(p gormcrypt.ReindexProgress) { bar.set(p.Scanned, 0) }})
				bar.finish()
				if err != nil {
					return fmt.Errorf("%w (run the same command again to resume)", err)
				}
				return e.print(map[string]any{"table": table, "column": column, "index_column": indexColumn, "scanned": pr.Scanned,
					"updated": pr.Updated, "skipped": pr.Skipped, "version": pr.Version},
					fmt.Sprintf("%s.%s: %d rows read, %d indexed under key version %d, %d left to concurrent writers\n",
						table, indexColumn, pr.Scanned, pr.Updated, pr.Version, pr.Skipped))
			}
			bar := newProgress(e.stderr, "rows")
			pr, err := gormcrypt.Backfill(ctx, db, model, gormcrypt.BackfillOptions{Columns: []string{"Value"}, BatchSize: batch,
				Progress: func(p gormcrypt.BackfillProgress) { bar.set(p.Scanned, p.Total) }})
			bar.finish()
			if err != nil {
				return fmt.Errorf("%w (run the same command again to resume)", err)
			}
			left, err := gormcrypt.CountPlaintext(ctx, db, model, "Value")
			if err != nil {
				return err
			}
			out := map[string]any{"table": table, "column": column, "scanned": pr.Scanned, "updated": pr.Updated,
				"skipped": pr.Skipped, "erased": pr.Erased, "plaintext_left": left[column], "rows_per_second": int64(pr.RowsPerSecond)}
			text := fmt.Sprintf("%s.%s: %d rows read, %d protected, %d left to concurrent writers, %d of forgotten customers cleared; %d plaintext values left\n",
				table, column, pr.Scanned, pr.Updated, pr.Skipped, pr.Erased, left[column])
			return e.print(out, text)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dsn, "dsn", "", "the application database: postgres:// URL, MySQL DSN or SQLite path")
	f.StringVar(&table, "table", "", "the table")
	f.StringVar(&column, "column", "", "the column to protect")
	f.StringVar(&subjectColumn, "subject-column", "", "the column holding each row's customer identifier")
	f.StringVar(&pk, "pk", "id", "the primary key column")
	f.StringVar(&pkType, "pk-type", "int", "the primary key's type: int or string")
	f.StringVar(&mode, "mode", "encrypt", "encrypt, or token=FORMAT ("+formatNames()+")")
	f.IntVar(&batch, "batch", 0, "rows per transaction (default 500)")
	f.StringVar(&indexColumn, "index-column", "", "--mode blind-index: the index column (default <column>_index)")
	f.StringVar(&normalize, "normalize", gormcrypt.NormalizeLower, "--mode blind-index: lower, exact or digits, as the model's normalize:")
	return cmd
}

// migrationModel builds the model Backfill needs for one column, at run
// time: the primary key, the subject and the migrating column (and its
// token marker, declared before it).
func migrationModel(keyType reflect.Type, pk, subject, column, format string) any {
	fields := []reflect.StructField{
		{Name: "Key", Type: keyType, Tag: reflect.StructTag(fmt.Sprintf(`gorm:"column:%s;primaryKey;autoIncrement:false"`, pk))},
		{Name: "Subject", Type: reflect.TypeFor[string](), Tag: reflect.StructTag(fmt.Sprintf(`gorm:"column:%s" fieldcrypt:"subject"`, subject))},
	}
	if format == "" {
		fields = append(fields, reflect.StructField{Name: "Value", Type: reflect.TypeFor[*string](),
			Tag: reflect.StructTag(fmt.Sprintf(`gorm:"column:%s;serializer:encrypt" fieldcrypt:"migrating"`, column))})
	} else {
		fields = append(fields,
			reflect.StructField{Name: "Tokenized", Type: reflect.TypeFor[*bool](),
				Tag: reflect.StructTag(fmt.Sprintf(`gorm:"column:%s_tokenized" fieldcrypt:"tokenized:Value"`, column))},
			reflect.StructField{Name: "Value", Type: reflect.TypeFor[*string](),
				Tag: reflect.StructTag(fmt.Sprintf(`gorm:"column:%s;serializer:token" fieldcrypt:"token:%s;migrating"`, column, format))})
	}
	return reflect.New(reflect.StructOf(fields)).Interface()
}

// indexModel is the run-time model of an encrypted column and its blind
// index.
func indexModel(keyType reflect.Type, pk, subject, column, index, normalize string) any {
	return reflect.New(reflect.StructOf([]reflect.StructField{
		{Name: "Key", Type: keyType, Tag: reflect.StructTag(fmt.Sprintf(`gorm:"column:%s;primaryKey;autoIncrement:false"`, pk))},
		{Name: "Subject", Type: reflect.TypeFor[string](), Tag: reflect.StructTag(fmt.Sprintf(`gorm:"column:%s" fieldcrypt:"subject"`, subject))},
		{Name: "Value", Type: reflect.TypeFor[*string](), Tag: reflect.StructTag(fmt.Sprintf(`gorm:"column:%s;serializer:encrypt"`, column))},
		{Name: "Index", Type: reflect.TypeFor[*string](),
			Tag: reflect.StructTag(fmt.Sprintf(`gorm:"column:%s;size:32" fieldcrypt:"blind_index:Value;normalize:%s"`, index, normalize))},
	})).Interface()
}

// tableNamer names the run-time model's table (an unnamed struct type).
type tableNamer struct {
	schema.NamingStrategy
	table string
}

func (n tableNamer) TableName(string) string { return n.table }

func dialector(dsn string) gorm.Dialector {
	switch {
	case isPostgres(dsn):
		return postgres.Open(dsn)
	case isMySQL(dsn):
		return mysql.Open(strings.TrimPrefix(dsn, "mysql://"))
	}
	return sqlite.Open(dsn + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
}
