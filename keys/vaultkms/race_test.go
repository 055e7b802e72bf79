//go:build race

package vaultkms_test

const raceEnabled = true
