package vaultkms

// CheckValueMeta lets the external tests read the check value.
const CheckValueMeta = checkValueMeta
