package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/fieldcrypt/fieldcrypt/keys"
)

// fileConfig is the command's configuration file (--config /
// FIELDCRYPT_CONFIG, JSON): the retention policies the services use, so
// that forget, withdraw and expire apply the same ones, and the tables
// export reads.
//
//	{
//	  "policies": {
//	    "contact":   {"name": "contact-2y-after-activity", "retention": "after-last-activity", "for": "2y"},
//	    "payment":   {"name": "payment-5y", "retention": "after-creation", "for": "5y",
//	                  "legal_minimum": "5y", "legal_basis": "Ustawa o rachunkowości, art. 74"},
//	    "marketing": {"name": "marketing-until-withdrawn", "retention": "until-withdrawn"}
//	  },
//	  "audit_log": true,
//	  "export": {"dsn": "shop.db", "tables": [
//	    {"table": "customers", "subject_column": "ref", "columns": {"email": "encrypt", "card": "token:card"}}
//	  ]}
//	}
//
// Durations are Go durations ("720h") or a number of days or years ("30d",
// "2y", a year being 365 days).
type fileConfig struct {
	Policies map[string]policyConfig `json:"policies"`
	AuditLog *bool                   `json:"audit_log"`
	Export   struct {
		DSN    string        `json:"dsn"`
		Tables []tableConfig `json:"tables"`
	} `json:"export"`
}

type policyConfig struct {
	Name         string `json:"name"`
	Retention    string `json:"retention"` // after-creation, after-last-activity, until-withdrawn
	For          string `json:"for"`
	LegalMinimum string `json:"legal_minimum"`
	LegalBasis   string `json:"legal_basis"`
}

type tableConfig struct {
	Table         string            `json:"table"`
	SubjectColumn string            `json:"subject_column"`
	PK            string            `json:"pk"`      // default id
	PKType        string            `json:"pk_type"` // int (default) or string
	Columns       map[string]string `json:"columns"` // column -> plain, encrypt, encrypt_det or token:FORMAT
}

func loadConfig(path string) (fileConfig, error) {
	var c fileConfig
	if path == "" {
		return c, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, usagef("config %s: %v", path, err)
	}
	return c, nil
}

func parseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "y": 365 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.Atoi(n)
			if err != nil || v < 0 {
				return 0, fmt.Errorf("duration %q: want a whole number of %s", s, map[string]string{"d": "days", "y": "years"}[suffix])
			}
			return time.Duration(v) * unit, nil
		}
	}
	return time.ParseDuration(s)
}

// lifecycle turns the file's policies into keys.Lifecycle. Receipts are
// always on: the command hands them to the operator.
func (c fileConfig) lifecycle() (keys.Lifecycle, error) {
	l := keys.Lifecycle{Receipts: true, AuditLog: c.AuditLog == nil || *c.AuditLog, Policies: map[string]keys.Policy{}}
	for purpose, pc := range c.Policies {
		d, err := parseDuration(pc.For)
		if err != nil {
			return l, usagef("config: policy %s: %v", purpose, err)
		}
		min, err := parseDuration(pc.LegalMinimum)
		if err != nil {
			return l, usagef("config: policy %s: %v", purpose, err)
		}
		p := keys.Policy{Name: pc.Name, LegalMinimum: min, LegalBasis: pc.LegalBasis}
		switch pc.Retention {
		case "after-creation":
			p.Retention = keys.AfterCreation(d)
		case "after-last-activity":
			p.Retention = keys.AfterLastActivity(d)
		case "until-withdrawn":
			p.Retention = keys.UntilWithdrawn()
		default:
			return l, usagef("config: policy %s: retention is after-creation, after-last-activity or until-withdrawn, not %q", purpose, pc.Retention)
		}
		l.Policies[purpose] = p
	}
	return l, nil
}
