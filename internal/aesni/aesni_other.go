//go:build !amd64 || purego

package aesni

// Available reports whether New returns schedules: never on this build.
const Available = false

func expandKey128(*byte, *[240]byte) { panic("aesni: no AES-NI") }

func expandKey256(*byte, *[240]byte) { panic("aesni: no AES-NI") }

func encryptBlock(*[240]byte, int, *[16]byte, *[16]byte) { panic("aesni: no AES-NI") }

func cbcMAC(*[240]byte, int, *[16]byte, *byte, int) { panic("aesni: no AES-NI") }

func ctrBlocks(*[240]byte, int, uint64, uint64, *byte, *byte, int) { panic("aesni: no AES-NI") }

func cbcMACLast(*[240]byte, int, *[16]byte, *[16]byte, *[16]byte) { panic("aesni: no AES-NI") }
