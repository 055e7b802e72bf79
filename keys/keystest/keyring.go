package keystest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
)

// Harness gives RunKeyringTests a backend and the means to do to it what
// restores, replication lag and cleanup scripts do beneath the Store API.
type Harness struct {
	// New returns a fresh, empty store. Required.
	New func(t *testing.T) keystore.Store
	// Reopen returns a second Store on the same keystore as s, as a second
	// open of the same database in one process gives. nil means the
	// backend has no such thing (an in-memory store).
	Reopen func(t *testing.T, s keystore.Store) keystore.Store
	// DeleteMeta removes the metadata entry name, as a partial restore or
	// a cleanup script would. Required.
	DeleteMeta func(t *testing.T, s keystore.Store, name string)
	// RestoreMeta writes the metadata entry name, as restoring that one
	// row from a backup would. Required.
	RestoreMeta func(t *testing.T, s keystore.Store, name string, value []byte)
	// RestoreKey writes rec, material included, as a table-level restore
	// would: replacing the row of (rec.ID, rec.Version) if there is one,
	// tombstone or not. Required.
	RestoreKey func(t *testing.T, s keystore.Store, rec keystore.KeyRecord)
	// Material returns the wrapped material stored for (id, version),
	// bypassing every check, and whether the row exists. Required.
	Material func(t *testing.T, s keystore.Store, id keystore.KeyID, version uint32) ([]byte, bool)
}

