package gpucheck

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// Report is a Markdown file written incrementally.
type Report struct {
	path  string
	b     strings.Builder
	fails []string
}

// NewReport starts a report at path ("" : keep in memory only).
func NewReport(path string) *Report { return &Report{path: path} }

// Printf appends text and flushes.
func (r *Report) Printf(format string, a ...any) {
	fmt.Fprintf(&r.b, format, a...)
	r.flush()
}

// Fail records a failed check (listed in the summary) and prints it.
func (r *Report) Fail(section, msg string) {
	r.fails = append(r.fails, section+": "+msg)
	r.Printf("**FAIL** %s\n\n", msg)
}

// Failures are the failed checks so far.
func (r *Report) Failures() []string { return r.fails }

// String is the report so far.
func (r *Report) String() string { return r.b.String() }

func (r *Report) flush() {
	if r.path != "" {
		os.WriteFile(r.path, []byte(r.b.String()), 0o644)
	}
}

// Section is one part of the check. Run writes its findings to the report; an error is
// recorded as a failure and the check goes on with the next section.
type Section struct {
	Name string
	Run  func(r *Report) error
}

// RunSections runs each section under a heading, recovering panics into failures, and ends
// with a summary. It returns the number of failures.
func RunSections(r *Report, sections []Section) int {
	for _, s := range sections {
		r.Printf("## %s\n\n", s.Name)
		t0 := time.Now()
		err := safe(s.Run, r)
		if err != nil {
			r.Fail(s.Name, err.Error())
		}
		r.Printf("_%s: %.1f s_\n\n", s.Name, time.Since(t0).Seconds())
	}
	r.Printf("## Summary\n\n")
	if len(r.fails) == 0 {
		r.Printf("All sections passed.\n")
	} else {
		r.Printf("%d failure(s):\n\n", len(r.fails))
		for _, f := range r.fails {
			r.Printf("- %s\n", f)
		}
	}
	return len(r.fails)
}

func safe(f func(*Report) error, r *Report) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return f(r)
}
