// Package tokenize replaces a customer's values — card numbers, phone
// numbers, emails, national IDs, IBANs, dates, postcodes, names — with
// tokens of the same format, so legacy schemas, validators and analytics
// keep working, and turns tokens back into values.
//
//	t, _ := tokenize.New(keyring)
//	tok, _ := t.Tokenize(ctx, "customer-42", "customers.card", tokenize.Card{}, "4111 1111 1111 1111")
//	pan, _ := t.Detokenize(ctx, "customer-42", "customers.card", tokenize.Card{}, tok)
//
// # Keys and scope
//
// Tokens are FF1 (NIST SP 800-38G Rev.1) encryptions under a key derived
// with HKDF-SHA256 from the customer's keyring key of purpose "tokens"
// (subject scope, the default), so keys.Keyring.Forget of the customer makes
// their tokens impossible to detokenize and refuses new ones with
// keys.ErrKeyDestroyed. The global scope (TokenizeGlobal) uses one
// tenant-wide key instead, for values that must join across customers:
// such tokens survive an erasure unless their rows are deleted.
//
// Tokens carry no key version: tokenization keys are pinned to version 1
// of their keyring key, and rotating that purpose does not change tokens.
//
// # Tweaks
//
// The field name (or a caller-chosen domain label) and the format's name
// are the FF1 tweak, so the same value in two columns gives two unrelated
// tokens, and the same (customer, field, value) always gives the same token.
// A format's name spells out every parameter that changes its mapping
// (a Date's layout and window, a Card's kept digits and Luhn policy, a
// Text's letters …), so a token read with other parameters gives an
// unrelated value, not a related one; with default parameters the names
// are those of earlier releases (FORMATS.md lists them and how to read
// older tokens of other parameters).
//
// # What tokens leak
//
// Tokens are deterministic: equal values of one customer in one field give
// equal tokens (global scope: equal values of any customer). The parts a
// format keeps (a card's BIN and last four digits, a phone's country code,
// an email's domain) are in clear. Parts left to encrypt must have at least
// 1,000,000 possible values, counted after validity constraints (a Luhn
// check digit divides the count by ten), or tokenization fails with
// ErrDomainTooSmall. Only Postcode and Date can go below, through an
// option named InsecureSmallDomain: such tokens can be tabulated by anyone
// who can tokenize chosen values for the same subject and field.
//
// # Formats
//
// Card, Email, Phone, PESEL, NIP, SSN, IBAN, Postcode, Date, Text and
// Pattern implement Format; FORMATS.md in this directory tabulates what
// each accepts, keeps and guarantees, and its minimum length. In short:
//
//   - Card: 13-19 digits; keeps the last four (KeepLast4, default) or
//     BIN and last four; tokens Luhn-invalid (default), Luhn-valid or
//     unconstrained. A Luhn policy costs one digit of domain, so BIN and
//     last four need 17 digits (16 with LuhnAny).
//   - Email: letters and digits of the local part, domain kept (or its
//     labels before the TLD tokenized); at least 5 letters or equivalent.
//   - Phone: country code and leading digits kept, the rest walked until
//     libphonenumber calls the token valid. Version 2 (Phone{Version: 2})
//     keeps all but the last seven national digits and encrypts their
//     rank among the valid completions, counted once per kept head from
//     libphonenumber's patterns: about 1.3 card tokenizations instead
//     of 50 or more, other tokens.
//   - PESEL, NIP, SSN: tokens pass the national checksum and structure
//     rules (cycle walking, check digits recomputed).
//   - IBAN: country kept, BBAN tokenized per character class, mod-97
//     check digits recomputed.
//   - Postcode: US ZIP+4; five-digit codes (PL, US ZIP) have 10^5 values
//     and are refused unless InsecureSmallDomain.
//   - Date: a permutation of the days of a window; plausible windows are
//     below 10^6 days and need InsecureSmallDomain.
//   - Text: names and free text over PolishLetters, case and punctuation
//     kept; at least 4 letters.
//   - Pattern: custom masks such as "AA-9999-99".
//
// Formats that must satisfy a validity rule (Luhn, a checksum, a valid
// date or phone number) encrypt with cycle walking: FF1 is applied again
// until the result is valid, which restricts the permutation to valid
// values, and decryption walks back the same way. The input must itself be
// valid. MaskCard, MaskEmail and MaskPhone hide values for display without
// a key.
//
// # Token vault: random tokens
//
// Vault issues tokens of the same formats that are random rather than
// computed: the mapping is kept in the keystore database
// (keystore.TokenVaultStore; keys/sqlstore on SQLite, PostgreSQL, MariaDB),
// sealed under the customer's key, with a blind index of the value so that
// the same value gets the same token:
//
//	v, _ := tokenize.NewVault(keyring, store) // store: the keys/sqlstore Store
//	tok, _ := v.Tokenize(ctx, "customer-42", "payments.card", tokenize.Card{}, pan)
//	pan, _ = v.Detokenize(ctx, "customer-42", "payments.card", tokenize.Card{}, tok)
//
// An FPE token is encrypted data (whoever has the key computes the value);
// a vault token is not a function of the value, so for PCI DSS a system
// that only stores vault tokens holds no card data. The price is one
// keystore query per call (two for a new value) instead of none. Tokens are
// unique within a field; Forget makes the customer's entries unreadable.
// Vault lists the numbers: token entropy, redraws, limits.
//
// # Concurrency
//
// A Tokenizer, a Vault and the formats are safe for concurrent use.
package tokenize
