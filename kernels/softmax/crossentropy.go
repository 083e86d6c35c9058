package softmax

import (
	"fmt"
	"math"

	"github.com/glmflow/glmflow/kernels/vec"
)

// IgnoreIndex is the target value of tokens that carry no loss (PyTorch's ignore_index).
const IgnoreIndex = -100

// Chunk is the number of vocabulary columns processed at a time (16 KiB of float32: one
// chunk stays in L1 between the max, exp and sum passes).
const Chunk = 4096

// Mean is lossSum/count, or 0 when count is 0.
func Mean(lossSum float64, count int) float64 {
	if count == 0 {
		return 0
	}
	return lossSum / float64(count)
}

// CountTargets returns the number of tokens with a loss (targets ≠ IgnoreIndex).
//
//	targets [T]
func CountTargets(targets []int32) int {
	n := 0
	for _, t := range targets {
		if t != IgnoreIndex {
			n++
		}
	}
	return n
}

// CrossEntropyForward computes the loss of logits against targets and the statistics
// backward needs.
//
//	stats   [T, 2]  overwritten: (row max, log Σ exp(logit − max)); (0, 0) for ignored rows
//	logits  [T, V]
//	targets [T]     in [0, V), or IgnoreIndex
//
// lossSum = Σ over non-ignored t of (logsumexp(logits[t]) − logits[t, targets[t]]), summed in
// float64 in token order; count = number of non-ignored tokens.
func CrossEntropyForward(stats, logits []float32, targets []int32, T, V int) (lossSum float64, count int, err error) {
	if err := checkCE("softmax.CrossEntropyForward", T, V, targets, arg{"stats", len(stats)}, arg{"logits", len(logits)}); err != nil {
		return 0, 0, err
	}
	loss := make([]float64, T)
	ceRows(nil, stats, logits, targets, T, V, 0, loss)
	return sumInOrder(loss), CountTargets(targets), nil
}

// CrossEntropyBackward writes d(logits) = (softmax(logits) − onehot(target))·gradScale for
// every non-ignored row and zeros for ignored rows.
//
//	dlogits [T, V]  overwritten; may be the same slice as logits (in place)
//	logits  [T, V]
//	stats   [T, 2]  from CrossEntropyForward
//	targets [T]
func CrossEntropyBackward(dlogits, logits, stats []float32, targets []int32, T, V int, gradScale float32) error {
	if err := checkCE("softmax.CrossEntropyBackward", T, V, targets, arg{"dlogits", len(dlogits)},
		arg{"logits", len(logits)}, arg{"stats", len(stats)}); err != nil {
		return err
	}
	run(T, 3*V, func(t0, t1 int) {
		cmax := make([]float32, (V+Chunk-1)/Chunk)
		for t := t0; t < t1; t++ {
			gradRow(dlogits[t*V:(t+1)*V], logits[t*V:(t+1)*V], stats[2*t], stats[2*t+1], targets[t], gradScale, cmax)
		}
	})
	return nil
}

// CrossEntropy is CrossEntropyForward followed by CrossEntropyBackward, row by row: each row
// is read from memory once (the gradient pass finds it in cache), so it moves 2/3 of the
// bytes of the two calls. Results are bit-identical to the two calls.
//
//	dlogits [T, V]  overwritten; may be the same slice as logits
//	stats   [T, 2]  overwritten (as CrossEntropyForward)
//	logits  [T, V]
//	targets [T]
func CrossEntropy(dlogits, stats, logits []float32, targets []int32, T, V int, gradScale float32) (lossSum float64, count int, err error) {
	if err := checkCE("softmax.CrossEntropy", T, V, targets, arg{"dlogits", len(dlogits)},
		arg{"stats", len(stats)}, arg{"logits", len(logits)}); err != nil {
		return 0, 0, err
	}
	loss := make([]float64, T)
	ceRows(dlogits, stats, logits, targets, T, V, gradScale, loss)
	return sumInOrder(loss), CountTargets(targets), nil
}

// sumInOrder is Σ x in index order (float64).
func sumInOrder(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s
}

// ceRows runs the forward over all rows (in parallel), and the backward too when dlogits is
// not nil, writing each row's loss (0 for ignored rows) to loss [T].
func ceRows(dlogits, stats, logits []float32, targets []int32, T, V int, gradScale float32, loss []float64) {
	run(T, 2*V, func(t0, t1 int) {
		buf := make([]float32, min(V, Chunk))
		cmax := make([]float32, (V+Chunk-1)/Chunk)
		for t := t0; t < t1; t++ {
			x := logits[t*V : (t+1)*V]
			tgt := targets[t]
			if tgt == IgnoreIndex {
				stats[2*t], stats[2*t+1], loss[t] = 0, 0, 0
				if dlogits != nil {
					clear(dlogits[t*V : (t+1)*V])
				}
				continue
			}
			xt := x[tgt] // before an in-place pass overwrites it
			var m float32
			var logs float64
			if path != pathGeneric && dlogits != nil {
				d := dlogits[t*V : (t+1)*V]
				m, logs = rowStatsStore(d, x, cmax)
				stats[2*t], stats[2*t+1] = m, float32(logs)
				scaleChunks(d, cmax, m, float32(logs), gradScale)
				d[tgt] -= gradScale
			} else {
				m, logs = rowStats(x, buf, cmax)
				stats[2*t], stats[2*t+1] = m, float32(logs)
				if dlogits != nil {
					gradRow(dlogits[t*V:(t+1)*V], x, m, float32(logs), tgt, gradScale, cmax)
				}
			}
			loss[t] = logs + (float64(m) - float64(xt))
		}
	})
}

