package keys

import "github.com/fieldcrypt/fieldcrypt/keys/keystore"

// The backend contract's former names here, until every implementation and
// caller in the repository uses package keystore; then they go.
type (
	Store           = keystore.Store
	RotatableStore  = keystore.RotatableStore
	Watcher         = keystore.Watcher
	ForgottenLister = keystore.ForgottenLister
	KeyRecord       = keystore.KeyRecord
	RewrapRequest   = keystore.RewrapRequest
	RewrapResult    = keystore.RewrapResult
	KMS             = keystore.KMS
	KMSRewrapper    = keystore.KMSRewrapper
	RootVersioner   = keystore.RootVersioner
)

const ForgottenBatch = keystore.ForgottenBatch

var (
	ErrKeyExists      = keystore.ErrKeyExists
	ErrRewrapConflict = keystore.ErrRewrapConflict
	ErrUnwrap         = keystore.ErrUnwrap
)
