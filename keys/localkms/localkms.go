// Package localkms is fieldcrypt's embedded root key: a 256-bit AES key kept
// in a file or an environment variable, wrapping subject keys with
// AES-256-GCM. It is the default for development and single-machine
// deployments; production shops keep the root key in Vault or a cloud KMS.
//
// The key file holds one line: the standard base64 encoding of 32 random
// bytes. OpenFile creates it with permissions 0600 on first use and refuses
// a file that other users may read, a malformed file and a key of the wrong
// length. Whoever can read the file and the keystore can read every
// customer's data: keep it out of backups that travel with the keystore.
//
// # Limits
//
// Wrapping uses a random 96-bit nonce per call, so one root key must not
// wrap more than 2^32 keys (one wrap per subject key version created). The
// wrapped form is 1 + 12 + len(key) + 16 bytes.
//
// A KMS is safe for concurrent use.
package localkms

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/keystore"
)

// KeySize is the root key size in bytes.
const KeySize = 32

const formatV1 = 0x01

// KMS wraps keys under a local AES-256 root key.
type KMS struct {
	aead cipher.AEAD
}

var _ keystore.KMS = (*KMS)(nil)

// New returns a KMS for the 32-byte root key. The key is copied.
func New(rootKey []byte) (*KMS, error) {
	if len(rootKey) != KeySize {
		return nil, fmt.Errorf("%w: root key must be %d bytes, got %d", keys.ErrRootKeyInvalid, KeySize, len(rootKey))
	}
	block, err := aes.NewCipher(bytes.Clone(rootKey))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", keys.ErrRootKeyInvalid, err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, err
	}
	return &KMS{aead: aead}, nil
}

// GenerateKey returns a new random root key in the text form OpenFile and
// FromEnv read.
func GenerateKey() string {
	k := make([]byte, KeySize)
	rand.Read(k) // never fails
	return base64.StdEncoding.EncodeToString(k)
}

// Parse decodes a root key in text form (standard base64 of 32 bytes,
// surrounding white space ignored).
func Parse(text []byte) (*KMS, error) {
	s := bytes.TrimSpace(text)
	k := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Decode(k, s)
	if err != nil {
		return nil, fmt.Errorf("%w: not valid base64", keys.ErrRootKeyInvalid)
	}
	defer clear(k)
	return New(k[:n])
}

// EnvOption configures FromEnv.
type EnvOption func(*envOptions)

type envOptions struct{ unset bool }

// WithUnsetEnv makes FromEnv remove the variable from the process's
// environment once it has read it, whether or not the key parses, so that
// child processes started afterwards (os/exec inherits the environment) do
// not receive the root key. The environment block the process was started
// with is not rewritten: /proc/PID/environ on Linux, readable by the same
// user and root, keeps the original value for the process's life.
func WithUnsetEnv() EnvOption { return func(o *envOptions) { o.unset = true } }

// FromEnv reads the root key from environment variable name, in the text
// form GenerateKey returns. By default it leaves the variable set, and
// every child process inherits it; pass [WithUnsetEnv] to remove it.
func FromEnv(name string, opts ...EnvOption) (*KMS, error) {
	var o envOptions
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("localkms: FromEnv: nil EnvOption")
		}
		opt(&o)
	}
	v, ok := os.LookupEnv(name)
	if o.unset && ok {
		os.Unsetenv(name)
	}
	if !ok || v == "" {
		return nil, fmt.Errorf("%w: environment variable %s is not set", keys.ErrRootKeyInvalid, name)
	}
	k, err := Parse([]byte(v))
	if err != nil {
		return nil, fmt.Errorf("localkms: environment variable %s: %w", name, err)
	}
	return k, nil
}

// OpenFile reads the root key from path, creating the file with a new
// random key and permissions 0600 if it does not exist. Creation is atomic:
// processes racing to create the file all end up with the same key.
func OpenFile(path string) (*KMS, error) {
	data, err := readKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := createKeyFile(path); err != nil {
			return nil, err
		}
		data, err = readKeyFile(path)
	}
	if err != nil {
		return nil, err
	}
	defer clear(data)
	k, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("localkms: key file %s: %w", path, err)
	}
	return k, nil
}

func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", keys.ErrRootKeyInvalid, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", keys.ErrRootKeyInvalid, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", keys.ErrRootKeyInvalid, path)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: key file %s has permissions %#o; other users may read it (chmod 600 %s)",
			keys.ErrRootKeyInvalid, path, st.Mode().Perm(), path)
	}
	if st.Size() > 1024 {
		return nil, fmt.Errorf("%w: key file %s is too large to be a root key", keys.ErrRootKeyInvalid, path)
	}
	buf := make([]byte, st.Size())
	if _, err := f.ReadAt(buf, 0); err != nil && st.Size() > 0 {
		return nil, fmt.Errorf("%w: reading %s: %v", keys.ErrRootKeyInvalid, path, err)
	}
	return buf, nil
}

func createKeyFile(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("localkms: creating key directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".fieldcrypt-root-key-*")
	if err != nil {
		return fmt.Errorf("localkms: creating key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("localkms: creating key file: %w", err)
	}
	_, err = tmp.WriteString(GenerateKey() + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("localkms: writing key file: %w", err)
	}
	// Link fails if path exists, so a concurrent creator's key is never replaced.
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("localkms: creating key file: %w", err)
	}
	return nil
}

// Wrap encrypts plaintext under the root key, bound to associatedData.
func (k *KMS) Wrap(ctx context.Context, plaintext, associatedData []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]byte, 1, 1+k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	out[0] = formatV1
	return k.aead.Seal(out, nil, plaintext, associatedData), nil
}

// Unwrap decrypts a value Wrap returned. Any failure — wrong root key,
// wrong associated data, tampering, truncation — is keystore.ErrUnwrap.
func (k *KMS) Unwrap(ctx context.Context, wrapped, associatedData []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(wrapped) < 1+k.aead.Overhead() || wrapped[0] != formatV1 {
		return nil, keystore.ErrUnwrap
	}
	pt, err := k.aead.Open(nil, nil, wrapped[1:], associatedData)
	if err != nil {
		return nil, keystore.ErrUnwrap
	}
	return pt, nil
}
