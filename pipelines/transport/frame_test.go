package transport

import (
	"bufio"
	"bytes"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/glmflow/glmflow/tensors"
)

func encode(t testing.TB, ts Tensors) []byte {
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	if err := writeData(w, 3, Tag{Kind: Gradient, Chunk: 1, MB: 9}, ts); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	return buf.Bytes()
}

func TestFrameRoundTripAndTruncation(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	ts := Tensors{"a": randTensor(r, tensors.F32, 2, 3), "b": randTensor(r, tensors.I64, 4), "c": randTensor(r, tensors.BF16)}
	b := encode(t, ts)
	h, err := readHeader(bytes.NewReader(b), 1<<20)
	if err != nil || h.from != 3 || h.tag != (Tag{Kind: Gradient, Chunk: 1, MB: 9}) || h.payload != uint64(len(b)-headerSize) {
		t.Fatalf("header %+v, %v", h, err)
	}
	got, err := readData(bytes.NewReader(b[headerSize:]), h.payload)
	if err != nil {
		t.Fatal(err)
	}
	sameTensors(t, got, ts)
	if !bytes.Equal(b, encode(t, ts)) {
		t.Error("encoding is not deterministic")
	}
	for cut := headerSize; cut < len(b); cut++ { // every truncation is an error, never a panic
		if _, err := readData(bytes.NewReader(b[headerSize:cut]), h.payload); err == nil {
			t.Fatalf("truncated at %d: no error", cut)
		}
	}
	if _, err := readHeader(bytes.NewReader(b), 4); err == nil {
		t.Error("payload over the limit accepted")
	}
}

func FuzzReadData(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 6))
	f.Add(encode(f, Tensors{"x": randTensor(r, tensors.F32, 3, 2)})[headerSize:])
	f.Add([]byte{1, 0, 0, 0, 1, 0, 'x', 3, 'F', '3', '2', 2, 255, 255, 255, 255, 255, 255, 255, 255, 2, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, err := readData(bytes.NewReader(b), uint64(len(b)))
		if err == nil {
			n := uint64(4)
			for _, x := range ts {
				n += uint64(x.NBytes())
			}
			if n > uint64(len(b)) {
				t.Fatalf("decoded %d tensor bytes from %d", n, len(b))
			}
		}
	})
}

// BenchmarkTCPSend: one 16 MiB activation between two ranks over loopback, beside the
// baseline of the same bytes written and read on a bare loopback TCP connection in the same
// run (metric x-raw: our throughput over the bare socket's).
func BenchmarkTCPSend(b *testing.B) {
	ranks := dialGroup(b, 2, "bench")
	defer ranks[0].Close()
	defer ranks[1].Close()
	x := tensors.New(tensors.F32, 1024, 4096)
	raw := rawLoopbackRate(b, int(x.NBytes()))
	ctx := b.Context()
	b.SetBytes(x.NBytes())
	for i := 0; b.Loop(); i++ {
		if err := ranks[0].Send(ctx, 1, Tag{Kind: Activation, MB: i}, Tensors{"hidden": x}); err != nil {
			b.Fatal(err)
		}
		if _, err := ranks[1].Recv(ctx, 0, Tag{Kind: Activation, MB: i}); err != nil {
			b.Fatal(err)
		}
	}
	rate := float64(x.NBytes()) * float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(rate/raw, "x-raw")
}

// rawLoopbackRate is the bytes/s of n-byte messages through a bare loopback TCP connection.
func rawLoopbackRate(b *testing.B, n int) float64 {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	done := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		_, err = io.Copy(io.Discard, c)
		done <- err
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, n)
	const reps = 20
	t0 := time.Now()
	for range reps {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	c.Close()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	return float64(n*reps) / time.Since(t0).Seconds()
}
