package otelmetrics

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/fieldcrypt/fieldcrypt/envelope"
	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

// Outcomes of fieldcrypt.operations.
const (
	OutcomeOK        = "ok"
	OutcomeDestroyed = "destroyed" // keys.ErrKeyDestroyed: the subject was forgotten or the purpose expired
	OutcomeRejected  = "rejected"  // bad input: a ciphertext that does not authenticate, a value or token of the wrong format, an unknown vault token
	OutcomeError     = "error"     // anything else: keystore or KMS failures, cancellations
)

var outcomes = [...]string{OutcomeOK, OutcomeDestroyed, OutcomeRejected, OutcomeError}

func outcomeOf(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, keys.ErrKeyDestroyed):
		return 1
	case errors.Is(err, envelope.ErrDecrypt), errors.Is(err, envelope.ErrMalformed), errors.Is(err, envelope.ErrUnsupportedVersion),
		errors.Is(err, tokenize.ErrInvalidFormat), errors.Is(err, tokenize.ErrUnknownToken),
		errors.Is(err, tokenize.ErrDomainTooSmall):
		return 2
	}
	return 3
}

const numOps = int(keys.OpVaultDetokenize) + 1

// opCounts are the counters of one purpose, with their attribute sets.
type opCounts struct {
	n    [numOps][len(outcomes)]atomic.Int64
	sets [numOps][len(outcomes)]metric.ObserveOption
}

// operations counts in atomics on the hot path and reports the totals to
// the observable counter at each collection.
type operations struct {
	purposes sync.Map // purpose -> *opCounts
}

// Operations returns a keys.OperationObserver for keys.Config.Operations
// that counts every encryption, decryption and tokenization:
//
//	fieldcrypt.operations  observable counter  {op=encrypt|encrypt_deterministic|decrypt|tokenize|detokenize|
//	                                            vault_tokenize|vault_detokenize, purpose, outcome=ok|destroyed|rejected|error}
//
// Counting costs a map lookup and an atomic add per operation (about 60 ns on
// this project's 2-core test machine, no allocation: BenchmarkObserveOperation); the totals reach the
// MeterProvider when it collects. stop unregisters the counter.
func (m *Metrics) Operations() (obs keys.OperationObserver, stop func() error, err error) {
	c, err := m.meter.Int64ObservableCounter("fieldcrypt.operations",
		metric.WithDescription("field operations (encrypt, decrypt, tokenize …) by kind, purpose and outcome"))
	if err != nil {
		return nil, nil, fmt.Errorf("otelmetrics: %w", err)
	}
	o := &operations{}
	reg, err := m.meter.RegisterCallback(func(_ context.Context, ob metric.Observer) error {
		o.purposes.Range(func(_, v any) bool {
			pc := v.(*opCounts)
			for op := 1; op < numOps; op++ {
				for i := range outcomes {
					if n := pc.n[op][i].Load(); n > 0 {
						ob.ObserveInt64(c, n, pc.sets[op][i])
					}
				}
			}
			return true
		})
		return nil
	}, c)
	if err != nil {
		return nil, nil, fmt.Errorf("otelmetrics: %w", err)
	}
	return o, reg.Unregister, nil
}

func (o *operations) counts(purpose string) *opCounts {
	if pc, ok := o.purposes.Load(purpose); ok {
		return pc.(*opCounts)
	}
	pc := new(opCounts)
	for op := 1; op < numOps; op++ {
		for i, out := range outcomes {
			pc.sets[op][i] = metric.WithAttributeSet(attribute.NewSet(
				attribute.String("op", keys.Operation(op).String()),
				attribute.String("purpose", purpose),
				attribute.String("outcome", out)))
		}
	}
	got, _ := o.purposes.LoadOrStore(purpose, pc)
	return got.(*opCounts)
}

// ObserveOperation implements keys.OperationObserver.
func (o *operations) ObserveOperation(op keys.Operation, purpose string, err error) {
	if op == 0 || int(op) >= numOps {
		return
	}
	o.counts(purpose).n[op][outcomeOf(err)].Add(1)
}
