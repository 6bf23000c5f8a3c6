package analytics

import (
	"bytes"
	"database/sql"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"vitrine/events"
)

func TestExport(t *testing.T) {
	s := buildScript(t)
	var buf bytes.Buffer
	if err := Export(t.Context(), s.st, s.st.c.ID, ExportOptions{Metrics: true, Users: true, Chat: true, Now: at(180, 0)}, &buf); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := strings.Join(f.GetSheetList(), ","); got != "Prelive,Live,Replay,Interactions,Users,Chat" {
		t.Fatalf("sheets: %s", got)
	}
	find := func(sheet string, cells ...string) []string {
		t.Helper()
		rows, err := f.GetRows(sheet)
		if err != nil {
			t.Fatal(err)
		}
	next:
		for _, r := range rows {
			for i, c := range cells {
				if i >= len(r) || r[i] != c {
					continue next
				}
			}
			return r
		}
		t.Fatalf("%s: no row starting %q in %q", sheet, cells, rows)
		return nil
	}
	if r := find("Live", "business", "total_sales"); r[2] != "308.00" || !strings.Contains(r[3], "Total sales") {
		t.Errorf("live total sales row: %q", r)
	}
	find("Live", "audience", "max_viewers", "3")
	find("Prelive", "alerting", "sms_alerts", "2")
	find("Replay", "business", "purchases", "1")
	find("Interactions", "poll1", "Colour?", "Red", "1")
	// v1's chat name and counts; p1's subscription joined to its SMS
	// reminder by phone; the second reminder alone; orders by name.
	find("Users", "p1", "Pia", "+33600000001", "", "0", "0", "TRUE")
	// v1 chatted as Vic and bought A-1 as Ana (its tracked purchase
	// carries the order code): the order's name wins.
	find("Users", "v1", "Ana", "", "", "1", "1", "FALSE", "1", "258.00")
	find("Users", "", "", "+33600000002")
	find("Users", "", "Bob", "", "", "0", "0", "FALSE", "1", "50.00")
	find("Chat", "4", at(66, 0).Format(time.RFC3339Nano), "message", "v1", "Vic", "hi", "", "FALSE")
	find("Chat", "6", at(71, 0).Format(time.RFC3339Nano), "message", "v2", "Val", "nice", "", "TRUE", "FALSE", "FALSE")
	find("Chat", "7", at(68, 0).Format(time.RFC3339Nano), "answer", "", "", "M and L", "m2")

	// LibreOffice opens it too: convert the chat sheet to CSV.
	soffice, err := exec.LookPath("soffice")
	if err != nil {
		t.Skip("LibreOffice (soffice) is not installed: apt-get install -y libreoffice-calc-nogui; CI installs it")
	}
	dir := t.TempDir()
	x := filepath.Join(dir, "export.xlsx")
	if err := os.WriteFile(x, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	// Sheet 6 (Chat) as UTF-8 CSV; a private profile so that parallel runs
	// do not share one.
	cmd := exec.CommandContext(t.Context(), soffice, "-env:UserInstallation=file://"+filepath.Join(dir, "profile"),
		"--headless", "--convert-to", `csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,6`,
		"--outdir", dir, x)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("soffice: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "export.csv"))
	if err != nil {
		matches, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
		if len(matches) == 0 {
			t.Fatalf("no CSV from soffice: %s", out)
		}
		b, _ = os.ReadFile(matches[0])
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 5 || rows[0][0] != "Seq" || rows[1][5] != "hi" || rows[3][5] != "nice" || rows[3][7] != "TRUE" {
		t.Fatalf("LibreOffice's CSV of the chat sheet: %q", rows)
	}
}

// TestExportLargeChat: 100,000 chat messages export with the heap under
// 100 MB (sampled while the export runs).
func TestExportLargeChat(t *testing.T) {
	if testing.Short() {
		t.Skip("large export")
	}
	s := newScript(t)
	ctx := t.Context()
	const n = 100_000
	// Written in one transaction straight into the log's tables (an
	// append per message would take minutes).
	db, err := sql.Open("sqlite", s.path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		typ := events.TypeChatMessage
		if i%10 == 0 {
			typ = events.TypeChatQuestion
		}
		data := fmt.Sprintf(`{"id":"m%d","viewer_id":"v%d","name":"Viewer %d","text":"Message number %d, is the bag available in brown?"}`, i, i%5000, i%5000, i)
		if _, err := tx.ExecContext(ctx, `INSERT INTO campaign_events (campaign_id, seq, type, at, data) VALUES ($1, $2, $3, $4, $5)`,
			s.st.c.ID, i+1, typ, at(60, i/100).UnixMicro(), data); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO campaign_event_seqs (campaign_id, seq) VALUES ($1, $2)`, s.st.c.ID, n); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	stop := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		var m runtime.MemStats
		var max uint64
		for {
			select {
			case <-stop:
				peak <- max
				return
			case <-time.After(20 * time.Millisecond):
				runtime.ReadMemStats(&m)
				max = maxU(max, m.HeapAlloc)
			}
		}
	}()
	var out countingWriter
	start := time.Now()
	err = Export(ctx, s.st, s.st.c.ID, ExportOptions{Metrics: true, Users: true, Chat: true, Now: at(180, 0)}, &out)
	close(stop)
	p := <-peak
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("export of %d chat messages: %.1f MB in %v, peak heap %.1f MB (%.1f MB before)",
		n, float64(out.n)/1e6, time.Since(start).Round(time.Millisecond), float64(p)/1e6, float64(before.HeapAlloc)/1e6)
	if p > 100e6 {
		t.Fatalf("peak heap %.1f MB, want under 100 MB", float64(p)/1e6)
	}
}

func maxU(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }
