package ftpcmd

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/netxsim/netxsim/internal/termtext"
)

// progress draws a one-line bar on a terminal. newProgress returns nil (and every method is a no-op)
// unless w is a terminal, so pipes and files never get control characters.
type progress struct {
	w     io.Writer
	label string
	total int64 // -1: unknown
	n     int64
	start time.Time
	last  time.Time
}

func isTerminal(w io.Writer) bool { return termtext.IsTerminal(w) }

func newProgress(w io.Writer, label string, total int64) *progress {
	if !isTerminal(w) {
		return nil
	}
	now := time.Now()
	return &progress{w: w, label: termtext.Escape(label), total: total, start: now}
}

func (p *progress) Write(b []byte) (int, error) {
	p.n += int64(len(b))
	if now := time.Now(); now.Sub(p.last) >= 100*time.Millisecond {
		p.last = now
		p.draw()
	}
	return len(b), nil
}

func (p *progress) draw() {
	secs := time.Since(p.start).Seconds()
	rate := ""
	if secs > 0 {
		rate = human(int64(float64(p.n)/secs)) + "/s"
	}
	if p.total > 0 {
		const width = 30
		frac := float64(p.n) / float64(p.total)
		frac = min(frac, 1)
		fill := int(frac * width)
		fmt.Fprintf(p.w, "\r%s [%s%s] %3.0f%% %s %s ", p.label, strings.Repeat("=", fill),
			strings.Repeat(" ", width-fill), frac*100, human(p.n), rate)
		return
	}
	fmt.Fprintf(p.w, "\r%s %s %s ", p.label, human(p.n), rate)
}

// done draws the final state and ends the line.
func (p *progress) done(err error) {
	if p == nil {
		return
	}
	p.draw()
	if err != nil {
		fmt.Fprint(p.w, "failed")
	}
	fmt.Fprintln(p.w)
}

func human(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), 0
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGT"[i-1])
}
