package keys

// Operation is a kind of field operation that packages built on a Keyring
// (envelope, tokenize, and gormcrypt through them) report to the
// OperationObserver of [Config.Operations].
type Operation uint8

// The operations reported.
const (
	OpEncrypt              Operation = iota + 1 // envelope: randomised encryption
	OpEncryptDeterministic                      // envelope: AES-SIV, one key version or all live ones
	OpDecrypt                                   // envelope: either mode
	OpTokenize                                  // tokenize: FPE token
	OpDetokenize                                // tokenize: FPE token back to its value
	OpVaultTokenize                             // tokenize.Vault: random token
	OpVaultDetokenize                           // tokenize.Vault: token back to its value
)

var opNames = [...]string{"", "encrypt", "encrypt_deterministic", "decrypt", "tokenize", "detokenize",
	"vault_tokenize", "vault_detokenize"}

// String returns the operation's name: "encrypt", "decrypt", "tokenize" …
func (o Operation) String() string {
	if int(o) < len(opNames) && o != 0 {
		return opNames[o]
	}
	return "unknown"
}

// OperationObserver sees every field operation done with a Keyring's keys:
// its kind, the purpose of the key, and its error (nil on success). It
// never sees a subject, a key or a value. It is called synchronously, once
// per operation, from every goroutine that encrypts or tokenizes, so it must
// be quick and safe for concurrent use (keys/otelmetrics's Operations counts
// into an OpenTelemetry counter). The cost without one is a nil check.
type OperationObserver interface {
	ObserveOperation(op Operation, purpose string, err error)
}

// ObserveOperation reports one field operation to [Config.Operations], if
// set. Packages that build field operations on a Keyring call it once per
// operation; applications don't.
func (kr *Keyring) ObserveOperation(op Operation, purpose string, err error) {
	if kr.ops != nil {
		kr.ops.ObserveOperation(op, purpose, err)
	}
}
