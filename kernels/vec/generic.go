package vec

import "math"

var negInf = float32(math.Inf(-1))

// Exp constants, shared with the assembly (vec_amd64.s repeats them as hex).
const (
	expHi    = 88.72283173  // largest x with a finite float32 e^x (0x42b17217)
	expLo    = -87.33654022 // smallest x with a normal float32 e^x (0xc2aeac4f)
	log2e    = 1.44269504088896341
	ln2Hi    = 0.693359375    // 9 significant bits: n·ln2Hi is exact for |n| ≤ 2^15
	ln2Lo    = -2.12194440e-4 // ln2 − ln2Hi
	roundMag = 12582912       // 1.5·2^23: adding and subtracting it rounds to an integer (ties to even)
	expP0    = 1.9875691500e-4
	expP1    = 1.3981999507e-3
	expP2    = 8.3334519073e-3
	expP3    = 4.1665795894e-2
	expP4    = 1.6666665459e-1
	expP5    = 5.0000001201e-1
)

// exp1 is the scalar form of the vector algorithm (without fused multiply-adds).
func exp1(x float32) float32 {
	switch {
	case x > expHi:
		return float32(math.Inf(1))
	case x < expLo:
		return 0
	case x != x:
		return x
	}
	t := x * log2e
	n := (t + roundMag) - roundMag
	r := x - n*ln2Hi
	r = r - n*ln2Lo
	z := r * r
	p := float32(expP0)
	p = float32(p*r) + expP1
	p = float32(p*r) + expP2
	p = float32(p*r) + expP3
	p = float32(p*r) + expP4
	p = float32(p*r) + expP5
	p = float32(p*z) + r
	p = p + 1
	// 2^n as two factors so n = 128 and n = −126 both stay in range.
	ni := int32(n)
	n1 := ni >> 1
	n2 := ni - n1
	return p * math.Float32frombits(uint32(n1+127)<<23) * math.Float32frombits(uint32(n2+127)<<23)
}

func expGeneric(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] = exp1(v)
	}
}

func sigmoidGeneric(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] = 1 / (1 + exp1(-v))
	}
}

// dotGeneric accumulates in 8 lanes (element i into lane i%8), then sums the lanes pairwise.
func dotGeneric(a, b []float32) float32 {
	b = b[:len(a)]
	var s [8]float32
	i := 0
	for ; i+8 <= len(a); i += 8 {
		s[0] += a[i] * b[i]
		s[1] += a[i+1] * b[i+1]
		s[2] += a[i+2] * b[i+2]
		s[3] += a[i+3] * b[i+3]
		s[4] += a[i+4] * b[i+4]
		s[5] += a[i+5] * b[i+5]
		s[6] += a[i+6] * b[i+6]
		s[7] += a[i+7] * b[i+7]
	}
	for j := 0; i < len(a); i, j = i+1, j+1 {
		s[j] += a[i] * b[i]
	}
	return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]))
}

func sumGeneric(x []float32) float32 {
	var s [8]float32
	i := 0
	for ; i+8 <= len(x); i += 8 {
		s[0] += x[i]
		s[1] += x[i+1]
		s[2] += x[i+2]
		s[3] += x[i+3]
		s[4] += x[i+4]
		s[5] += x[i+5]
		s[6] += x[i+6]
		s[7] += x[i+7]
	}
	for j := 0; i < len(x); i, j = i+1, j+1 {
		s[j] += x[i]
	}
	return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]))
}

func maxGeneric(x []float32) float32 {
	m := negInf
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	return m
}

func axpyGeneric(alpha float32, x, y []float32) {
	x = x[:len(y)]
	for i, v := range x {
		y[i] += alpha * v
	}
}

func scaleGeneric(alpha float32, x []float32) {
	for i := range x {
		x[i] *= alpha
	}
}
