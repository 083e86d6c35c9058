package transport

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// TCPConfig configures one rank of a multi-process group.
type TCPConfig struct {
	Rank, World int
	// Master is rank 0's rendezvous address (host:port). Rank 0 listens there; the others
	// dial it (retrying until Timeout, so ranks may start in any order).
	Master string
	// Listen is the host this rank's mesh listener binds (port chosen by the system);
	// default: the host of Master.
	Listen string
	// Token is a job identifier every rank must present; a hello with another token is
	// refused (two jobs sharing a port do not mix).
	Token string
	// Timeout bounds the rendezvous and the mesh set-up (default 60 s).
	Timeout time.Duration
	// MaxMessage is the largest payload accepted from a peer (default 64 GiB).
	MaxMessage uint64
}

type hello struct {
	Rank  int    `json:"rank"`
	World int    `json:"world"`
	Addr  string `json:"addr"`
	Token string `json:"token"`
}

type table struct {
	Addrs []string `json:"addrs"`
}

// tcp is one rank of a TCP mesh.
type tcp struct {
	cfg   TCPConfig
	box   *inbox
	peers []*peer // by rank; nil at cfg.Rank
	seq   int
	once  sync.Once
}

// peer is the connection to one other rank: a writer goroutine drains a queue (so Send
// never blocks on the network), a reader goroutine fills the inbox.
type peer struct {
	rank   int
	conn   net.Conn
	mu     sync.Mutex
	cond   *sync.Cond
	queue  []outFrame
	closed bool
	done   chan struct{} // writer finished
	bye    bool          // the peer said goodbye: EOF after it is a normal close
}

type outFrame struct {
	typ  frameType
	tag  Tag
	ts   Tensors
	text []byte
}

