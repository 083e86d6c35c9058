package simd

import "testing"

func TestBestIsAvailable(t *testing.T) {
	if !Available(Best()) || !Available(Generic) || Available(AVX512+1) {
		t.Fatalf("Best %s: availability inconsistent", Names[Best()])
	}
	for p := Best() + 1; p <= AVX512; p++ {
		if Available(p) {
			t.Errorf("%s is available but Best is %s", Names[p], Names[Best()])
		}
	}
}
