package attention

import (
	"os"
	"strconv"
)

// ATTN_ROWS, ATTN_BC and ATTN_BCFWD override the tile shape in tests and benchmarks (tuning experiments).
func init() {
	if v, err := strconv.Atoi(os.Getenv("ATTN_ROWS")); err == nil && v > 0 {
		rowsTarget = v
	}
	if v, err := strconv.Atoi(os.Getenv("ATTN_BC")); err == nil && v > 0 && v <= maxBc {
		bc = v
	}
	if v, err := strconv.Atoi(os.Getenv("ATTN_BCFWD")); err == nil && v > 0 && v <= maxBc {
		bcFwd = v
	}
}
