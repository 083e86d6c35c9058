package main

import (
	"fmt"
	"log"
	"math"
	"strings"
)

// constVals are the constants kernels name with regConsts/consts, as float32 bits. The
// polynomial coefficients are documented where they are used (gauss.go, expneg.go).
var constVals = map[string]uint32{
	"ZERO":    0,
	"HALF":    f32(0.5),
	"NHALF":   f32(-0.5),
	"ONE":     f32(1),
	"ABSMASK": 0x7fffffff,
	"I127":    127,
	// e^x for x ≤ 0 (expNeg): n = rne(x·log2e), r = x − n·ln2hi − n·ln2lo (kernels/vec's
	// reduction), e^r = Σ EC_k·r^k (EC0 = EC1 = 1) a degree-6 fit of relative error 3.1e-9 on
	// |r| ≤ 0.347; UC_k = EC_k·(−½)^k is the same polynomial in u = −2r (exact scalings).
	"LOG2E":  0x3fb8aa3b,
	"LN2HI":  0x3f318000,
	"LN2LO":  0xb95e8083,
	"EC2":    0x3efffffe,
	"EC3":    0x3e2aaa48,
	"EC4":    0x3d2aac7b,
	"EC5":    0x3c091d3b,
	"EC6":    0x3ab5119f,
	"UC1":    0xbf000000,
	"UC2":    0x3dfffffe,
	"UC3":    0xbcaaaa48,
	"UC4":    0x3b2aac7b,
	"UC5":    0xb9891d3b,
	"UC6":    0x37b5119f,
	"EXPMIN": f32(-104), // e^−104 < 2^−150: clamping below it changes no result
	// Gaussian (gauss.go).
	"NHLOG2E":    f32(-0.5 * 1.44269504088896341),
	"AMAX":       f32(13.25), // e^(−AMAX²/2) ≈ 2^−127: n ≥ −127 in expNeg
	"INVSQRT2PI": f32(1 / math.Sqrt(2*math.Pi)),
	"LN2HI2":     0x3fb18000, // 2·LN2HI
	"LN2LO2":     0xb9de8083, // 2·LN2LO
	// Halved (exponent − 1) coefficients: erf(x/√2)/2 = x·Σ HE_k·x^(2k) (|x| < 1) and
	// erfc(a/√2)/2 = e^(−a²/2)·Σ HTP_k·a^k / Σ TQ_k·a^k (TQ0 = 1).
	"HE0":  0x3f4c4229 - 1<<23,
	"HE1":  0xbe082bb1 - 1<<23,
	"HE2":  0x3ca34d75 - 1<<23,
	"HE3":  0xbb194509 - 1<<23,
	"HE4":  0x3945a06b - 1<<23,
	"HTP0": 0x3f7fe789 - 1<<23,
	"HTP1": 0x3f4b3896 - 1<<23,
	"HTP2": 0x3e912bdd - 1<<23,
	"HTP3": 0x3d436949 - 1<<23,
	"TQ1":  0x3fcb8015,
	"TQ2":  0x3f873824,
	"TQ3":  0x3eb5e697,
	"TQ4":  0x3d74eb64,
}

func f32(v float64) uint32 { return math.Float32bits(float32(v)) }

// constIdx maps a constant to its 64-byte row of the gc<> table of the package being generated.
var constIdx map[string]int

func constIndex(name string) int {
	i, ok := constIdx[name]
	if !ok {
		log.Fatalf("constant %s not in the table", name)
	}
	return i
}

// constTable lays out gc<>: one 64-byte row (16 copies) per constant the kernels use, in first-use
// order, so a row is a full-width memory operand on both paths. Empty when no kernel uses one.
func constTable(ks []*kernel) string {
	constIdx = map[string]int{}
	var names []string
	for _, k := range ks {
		for _, c := range append(append([]string(nil), k.regConsts...), k.consts...) {
			if _, ok := constVals[c]; !ok {
				log.Fatalf("%s: unknown constant %s", k.name, c)
			}
			if _, ok := constIdx[c]; !ok {
				constIdx[c] = len(names)
				names = append(names, c)
			}
		}
	}
	if len(names) == 0 {
		return ""
	}
	var w strings.Builder
	w.WriteString("// gc<>: the kernels' constants, 16 copies (64 bytes) each.\n")
	for i, c := range names {
		v := uint64(constVals[c])
		for j := 0; j < 64; j += 8 {
			fmt.Fprintf(&w, "DATA gc<>+%d(SB)/8, $%#016x // %s\n", 64*i+j, v<<32|v, c)
		}
	}
	fmt.Fprintf(&w, "GLOBL gc<>(SB), RODATA|NOPTR, $%d\n\n", 64*len(names))
	return w.String()
}
