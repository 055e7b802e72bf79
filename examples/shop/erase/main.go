// Command erase answers a customer's erasure request for the whole example
// shop: it forgets the customer in the shared keystore, after which every
// service refuses the customer's data with keys.ErrKeyDestroyed.
//
//	erase [-data DIR] [-keystore-dsn DSN] -customer ID -reason TICKET
//
// See examples/shop/README.md for the walk-through.
package main

import (
	"os"

	"github.com/fieldcrypt/fieldcrypt/examples/shop/internal/shop"
)

func main() { os.Exit(shop.Main("erase", os.Args[1:], os.Stdout, shop.Erase)) }
