package transport

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glmflow/glmflow/tensors"
)

func randTensor(r *rand.Rand, dt tensors.DType, shape ...int) *tensors.Tensor {
	t := tensors.New(dt, shape...)
	b := t.Bytes()
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return t
}

func sameTensors(t *testing.T, got, want Tensors) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d tensors, want %d", len(got), len(want))
	}
	for n, w := range want {
		g := got[n]
		if g == nil || g.DType() != w.DType() || fmt.Sprint(g.Shape()) != fmt.Sprint(w.Shape()) || string(g.Bytes()) != string(w.Bytes()) {
			t.Fatalf("tensor %s: got %v, want %v (or bytes differ)", n, g, w)
		}
	}
}

// exercise runs the same conversation on any group: out-of-order receives, a chain of
// sends, all-reduces whose result must be the rank-order sum on every rank.
func exercise(t *testing.T, ranks []Transport) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	W := len(ranks)
	r := rand.New(rand.NewPCG(1, 2))
	msgs := make([]Tensors, 4)
	for i := range msgs {
		msgs[i] = Tensors{"hidden": randTensor(r, tensors.F32, 3+i, 5), "position_ids": randTensor(r, tensors.I32, 3, 3+i),
			"scalar": randTensor(r, tensors.F64), "empty": tensors.New(tensors.BF16, 0, 4)}
	}
	vals := make([][]float64, W)
	for k := range vals {
		vals[k] = []float64{float64(k) + 0.1, 1e16, -1e16 * float64(k%2), 1.0 / 3}
	}
	want := make([]float64, 4)
	for k := range W {
		for i := range want {
			want[i] += vals[k][i]
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, W)
	for k, tr := range ranks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[k] = func() error {
				next, prev := (k+1)%W, (k+W-1)%W
				if W > 1 {
					for mb := range msgs { // all sends first: they must not block
						if err := tr.Send(ctx, next, Tag{Kind: Activation, Chunk: k, MB: mb}, msgs[mb]); err != nil {
							return err
						}
					}
					for mb := len(msgs) - 1; mb >= 0; mb-- { // received in reverse order
						got, err := tr.Recv(ctx, prev, Tag{Kind: Activation, Chunk: prev, MB: mb})
						if err != nil {
							return err
						}
						sameTensors(t, got, msgs[mb])
					}
				}
				for range 3 {
					s, err := tr.AllReduce(ctx, vals[k])
					if err != nil {
						return err
					}
					for i := range s {
						if s[i] != want[i] {
							return fmt.Errorf("all-reduce[%d] = %v, want %v", i, s[i], want[i])
						}
					}
				}
				return nil
			}()
		}()
	}
	wg.Wait()
	for k, err := range errs {
		if err != nil {
			t.Errorf("rank %d: %v", k, err)
		}
	}
}

func TestInProc(t *testing.T) {
	for _, W := range []int{1, 2, 4} {
		ranks, err := NewInProc(W)
		if err != nil {
			t.Fatal(err)
		}
		exercise(t, ranks)
	}
	if _, err := NewInProc(0); err == nil {
		t.Error("world 0 accepted")
	}
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func dialGroup(t testing.TB, W int, token string) []Transport {
	t.Helper()
	master := freeAddr(t)
	ranks := make([]Transport, W)
	errs := make([]error, W)
	var wg sync.WaitGroup
	for k := range W {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if k > 0 {
				time.Sleep(time.Duration(W-k) * 10 * time.Millisecond) // ranks start in any order
			}
			ranks[k], errs[k] = DialTCP(context.Background(), TCPConfig{Rank: k, World: W, Master: master, Token: token, Timeout: 10 * time.Second})
		}()
	}
	wg.Wait()
	for k, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", k, err)
		}
	}
	return ranks
}

func TestTCP(t *testing.T) {
	for _, W := range []int{1, 2, 3} {
		ranks := dialGroup(t, W, "job")
		exercise(t, ranks)
		for _, r := range ranks {
			r.Close()
		}
	}
}

// TestAbortReachesEveryRank: an error on one rank ends the others' blocked receives with an
// error naming that rank, in-process and over TCP.
func TestAbortReachesEveryRank(t *testing.T) {
	for name, mk := range map[string]func() []Transport{
		"inproc": func() []Transport { r, _ := NewInProc(3); return r },
		"tcp":    func() []Transport { return dialGroup(t, 3, "abort") },
	} {
		ranks := mk()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for k := 1; k < 3; k++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[k] = ranks[k].Recv(ctx, 0, Tag{Kind: Gradient, MB: 7})
			}()
		}
		time.Sleep(20 * time.Millisecond)
		ranks[0].Abort(errors.New("stage glm4v.head: loss is NaN"))
		wg.Wait()
		cancel()
		for k := 1; k < 3; k++ {
			var re *RankError
			if !errors.As(errs[k], &re) || re.Rank != 0 || !strings.Contains(errs[k].Error(), "loss is NaN") {
				t.Errorf("%s: rank %d got %v, want rank 0's error", name, k, errs[k])
			}
		}
		if _, err := ranks[1].AllReduce(context.Background(), []float64{1}); err == nil {
			t.Errorf("%s: all-reduce after abort succeeded", name)
		}
		for _, r := range ranks {
			r.Close()
		}
	}
}

// TestLostConnection: a rank that disappears without goodbye fails its peers' receives.
func TestLostConnection(t *testing.T) {
	ranks := dialGroup(t, 2, "lost")
	defer ranks[0].Close()
	go func() {
		time.Sleep(20 * time.Millisecond)
		ranks[1].(*tcp).closeConns() // as if the process died
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := ranks[0].Recv(ctx, 1, Tag{Kind: Activation})
	var re *RankError
	if !errors.As(err, &re) || re.Rank != 1 || !strings.Contains(err.Error(), "connection lost") {
		t.Fatalf("got %v, want a lost connection to rank 1", err)
	}
}

func TestRecvContext(t *testing.T) {
	ranks, _ := NewInProc(2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := ranks[0].Recv(ctx, 1, Tag{Kind: Activation}); err == nil || !strings.Contains(err.Error(), "from rank 1") {
		t.Fatalf("got %v", err)
	}
	if err := ranks[0].Send(ctx, 0, Tag{}, nil); err == nil {
		t.Error("send to self accepted")
	}
	if err := ranks[0].Send(ctx, 2, Tag{}, nil); err == nil {
		t.Error("send to rank 2 of 2 accepted")
	}
}

func TestRendezvousRejectsWrongWorld(t *testing.T) {
	master := freeAddr(t)
	errc := make(chan error, 2)
	go func() {
		_, err := DialTCP(context.Background(), TCPConfig{Rank: 0, World: 2, Master: master, Timeout: 5 * time.Second})
		errc <- err
	}()
	go func() {
		_, err := DialTCP(context.Background(), TCPConfig{Rank: 1, World: 3, Master: master, Timeout: 2 * time.Second})
		errc <- err
	}()
	e1, e2 := <-errc, <-errc
	if e1 == nil || e2 == nil {
		t.Fatalf("mismatched worlds joined: %v, %v", e1, e2)
	}
	if !strings.Contains(e1.Error()+e2.Error(), "world has 3 ranks") {
		t.Errorf("errors do not say why: %v; %v", e1, e2)
	}
}
