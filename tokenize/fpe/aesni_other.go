//go:build !amd64 || purego

package fpe

func encryptRegs(*[240]byte, int, uint64, uint64) (uint64, uint64) { panic("fpe: no AES-NI") }

func ff1Enc64(*[240]byte, int, uint64, uint64, uint64, uint64, uint64, uint64, uint64, uint64, uint64, uint64) (uint64, uint64) {
	panic("fpe: no AES-NI")
}

func ff1Dec64(*[240]byte, int, uint64, uint64, uint64, uint64, uint64, uint64, uint64, uint64, uint64, uint64) (uint64, uint64) {
	panic("fpe: no AES-NI")
}

func ff1Enc96(*[240]byte, int, uint64, uint64, uint64, uint64, uint64, uint64, uint64, uint64) (uint64, uint64) {
	panic("fpe: no AES-NI")
}

func ff1Dec96(*[240]byte, int, uint64, uint64, uint64, uint64, uint64, uint64, uint64, uint64) (uint64, uint64) {
	panic("fpe: no AES-NI")
}
