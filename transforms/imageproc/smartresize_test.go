package imageproc

import "testing"

func TestSmartResizeMatchesHF(t *testing.T) {
	g := loadGoldens(t)
	if len(g.SmartResize) < 100 {
		t.Fatalf("only %d smart_resize cases", len(g.SmartResize))
	}
	for _, c := range g.SmartResize {
		o := DefaultOptions()
		o.MinPixels, o.MaxPixels = c[2], c[3]
		h, w, err := SmartResize(c[0], c[1], o)
		if c[4] < 0 {
			if err == nil {
				t.Errorf("%dx%d (min %d max %d): got %dx%d, HF raises", c[1], c[0], c[2], c[3], w, h)
			}
			continue
		}
		if err != nil || h != c[4] || w != c[5] {
			t.Errorf("h=%d w=%d (min %d max %d): got %d, %d (%v); HF %d, %d", c[0], c[1], c[2], c[3], h, w, err, c[4], c[5])
		}
	}
}

func TestSmartResizeProperties(t *testing.T) {
	o := DefaultOptions()
	// Python's round is half-to-even: 42/28 = 1.5 → 2, 70/28 = 2.5 → 2.
	for _, c := range []struct{ in, want int }{{42, 56}, {70, 56}, {98, 112}, {126, 112}} {
		h, w, err := SmartResize(c.in, 1000, o)
		if err != nil || h != c.want || w != 1008 {
			t.Errorf("SmartResize(%d, 1000) = %d, %d, %v; want %d, 1008", c.in, h, w, err, c.want)
		}
	}
	// The temporal factor 2 is inside the budget: a 4000×4000 image gets ≤ MaxPixels/2 pixels.
	h, w, _ := SmartResize(4000, 4000, o)
	if 2*h*w > o.MaxPixels || h%28 != 0 || w%28 != 0 {
		t.Errorf("4000x4000 → %dx%d: over budget or not a multiple of 28", w, h)
	}
	if _, _, err := SmartResize(0, 10, o); err == nil {
		t.Error("empty image accepted")
	}
}
