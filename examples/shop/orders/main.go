// Command orders is the example shop's orders service: it stores orders
// with the customer's email and delivery address encrypted under the
// customer's key from the shared keystore, in its own database.
//
//	orders [-data DIR] [-keystore-dsn DSN] add -customer ID -email E -address A
//	orders [-data DIR] [-keystore-dsn DSN] show -customer ID
//	orders [-data DIR] [-keystore-dsn DSN] watch -customer ID [-for 30s]
//
// See examples/shop/README.md for the walk-through.
package main

import (
	"os"

	"github.com/fieldcrypt/fieldcrypt/examples/shop/internal/shop"
)

func main() { os.Exit(shop.Main("orders", os.Args[1:], os.Stdout, shop.Orders)) }
