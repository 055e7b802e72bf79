package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
)

// idKeyMeta is the keystore metadata entry every initialised keystore has
// (the identifier key wrapped by the root key; see package keys).
const idKeyMeta = "id-key.v1"

func newInit(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "init",
		Short: "Create the root key file (0600) and the keystore; refuses to overwrite either",
		Args:  args(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			rootSpec, ksSpec := e.rootSpec(), e.keystoreSpec()
			file := !strings.Contains(rootSpec, "://")
			if file {
				if _, err := os.Stat(rootSpec); err == nil {
					return fmt.Errorf("the root key file %s exists: refusing to overwrite it", rootSpec)
				}
			}
			if !isPostgres(ksSpec) && !isMySQL(ksSpec) {
				if _, err := os.Stat(ksSpec); err == nil {
					return fmt.Errorf("the keystore %s exists: refusing to overwrite it", ksSpec)
				}
			}
			st, err := openStore(ctx, ksSpec, true)
			if err != nil {
				return err
			}
			defer st.Close()
			if _, err := st.Meta(ctx, idKeyMeta); err == nil {
				return errors.New("the keystore is already initialised: refusing to overwrite it")
			} else if !errors.Is(err, keys.ErrKeyNotFound) {
				return fmt.Errorf("keystore: %w", err)
			}
			if file {
				if err := writeNewKeyFile(rootSpec); err != nil {
					return err
				}
			}
			root, err := openRoot(ctx, rootSpec, true)
			if err != nil {
				return err
			}
			kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: st, DisableWatch: true})
			if err != nil {
				return err
			}
			kr.Close()
			return e.print(map[string]string{"root": redactURI(rootSpec), "keystore": redactURI(ksSpec)},
				fmt.Sprintf("created the root key %s and the keystore %s\nkeep the root key apart from the keystore's backups: whoever holds both can read every customer's data\n",
					redactURI(rootSpec), redactURI(ksSpec)))
		},
	}
}

