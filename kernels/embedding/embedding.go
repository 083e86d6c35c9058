package embedding

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/glmflow/glmflow/kernels/vec"
)

// Forward sets out[t] = table[ids[t]] for every token t.
//
//	out   [T, D]
//	table [V, D]
//	ids   [T]
func Forward(out, table []float32, ids []int32, V, D int) error {
	T := len(ids)
	if err := check("Forward", "out", out, table, ids, V, D); err != nil {
		return err
	}
	parallel(T, D, func(t0, t1, j0, j1 int) {
		for t := t0; t < t1; t++ {
			r := int(ids[t]) * D
			copy(out[t*D+j0:t*D+j1], table[r+j0:r+j1])
		}
	}, false)
	return nil
}

// Backward accumulates dTable[ids[t]] += dout[t] for every token t whose id is not paddingIdx
// (−1: no padding row). Each dTable element adds its contributions in token order.
//
//	dTable [V, D]  accumulated
//	dout   [T, D]
//	ids    [T]
func Backward(dTable, dout []float32, ids []int32, V, D, paddingIdx int) error {
	if err := check("Backward", "dout", dout, dTable, ids, V, D); err != nil {
		return err
	}
	if paddingIdx < -1 || paddingIdx >= V {
		return fmt.Errorf("embedding.Backward: paddingIdx = %d, want −1 or in [0, V=%d)", paddingIdx, V)
	}
	parallel(len(ids), D, func(_, _, j0, j1 int) {
		for t, id := range ids {
			if int(id) == paddingIdx {
				continue
			}
			r := int(id) * D
			vec.Axpy(1, dout[t*D+j0:t*D+j1], dTable[r+j0:r+j1])
		}
	}, true)
	return nil
}

// check validates dims, lengths and every id before anything is written.
func check(op, rowsName string, rows, table []float32, ids []int32, V, D int) error {
	T := len(ids)
	switch {
	case V <= 0 || D <= 0:
		return fmt.Errorf("embedding.%s: bad dims V=%d D=%d", op, V, D)
	case len(table) != V*D:
		name := "table"
		if op == "Backward" {
			name = "dTable"
		}
		return fmt.Errorf("embedding.%s: len(%s) = %d, want V·D = %d", op, name, len(table), V*D)
	case len(rows) != T*D:
		return fmt.Errorf("embedding.%s: len(%s) = %d, want T·D = %d (T = len(ids))", op, rowsName, len(rows), T*D)
	}
	for t, id := range ids {
		if id < 0 || int(id) >= V {
			return fmt.Errorf("embedding.%s: ids[%d] = %d out of range [0, %d)", op, t, id, V)
		}
	}
	return nil
}

// parallelMin is the element count below which work runs inline.
const parallelMin = 1 << 15

// colAlign keeps column splits on 64-byte boundaries.
const colAlign = 16

// parallel runs f over tokens [0, T) × columns [0, D). With byColumn, goroutines split the
// columns and each sees every token (so scatter-adds into one row never race and keep token
// order); otherwise they split the tokens.
func parallel(T, D int, f func(t0, t1, j0, j1 int), byColumn bool) {
	workers := runtime.GOMAXPROCS(0)
	if byColumn {
		workers = min(workers, D/colAlign)
	} else {
		workers = min(workers, T)
	}
	if workers <= 1 || T*D < parallelMin {
		if T > 0 {
			f(0, T, 0, D)
		}
		return
	}
	var wg sync.WaitGroup
	if byColumn {
		per := ((D+workers-1)/workers + colAlign - 1) / colAlign * colAlign
		for j0 := 0; j0 < D; j0 += per {
			j1 := min(j0+per, D)
			wg.Add(1)
			go func() {
				defer wg.Done()
				f(0, T, j0, j1)
			}()
		}
	} else {
		per := (T + workers - 1) / workers
		for t0 := 0; t0 < T; t0 += per {
			t1 := min(t0+per, T)
			wg.Add(1)
			go func() {
				defer wg.Done()
				f(t0, t1, 0, D)
			}()
		}
	}
	wg.Wait()
}
