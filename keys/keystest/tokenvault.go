package keystest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

func tokenEntry(t *testing.T, field, token string) keystore.TokenEntry {
	t.Helper()
	lookup := make([]byte, keystore.TokenLookupLen)
	rand.Read(lookup)
	return keystore.TokenEntry{
		Field: field, Token: token, Lookup: lookup,
		Subject: randomID[keystore.SubjectRef](t), Key: randomID[keystore.KeyID](t),
		Sealed:  []byte("sealed:" + token),
		Created: time.Now().UTC().Truncate(time.Microsecond),
	}
}

func sameEntry(t *testing.T, got, want keystore.TokenEntry) {
	t.Helper()
	if got.Field != want.Field || got.Token != want.Token || !bytes.Equal(got.Lookup, want.Lookup) ||
		got.Subject != want.Subject || got.Key != want.Key || !bytes.Equal(got.Sealed, want.Sealed) ||
		!got.Created.Equal(want.Created) {
		t.Fatalf("entry = %+v, want %+v", got, want)
	}
}

// RunTokenVaultStoreTests checks that the stores newStore returns (empty,
// one per call) implement keystore.TokenVaultStore as documented: entries
// found by token and by lookup, each unique within a field and free across
// fields, a lost race answered with the winner's entry, a taken token
// reported as keystore.ErrTokenTaken, limits refused, and concurrent
// inserts of one lookup agreeing on one entry.
func RunTokenVaultStoreTests(t *testing.T, newStore func(t *testing.T) keystore.TokenVaultStore) {
	ctx := context.Background()
	t.Run("PutAndGet", func(t *testing.T) {
		s := newStore(t)
		e := tokenEntry(t, "payments.card", "4111 11** **** 1111")
		got, err := s.PutTokenEntry(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		sameEntry(t, got, e)
		if got, err = s.TokenEntryByToken(ctx, e.Field, e.Token); err != nil {
			t.Fatal(err)
		}
		sameEntry(t, got, e)
		if got, err = s.TokenEntryByLookup(ctx, e.Field, e.Lookup); err != nil {
			t.Fatal(err)
		}
		sameEntry(t, got, e)
		for _, c := range []struct {
			name string
			err  error
		}{
			{"other field by token", func() error { _, err := s.TokenEntryByToken(ctx, "other.card", e.Token); return err }()},
			{"other token", func() error { _, err := s.TokenEntryByToken(ctx, e.Field, "4111 11** **** 1112"); return err }()},
			{"other field by lookup", func() error { _, err := s.TokenEntryByLookup(ctx, "other.card", e.Lookup); return err }()},
			{"other lookup", func() error {
				_, err := s.TokenEntryByLookup(ctx, e.Field, bytes.Repeat([]byte{1}, keystore.TokenLookupLen))
				return err
			}()},
		} {
			if !errors.Is(c.err, keystore.ErrTokenNotFound) {
				t.Errorf("%s: err = %v, want ErrTokenNotFound", c.name, c.err)
			}
		}
	})
	t.Run("Uniqueness", func(t *testing.T) {
		s := newStore(t)
		e := tokenEntry(t, "f", "tok-1")
		if _, err := s.PutTokenEntry(ctx, e); err != nil {
			t.Fatal(err)
		}
		// The same lookup with another token: the earlier entry wins.
		again := tokenEntry(t, "f", "tok-2")
		again.Lookup = e.Lookup
		got, err := s.PutTokenEntry(ctx, again)
		if err != nil {
			t.Fatal(err)
		}
		sameEntry(t, got, e)
		if _, err := s.TokenEntryByToken(ctx, "f", "tok-2"); !errors.Is(err, keystore.ErrTokenNotFound) {
			t.Fatalf("losing token was inserted: %v", err)
		}
		// The same token with another lookup: taken.
		if _, err := s.PutTokenEntry(ctx, tokenEntry(t, "f", "tok-1")); !errors.Is(err, keystore.ErrTokenTaken) {
			t.Fatalf("taken token: err = %v, want ErrTokenTaken", err)
		}
		// Both are free in another field.
		other := e
		other.Field = "g"
		if got, err := s.PutTokenEntry(ctx, other); err != nil {
			t.Fatal(err)
		} else {
			sameEntry(t, got, other)
		}
		// Tokens and fields are compared byte for byte.
		for _, tok := range []string{"TOK-1", "tok-1 ", "ｔｏｋ-1"} {
			if _, err := s.PutTokenEntry(ctx, tokenEntry(t, "f", tok)); err != nil {
				t.Errorf("token %q: %v", tok, err)
			}
		}
	})
	t.Run("Limits", func(t *testing.T) {
		s := newStore(t)
		ok := tokenEntry(t, strings.Repeat("f", keystore.MaxTokenFieldLen), strings.Repeat("9", keystore.MaxTokenLen))
		ok.Sealed = bytes.Repeat([]byte{7}, keystore.MaxTokenSealedLen)
		if _, err := s.PutTokenEntry(ctx, ok); err != nil {
			t.Fatalf("entry at the limits: %v", err)
		}
		if got, err := s.TokenEntryByToken(ctx, ok.Field, ok.Token); err != nil {
			t.Fatal(err)
		} else {
			sameEntry(t, got, ok)
		}
		bad := []func(e *keystore.TokenEntry){
			func(e *keystore.TokenEntry) { e.Field = "" },
			func(e *keystore.TokenEntry) { e.Field = strings.Repeat("f", keystore.MaxTokenFieldLen+1) },
			func(e *keystore.TokenEntry) { e.Token = "" },
			func(e *keystore.TokenEntry) { e.Token = strings.Repeat("9", keystore.MaxTokenLen+1) },
			func(e *keystore.TokenEntry) { e.Lookup = e.Lookup[:31] },
			func(e *keystore.TokenEntry) { e.Sealed = nil },
			func(e *keystore.TokenEntry) { e.Sealed = make([]byte, keystore.MaxTokenSealedLen+1) },
		}
		for i, mut := range bad {
			e := tokenEntry(t, "f", fmt.Sprint("bad-", i))
			mut(&e)
			if _, err := s.PutTokenEntry(ctx, e); err == nil {
				t.Errorf("bad entry %d accepted", i)
			}
		}
	})
	t.Run("ConcurrentFirstPut", func(t *testing.T) {
		s := newStore(t)
		lookup := tokenEntry(t, "f", "x").Lookup
		const n = 8
		var wg sync.WaitGroup
		got := make([]keystore.TokenEntry, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				e := tokenEntry(t, "f", fmt.Sprint("racer-", i))
				e.Lookup = lookup
				got[i], errs[i] = s.PutTokenEntry(ctx, e)
			})
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("racer %d: %v", i, errs[i])
			}
			if got[i].Token != got[0].Token {
				t.Fatalf("racers got tokens %q and %q", got[0].Token, got[i].Token)
			}
		}
	})
}
