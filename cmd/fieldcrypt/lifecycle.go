package main

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fieldcrypt/fieldcrypt/keys"
)

type keyOut struct {
	Purpose  string `json:"purpose"`
	Key      string `json:"key_id"`
	Versions string `json:"versions,omitempty"`
	Due      string `json:"due,omitempty"`
	Because  string `json:"because,omitempty"`
}

func destroyedOut(ds []keys.DestroyedKey) []keyOut {
	out := []keyOut{}
	for _, d := range ds {
		out = append(out, keyOut{Purpose: d.Purpose, Key: hex.EncodeToString(d.Key[:]), Versions: fmt.Sprintf("%d-%d", d.FirstVersion, d.LastVersion)})
	}
	return out
}

func scheduledOut(ss []keys.ScheduledKey) []keyOut {
	out := []keyOut{}
	for _, s := range ss {
		out = append(out, keyOut{Purpose: s.Purpose, Key: hex.EncodeToString(s.Key[:]), Due: s.Due.UTC().Format(time.RFC3339), Because: s.Because})
	}
	return out
}

// describe writes what a destruction did, one line per key.
func describe(b *strings.Builder, destroyed, scheduled []keyOut) {
	for _, d := range destroyed {
		fmt.Fprintf(b, "  destroyed %s (key %s, versions %s)\n", d.Purpose, d.Key[:12], d.Versions)
	}
	for _, s := range scheduled {
		fmt.Fprintf(b, "  scheduled %s for %s (%s)\n", s.Purpose, s.Due, s.Because)
	}
}

