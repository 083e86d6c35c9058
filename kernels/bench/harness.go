package bench

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Config selects what runs and how long.
type Config struct {
	Reps    int           // repetitions per measurement; the median is reported (default 5)
	MinTime time.Duration // minimum duration of one repetition (default 100ms)
	Quick   bool          // fewer and smaller shapes
	Only    []string      // section names to run (empty: all)
}

// Row is one printed comparison: glmflow's rate beside the baseline's, same unit.
type Row struct {
	Section, Name string
	Unit          string  // "GFLOP/s" or "GB/s"
	Value         float64 // glmflow
	Base          float64 // baseline (0: none available)
	BaseName      string
}

// Ratio is Value/Base, or 0 without a baseline.
func (r Row) Ratio() float64 {
	if r.Base == 0 {
		return 0
	}
	return r.Value / r.Base
}

// section is one group of rows.
type section struct {
	name string
	run  func(c *Config, emit func(Row)) error
}

var sections []section

func register(name string, run func(c *Config, emit func(Row)) error) {
	sections = append(sections, section{name, run})
}

// Sections lists the section names in run order.
func Sections() []string {
	var s []string
	for _, x := range sections {
		s = append(s, x.name)
	}
	return s
}

// Run executes the selected sections, printing a table to w as rows arrive, and returns them.
func Run(w io.Writer, c Config) ([]Row, error) {
	if c.Reps <= 0 {
		c.Reps = 5
	}
	if c.MinTime <= 0 {
		c.MinTime = 100 * time.Millisecond
	}
	for _, o := range c.Only {
		if !slices.Contains(Sections(), o) {
			return nil, fmt.Errorf("bench: unknown section %q (have %s)", o, strings.Join(Sections(), ", "))
		}
	}
	fmt.Fprintf(w, "glmflow kernel benchmark: %d thread(s), median of %d, %s/%s\n",
		runtime.GOMAXPROCS(0), c.Reps, runtime.GOOS, runtime.GOARCH)
	var rows []Row
	for _, s := range sections {
		if len(c.Only) > 0 && !slices.Contains(c.Only, s.name) {
			continue
		}
		fmt.Fprintf(w, "\n== %s\n%-44s %10s %10s  %-14s %6s\n", s.name, "kernel", "glmflow", "baseline", "(baseline)", "ratio")
		err := s.run(&c, func(r Row) {
			r.Section = s.name
			rows = append(rows, r)
			ratio, base := "-", "-"
			if r.Base > 0 {
				ratio, base = fmt.Sprintf("%.2f×", r.Ratio()), fmt.Sprintf("%.1f", r.Base)
			}
			fmt.Fprintf(w, "%-44s %10.1f %10s  %-14s %6s  %s\n", r.Name, r.Value, base, r.BaseName, ratio, r.Unit)
		})
		if err != nil {
			return rows, fmt.Errorf("bench %s: %w", s.name, err)
		}
	}
	return rows, nil
}

// rate runs f repeatedly and returns the median of c.Reps repetitions of work/second, where
// work is what one call of f does (FLOPs or bytes). One warm-up call comes first, then the
// iteration count is calibrated so a repetition lasts at least c.MinTime.
func rate(c *Config, work float64, f func()) float64 {
	f()
	iters := 1
	for {
		t0 := time.Now()
		for i := 0; i < iters; i++ {
			f()
		}
		if d := time.Since(t0); d >= c.MinTime/4 || iters >= 1<<20 {
			if d > 0 {
				iters = max(1, int(float64(iters)*float64(c.MinTime)/float64(d)))
			}
			break
		}
		iters *= 4
	}
	rates := make([]float64, c.Reps)
	for r := range rates {
		t0 := time.Now()
		for i := 0; i < iters; i++ {
			f()
		}
		rates[r] = work * float64(iters) / time.Since(t0).Seconds()
	}
	slices.Sort(rates)
	return rates[len(rates)/2]
}
