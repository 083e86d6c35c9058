package safetensors

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glmflow/glmflow/tensors"
)

// rssKiB reads this process's resident set size (Linux only; 0 elsewhere).
func rssKiB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

// An 8 GiB sparse file opens by reading its header only: fast, and the resident set hardly
// grows; the tensor is a view over the mapping, not a copy.
func TestOpenBigSparseFile(t *testing.T) {
	const size = 8 << 30
	p := filepath.Join(t.TempDir(), "big.safetensors")
	hdr := fmt.Sprintf(`{"__metadata__":{"format":"pt"},"big":{"dtype":"BF16","shape":[65536,65536],"data_offsets":[0,%d]}}`, int64(size))
	hdr += strings.Repeat(" ", (8-len(hdr)%8)%8)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(craft(hdr, nil)); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(8 + int64(len(hdr)) + size); err != nil {
		f.Close()
		t.Skipf("cannot make a sparse 8 GiB file here: %v", err)
	}
	f.Close()

	rss0 := rssKiB()
	start := time.Now()
	sf, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer sf.Close()
	x, err := sf.Tensor("big")
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	grew := rssKiB() - rss0
	t.Logf("open + view of 8 GiB: %v, RSS +%d KiB", took, grew)
	if took > 2*time.Second || grew > 32<<10 {
		t.Fatalf("opening read too much: %v, RSS +%d KiB", took, grew)
	}
	if !sf.Mapped() || x.NBytes() != size || !x.Storage().ReadOnly() || x.DType() != tensors.BF16 {
		t.Fatalf("got %v (mapped %v)", x, sf.Mapped())
	}
	// Touch the last page only.
	b := x.Bytes()
	if !bytes.Equal(b[len(b)-4:], []byte{0, 0, 0, 0}) {
		t.Fatal("sparse tail not zero")
	}
}
