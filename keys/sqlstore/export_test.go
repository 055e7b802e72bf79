package sqlstore

import "database/sql"

// DB gives the tests raw access to a Store's database, to do what a restore
// or a cleanup script does beneath the Store API.
func DB(s *Store) *sql.DB { return s.db }

// Rebind binds ? placeholders for s's dialect.
func Rebind(s *Store, q string) string { return s.sql.rebind(q) }

// SetListenHook makes every Watch wrap its Listener with h, until the
// returned function restores the default.
func SetListenHook(h func(Listener) Listener) (restore func()) {
	listenHook = h
	return func() { listenHook = nil }
}