// DialTCP joins the group: rendezvous through Master, then a full mesh of connections.
func DialTCP(ctx context.Context, cfg TCPConfig) (Transport, error) {
	if cfg.World < 1 || cfg.Rank < 0 || cfg.Rank >= cfg.World {
		return nil, fmt.Errorf("transport: rank %d of world %d", cfg.Rank, cfg.World)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.MaxMessage == 0 {
		cfg.MaxMessage = 64 << 30
	}
	t := &tcp{cfg: cfg, box: newInbox(), peers: make([]*peer, cfg.World)}
	if cfg.World == 1 {
		return t, nil
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	if err := t.connect(ctx); err != nil {
		t.closeConns()
		return nil, fmt.Errorf("transport: rank %d of %d: %w", cfg.Rank, cfg.World, err)
	}
	for _, p := range t.peers {
		if p != nil {
			go t.writeLoop(p)
			go t.readLoop(p)
		}
	}
	return t, nil
}

func (t *tcp) connect(ctx context.Context) error {
	host := t.cfg.Listen
	if host == "" {
		h, _, err := net.SplitHostPort(t.cfg.Master)
		if err != nil {
			return fmt.Errorf("master address %q: %w", t.cfg.Master, err)
		}
		host = h
	}
	var lc net.ListenConfig
	mesh, err := lc.Listen(ctx, "tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return fmt.Errorf("mesh listener: %w", err)
	}
	defer mesh.Close()
	me := hello{Rank: t.cfg.Rank, World: t.cfg.World, Addr: mesh.Addr().String(), Token: t.cfg.Token}
	var addrs []string
	if t.cfg.Rank == 0 {
		addrs, err = t.rendezvousMaster(ctx, me)
	} else {
		addrs, err = t.rendezvousWorker(ctx, me)
	}
	if err != nil {
		return err
	}
	// Rank r dials every lower rank and accepts every higher one.
	errc := make(chan error, 2)
	go func() { errc <- t.acceptPeers(ctx, mesh) }()
	go func() { errc <- t.dialPeers(ctx, addrs) }()
	var first error
	for range 2 {
		if err := <-errc; err != nil && first == nil {
			first = err
			mesh.Close() // unblock Accept
		}
	}
	return first
}

func (t *tcp) rendezvousMaster(ctx context.Context, me hello) ([]string, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", t.cfg.Master)
	if err != nil {
		return nil, fmt.Errorf("master listener %s: %w", t.cfg.Master, err)
	}
	defer l.Close()
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	addrs := make([]string, t.cfg.World)
	addrs[0] = me.Addr
	conns := make([]net.Conn, t.cfg.World)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	for joined := 1; joined < t.cfg.World; {
		c, err := l.Accept()
		if err != nil {
			return nil, fmt.Errorf("rendezvous: %d of %d ranks joined: %w", joined, t.cfg.World, errors.Join(ctx.Err(), err))
		}
		c.SetDeadline(deadline(ctx))
		var h hello
		if err := readJSON(c, frameHello, &h, t.cfg.MaxMessage); err != nil {
			c.Close()
			continue // a stray connection does not stop the job
		}
		switch {
		case h.Token != t.cfg.Token:
			c.Close()
			continue
		case h.World != t.cfg.World:
			c.Close()
			return nil, fmt.Errorf("rendezvous: rank %d says the world has %d ranks, this job has %d", h.Rank, h.World, t.cfg.World)
		case h.Rank <= 0 || h.Rank >= t.cfg.World || conns[h.Rank] != nil:
			c.Close()
			return nil, fmt.Errorf("rendezvous: rank %d joined twice or is out of range", h.Rank)
		}
		conns[h.Rank], addrs[h.Rank] = c, h.Addr
		joined++
	}
	for r := 1; r < t.cfg.World; r++ {
		if err := writeJSON(conns[r], frameTable, table{Addrs: addrs}); err != nil {
			return nil, fmt.Errorf("rendezvous: sending the address table to rank %d: %w", r, err)
		}
	}
	return addrs, nil
}

func (t *tcp) rendezvousWorker(ctx context.Context, me hello) ([]string, error) {
	var c net.Conn
	var d net.Dialer
	for {
		var err error
		c, err = d.DialContext(ctx, "tcp", t.cfg.Master)
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("rendezvous: master %s unreachable: %w", t.cfg.Master, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	defer c.Close()
	c.SetDeadline(deadline(ctx))
	if err := writeJSON(c, frameHello, me); err != nil {
		return nil, fmt.Errorf("rendezvous: %w", err)
	}
	var tb table
	if err := readJSON(c, frameTable, &tb, t.cfg.MaxMessage); err != nil {
		return nil, fmt.Errorf("rendezvous: waiting for the address table from rank 0: %w", err)
	}
	if len(tb.Addrs) != t.cfg.World {
		return nil, fmt.Errorf("rendezvous: address table has %d ranks, want %d", len(tb.Addrs), t.cfg.World)
	}
	return tb.Addrs, nil
}

func (t *tcp) dialPeers(ctx context.Context, addrs []string) error {
	var d net.Dialer
	for r := 0; r < t.cfg.Rank; r++ {
		c, err := d.DialContext(ctx, "tcp", addrs[r])
		if err != nil {
			return fmt.Errorf("dialing rank %d at %s: %w", r, addrs[r], err)
		}
		if err := writeJSON(c, frameHello, hello{Rank: t.cfg.Rank, World: t.cfg.World, Token: t.cfg.Token}); err != nil {
			c.Close()
			return fmt.Errorf("greeting rank %d: %w", r, err)
		}
		t.peers[r] = newPeer(r, c)
	}
	return nil
}

func (t *tcp) acceptPeers(ctx context.Context, l net.Listener) error {
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	for need := t.cfg.World - 1 - t.cfg.Rank; need > 0; {
		c, err := l.Accept()
		if err != nil {
			return fmt.Errorf("waiting for %d higher ranks to connect: %w", need, errors.Join(ctx.Err(), err))
		}
		c.SetDeadline(deadline(ctx))
		var h hello
		if err := readJSON(c, frameHello, &h, t.cfg.MaxMessage); err != nil || h.Token != t.cfg.Token ||
			h.Rank <= t.cfg.Rank || h.Rank >= t.cfg.World || t.peers[h.Rank] != nil {
			c.Close()
			continue
		}
		c.SetDeadline(time.Time{})
		t.peers[h.Rank] = newPeer(h.Rank, c)
		need--
	}
	return nil
}

func deadline(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

func newPeer(rank int, c net.Conn) *peer {
	c.SetDeadline(time.Time{})
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	p := &peer{rank: rank, conn: c, done: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	return p
}

func writeJSON(c net.Conn, typ frameType, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var hb [headerSize]byte
	putHeader(hb[:], header{typ: typ, payload: uint64(len(b))})
	_, err = c.Write(append(hb[:], b...))
	return err
}

func readJSON(c net.Conn, typ frameType, v any, max uint64) error {
	h, err := readHeader(c, min(max, 1<<20))
	if err != nil {
		return err
	}
	if h.typ != typ {
		return fmt.Errorf("got frame type %d, want %d", h.typ, typ)
	}
	b := make([]byte, h.payload)
	if _, err := io.ReadFull(c, b); err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func (t *tcp) Rank() int  { return t.cfg.Rank }
func (t *tcp) World() int { return t.cfg.World }

func (t *tcp) Send(ctx context.Context, to int, tag Tag, ts Tensors) error {
	if err := checkPeer(t.cfg.Rank, to, t.cfg.World); err != nil {
		return err
	}
	if err := t.box.failed(); err != nil {
		return err
	}
	for n, x := range ts { // fail here, not in the writer, on tensors that cannot travel
		if x == nil || x.Bytes() == nil && x.Numel() > 0 {
			return fmt.Errorf("send to rank %d: tensor %q is not in host memory", to, n)
		}
	}
	return t.peers[to].enqueue(outFrame{typ: frameData, tag: tag, ts: ts})
}

func (p *peer) enqueue(f outFrame) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return &RankError{Rank: p.rank, Err: ErrClosed}
	}
	p.queue = append(p.queue, f)
	p.cond.Signal()
	return nil
}

func (t *tcp) Recv(ctx context.Context, from int, tag Tag) (Tensors, error) {
	if err := checkPeer(t.cfg.Rank, from, t.cfg.World); err != nil {
		return nil, err
	}
	return t.box.get(ctx, from, tag)
}

func (t *tcp) AllReduce(ctx context.Context, v []float64) ([]float64, error) {
	t.seq++
	return allReduce(ctx, t, t.seq, v)
}

// writeLoop sends p's queue in order until a bye or abort is written or the connection fails.
func (t *tcp) writeLoop(p *peer) {
	defer close(p.done)
	w := bufio.NewWriterSize(p.conn, 1<<20)
	for {
		p.mu.Lock()
		for len(p.queue) == 0 && !p.closed {
			p.cond.Wait()
		}
		if len(p.queue) == 0 {
			p.mu.Unlock()
			return
		}
		batch := p.queue
		p.queue = nil
		p.mu.Unlock()
		for _, f := range batch {
			var err error
			switch f.typ {
			case frameData:
				err = writeData(w, t.cfg.Rank, f.tag, f.ts)
			default:
				var hb [headerSize]byte
				putHeader(hb[:], header{typ: f.typ, from: t.cfg.Rank, payload: uint64(len(f.text))})
				w.Write(hb[:])
				_, err = w.Write(f.text)
			}
			if err == nil {
				err = w.Flush()
			}
			if err != nil {
				t.box.fail(&RankError{Rank: p.rank, Err: fmt.Errorf("sending to rank %d: %w", p.rank, err)})
				return
			}
			if f.typ == frameBye {
				return
			}
		}
	}
}

// readLoop delivers p's frames until the connection ends.
func (t *tcp) readLoop(p *peer) {
	r := bufio.NewReaderSize(p.conn, 1<<20)
	for {
		h, err := readHeader(r, t.cfg.MaxMessage)
		if err == nil && h.from != p.rank {
			err = fmt.Errorf("frame claims to come from rank %d", h.from)
		}
		if err != nil {
			p.mu.Lock()
			normal := p.bye || p.closed
			p.mu.Unlock()
			if !normal {
				t.box.fail(&RankError{Rank: p.rank, Err: fmt.Errorf("connection lost: %w", err)})
			}
			return
		}
		switch h.typ {
		case frameData:
			ts, err := readData(r, h.payload)
			if err != nil {
				t.box.fail(&RankError{Rank: p.rank, Err: fmt.Errorf("receiving %v: %w", h.tag, err)})
				return
			}
			t.box.put(p.rank, h.tag, ts)
		case frameAbort:
			msg := make([]byte, h.payload)
			if _, err := io.ReadFull(r, msg); err != nil {
				msg = []byte("aborted (message lost: " + err.Error() + ")")
			}
			t.box.fail(&RankError{Rank: p.rank, Err: errors.New(string(msg))})
		case frameBye:
			p.mu.Lock()
			p.bye = true
			p.mu.Unlock()
		default:
			t.box.fail(&RankError{Rank: p.rank, Err: fmt.Errorf("unexpected frame type %d", h.typ)})
			return
		}
	}
}

func (t *tcp) Abort(err error) {
	t.box.fail(&RankError{Rank: t.cfg.Rank, Err: err})
	msg := []byte(err.Error())
	for _, p := range t.peers {
		if p != nil {
			p.enqueue(outFrame{typ: frameAbort, text: msg})
		}
	}
}

// Close says goodbye to every peer, waits (briefly) for the queues to drain and closes the
// connections.
func (t *tcp) Close() error {
	t.once.Do(func() {
		for _, p := range t.peers {
			if p != nil {
				p.enqueue(outFrame{typ: frameBye})
			}
		}
		timeout := time.After(10 * time.Second)
		for _, p := range t.peers {
			if p == nil {
				continue
			}
			select {
			case <-p.done:
			case <-timeout:
			}
		}
		t.closeConns()
		t.box.fail(&RankError{Rank: t.cfg.Rank, Err: ErrClosed})
	})
	return nil
}

func (t *tcp) closeConns() {
	for _, p := range t.peers {
		if p == nil {
			continue
		}
		p.mu.Lock()
		p.closed = true
		p.cond.Broadcast()
		p.mu.Unlock()
		p.conn.Close()
	}
}
