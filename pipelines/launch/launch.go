package launch

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Options configure a launch.
type Options struct {
	World int
	// Args builds rank r's command-line arguments (without the program name).
	Args func(rank int, master string) []string
	// Program is the executable (default: this process's own executable).
	Program string
	// Env is added to the children's environment.
	Env []string
	// Master is the rendezvous address; "" picks a free loopback port.
	Master string
	// Stdout, Stderr receive the children's output, each line prefixed "[rank r] ".
	Stdout, Stderr io.Writer
	// Grace is how long a stopped rank may take to exit before it is killed (default 5 s).
	Grace time.Duration
}

// RankError is the failure of one rank.
type RankError struct {
	Rank int
	Err  error
}

func (e *RankError) Error() string { return fmt.Sprintf("rank %d: %v", e.Rank, e.Err) }
func (e *RankError) Unwrap() error { return e.Err }

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Run starts World ranks and waits for all of them. It returns nil when every rank exits
// successfully, else the error of the rank that failed first (the others are stopped and
// their exits, caused by the stop, are not reported). Cancelling ctx stops every rank.
func Run(ctx context.Context, o Options) error {
	if o.World < 1 || o.Args == nil {
		return fmt.Errorf("launch: %d ranks, args %v", o.World, o.Args != nil)
	}
	if o.Program == "" {
		p, err := os.Executable()
		if err != nil {
			return fmt.Errorf("launch: %w", err)
		}
		o.Program = p
	}
	if o.Master == "" {
		a, err := FreeAddr()
		if err != nil {
			return fmt.Errorf("launch: %w", err)
		}
		o.Master = a
	}
	if o.Grace <= 0 {
		o.Grace = 5 * time.Second
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	var outMu sync.Mutex // one line at a time on the shared writers
	cmds := make([]*exec.Cmd, o.World)
	var flush []*lineWriter
	for r := range o.World {
		c := exec.Command(o.Program, o.Args(r, o.Master)...)
		c.Env = append(os.Environ(), o.Env...)
		c.SysProcAttr = sysProcAttr()
		// exec copies the output through these writers and Wait returns only after the copy
		// is done, so no line is lost (reading StdoutPipe concurrently with Wait can be).
		outs := []*lineWriter{{mu: &outMu, w: o.Stdout, rank: r}, {mu: &outMu, w: o.Stderr, rank: r}}
		c.Stdout, c.Stderr = outs[0], outs[1]
		if err := c.Start(); err != nil {
			stopAll(cmds[:r], o.Grace)
			return &RankError{Rank: r, Err: fmt.Errorf("start %s: %w", o.Program, err)}
		}
		cmds[r] = c
		flush = append(flush, outs...)
	}
	type exit struct {
		rank int
		err  error
	}
	exits := make(chan exit, o.World)
	for r, c := range cmds {
		go func() {
			err := c.Wait()
			exits <- exit{r, err}
		}()
	}
	var first error
	stopped := false
	for done := 0; done < o.World; {
		select {
		case e := <-exits:
			done++
			if e.err != nil && first == nil && !stopped {
				first = &RankError{Rank: e.rank, Err: e.err}
				stopped = true
				go stopAll(cmds, o.Grace)
			}
		case <-ctx.Done():
			if !stopped {
				stopped = true
				first = context.Cause(ctx)
				go stopAll(cmds, o.Grace)
			}
			ctx = context.Background() // fire once
		}
	}
	for _, w := range flush {
		w.flush()
	}
	return first
}

// stopAll sends SIGTERM to every running child, then SIGKILL after grace.
func stopAll(cmds []*exec.Cmd, grace time.Duration) {
	for _, c := range cmds {
		if c != nil && c.Process != nil {
			c.Process.Signal(syscall.SIGTERM) // an exited process: an ignored error
		}
	}
	time.Sleep(grace)
	for _, c := range cmds {
		if c != nil && c.Process != nil {
			c.Process.Kill() // an already-exited process: ignored error
		}
	}
}

// lineWriter writes whole lines to w, each prefixed with the rank; a partial last line waits
// for its end (or flush).
type lineWriter struct {
	mu   *sync.Mutex
	w    io.Writer
	rank int
	buf  []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.emit(l.buf[:i])
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

func (l *lineWriter) emit(line []byte) {
	l.mu.Lock()
	fmt.Fprintf(l.w, "[rank %d] %s\n", l.rank, line)
	l.mu.Unlock()
}

func (l *lineWriter) flush() {
	if len(l.buf) > 0 {
		l.emit(l.buf)
		l.buf = nil
	}
}