// writeReceipt writes r (JSON, 0600) to path, if path is set.
func writeReceipt(path string, r keys.Receipt) error {
	if path == "" || r.Signature == "" {
		return nil
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}

func checkReason(cmd, reason string) error {
	if strings.TrimSpace(reason) == "" {
		return usagef("%s needs --reason (the ticket or reason, kept in the tombstone and the receipt)", cmd)
	}
	return nil
}

func newForget(e *env) *cobra.Command {
	var reason, receipt string
	cmd := &cobra.Command{
		Use:   "forget SUBJECT --reason TICKET [--receipt FILE]",
		Short: "Crypto-shred a subject; keys a legal minimum or hold keeps are scheduled, and the receipt says so",
		Args:  args(1, "one SUBJECT"),
		RunE: func(cmd *cobra.Command, a []string) error {
			if err := checkReason("forget", reason); err != nil {
				return err
			}
			ctx := cmd.Context()
			kr, _, done, err := e.open(ctx)
			if err != nil {
				return err
			}
			defer done()
			if err := e.confirm("destroy every key of this subject? Their data becomes unreadable everywhere."); err != nil {
				return err
			}
			er, err := kr.Erase(ctx, a[0], reason)
			if err != nil {
				return err
			}
			if err := writeReceipt(receipt, er.Receipt); err != nil {
				return fmt.Errorf("the subject was erased, but writing the receipt failed: %w", err)
			}
			ref := hex.EncodeToString(er.Subject[:])
			d, s := destroyedOut(er.Destroyed), scheduledOut(er.Scheduled)
			out := map[string]any{"subject_ref": ref, "reason": reason, "destroyed": d, "scheduled": s,
				"forgotten": len(s) == 0, "receipt": er.Receipt}
			var b strings.Builder
			if len(s) == 0 {
				fmt.Fprintf(&b, "forgotten: subject reference %s, %d key versions destroyed\n", ref, er.Tombstone.Destroyed)
			} else {
				fmt.Fprintf(&b, "erasure of subject reference %s: %d keys destroyed now, %d kept and scheduled (the expiry sweep destroys them)\n", ref, len(d), len(s))
			}
			describe(&b, d, s)
			if receipt != "" {
				fmt.Fprintf(&b, "receipt written to %s\n", receipt)
			}
			return e.print(out, b.String())
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "the erasure ticket or reason, kept in the tombstone (required)")
	cmd.Flags().StringVar(&receipt, "receipt", "", "write the signed erasure receipt (JSON) to this file")
	return cmd
}

func newWithdraw(e *env) *cobra.Command {
	var reason, receipt, purpose string
	cmd := &cobra.Command{
		Use:   "withdraw SUBJECT --purpose P --reason TICKET [--receipt FILE]",
		Short: "Consent withdrawal: destroy one purpose of a subject, leave the others",
		Args:  args(1, "one SUBJECT"),
		RunE: func(cmd *cobra.Command, a []string) error {
			if purpose == "" {
				return usagef("withdraw needs --purpose")
			}
			if err := checkReason("withdraw", reason); err != nil {
				return err
			}
			ctx := cmd.Context()
			kr, _, done, err := e.open(ctx)
			if err != nil {
				return err
			}
			defer done()
			if err := e.confirm("destroy the subject's " + purpose + " key? Its data becomes unreadable everywhere."); err != nil {
				return err
			}
			w, err := kr.Withdraw(ctx, a[0], purpose, reason)
			if err != nil {
				return err
			}
			if err := writeReceipt(receipt, w.Receipt); err != nil {
				return fmt.Errorf("the purpose was withdrawn, but writing the receipt failed: %w", err)
			}
			d, s := destroyedOut(w.Destroyed), scheduledOut(w.Scheduled)
			var b strings.Builder
			fmt.Fprintf(&b, "withdrawn: %s of subject reference %s: %d destroyed, %d scheduled\n", purpose, hex.EncodeToString(w.Subject[:]), len(d), len(s))
			describe(&b, d, s)
			return e.print(map[string]any{"subject_ref": hex.EncodeToString(w.Subject[:]), "purpose": purpose, "destroyed": d, "scheduled": s, "receipt": w.Receipt}, b.String())
		},
	}
	cmd.Flags().StringVar(&purpose, "purpose", "", "the purpose whose consent was withdrawn (required)")
	cmd.Flags().StringVar(&reason, "reason", "", "the ticket or reason (required)")
	cmd.Flags().StringVar(&receipt, "receipt", "", "write the signed receipt (JSON) to this file")
	return cmd
}

func newExpire(e *env) *cobra.Command {
	var dry bool
	var purposes []string
	var receipts string
	cmd := &cobra.Command{
		Use:   "expire [--dry-run]",
		Short: "The retention sweep: destroy every key whose retention ended and every scheduled destruction that is due",
		Long: `expire destroys every key whose retention (from --config's policies)
ended, and every destruction an erasure or withdrawal scheduled that is now
due. Several processes may run it at once: each key is destroyed by one of
them. --dry-run lists what it would destroy and destroys nothing.`,
		Args: args(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			kr, _, done, err := e.open(ctx)
			if err != nil {
				return err
			}
			defer done()
			var rf io.WriteCloser
			if receipts != "" && !dry {
				f, err := os.OpenFile(receipts, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
				if err != nil {
					return err
				}
				rf = f
				defer f.Close()
			}
			bar := newProgress(e.stderr, "keys")
			opts := keys.ExpireOptions{Purposes: purposes, DryRun: dry,
				Progress: func(p keys.ExpireProgress) { bar.set(int64(p.Examined), 0) }}
			if rf != nil {
				opts.Receipt = func(r keys.Receipt) {
					b, _ := json.Marshal(r)
					rf.Write(append(b, '\n'))
				}
			}
			st, err := kr.Expire(ctx, opts)
			bar.finish()
			if err != nil {
				return err
			}
			byPurpose := map[string]int{}
			list := []keyOut{}
			for _, k := range st.Keys {
				byPurpose[k.Purpose]++
				list = append(list, keyOut{Purpose: k.Purpose, Key: hex.EncodeToString(k.Key[:]), Because: k.Reason})
			}
			verb := "destroyed"
			if dry {
				verb = "would destroy"
			}
			var b strings.Builder
			fmt.Fprintf(&b, "examined %d keys; %s %d", st.Examined, verb, len(st.Keys))
			for p, n := range byPurpose {
				fmt.Fprintf(&b, ", %s: %d", p, n)
			}
			fmt.Fprintf(&b, "; %d erasures completed\n", st.Forgotten)
			return e.print(map[string]any{"dry_run": dry, "examined": st.Examined, "keys": list, "erasures_completed": st.Forgotten}, b.String())
		},
	}
	cmd.Flags().BoolVar(&dry, "dry-run", false, "list what would be destroyed, destroy nothing")
	cmd.Flags().StringSliceVar(&purposes, "purpose", nil, "sweep only these purposes' policies (scheduled destructions are always done)")
	cmd.Flags().StringVar(&receipts, "receipts", "", "append the signed receipts (JSON lines) to this file")
	return cmd
}

func newHold(e *env) *cobra.Command {
	var purpose, reason, until string
	cmd := &cobra.Command{
		Use:   "hold SUBJECT --reason CASE --until DATE [--purpose P]",
		Short: "Postpone the erasure of a subject (or one purpose) until a date, for a stated reason (litigation)",
		Args:  args(1, "one SUBJECT"),
		RunE: func(cmd *cobra.Command, a []string) error {
			if err := checkReason("hold", reason); err != nil {
				return err
			}
			t, err := time.Parse(time.DateOnly, until)
			if err != nil {
				if t, err = time.Parse(time.RFC3339, until); err != nil {
					return usagef("--until is a date (2027-06-30) or an RFC 3339 time")
				}
			}
			ctx := cmd.Context()
			kr, _, done, err := e.open(ctx)
			if err != nil {
				return err
			}
			defer done()
			if err := kr.Hold(ctx, a[0], purpose, reason, t); err != nil {
				return err
			}
			what := "every purpose"
			if purpose != "" {
				what = purpose
			}
			return e.print(map[string]any{"purpose": purpose, "until": t.UTC(), "reason": reason},
				fmt.Sprintf("held: %s until %s (%s)\n", what, t.UTC().Format(time.RFC3339), reason))
		},
	}
	cmd.Flags().StringVar(&purpose, "purpose", "", "hold only this purpose (default: every purpose)")
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the audit log (required)")
	cmd.Flags().StringVar(&until, "until", "", "when the hold ends: a date or RFC 3339 time (required)")
	return cmd
}

func newRelease(e *env) *cobra.Command {
	var purpose string
	cmd := &cobra.Command{
		Use:   "release SUBJECT [--purpose P]",
		Short: "Release a hold before its end",
		Args:  args(1, "one SUBJECT"),
		RunE: func(cmd *cobra.Command, a []string) error {
			ctx := cmd.Context()
			kr, _, done, err := e.open(ctx)
			if err != nil {
				return err
			}
			defer done()
			ok, err := kr.Release(ctx, a[0], purpose)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("no hold to release")
			}
			return e.print(map[string]any{"released": true}, "released\n")
		},
	}
	cmd.Flags().StringVar(&purpose, "purpose", "", "the purpose of the hold (default: the hold on every purpose)")
	return cmd
}

func newReceipt(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "receipt", Short: "Verify erasure receipts, or print the key that signs them"}
	var pubFlag string
	verify := &cobra.Command{
		Use:   "verify FILE --public-key KEY",
		Short: "Verify a receipt offline with the keystore's public key (base64, or a file holding it)",
		Args:  args(1, "one receipt FILE"),
		RunE: func(cmd *cobra.Command, a []string) error {
			if pubFlag == "" {
				return usagef("receipt verify needs --public-key (print it with fieldcrypt receipt public-key)")
			}
			text := pubFlag
			if b, err := os.ReadFile(pubFlag); err == nil {
				text = strings.TrimSpace(string(b))
			}
			pub, err := base64.StdEncoding.DecodeString(text)
			if err != nil || len(pub) != ed25519.PublicKeySize {
				return usagef("--public-key: not a base64 Ed25519 public key (or a file holding one)")
			}
			b, err := os.ReadFile(a[0])
			if err != nil {
				return err
			}
			r, err := keys.ParseReceipt(b)
			if err != nil {
				return err
			}
			if err := keys.VerifyReceipt(ed25519.PublicKey(pub), r); err != nil {
				return err
			}
			return e.print(map[string]any{"valid": true, "kind": r.Kind, "subject_ref": r.Subject, "time": r.Time},
				fmt.Sprintf("valid: %s receipt for subject reference %s at %s, %d keys destroyed, %d scheduled\n", r.Kind, r.Subject, r.Time, len(r.Destroyed), len(r.Scheduled)))
		},
	}
	verify.Flags().StringVar(&pubFlag, "public-key", "", "the public key (base64) or a file holding it (required)")
	pub := &cobra.Command{
		Use:   "public-key",
		Short: "Print the keystore's receipt signing public key (base64), for auditors",
		Args:  args(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			kr, _, done, err := e.open(ctx)
			if err != nil {
				return err
			}
			defer done()
			k, err := kr.ReceiptPublicKey(ctx)
			if err != nil {
				return err
			}
			s := base64.StdEncoding.EncodeToString(k)
			return e.print(map[string]string{"public_key": s}, s+"\n")
		},
	}
	cmd.AddCommand(verify, pub)
	return cmd
}

func newAudit(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Export or verify the keystore's tamper-evident audit log"}
	export := &cobra.Command{
		Use:   "export",
		Short: "Write the audit log as JSON lines to stdout, verifying every entry",
		Args:  args(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			kr, _, done, err := e.open(ctx)
			if err != nil {
				return err
			}
			defer done()
			head, err := kr.ExportAuditLog(ctx, e.stdout)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "fieldcrypt: %d entries, head %s (keep it apart: it detects entries cut off the end)\n", head.Seq, head.Hash)
			return nil
		},
	}
	verify := &cobra.Command{
		Use:   "verify [FILE]",
		Short: "Verify the audit log in the keystore, or an export of it (FILE, - for stdin)",
		Args: func(cmd *cobra.Command, a []string) error {
			if len(a) > 1 {
				return usagef("audit verify takes at most one FILE")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, a []string) error {
			ctx := cmd.Context()
			kr, _, done, err := e.open(ctx)
			if err != nil {
				return err
			}
			defer done()
			var head keys.AuditHead
			if len(a) == 0 {
				head, err = kr.VerifyAuditLog(ctx)
			} else {
				var r io.Reader = e.stdin
				if a[0] != "-" {
					f, ferr := os.Open(a[0])
					if ferr != nil {
						return ferr
					}
					defer f.Close()
					r = f
				}
				head, err = kr.VerifyAuditExport(r)
			}
			if err != nil {
				return err
			}
			return e.print(map[string]any{"valid": true, "entries": head.Seq, "head": head.Hash},
				fmt.Sprintf("valid: %d entries, head %s\n", head.Seq, head.Hash))
		},
	}
	cmd.AddCommand(export, verify)
	return cmd
}