// writeNewKeyFile creates a root key file with permissions 0600, failing
// if it exists.
func writeNewKeyFile(path string) error {
	if err := os.MkdirAll(dirOf(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("creating the root key file: %w", err)
	}
	if _, err := f.WriteString(localkms.GenerateKey() + "\n"); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

func dirOf(path string) string {
	if i := strings.LastIndexAny(path, `/\`); i > 0 {
		return path[:i]
	}
	return "."
}

type purposeStatus struct {
	Purpose     string     `json:"purpose"`
	Live        bool       `json:"live"`
	Versions    string     `json:"versions,omitempty"`
	Created     *time.Time `json:"created,omitempty"`
	Policy      string     `json:"policy,omitempty"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	HeldUntil   *time.Time `json:"held_until,omitempty"`
	HeldBecause string     `json:"held_because,omitempty"`
	Scheduled   *time.Time `json:"scheduled_for,omitempty"`
}

type statusOut struct {
	Subject        string          `json:"subject_ref"`
	Forgotten      bool            `json:"forgotten"`
	Tombstone      *tombstoneOut   `json:"tombstone,omitempty"`
	LastActive     *time.Time      `json:"last_active,omitempty"`
	ErasurePending bool            `json:"erasure_pending"`
	Purposes       []purposeStatus `json:"purposes"`
	Holds          []holdOut       `json:"holds"`
}

type tombstoneOut struct {
	ForgottenAt time.Time `json:"forgotten_at"`
	Reason      string    `json:"reason"`
	Destroyed   int       `json:"destroyed_versions"`
}

type holdOut struct {
	Purpose string    `json:"purpose,omitempty"`
	Until   time.Time `json:"until"`
	Reason  string    `json:"reason"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func newStatus(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "status SUBJECT",
		Short: "Show a subject's keys per purpose (versions, created, retention, holds, schedule) or its tombstone; never key material",
		Args:  args(1, "one SUBJECT"),
		RunE: func(cmd *cobra.Command, a []string) error {
			ctx := cmd.Context()
			kr, _, done, err := e.open(ctx)
			if err != nil {
				return err
			}
			defer done()
			s, err := kr.Status(ctx, a[0])
			if err != nil {
				return err
			}
			out := statusOut{Subject: hex.EncodeToString(s.Subject[:]), Forgotten: s.Forgotten, Purposes: []purposeStatus{}, Holds: []holdOut{}}
			var b strings.Builder
			fmt.Fprintf(&b, "subject reference %s\n", out.Subject)
			if s.Forgotten {
				t := s.Tombstone
				out.Tombstone = &tombstoneOut{ForgottenAt: t.ForgottenAt.UTC(), Reason: t.Reason, Destroyed: t.Destroyed}
				fmt.Fprintf(&b, "forgotten at %s, reason %q, %d key versions destroyed\n", t.ForgottenAt.UTC().Format(time.RFC3339), t.Reason, t.Destroyed)
				return e.print(out, b.String())
			}
			ss, err := kr.SubjectState(ctx, a[0])
			if err != nil {
				return err
			}
			out.LastActive, out.ErasurePending = timePtr(ss.LastActive), ss.ErasurePending
			if ss.ErasurePending {
				b.WriteString("erasure requested: the remaining keys are kept by a legal minimum or a hold, and scheduled\n")
			}
			if la := out.LastActive; la != nil {
				fmt.Fprintf(&b, "last activity %s\n", la.Format(time.RFC3339))
			}
			if len(ss.Purposes) == 0 {
				b.WriteString("no keys\n")
			}
			for _, p := range ss.Purposes {
				ps := purposeStatus{Purpose: p.Purpose, Live: p.Live, Created: timePtr(p.Created), Policy: p.Policy,
					ExpiresAt: timePtr(p.ExpiresAt), HeldBecause: p.HeldBecause}
				if p.HeldUntil.After(time.Now()) {
					ps.HeldUntil = timePtr(p.HeldUntil)
				}
				if p.Live {
					ps.Versions = fmt.Sprintf("%d-%d", p.FirstVersion, p.LastVersion)
				}
				if p.Scheduled != nil {
					ps.Scheduled = timePtr(p.Scheduled.Due)
				}
				out.Purposes = append(out.Purposes, ps)
				if !p.Live {
					fmt.Fprintf(&b, "purpose %s: destroyed\n", p.Purpose)
					continue
				}
				fmt.Fprintf(&b, "purpose %s: versions %s, created %s", p.Purpose, ps.Versions, p.Created.UTC().Format(time.RFC3339))
				if p.Policy != "" {
					fmt.Fprintf(&b, ", policy %s", p.Policy)
				}
				if ps.ExpiresAt != nil {
					fmt.Fprintf(&b, ", expires %s", ps.ExpiresAt.Format(time.RFC3339))
				}
				if ps.HeldUntil != nil {
					fmt.Fprintf(&b, ", kept until %s (%s)", ps.HeldUntil.Format(time.RFC3339), p.HeldBecause)
				}
				if ps.Scheduled != nil {
					fmt.Fprintf(&b, ", scheduled for destruction %s", ps.Scheduled.Format(time.RFC3339))
				}
				b.WriteString("\n")
			}
			for _, h := range ss.Holds {
				out.Holds = append(out.Holds, holdOut{Purpose: h.Purpose, Until: h.Until.UTC(), Reason: h.Reason})
				what := h.Purpose
				if what == "" {
					what = "every purpose"
				}
				fmt.Fprintf(&b, "hold on %s until %s: %s\n", what, h.Until.UTC().Format(time.RFC3339), h.Reason)
			}
			return e.print(out, b.String())
		},
	}
}

// killRotateEnv, set to N, makes rotate-root kill itself with SIGKILL once
// N keys are done: the tests' crash in the middle of a rotation.
const killRotateEnv = "FIELDCRYPT_TEST_SIGKILL_ROTATE_AFTER"

// rotateState is what rotate-root keeps between an interrupted run and
// --resume: the position after which to continue, and the target root.
type rotateState struct {
	To     string `json:"to"`
	Cursor string `json:"cursor"` // hex key identifier
	Ver    uint32 `json:"version"`
}

func newRotateRoot(e *env) *cobra.Command {
	var to, state string
	var resume bool
	var batch int
	cmd := &cobra.Command{
		Use:   "rotate-root --to ROOT",
		Short: "Re-wrap every key under a new root key (file or hcvault:// URI), resumable",
		Args:  args(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if to == "" {
				return usagef("rotate-root needs --to (the new root key)")
			}
			ctx := cmd.Context()
			if state == "" {
				state = stateFile(e.keystoreSpec())
			}
			from, err := openRoot(ctx, e.rootSpec(), false)
			if err != nil {
				return err
			}
			st, err := openStore(ctx, e.keystoreSpec(), false)
			if err != nil {
				return err
			}
			defer st.Close()
			var opts keys.RotateOptions
			opts.BatchSize = batch
			if resume {
				b, err := os.ReadFile(state)
				if err != nil {
					return fmt.Errorf("--resume: reading %s: %w", state, err)
				}
				var s rotateState
				if err := json.Unmarshal(b, &s); err != nil || s.To != to {
					return fmt.Errorf("--resume: %s does not describe a rotation to this root key", state)
				}
				id, err := hex.DecodeString(s.Cursor)
				if err != nil || len(id) != len(opts.After.ID) {
					return fmt.Errorf("--resume: %s holds an unreadable position", state)
				}
				copy(opts.After.ID[:], id)
				opts.After.Version = s.Ver
			}
			if !strings.Contains(to, "://") {
				if _, err := os.Stat(to); err != nil {
					if err := writeNewKeyFile(to); err != nil {
						return err
					}
				}
			}
			newRoot, err := openRoot(ctx, to, true)
			if err != nil {
				return err
			}
			if err := e.confirm("re-wrap every key under the new root key? Afterwards the keystore opens with the new root only."); err != nil {
				return err
			}
			bar := newProgress(e.stderr, "keys")
			killAfter, _ := strconv.Atoi(os.Getenv(killRotateEnv))
			opts.Progress = func(done, total int, cur keys.KeyCursor) {
				bar.set(int64(done), int64(total))
				b, _ := json.Marshal(rotateState{To: to, Cursor: hex.EncodeToString(cur.ID[:]), Ver: cur.Version})
				os.WriteFile(state, b, 0o600)
				if killAfter > 0 && done >= killAfter {
					killSelf() // the crash test: SIGKILL after the position is saved
				}
			}
			stats, err := keys.RotateRoot(ctx, st, from, newRoot, opts)
			bar.finish()
			if err != nil {
				return fmt.Errorf("%w (resume with --resume; the position is in %s)", err, state)
			}
			os.Remove(state)
			out := map[string]any{"total": stats.Total, "rewrapped": stats.Rewrapped, "skipped": stats.Skipped, "failed": stats.Failed}
			text := fmt.Sprintf("re-wrapped %d of %d keys (%d skipped, %d failed); open the keystore with --root %s from now on\n",
				stats.Rewrapped, stats.Total, stats.Skipped, stats.Failed, redactURI(to))
			if stats.Failed > 0 {
				e.print(out, text)
				return fmt.Errorf("%d keys did not unwrap under the old root key and were left as they are", stats.Failed)
			}
			return e.print(out, text)
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "the new root key: a key file path (created if missing) or hcvault:// URI (required)")
	cmd.Flags().BoolVar(&resume, "resume", false, "continue an interrupted rotation from its saved position")
	cmd.Flags().StringVar(&state, "state", "", "where the position is saved (default: beside a SQLite keystore, else in the data directory)")
	cmd.Flags().IntVar(&batch, "batch", 0, "keys per round trip (default 100)")
	return cmd
}

func stateFile(keystore string) string {
	if !isPostgres(keystore) && !isMySQL(keystore) {
		return keystore + ".rotate-root"
	}
	return defaultDir() + string(os.PathSeparator) + "rotate-root.state"
}