// rowStats returns m = max x and log Σ exp(x − m) in one streaming pass over Chunk-column
// chunks: each chunk's max updates the running max (rescaling the running sum by
// exp(m_old − m_new) in float64), then exp(x − m) of the chunk is summed (float32 within the
// chunk, float64 across chunks). buf [≥ min(len(x), Chunk)] is scratch.
//
// On the assembly paths the exp and the sum of a chunk are one kernel (sumExp): the chunk is
// read from memory by vec.Max and from L1 by sumExp. cmax [len(x)/Chunk rounded up] gets the
// running max after each chunk (rowStatsStore and the backward use it).
func rowStats(x, buf, cmax []float32) (m float32, logs float64) {
	m = float32(math.Inf(-1))
	s := 0.0
	for c0 := 0; c0 < len(x); c0 += Chunk {
		xc := x[c0:min(c0+Chunk, len(x))]
		if cm := vec.Max(xc); cm > m {
			if s != 0 {
				s *= math.Exp(float64(m) - float64(cm))
			}
			m = cm
		}
		cmax[c0/Chunk] = m
		if path != pathGeneric {
			s += float64(sumExpAsm(xc, m))
			continue
		}
		b := buf[:len(xc)]
		copy(b, xc)
		addScalar(b, -m)
		vec.Exp(b, b)
		s += float64(vec.Sum(b))
	}
	return m, math.Log(s)
}

// rowStatsStore is rowStats (assembly paths) that also writes e = exp(x − m_c) to d, m_c the
// running max after chunk c (into cmax), with the same sums (expSum and sumExp issue the same
// operations). d may be x.
func rowStatsStore(d, x, cmax []float32) (m float32, logs float64) {
	m = float32(math.Inf(-1))
	s := 0.0
	for c0 := 0; c0 < len(x); c0 += Chunk {
		c1 := min(c0+Chunk, len(x))
		xc := x[c0:c1]
		if cm := vec.Max(xc); cm > m {
			if s != 0 {
				s *= math.Exp(float64(m) - float64(cm))
			}
			m = cm
		}
		cmax[c0/Chunk] = m
		s += float64(expSumAsm(d[c0:c1], xc, m))
	}
	return m, math.Log(s)
}

// chunkScale is the factor g·e^(m_c − m − logs) that turns exp(x − m_c) of a chunk into its
// d(logits) = softmax·g (assembly paths).
func chunkScale(mc, m, logs, g float32) float32 {
	return float32(float64(g) * math.Exp(float64(mc)-float64(m)-float64(logs)))
}

// scaleChunks multiplies each chunk c of d (holding exp(x − m_c)) by chunkScale: the fused
// backward, one multiply per element.
func scaleChunks(d, cmax []float32, m, logs, g float32) {
	for c0 := 0; c0 < len(d); c0 += Chunk {
		dc := d[c0:min(c0+Chunk, len(d))]
		scaleAsm(dc, dc, chunkScale(cmax[c0/Chunk], m, logs, g))
	}
}

// gradRow writes one row of d(logits): exp(x − m)·(g·e^−logs), minus g at the target; zeros
// for an ignored row. dst may be x. cmax [chunks] is scratch.
//
// The assembly paths compute exp(x − m_c)·chunkScale(m_c) per chunk (expScale), m_c the
// running max after chunk c found again by vec.Max, so that the result has the bits of the
// fused CrossEntropy (rowStatsStore then scaleChunks).
func gradRow(dst, x []float32, m, logs float32, tgt int32, g float32, cmax []float32) {
	if tgt == IgnoreIndex {
		clear(dst)
		return
	}
	if path != pathGeneric {
		mc := float32(math.Inf(-1))
		for c0 := 0; c0 < len(x); c0 += Chunk {
			c1 := min(c0+Chunk, len(x))
			xc := x[c0:c1]
			mc = max(mc, vec.Max(xc))
			expScaleAsm(dst[c0:c1], xc, mc, chunkScale(mc, m, logs, g))
		}
		dst[tgt] -= g
		return
	}
	scale := float32(float64(g) * math.Exp(-float64(logs)))
	for c0 := 0; c0 < len(x); c0 += Chunk {
		c1 := min(c0+Chunk, len(x))
		d := dst[c0:c1]
		if xc := x[c0:c1]; &d[0] != &xc[0] {
			copy(d, xc)
		}
		addScalar(d, -m)
		vec.Exp(d, d)
		vec.Scale(scale, d)
	}
	dst[tgt] -= g
}

// checkCE validates dims, buffer lengths (stats is [T, 2], the rest [T, V]) and targets,
// before anything is written.
func checkCE(op string, T, V int, targets []int32, args ...arg) error {
	if T < 0 || V <= 0 {
		return fmt.Errorf("%s: bad dims T=%d V=%d", op, T, V)
	}
	if len(targets) != T {
		return fmt.Errorf("%s: len(targets) = %d, want T = %d", op, len(targets), T)
	}
	for _, a := range args {
		want := T * V
		if a.name == "stats" {
			want = 2 * T
		}
		if a.n != want {
			return fmt.Errorf("%s: len(%s) = %d, want %d", op, a.name, a.n, want)
		}
	}
	return checkTargets(op, targets, V)
}

func checkTargets(op string, targets []int32, V int) error {
	for i, t := range targets {
		if t != IgnoreIndex && (t < 0 || int(t) >= V) {
			return fmt.Errorf("%s: targets[%d] = %d is outside [0, %d) and is not the ignore index %d", op, i, t, V, IgnoreIndex)
		}
	}
	return nil
}
