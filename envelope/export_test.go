package envelope

import "github.com/fieldcrypt/fieldcrypt/keys"

// The tests inspect headers; users never need to (see parsed).

// Header is the parsed header of a ciphertext. ParseHeader does not
// authenticate it; Decrypt does (version 2 authenticates every header byte
// as associated data and checks the key commitment).
type Header struct {
	Version int // format version: 1 or 2
	Mode    Mode
	KeyID   keys.KeyID
	KeyVer  uint32
	// Commitment is the key commitment (version 2; zero in version 1).
	Commitment [CommitmentSize]byte
}

// ParseHeader parses the header of a binary ciphertext and returns it with
// the rest of the input. It does not authenticate anything. Malformed input
// gives ErrMalformed, a newer format ErrUnsupportedVersion.
func ParseHeader(ciphertext []byte) (Header, []byte, error) {
	p, body, err := parse(ciphertext)
	if err != nil {
		return Header{}, nil, err
	}
	h := Header{Version: int(p.version), Mode: p.mode, KeyID: p.keyID, KeyVer: p.keyVer}
	if p.version == FormatVersion {
		copy(h.Commitment[:], ciphertext[22:HeaderSize])
	}
	return h, body, nil
}