func newRoot(t *testing.T) keystore.KMS {
	t.Helper()
	k, err := localkms.Parse([]byte(localkms.GenerateKey()))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func openKeyring(t *testing.T, kms keystore.KMS, s keystore.Store) *keys.Keyring {
	t.Helper()
	kr, err := keys.Open(context.Background(), keys.Config{KMS: kms, Store: s, DisableWatch: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { kr.Close() })
	return kr
}

// checkValueMeta is the metadata entry in which a Keyring keeps the root
// key check value. It is part of the keystore format, which never changes;
// the CheckValue subtests below fail if it ever differs from what keys.Open
// writes.
const checkValueMeta = "id-key.v1"

// RunKeyringTests checks, through a Keyring, the promises that must hold
// when a keystore is restored, replicated or cleaned up beneath fieldcrypt:
// a keystore that lost its root key check value is refused, a tombstone
// wins over any key row that reappears under it, and a Forget reaches every
// Keyring of the process on the same keystore before it returns.
func RunKeyringTests(t *testing.T, h Harness) {
	ctx := context.Background()

	t.Run("CheckValueCreatedOnEmptyKeystoreOnly", func(t *testing.T) {
		s := h.New(t)
		root := newRoot(t)
		kr := openKeyring(t, root, s)
		k, err := kr.Current(ctx, "cust-1", "default")
		if err != nil {
			t.Fatal(err)
		}
		id := k.ID()
		h.DeleteMeta(t, s, checkValueMeta)
		// Neither another root key nor the right one may start afresh:
		// a new identifier key would make every existing key unreachable
		// and Forget a silent no-op.
		for name, kms := range map[string]keystore.KMS{"another root key": newRoot(t), "the right root key": root} {
			_, err := keys.Open(ctx, keys.Config{KMS: kms, Store: s, DisableWatch: true})
			if !errors.Is(err, keystore.ErrCheckValueMissing) {
				t.Fatalf("Open with %s on a keystore with keys but no check value: %v, want ErrCheckValueMissing", name, err)
			}
		}
		if _, ok := h.Material(t, s, id, 1); !ok {
			t.Fatal("the refused Open touched the keys")
		}
	})

	t.Run("CheckValueMissingUnderTombstonesOnly", func(t *testing.T) {
		s := h.New(t)
		root := newRoot(t)
		kr := openKeyring(t, root, s)
		if _, err := kr.Forget(ctx, "cust-never-had-keys", "ticket-1"); err != nil {
			t.Fatal(err)
		}
		h.DeleteMeta(t, s, checkValueMeta)
		if _, err := keys.Open(ctx, keys.Config{KMS: root, Store: s, DisableWatch: true}); !errors.Is(err, keystore.ErrCheckValueMissing) {
			t.Fatalf("Open on a keystore with tombstones but no check value: %v, want ErrCheckValueMissing", err)
		}
	})

	t.Run("CheckValueRestoredOpens", func(t *testing.T) {
		s := h.New(t)
		root := newRoot(t)
		kr := openKeyring(t, root, s)
		if _, err := kr.Current(ctx, "cust-1", "default"); err != nil {
			t.Fatal(err)
		}
		rs, ok := s.(keystore.RotatableStore)
		if !ok {
			t.Skip("the store cannot read its metadata back (not a keystore.RotatableStore)")
		}
		check, err := rs.Meta(ctx, checkValueMeta)
		if err != nil {
			t.Fatal(err)
		}
		h.DeleteMeta(t, s, checkValueMeta)
		if _, err := keys.Open(ctx, keys.Config{KMS: root, Store: s, DisableWatch: true}); !errors.Is(err, keystore.ErrCheckValueMissing) {
			t.Fatalf("Open: %v, want ErrCheckValueMissing", err)
		}
		// The documented recovery: restore the row from a backup.
		if _, err := s.InitMeta(ctx, checkValueMeta, check); err == nil {
			t.Fatal("InitMeta recorded a check value on a keystore that holds keys")
		}
		h.RestoreMeta(t, s, checkValueMeta, check)
		kr2 := openKeyring(t, root, s)
		ts, err := kr2.Forget(ctx, "cust-1", "ticket-1")
		if err != nil || ts.Destroyed != 1 {
			t.Fatalf("Forget after restoring the check value = %+v, %v; want 1 destroyed", ts, err)
		}
	})

	t.Run("TombstoneWinsOverRestoredKey", func(t *testing.T) {
		s := h.New(t)
		kr := openKeyring(t, newRoot(t), s)
		k, err := kr.Current(ctx, "cust-1", "default")
		if err != nil {
			t.Fatal(err)
		}
		rec, err := s.GetKey(ctx, k.ID(), k.Version())
		if err != nil {
			t.Fatal(err)
		}
		first, err := kr.Forget(ctx, "cust-1", "ticket-1")
		if err != nil || first.Destroyed != 1 || first.DestroyedNow != 1 {
			t.Fatalf("Forget = %+v, %v; want 1 destroyed", first, err)
		}
		h.RestoreKey(t, s, rec) // the row comes back, material and all
		if got, err := s.GetKey(ctx, rec.ID, rec.Version); !errors.Is(err, keystore.ErrKeyDestroyed) || got.Wrapped != nil {
			t.Fatalf("GetKey of a key restored under a tombstone = %d bytes, %v; want ErrKeyDestroyed and no material", len(got.Wrapped), err)
		}
		if got, err := s.LatestKey(ctx, rec.ID); !errors.Is(err, keystore.ErrKeyDestroyed) || got.Wrapped != nil {
			t.Fatalf("LatestKey of a key restored under a tombstone = %d bytes, %v; want ErrKeyDestroyed and no material", len(got.Wrapped), err)
		}
		if rs, ok := s.(keystore.RotatableStore); ok {
			live, err := rs.LiveKeys(ctx, keystore.KeyCursor{}, 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range live {
				if r.Subject == rec.Subject {
					t.Fatal("LiveKeys lists a key restored under a tombstone")
				}
			}
			if n, err := rs.CountLiveKeys(ctx); err != nil || n != 0 {
				t.Fatalf("CountLiveKeys = %d, %v; want 0", n, err)
			}
			if err := rs.RewrapKey(ctx, rec.ID, rec.Version, rec.Wrapped, []byte("new")); !errors.Is(err, keystore.ErrKeyDestroyed) {
				t.Fatalf("RewrapKey of a key restored under a tombstone = %v, want ErrKeyDestroyed", err)
			}
		}
		if _, err := kr.KeyVersion(ctx, rec.ID, rec.Version); !errors.Is(err, keystore.ErrKeyDestroyed) {
			t.Fatalf("KeyVersion of a key restored under a tombstone = %v, want ErrKeyDestroyed", err)
		}
		if _, err := kr.Current(ctx, "cust-1", "default"); !errors.Is(err, keystore.ErrKeyDestroyed) {
			t.Fatalf("Current of a subject whose key was restored under its tombstone = %v, want ErrKeyDestroyed", err)
		}
		// A repeated Forget destroys what it finds and says so.
		again, err := kr.Forget(ctx, "cust-1", "ticket-2")
		if err != nil {
			t.Fatal(err)
		}
		if again.DestroyedNow != 1 || again.Destroyed != 2 || again.Reason != "ticket-1" || !again.ForgottenAt.Equal(first.ForgottenAt) {
			t.Fatalf("repeated Forget = %+v; want the first tombstone with DestroyedNow 1, Destroyed 2", again)
		}
		if m, ok := h.Material(t, s, rec.ID, rec.Version); !ok || m != nil {
			t.Fatalf("after the repeated Forget the row holds %d bytes of material (exists %v)", len(m), ok)
		}
		stored, err := s.Tombstone(ctx, rec.Subject)
		if err != nil || stored.Destroyed != 2 {
			t.Fatalf("stored tombstone = %+v, %v; want Destroyed 2", stored, err)
		}
		// Nothing more to find: a third Forget destroys nothing.
		third, err := kr.Forget(ctx, "cust-1", "ticket-3")
		if err != nil || third.DestroyedNow != 0 || third.Destroyed != 2 {
			t.Fatalf("third Forget = %+v, %v; want DestroyedNow 0, Destroyed 2", third, err)
		}
	})

	t.Run("DestroyedVersionStaysDestroyedAfterRestore", func(t *testing.T) {
		s := h.New(t)
		if _, ok := s.(keystore.VersionDestroyer); !ok {
			t.Skip("not a keystore.VersionDestroyer")
		}
		kr, err := keys.Open(ctx, keys.Config{KMS: newRoot(t), Store: s, DisableWatch: true, CacheMaxAge: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { kr.Close() })
		k, err := kr.Current(ctx, "cust-1", "default")
		if err != nil {
			t.Fatal(err)
		}
		old, err := s.GetKey(ctx, k.ID(), 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kr.Rotate(ctx, "cust-1", "default"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond) // past the cache MaxAge since the Rotate
		d, err := kr.DestroyVersionsBelow(ctx, "cust-1", "default", 2, keys.Unchecked())
		if err != nil || d.DestroyedNow != 1 {
			t.Fatalf("DestroyVersionsBelow = %+v, %v; want 1 destroyed", d, err)
		}
		if m, ok := h.Material(t, s, old.ID, 1); !ok || m != nil {
			t.Fatalf("after DestroyVersionsBelow the row of v1 holds %d bytes of material (exists %v)", len(m), ok)
		}
		h.RestoreKey(t, s, old) // the row comes back, material and all
		if got, err := s.GetKey(ctx, old.ID, 1); !errors.Is(err, keys.ErrVersionDestroyed) || got.Wrapped != nil {
			t.Fatalf("GetKey of a destroyed version restored = %d bytes, %v; want ErrVersionDestroyed and no material", len(got.Wrapped), err)
		}
		if rs, ok := s.(keystore.RotatableStore); ok {
			live, err := rs.LiveKeys(ctx, keystore.KeyCursor{}, 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range live {
				if r.ID == old.ID && r.Version == 1 {
					t.Fatal("LiveKeys lists a destroyed version restored")
				}
			}
			if err := rs.RewrapKey(ctx, old.ID, 1, old.Wrapped, []byte("new")); !errors.Is(err, keystore.ErrKeyDestroyed) {
				t.Fatalf("RewrapKey of a destroyed version restored = %v, want ErrKeyDestroyed", err)
			}
		}
		if _, err := kr.KeyVersion(ctx, old.ID, 1); !errors.Is(err, keys.ErrVersionDestroyed) {
			t.Fatalf("KeyVersion of a destroyed version restored = %v, want ErrVersionDestroyed", err)
		}
		ks, err := kr.LiveKeys(ctx, "cust-1", "default")
		if err != nil || len(ks) != 1 || ks[0].Version() != 2 {
			t.Fatalf("Keyring.LiveKeys = %d keys, %v; want only v2", len(ks), err)
		}
		// A repeated call destroys the restored material and says so.
		again, err := kr.DestroyVersionsBelow(ctx, "cust-1", "default", 2, keys.Unchecked())
		if err != nil || again.DestroyedNow != 1 {
			t.Fatalf("repeated DestroyVersionsBelow = %+v, %v; want 1 destroyed", again, err)
		}
		if m, ok := h.Material(t, s, old.ID, 1); !ok || m != nil {
			t.Fatalf("after the repeated call the row of v1 holds %d bytes of material (exists %v)", len(m), ok)
		}
	})

	t.Run("DestroyVersionsReachesEveryKeyringOfTheProcess", func(t *testing.T) {
		s := h.New(t)
		if _, ok := s.(keystore.VersionDestroyer); !ok {
			t.Skip("not a keystore.VersionDestroyer")
		}
		root := newRoot(t)
		a, err := keys.Open(ctx, keys.Config{KMS: root, Store: s, DisableWatch: true, CacheMaxAge: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		stores := map[string]keystore.Store{"same Store": s}
		if h.Reopen != nil {
			stores["second Store on the keystore"] = h.Reopen(t, s)
		}
		for name, other := range stores {
			t.Run(name, func(t *testing.T) {
				b := openKeyring(t, root, other) // default CacheMaxAge: only eviction can stop it
				subject := "cust-" + name
				k, err := b.Current(ctx, subject, "default")
				if err != nil {
					t.Fatal(err)
				}
				if _, err := b.KeyVersion(ctx, k.ID(), 1); err != nil { // cached in b now
					t.Fatal(err)
				}
				if _, err := a.Rotate(ctx, subject, "default"); err != nil {
					t.Fatal(err)
				}
				time.Sleep(5 * time.Millisecond)
				if _, err := a.DestroyVersionsBelow(ctx, subject, "default", 2, keys.Unchecked()); err != nil {
					t.Fatal(err)
				}
				if _, err := b.KeyVersion(ctx, k.ID(), 1); !errors.Is(err, keys.ErrVersionDestroyed) {
					t.Fatalf("another Keyring of the process served a destroyed version right after DestroyVersionsBelow returned: %v", err)
				}
				if cur, err := b.Current(ctx, subject, "default"); err != nil || cur.Version() != 2 {
					t.Fatalf("another Keyring of the process: Current = %v, want version 2", err)
				}
			})
		}
	})

	t.Run("ForgetReachesEveryKeyringOfTheProcess", func(t *testing.T) {
		s := h.New(t)
		root := newRoot(t)
		a := openKeyring(t, root, s)
		stores := map[string]keystore.Store{"same Store": s}
		if h.Reopen != nil {
			stores["second Store on the keystore"] = h.Reopen(t, s)
		}
		for name, other := range stores {
			t.Run(name, func(t *testing.T) {
				b := openKeyring(t, root, other)
				subject := "cust-" + name
				k, err := b.Current(ctx, subject, "default")
				if err != nil {
					t.Fatal(err)
				}
				if _, err := b.KeyVersion(ctx, k.ID(), k.Version()); err != nil { // cached in b now
					t.Fatal(err)
				}
				if _, err := a.Forget(ctx, subject, "ticket-1"); err != nil {
					t.Fatal(err)
				}
				if _, err := b.KeyVersion(ctx, k.ID(), k.Version()); !errors.Is(err, keystore.ErrKeyDestroyed) {
					t.Fatalf("another Keyring of the process served the key right after Forget returned: %v", err)
				}
				if _, err := b.Current(ctx, subject, "default"); !errors.Is(err, keystore.ErrKeyDestroyed) {
					t.Fatalf("another Keyring of the process: Current after Forget = %v, want ErrKeyDestroyed", err)
				}
			})
		}
	})
}
