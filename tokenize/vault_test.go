package tokenize_test

import (
	"context"
	"errors"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
	"github.com/fieldcrypt/fieldcrypt/tokenize"
	"github.com/fieldcrypt/fieldcrypt/tokenize/vaulttest"
)

func TestVaultMemstore(t *testing.T) {
	vaulttest.Run(t, func(*testing.T) vaulttest.Store { return memstore.New() })
}

// takenStore answers every insert with ErrTokenTaken: a field whose token
// space is full.
type takenStore struct {
	*memstore.Store
	puts int
}

func (s *takenStore) PutTokenEntry(context.Context, keystore.TokenEntry) (keystore.TokenEntry, error) {
	s.puts++
	return keystore.TokenEntry{}, keystore.ErrTokenTaken
}

func TestVaultTokenSpaceExhausted(t *testing.T) {
	s := &takenStore{Store: memstore.New()}
	_, v := vaulttest.Open(t, s)
	_, err := v.Tokenize(ctx, "cust-1", "shop.card", tokenize.Card{}, "4111 1111 1111 1111")
	if !errors.Is(err, tokenize.ErrTokenSpaceExhausted) {
		t.Fatalf("err = %v, want ErrTokenSpaceExhausted", err)
	}
	if s.puts != tokenize.VaultMaxDraws {
		t.Fatalf("%d draws, want VaultMaxDraws = %d", s.puts, tokenize.VaultMaxDraws)
	}
}

func TestNewVaultArgs(t *testing.T) {
	kr := newKeyring(t)
	if _, err := tokenize.NewVault(kr, nil); err == nil {
		t.Error("nil store accepted")
	}
	if _, err := tokenize.NewVault(nil, memstore.New()); err == nil {
		t.Error("nil keyring accepted")
	}
}
