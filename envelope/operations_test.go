package envelope_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

// opCounter is a keys.OperationObserver counting by "op/purpose/outcome".
type opCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *opCounter) ObserveOperation(op keys.Operation, purpose string, err error) {
	outcome := "ok"
	switch {
	case errors.Is(err, keys.ErrKeyDestroyed):
		outcome = "destroyed"
	case err != nil:
		outcome = "error"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[fmt.Sprintf("%v/%s/%s", op, purpose, outcome)]++
}

func (c *opCounter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = nil
	return n
}

// TestOperationObserver: every entry point reports exactly one operation,
// with its kind, purpose and outcome.
func TestOperationObserver(t *testing.T) {
	var obs opCounter
	store := memstore.New()
	kr := newKeyring(t, keys.Config{Operations: &obs, Store: store})
	c, err := envelope.New(kr, envelope.WithPurpose("contact"))
	if err != nil {
		t.Fatal(err)
	}
	ad := []byte("users.email")
	ct, _ := c.Encrypt(ctx, "cust-1", []byte("a@b.pl"), ad)
	c.AppendEncrypt(ctx, nil, "cust-1", []byte("a@b.pl"), ad)
	s, _ := c.EncryptString(ctx, "cust-1", "a@b.pl", ad)
	c.EncryptDeterministic(ctx, "cust-1", []byte("a@b.pl"), ad)
	c.AppendEncryptDeterministic(ctx, nil, "cust-1", []byte("a@b.pl"), ad)
	c.EncryptDeterministicAll(ctx, "cust-1", []byte("a@b.pl"), ad)
	c.EncryptStringDeterministic(ctx, "cust-1", "a@b.pl", ad)
	c.Decrypt(ctx, ct, ad)
	c.AppendDecrypt(ctx, nil, ct, ad)
	c.DecryptString(ctx, s, ad)
	c.Decrypt(ctx, ct, []byte("other")) // fails authentication
	want := map[string]int{
		"encrypt/contact/ok":               3,
		"encrypt_deterministic/contact/ok": 4,
		"decrypt/contact/ok":               3,
		"decrypt/contact/error":            1,
	}
	if got := obs.take(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("observed %v, want %v", got, want)
	}
	tk, err := tokenize.New(kr)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := tk.Tokenize(ctx, "cust-1", "users.card", tokenize.Card{}, "4111 1111 1111 1111")
	tk.Detokenize(ctx, "cust-1", "users.card", tokenize.Card{}, tok)
	v, err := tokenize.NewVault(kr, store)
	if err != nil {
		t.Fatal(err)
	}
	vt, _ := v.Tokenize(ctx, "cust-1", "users.card", tokenize.Card{}, "4111 1111 1111 1111")
	v.Detokenize(ctx, "cust-1", "users.card", tokenize.Card{}, vt)
	if _, err := kr.Forget(ctx, "cust-1", "test"); err != nil {
		t.Fatal(err)
	}
	c.Encrypt(ctx, "cust-1", []byte("x"), nil)
	c.Decrypt(ctx, ct, ad)
	tk.Tokenize(ctx, "cust-1", "users.card", tokenize.Card{}, "4111 1111 1111 1111")
	want = map[string]int{
		"tokenize/tokens/ok":         1,
		"detokenize/tokens/ok":       1,
		"vault_tokenize/tokens/ok":   1,
		"vault_detokenize/tokens/ok": 1,
		"encrypt/contact/destroyed":  1,
		"decrypt/contact/destroyed":  1,
		"tokenize/tokens/destroyed":  1,
	}
	if got := obs.take(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("observed %v, want %v", got, want)
	}
}
