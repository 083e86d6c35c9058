package softmax

import (
	"fmt"

	"github.com/glmflow/glmflow/kernels/internal/parallel"
	"github.com/glmflow/glmflow/kernels/vec"
)

// Forward writes y = softmax(x) along each row: y_j = exp(x_j − max x) / Σ_k exp(x_k − max x).
// The assembly paths take three passes over the row (max; exp, store and sum; scale), the
// last two in cache for rows up to L2 size.
//
//	y [R, C]  overwritten; may be the same slice as x
//	x [R, C]
func Forward(y, x []float32, R, C int) error {
	if err := checkRC("softmax.Forward", R, C, arg{"y", len(y)}, arg{"x", len(x)}); err != nil {
		return err
	}
	run(R, C, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			xr, yr := x[r*C:(r+1)*C], y[r*C:(r+1)*C]
			m := vec.Max(xr)
			if path != pathGeneric {
				s := expSumAsm(yr, xr, m)
				scaleAsm(yr, yr, 1/s)
				continue
			}
			if &yr[0] != &xr[0] {
				copy(yr, xr)
			}
			addScalar(yr, -m)
			vec.Exp(yr, yr)
			vec.Scale(1/vec.Sum(yr), yr)
		}
	})
	return nil
}

// Backward writes dx = y ⊙ (dy − Σ_j dy_j·y_j) along each row.
//
//	dx [R, C]  overwritten; may be the same slice as dy
//	y  [R, C]  Forward's output
//	dy [R, C]
func Backward(dx, y, dy []float32, R, C int) error {
	if err := checkRC("softmax.Backward", R, C, arg{"dx", len(dx)}, arg{"y", len(y)}, arg{"dy", len(dy)}); err != nil {
		return err
	}
	run(R, C, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			yr, dyr, dxr := y[r*C:(r+1)*C], dy[r*C:(r+1)*C], dx[r*C:(r+1)*C]
			if path != pathGeneric {
				smGradAsm(dxr, yr, dyr, dotAsm(dyr, yr))
				continue
			}
			d := vec.Dot(dyr, yr)
			for j, v := range yr {
				dxr[j] = v * (dyr[j] - d)
			}
		}
	})
	return nil
}

// ones is the x operand that turns vec.Axpy into "add a scalar".
var ones = func() []float32 {
	o := make([]float32, Chunk)
	for i := range o {
		o[i] = 1
	}
	return o
}()

// addScalar sets x[i] += a (one rounding, like x[i] + a).
func addScalar(x []float32, a float32) {
	for len(x) > 0 {
		n := min(len(x), len(ones))
		vec.Axpy(a, ones[:n], x[:n])
		x = x[n:]
	}
}

type arg struct {
	name string
	n    int
}

func checkRC(op string, R, C int, args ...arg) error {
	if R < 0 || C <= 0 {
		return fmt.Errorf("%s: bad dims R=%d C=%d", op, R, C)
	}
	for _, a := range args {
		if a.n != R*C {
			return fmt.Errorf("%s: len(%s) = %d, want %d", op, a.name, a.n, R*C)
		}
	}
	return nil
}

// parallelMin is the element count below which work runs inline.
const parallelMin = 1 << 15

// run calls f over [0, n) in contiguous pieces, in parallel when n·width (elements touched)
// reaches parallelMin. Each index is computed the same way whatever the split.
func run(n, width int, f func(lo, hi int)) { parallel.Range(n, 1, n*width, parallelMin, f) }
