package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/gormcrypt"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	sqlitestore "github.com/fieldcrypt/fieldcrypt/keys/sqlstore/sqlite"
	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

// BenchmarkTokenize compares `fieldcrypt tokenize` on a CSV of 10,000 and
// 100,000 rows of 1000 customers' card numbers (the command opens the keystore, reads and
// writes the CSV) with the library call in a loop over the same values,
// in the same process and keystore; both report rows/s.
func BenchmarkTokenize(b *testing.B) {
	for _, rows := range []int{10000, 100000} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) { benchTokenize(b, rows) })
	}
}

func benchTokenize(b *testing.B, rows int) {
	dir := b.TempDir()
	root, ks := filepath.Join(dir, "root.key"), filepath.Join(dir, "keys.db")
	if code := run([]string{"init", "--root", root, "--keystore", ks}, nil, io.Discard, io.Discard); code != 0 {
		b.Fatal("init failed")
	}
	var in bytes.Buffer
	in.WriteString("ref,card\n")
	refs, cards := make([]string, rows), make([]string, rows)
	for i := range rows {
		refs[i], cards[i] = fmt.Sprintf("c-%d", i%1000), luhn(fmt.Sprintf("411100%09d", i))
		fmt.Fprintf(&in, "%s,%s\n", refs[i], cards[i])
	}
	args := []string{"tokenize", "--root", root, "--keystore", ks, "--column", "card", "--format", "card", "--subject-column", "ref", "--field", "orders.card"}
	if code := run(args, bytes.NewReader(in.Bytes()), io.Discard, io.Discard); code != 0 { // creates the keys
		b.Fatal("tokenize failed")
	}
	b.Run("command", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if code := run(args, bytes.NewReader(in.Bytes()), io.Discard, io.Discard); code != 0 {
				b.Fatal("tokenize failed")
			}
		}
		b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	// The library as a program tokenizing the file once would use it: a
	// Keyring opened for the run, so the 1000 keys load from the keystore
	// (as they do in the command); "library-warm" reuses one Keyring.
	for _, warm := range []bool{false, true} {
		name := "library"
		if warm {
			name = "library-warm"
		}
		b.Run(name, func(b *testing.B) { benchLibrary(b, root, ks, refs, cards, warm) })
	}
}

func benchLibrary(b *testing.B, root, ks string, refs, cards []string, warm bool) {
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, ks)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	kms, err := localkms.OpenFile(root)
	if err != nil {
		b.Fatal(err)
	}
	f := gormcrypt.DefaultTokenFormats()["card"]
	var kr *keys.Keyring
	var tok *tokenize.Tokenizer
	open := func() {
		if kr != nil {
			kr.Close()
		}
		if kr, err = keys.Open(ctx, keys.Config{KMS: kms, Store: st, DisableWatch: true}); err != nil {
			b.Fatal(err)
		}
		if tok, err = tokenize.New(kr); err != nil {
			b.Fatal(err)
		}
	}
	open()
	defer func() { kr.Close() }()
	b.ReportAllocs()
	for b.Loop() {
		if !warm {
			open()
		}
		for i := range refs {
			if _, err := tok.Tokenize(ctx, refs[i], "orders.card", f, cards[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(refs))*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
