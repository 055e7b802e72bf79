//go:build !race

package vaultkms_test

const raceEnabled = false
