package transport

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"testing"

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

// BenchmarkTCPSend: one 16 MiB activation between two ranks over loopback.
func BenchmarkTCPSend(b *testing.B) {
	ranks := dialGroup(b, 2, "bench")
	defer ranks[0].Close()
	defer ranks[1].Close()
	x := tensors.New(tensors.F32, 1024, 4096)
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
}
