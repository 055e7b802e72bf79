package keys_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/fieldcrypt/fieldcrypt/keys"
	"github.com/fieldcrypt/fieldcrypt/keys/localkms"
	"github.com/fieldcrypt/fieldcrypt/keys/memstore"
)

func TestRecordAccess(t *testing.T) {
	ctx := context.Background()
	root, err := localkms.Parse([]byte(localkms.GenerateKey()))
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	kr, err := keys.Open(ctx, keys.Config{KMS: root, Store: memstore.New(), Lifecycle: keys.Lifecycle{AuditLog: true},
		Audit: keys.NewSlogAuditor(slog.New(slog.NewJSONHandler(&logged, nil)))})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := kr.SubjectRef("customer-1")
	if err != nil {
		t.Fatal(err)
	}
	a := keys.AccessEvent{Actor: "support:alice", Roles: []string{"support"}, Resource: "customers.email", Values: 1000,
		Subjects: []keys.SubjectRef{ref}, SubjectCount: 1000}
	for range 3 {
		if err := kr.RecordAccess(ctx, "contact", a); err != nil {
			t.Fatal(err)
		}
	}
	head, err := kr.VerifyAuditLog(ctx)
	if err != nil || head.Seq != 3 {
		t.Fatalf("VerifyAuditLog: %+v, %v", head, err)
	}
	var export bytes.Buffer
	if _, err := kr.ExportAuditLog(ctx, &export); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(export.String()), "\n")
	var e keys.AuditEntry
	if err := json.Unmarshal([]byte(lines[0]), &e); err != nil {
		t.Fatal(err)
	}
	if e.Event != keys.EventAccessed || e.Purpose != "contact" || e.Access == nil || e.Access.Resource != "customers.email" ||
		e.Access.Values != 1000 || e.Access.Actor != "support:alice" || len(e.Access.Subjects) != 1 || e.Access.Subjects[0] != ref.String() {
		t.Fatalf("exported entry: %s", lines[0])
	}
	if strings.Contains(export.String(), "customer-1") || strings.Contains(logged.String(), "customer-1") {
		t.Fatal("the audit names the subject identifier")
	}
	if !strings.Contains(logged.String(), `"resource":"customers.email"`) {
		t.Fatalf("slog record: %s", logged.String())
	}
	if _, err := kr.VerifyAuditExport(bytes.NewReader(export.Bytes())); err != nil {
		t.Fatalf("VerifyAuditExport: %v", err)
	}
	edited := bytes.Replace(export.Bytes(), []byte(`"values":1000`), []byte(`"values":10`), 1)
	if _, err := kr.VerifyAuditExport(bytes.NewReader(edited)); !errors.Is(err, keys.ErrAuditLogTampered) {
		t.Fatalf("an edited access entry: %v", err)
	}
	for name, bad := range map[string]keys.AccessEvent{
		"no resource":    {Values: 1},
		"long actor":     {Resource: "t.c", Actor: strings.Repeat("a", keys.MaxReasonLen+1)},
		"many subjects":  {Resource: "t.c", Subjects: make([]keys.SubjectRef, keys.MaxAccessSubjects+1), SubjectCount: 1000},
		"count too low":  {Resource: "t.c", Subjects: []keys.SubjectRef{ref}},
		"negative count": {Resource: "t.c", Values: -1},
	} {
		if err := kr.RecordAccess(ctx, "", bad); !errors.Is(err, keys.ErrInvalidAccess) {
			t.Errorf("%s: %v, want ErrInvalidAccess", name, err)
		}
	}
}

// An access is one audit log entry, verified and exported with the rest.
func ExampleKeyring_RecordAccess() {
	c := context.Background()
	root, _ := localkms.Parse([]byte(localkms.GenerateKey()))
	kr, _ := keys.Open(c, keys.Config{KMS: root, Store: memstore.New(), Lifecycle: keys.Lifecycle{AuditLog: true}})
	err := kr.RecordAccess(c, keys.DefaultPurpose, keys.AccessEvent{Actor: "billing:bob", Resource: "payers.card", Values: 10, SubjectCount: 10})
	fmt.Println("recorded:", err)
	var export bytes.Buffer
	head, _ := kr.ExportAuditLog(c, &export)
	var e keys.AuditEntry
	json.Unmarshal(export.Bytes(), &e)
	fmt.Println(head.Seq, e.Event, e.Access.Actor, e.Access.Resource, e.Access.Values)
	// Output:
	// recorded: <nil>
	// 1 accessed billing:bob payers.card 10
}
