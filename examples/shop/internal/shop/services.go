package shop

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/fieldcrypt/fieldcrypt/envelope"
)

// Orders is the orders service: it keeps orders with the customer's
// encrypted email and delivery address in <data>/orders.db.
//
//	orders add -customer ID -email E -address A
//	orders show -customer ID
//	orders watch -customer ID [-for 30s]
func Orders(*flag.FlagSet) func(ctx context.Context, s *Service, args []string) error { return orders }

func orders(ctx context.Context, s *Service, args []string) error {
	cmd, fs, err := subcommand(s, args, "add|show|watch -customer ID ...")
	if err != nil {
		return err
	}
	customer := fs.String("customer", "", "customer identifier")
	email := fs.String("email", "", "email address (add)")
	address := fs.String("address", "", "delivery address (add)")
	d := fs.Duration("for", 30*time.Second, "how long to watch (watch)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *customer == "" {
		return errors.New("-customer is required")
	}
	if _, err := s.DB.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS orders (
	id INTEGER PRIMARY KEY, customer TEXT NOT NULL, email TEXT NOT NULL, address TEXT NOT NULL)`); err != nil {
		return err
	}
	emailAD := func() []byte { return envelope.AssociatedData("orders", "email", *customer) }
	addressAD := func() []byte { return envelope.AssociatedData("orders", "address", *customer) }
	switch cmd {
	case "add":
		e, err := s.Cipher.EncryptString(ctx, *customer, *email, emailAD())
		if err != nil {
			return err
		}
		a, err := s.Cipher.EncryptString(ctx, *customer, *address, addressAD())
		if err != nil {
			return err
		}
		res, err := s.DB.ExecContext(ctx, `INSERT INTO orders (customer, email, address) VALUES (?, ?, ?)`, *customer, e, a)
		if err != nil {
			return err
		}
		id, _ := res.LastInsertId()
		fmt.Fprintf(s.Out, "orders: order %d for %s stored; email column holds %s\n", id, *customer, e)
	case "show":
		rows, err := s.DB.QueryContext(ctx, `SELECT id, email, address FROM orders WHERE customer = ? ORDER BY id`, *customer)
		if err != nil {
			return err
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			var id int64
			var e, a string
			if err := rows.Scan(&id, &e, &a); err != nil {
				return err
			}
			n++
			fmt.Fprintf(s.Out, "orders: order %d of %s: email %s, address %s\n", id, *customer,
				s.reveal(ctx, e, emailAD()), s.reveal(ctx, a, addressAD()))
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if n == 0 {
			fmt.Fprintf(s.Out, "orders: no orders of %s\n", *customer)
		}
	case "watch":
		var e string
		err := s.DB.QueryRowContext(ctx, `SELECT email FROM orders WHERE customer = ? ORDER BY id LIMIT 1`, *customer).Scan(&e)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("no orders of %s", *customer)
		}
		if err != nil {
			return err
		}
		return s.watch(ctx, *customer, e, emailAD(), *d)
	default:
		return fmt.Errorf("unknown command %q: want add, show or watch", cmd)
	}
	return nil
}

// Marketing is the newsletter service: it keeps subscriptions with the
// customer's encrypted email and name in <data>/marketing.db.
//
//	marketing subscribe -customer ID -email E -name N
//	marketing show -customer ID
//	marketing watch -customer ID [-for 30s]
func Marketing(*flag.FlagSet) func(ctx context.Context, s *Service, args []string) error {
	return marketing
}

func marketing(ctx context.Context, s *Service, args []string) error {
	cmd, fs, err := subcommand(s, args, "subscribe|show|watch -customer ID ...")
	if err != nil {
		return err
	}
	customer := fs.String("customer", "", "customer identifier")
	email := fs.String("email", "", "email address (subscribe)")
	name := fs.String("name", "", "name to greet the customer by (subscribe)")
	d := fs.Duration("for", 30*time.Second, "how long to watch (watch)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *customer == "" {
		return errors.New("-customer is required")
	}
	if _, err := s.DB.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS subscribers (
	customer TEXT PRIMARY KEY, email TEXT NOT NULL, name TEXT NOT NULL)`); err != nil {
		return err
	}
	emailAD := func() []byte { return envelope.AssociatedData("subscribers", "email", *customer) }
	nameAD := func() []byte { return envelope.AssociatedData("subscribers", "name", *customer) }
	var e, n string
	switch cmd {
	case "subscribe":
		if e, err = s.Cipher.EncryptString(ctx, *customer, *email, emailAD()); err != nil {
			return err
		}
		if n, err = s.Cipher.EncryptString(ctx, *customer, *name, nameAD()); err != nil {
			return err
		}
		if _, err := s.DB.ExecContext(ctx, `INSERT INTO subscribers (customer, email, name) VALUES (?, ?, ?)
ON CONFLICT (customer) DO UPDATE SET email = excluded.email, name = excluded.name`, *customer, e, n); err != nil {
			return err
		}
		fmt.Fprintf(s.Out, "marketing: %s subscribed; email column holds %s\n", *customer, e)
		return nil
	case "show", "watch":
		err := s.DB.QueryRowContext(ctx, `SELECT email, name FROM subscribers WHERE customer = ?`, *customer).Scan(&e, &n)
		if errors.Is(err, sql.ErrNoRows) {
			fmt.Fprintf(s.Out, "marketing: %s is not subscribed\n", *customer)
			return nil
		}
		if err != nil {
			return err
		}
		if cmd == "watch" {
			return s.watch(ctx, *customer, e, emailAD(), *d)
		}
		fmt.Fprintf(s.Out, "marketing: %s: email %s, name %s\n", *customer, s.reveal(ctx, e, emailAD()), s.reveal(ctx, n, nameAD()))
		return nil
	}
	return fmt.Errorf("unknown command %q: want subscribe, show or watch", cmd)
}

// Erase answers an erasure request: it forgets the customer in the shared
// keystore, which makes the customer's data unreadable in every service.
//
//	erase -customer ID -reason TICKET
func Erase(fs *flag.FlagSet) func(ctx context.Context, s *Service, args []string) error {
	customer := fs.String("customer", "", "customer identifier")
	reason := fs.String("reason", "", "ticket reference of the erasure request (no personal data)")
	return func(ctx context.Context, s *Service, args []string) error {
		if *customer == "" || *reason == "" || len(args) > 0 {
			return errors.New("usage: erase [flags] -customer ID -reason TICKET")
		}
		t, err := s.Keyring.Forget(ctx, *customer, *reason)
		if err != nil {
			return err
		}
		fmt.Fprintf(s.Out, "erase: %s forgotten at %s (reason %q): %d key version(s) destroyed\n",
			*customer, t.ForgottenAt.Format(time.RFC3339), t.Reason, t.Destroyed)
		return nil
	}
}
