// Command marketing is the example shop's newsletter service: it stores
// subscriptions with the customer's email and name encrypted under the
// customer's key from the shared keystore, in its own database.
//
//	marketing [-data DIR] [-keystore-dsn DSN] subscribe -customer ID -email E -name N
//	marketing [-data DIR] [-keystore-dsn DSN] show -customer ID
//	marketing [-data DIR] [-keystore-dsn DSN] watch -customer ID [-for 30s]
//
// See examples/shop/README.md for the walk-through.
package main

import (
	"os"

	"github.com/fieldcrypt/fieldcrypt/examples/shop/internal/shop"
)

func main() { os.Exit(shop.Main("marketing", os.Args[1:], os.Stdout, shop.Marketing)) }
