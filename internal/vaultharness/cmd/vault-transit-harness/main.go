// Command vault-transit-harness serves HashiCorp Vault's transit engine
// (Vault v1.21.4, in process) over Vault's HTTP API on 127.0.0.1, for
// fieldcrypt's tests. See package vaultharness for what is real and what
// is harness. It prints "VAULT_ADDR=http://127.0.0.1:PORT" on standard
// output once it listens, and serves until interrupted.
//
//	vault-transit-harness -port 8200 -mount transit   # token from $VAULT_TOKEN or -token
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fieldcrypt/fieldcrypt/internal/vaultharness"
)

func main() {
	port := flag.Int("port", 8200, "TCP port on 127.0.0.1; 0 picks a free one")
	mounts := flag.String("mount", "transit", "comma-separated mount paths of transit engines")
	token := flag.String("token", os.Getenv("VAULT_TOKEN"), "the only accepted token (default $VAULT_TOKEN)")
	flag.Parse()
	if *token == "" {
		log.Fatal("vault-transit-harness: no token: set -token or VAULT_TOKEN")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	srv, err := vaultharness.New(ctx, *token, strings.Split(*mounts, ",")...)
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(*port)))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("VAULT_ADDR=http://%s\n", ln.Addr())
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	}()
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	srv.Close(context.Background())
}
