package tokenize_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Warsaw even where the system has no zoneinfo

	"github.com/fieldcrypt/fieldcrypt/tokenize"
)

// TestDateLocalZone checks that a Date token keeps the value's clock and
// zone as written when the value's zone is the machine's local one, whose
// offset changes with daylight saving time. time.Parse returns such values
// in time.Local, so the token must not take the offset of its own date
// (+0100 becoming +0200 in summer, or 02:30 becoming 03:30 on the night
// clocks go forward), which would make tokens depend on the machine's TZ
// and some of them not detokenize back. The test runs itself in a child
// process with TZ=Europe/Warsaw, because time.Local cannot be changed
// safely while other goroutines read it.
func TestDateLocalZone(t *testing.T) {
	if os.Getenv("FIELDCRYPT_TEST_DATE_TZ") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestDateLocalZone$", "-test.count=1")
		cmd.Env = append(os.Environ(), "TZ=Europe/Warsaw", "FIELDCRYPT_TEST_DATE_TZ=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("with TZ=Europe/Warsaw: %v\n%s", err, out)
		}
		return
	}
	if _, off := time.Date(2021, 7, 1, 12, 0, 0, 0, time.Local).Zone(); off != 2*3600 {
		t.Fatalf("TZ=Europe/Warsaw did not take effect (summer offset %d)", off)
	}
	_, tk := newTokenizer(t)
	for _, layout := range []string{"2006-01-02 15:04 -0700", "2006-01-02 15:04 MST", time.RFC3339} {
		f := tokenize.Date{Layout: layout}
		zoneChanged, lost := 0, 0
		// Winter nights in Warsaw (+01:00): most tokens fall on dates with
		// another offset there (summer time; local mean time, +01:24,
		// before 1893), some on a night when the clocks go forward.
		for i := range 16 * 31 {
			v := time.Date(2000+i/31, time.January, 1+i%31, 2, 30, 0, 0, time.Local).Format(layout)
			tok, err := tk.Tokenize(ctx, "cust-1", "born", f, v)
			if err != nil {
				t.Fatalf("%s: Tokenize(%q): %v", layout, v, err)
			}
			if !strings.HasSuffix(tok, zoneOf(v, layout)) || !strings.Contains(tok, "02:30") {
				zoneChanged++
			}
			if back, err := tk.Detokenize(ctx, "cust-1", "born", f, tok); err != nil || back != v {
				lost++
			}
		}
		if zoneChanged > 0 || lost > 0 {
			t.Errorf("layout %q: %d tokens changed the clock or zone, %d did not detokenize back", layout, zoneChanged, lost)
		}
	}
}

// zoneOf returns the zone as written at the end of v.
func zoneOf(v, layout string) string {
	if layout == time.RFC3339 {
		return v[len(v)-6:]
	}
	return v[strings.LastIndexByte(v, ' '):]
}
