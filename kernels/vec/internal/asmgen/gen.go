// Command asmgen writes the fused streaming kernels of kernels/elementwise, kernels/norm,
// kernels/optim and kernels/softmax (asm_amd64.s and the Go declarations asm_amd64.go in each),
// for AVX-512 and AVX2+FMA from one description per kernel.
//
// Run `go generate ./kernels/...` (each package has a go:generate line) or
// `go run ./kernels/vec/internal/asmgen -pkg DIR` from the module root.
//
// Every kernel walks n elements in blocks of L lanes (32 unless a kernel says 16): 2 ZMM or 4
// YMM sub-vectors per block, the last partial block with masked loads and stores. A reduction
// accumulates element i into logical lane i mod L on both paths and sums the lanes in one
// fixed tree (lane j + lane j+L/2, then j + j+L/4, …), so the AVX-512 and AVX2 paths return
// identical bits; the elementwise kernels issue the same operations on both paths, so they do
// too. The e^x code (EXP512 / EXP2) and its constants are copied from kernels/vec/vec_amd64.s;
// expNeg (expneg.go) is a cheaper e^x for x ≤ 0 with the same argument reduction, and gauss
// (gauss.go) the erf/Φ of exact GELU. Constants named by kernels live in a gc<> table (consts.go).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"log"
	"os"
	"path/filepath"
	"strings"
)

// isa describes one instruction set: register file, lanes per sub-vector.
type isa struct {
	name  string // "AVX512" or "AVX2"
	vreg  string // "Z" or "Y"
	f32   int    // float32 lanes per vector register
	ntemp int    // temporaries 0..ntemp-1
	fixed []int  // registers for scalars, constants and accumulators, in allocation order
}

var (
	avx512 = isa{"AVX512", "Z", 16, 16, []int{31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16}}
	avx2   = isa{"AVX2", "Y", 8, 15, []int{14, 13, 12, 11, 10, 9, 8, 7, 6, 5}} // Y15 is the tail mask
)

// kernel is one fused loop. Pointer arguments come first, then n, then float32 scalars.
type kernel struct {
	name    string
	doc     string
	ptrs    []string
	scalars []string
	lanes   int  // block size L (default 32)
	nacc    int  // float32 (or float64) reductions returned
	f64     bool // loads convert float32 → float64 (vector holds half the lanes)
	exp     bool // uses EXP512/EXP2 (AVX-512: Z16–Z29 hold its constants)
	// regConsts are constants of the gc<> table (constVals) broadcast into registers; consts
	// are constants used as memory operands (b.c), placed in free registers on AVX-512.
	regConsts, consts []string
	body              func(b *ctx)
}

// ctx emits one sub-vector of a kernel body.
type ctx struct {
	w       *bytes.Buffer
	isa     isa
	k       *kernel
	u       int  // sub-vector index within the block
	masked  bool // tail: masked loads/stores
	vl      int  // elements per sub-vector
	ntemp   int
	fixed   map[string]string
	maxTemp int        // temporaries are registers [0, maxTemp)
	accs    [][]string // [reduction][sub-vector]
}

func (b *ctx) i(format string, args ...any) { fmt.Fprintf(b.w, "\t"+format+"\n", args...) }

func (b *ctx) reg(n int) string { return fmt.Sprintf("%s%d", b.isa.vreg, n) }

// t allocates a temporary register (reset per sub-vector).
func (b *ctx) t() string {
	if b.ntemp >= b.maxTemp {
		log.Fatalf("%s %s: out of temporaries", b.k.name, b.isa.name)
	}
	b.ntemp++
	return b.reg(b.ntemp - 1)
}

// s returns the register holding a broadcast scalar argument or constant.
func (b *ctx) s(name string) string { return b.fixed[name] }

// c returns constant name as an operand: its register, or its 64-byte row of the gc<> table
// (only valid as the r/m operand, the first one in Go syntax).
func (b *ctx) c(name string) string {
	if r, ok := b.fixed[name]; ok {
		return r
	}
	if _, ok := constVals[name]; !ok {
		log.Fatalf("%s: no constant %s", b.k.name, name)
	}
	return fmt.Sprintf("gc<>+%d(SB)", 64*constIndex(name))
}

func (b *ctx) acc(k int) string { return b.accs[k][b.u] }

func (b *ctx) off(ptr string) string {
	o := b.u * b.vl * 4
	if o == 0 {
		return fmt.Sprintf("(%s)", ptrReg(b.k, ptr))
	}
	return fmt.Sprintf("%d(%s)", o, ptrReg(b.k, ptr))
}

// ld loads this sub-vector of stream ptr into a new temporary.
func (b *ctx) ld(ptr string) string {
	r := b.t()
	m := b.off(ptr)
	half := func(r string) string { return map[string]string{"Z": "Y", "Y": "X"}[b.isa.vreg] + r[1:] }
	switch {
	case b.k.f64 && b.masked && b.isa.vreg == "Z":
		b.i("VMOVUPS.Z %s, K1, %s", m, half(r))
		b.i("VCVTPS2PD %s, %s", half(r), r)
	case b.k.f64 && b.masked:
		b.i("VMASKMOVPS %s, X15, %s", m, half(r))
		b.i("VCVTPS2PD %s, %s", half(r), r)
	case b.k.f64:
		b.i("VCVTPS2PD %s, %s", m, r)
	case b.masked && b.isa.vreg == "Z":
		b.i("VMOVUPS.Z %s, K1, %s", m, r)
	case b.masked:
		b.i("VMASKMOVPS %s, Y15, %s", m, r)
	default:
		b.i("VMOVUPS %s, %s", m, r)
	}
	return r
}

// st stores register r to this sub-vector of stream ptr.
func (b *ctx) st(r, ptr string) {
	m := b.off(ptr)
	switch {
	case b.masked && b.isa.vreg == "Z":
		b.i("VMOVUPS %s, K1, %s", r, m)
	case b.masked:
		b.i("VMASKMOVPS %s, Y15, %s", r, m)
	default:
		b.i("VMOVUPS %s, %s", r, m)
	}
}

// zeroTail clears the lanes of r past the end of the data in a masked tail (a no-op elsewhere).
func (b *ctx) zeroTail(r string) {
	switch {
	case !b.masked:
	case b.isa.vreg == "Z":
		b.i("VMOVAPS.Z %s, K1, %s", r, r)
	default:
		b.i("VANDPS Y15, %s, %s", r, r)
	}
}

// exp returns a new temporary holding e^x (x is preserved).
func (b *ctx) exp(x string) string {
	n, r, p, z := b.t(), b.t(), b.t(), b.t()
	if b.isa.vreg == "Z" {
		b.i("EXP512(%s, %s, %s, %s, %s, K2, K3)", x, n, r, p, z)
	} else {
		b.i("EXP2(%s, %s, %s, %s, %s)", x, n, r, p, z)
	}
	return p
}

// sigmoid returns a new temporary holding 1/(1+e^−x) exactly as vec.Sigmoid computes it.
func (b *ctx) sigmoid(x string) string {
	nx := b.t()
	b.i("VSUBPS %s, %s, %s", x, b.s("ZERO"), nx)
	e := b.exp(nx)
	b.i("VADDPS %s, %s, %s", b.s("ONE"), e, e)
	b.i("VDIVPS %s, %s, %s", e, b.s("ONE"), e)
	return e
}

var ptrRegs = []string{"DI", "SI", "R8", "R9", "R10", "R11", "R12", "R13"}

func ptrReg(k *kernel, name string) string {
	for i, p := range k.ptrs {
		if p == name {
			return ptrRegs[i]
		}
	}
	log.Fatalf("%s: no pointer %s", k.name, name)
	return ""
}

// frame returns the argument offsets (pointers, n, scalars), the result offset and the size.
func frame(k *kernel) (scalarOff []int, retOff, size int) {
	off := 8*len(k.ptrs) + 8
	for range k.scalars {
		scalarOff = append(scalarOff, off)
		off += 4
	}
	if k.nacc == 0 {
		return scalarOff, 0, off
	}
	off = (off + 7) &^ 7
	retOff = off
	rs := 4
	if k.f64 {
		rs = 8
	}
	return scalarOff, retOff, off + rs*k.nacc
}

func gen(w *bytes.Buffer, k *kernel, is isa) {
	L := k.lanes
	if L == 0 {
		L = 32
	}
	vl := is.f32
	if k.f64 {
		vl /= 2
	}
	U := L / vl
	scalarOff, retOff, size := frame(k)
	fmt.Fprintf(w, "// func %s%s(%s *float32, n int%s)%s\n", k.name, is.name, strings.Join(k.ptrs, ", "),
		scalarDecl(k), retDecl(k))
	fmt.Fprintf(w, "TEXT ·%s%s(SB), NOSPLIT, $0-%d\n", k.name, is.name, size)
	b := &ctx{w: w, isa: is, k: k, vl: vl, fixed: map[string]string{}, maxTemp: is.ntemp}
	for i, p := range k.ptrs {
		b.i("MOVQ %s+%d(FP), %s", p, 8*i, ptrRegs[i])
	}
	b.i("MOVQ n+%d(FP), CX", 8*len(k.ptrs))
	fixed := is.fixed
	if k.exp && is.vreg == "Z" {
		b.i("EXPCONST512")
		b.fixed["ONE"], b.fixed["ZERO"] = "Z25", "Z29"
		fixed = []int{31, 30}
	}
	take := func() string {
		if len(fixed) == 0 {
			log.Fatalf("%s %s: out of fixed registers", k.name, is.name)
		}
		r := b.reg(fixed[0])
		fixed = fixed[1:]
		return r
	}
	for i, s := range k.scalars {
		r := take()
		b.fixed[s] = r
		b.i("VBROADCASTSS %s+%d(FP), %s", s, scalarOff[i], r)
	}
	for _, c := range k.regConsts {
		r := take()
		b.fixed[c] = r
		b.i("VBROADCASTSS gc<>+%d(SB), %s", 64*constIndex(c), r)
	}
	if k.exp && is.vreg == "Y" {
		b.fixed["ONE"], b.fixed["ZERO"] = take(), take()
		b.i("VBROADCASTSS C_ONE, %s", b.fixed["ONE"])
		b.i("VXORPS %s, %s, %s", b.fixed["ZERO"], b.fixed["ZERO"], b.fixed["ZERO"])
	}
	for range k.nacc {
		var a []string
		for range U {
			r := take()
			a = append(a, r)
			b.i("VXORPS %s, %s, %s", r, r, r)
		}
		b.accs = append(b.accs, a)
	}
	if is.vreg == "Z" {
		for _, c := range k.consts {
			if len(fixed) == 0 {
				break
			}
			r := take()
			b.fixed[c] = r
			b.i("VBROADCASTSS gc<>+%d(SB), %s", 64*constIndex(c), r)
		}
	}
	// Temporaries count up from register 0 and must stay below every fixed register taken.
	for _, r := range is.fixed[:len(is.fixed)-len(fixed)] {
		if r < is.ntemp && !(k.exp && is.vreg == "Z") {
			b.maxTemp = min(b.maxTemp, r)
		}
	}
	lbl := k.name + is.name
	fmt.Fprintf(w, "\n%sloop:\n", lbl)
	b.i("CMPQ CX, $%d", L)
	b.i("JB %stail", lbl)
	for u := range U {
		b.u, b.masked, b.ntemp = u, false, 0
		k.body(b)
	}
	for _, p := range k.ptrs {
		b.i("ADDQ $%d, %s", 4*L, ptrReg(k, p))
	}
	b.i("SUBQ $%d, CX", L)
	b.i("JMP %sloop", lbl)
	fmt.Fprintf(w, "\n%stail:\n", lbl)
	for u := range U {
		b.u, b.masked, b.ntemp = u, true, 0
		b.i("CMPQ CX, $0")
		b.i("JLE %sdone", lbl)
		if is.vreg == "Z" {
			b.i("MOVQ CX, DX")
			b.i("CMPQ CX, $%d", vl)
			b.i("JLE %sm%d", lbl, u)
			b.i("MOVQ $%d, CX", vl)
			fmt.Fprintf(w, "%sm%d:\n", lbl, u)
			b.i("MOVQ $1, AX")
			b.i("SHLQ CX, AX")
			b.i("DECQ AX")
			b.i("KMOVW AX, K1")
			b.i("MOVQ DX, CX")
		} else {
			b.i("MOVQ CX, BX")
			b.i("CMPQ BX, $%d", vl)
			b.i("JLE %sm%d", lbl, u)
			b.i("MOVQ $%d, BX", vl)
			fmt.Fprintf(w, "%sm%d:\n", lbl, u)
			b.i("LEAQ tailmask<>+32(SB), AX")
			b.i("SHLQ $2, BX")
			b.i("SUBQ BX, AX")
			if k.f64 {
				b.i("VMOVDQU (AX), X15")
			} else {
				b.i("VMOVDQU (AX), Y15")
			}
		}
		k.body(b)
		b.i("SUBQ $%d, CX", vl)
	}
	fmt.Fprintf(w, "\n%sdone:\n", lbl)
	for a := range k.nacc {
		b.reduce(b.accs[a], retOff+a*map[bool]int{false: 4, true: 8}[k.f64])
	}
	b.i("VZEROUPPER")
	b.i("RET\n")
}

// reduce sums the accumulators lane j + lane j+half until one lane is left and stores it.
func (b *ctx) reduce(acc []string, off int) {
	acc = append([]string(nil), acc...)
	ps, ss := "PS", "SS"
	if b.k.f64 {
		ps, ss = "PD", "SD"
	}
	for len(acc) > 1 {
		h := len(acc) / 2
		for j := range h {
			b.i("VADD%s %s, %s, %s", ps, acc[j+h], acc[j], acc[j])
		}
		acc = acc[:h]
	}
	n := "0"
	if r := acc[0]; r[0] == 'Z' {
		b.i("VMOVAPS %s, Z0", r)
		b.i("VEXTRACTF64X4 $1, Z0, Y15")
		b.i("VADD%s Y15, Y0, Y0", ps)
	} else {
		b.i("VMOVAPS %s, Y0", r)
	}
	b.i("VEXTRACTF128 $1, Y%s, X15", n)
	b.i("VADD%s X15, X%s, X%s", ps, n, n)
	if !b.k.f64 {
		b.i("VMOVHLPS X%s, X%s, X15", n, n)
		b.i("VADDPS X15, X%s, X%s", n, n)
		b.i("VMOVSHDUP X%s, X15", n)
	} else {
		b.i("VMOVHLPS X%s, X%s, X15", n, n)
	}
	b.i("VADD%s X15, X%s, X%s", ss, n, n)
	b.i("VMOV%s X%s, ret%s+%d(FP)", ss, n, retSuffix(b.k, off), off)
}

func retSuffix(k *kernel, off int) string {
	_, r, _ := frame(k)
	if k.nacc == 1 {
		return ""
	}
	sz := 4
	if k.f64 {
		sz = 8
	}
	return fmt.Sprint((off - r) / sz)
}

func scalarDecl(k *kernel) string {
	if len(k.scalars) == 0 {
		return ""
	}
	return ", " + strings.Join(k.scalars, ", ") + " float32"
}

func retDecl(k *kernel) string {
	t := "float32"
	if k.f64 {
		t = "float64"
	}
	switch k.nacc {
	case 0:
		return ""
	case 1:
		return " " + t
	}
	var r []string
	for i := range k.nacc {
		r = append(r, fmt.Sprintf("ret%d", i))
	}
	return " (" + strings.Join(r, ", ") + " " + t + ")"
}

// vecMacros returns the exp constants, tail mask and EXP macros from kernels/vec/vec_amd64.s.
func vecMacros(vecDir string) string {
	src, err := os.ReadFile(filepath.Join(vecDir, "vec_amd64.s"))
	if err != nil {
		log.Fatal(err)
	}
	lines := strings.Split(string(src), "\n")
	var out []string
	in := false
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "#define C_"), strings.HasPrefix(l, "DATA expc"), strings.HasPrefix(l, "GLOBL expc"):
			out = append(out, l)
		case strings.HasPrefix(l, "#define EXPCONST512"), strings.HasPrefix(l, "#define EXP512("), strings.HasPrefix(l, "#define EXP2("):
			in = true
		}
		if in {
			out = append(out, l)
			if !strings.HasSuffix(l, "\\") {
				in = false
				out = append(out, "")
			}
		}
	}
	return strings.Join(out, "\n") + "\n"
}

const tailmask = `// tailmask<>: 8 all-ones int32 then 8 zeros; the lanes at byte offset 4·(8−r) enable the
// first r lanes (AVX2 VMASKMOVPS tails).
DATA tailmask<>+0(SB)/8, $0xffffffffffffffff
DATA tailmask<>+8(SB)/8, $0xffffffffffffffff
DATA tailmask<>+16(SB)/8, $0xffffffffffffffff
DATA tailmask<>+24(SB)/8, $0xffffffffffffffff
DATA tailmask<>+32(SB)/8, $0
DATA tailmask<>+40(SB)/8, $0
DATA tailmask<>+48(SB)/8, $0
DATA tailmask<>+56(SB)/8, $0
GLOBL tailmask<>(SB), RODATA|NOPTR, $64

`

func main() {
	pkg := flag.String("pkg", ".", "package directory to generate (elementwise, norm, optim or softmax)")
	flag.Parse()
	abs, err := filepath.Abs(*pkg)
	if err != nil {
		log.Fatal(err)
	}
	name := filepath.Base(abs)
	ks, ok := packages[name]
	if !ok {
		log.Fatalf("no kernels for package %q", name)
	}
	var s, g bytes.Buffer
	fmt.Fprintf(&s, "// Code generated by kernels/vec/internal/asmgen; DO NOT EDIT.\n\n//go:build amd64 && !purego\n\n#include \"textflag.h\"\n\n")
	exp := false
	for _, k := range ks {
		exp = exp || k.exp
	}
	if exp {
		s.WriteString(vecMacros(filepath.Join(abs, "..", "vec")))
	}
	s.WriteString(tailmask)
	s.WriteString(constTable(ks))
	fmt.Fprintf(&g, "// Code generated by kernels/vec/internal/asmgen; DO NOT EDIT.\n\n//go:build amd64 && !purego\n\npackage %s\n", name)
	for _, k := range ks {
		for _, is := range []isa{avx512, avx2} {
			gen(&s, k, is)
			fmt.Fprintf(&g, "\n// %s%s: %s\n//\n//go:noescape\nfunc %s%s(%s *float32, n int%s)%s\n", k.name, is.name, k.doc,
				k.name, is.name, strings.Join(k.ptrs, ", "), scalarDecl(k), retDecl(k))
		}
	}
	var o bytes.Buffer
	fmt.Fprintf(&o, "// Code generated by kernels/vec/internal/asmgen; DO NOT EDIT.\n\n//go:build !amd64 || purego\n\npackage %s\n\n", name)
	for _, k := range ks {
		fmt.Fprintf(&g, "\n// %sAsm runs %s on the active assembly path; every slice holds len(%s) > 0 elements.\n", k.name, k.name, k.ptrs[0])
		fmt.Fprintf(&g, "func %sAsm(%s []float32%s)%s {\n", k.name, strings.Join(k.ptrs, ", "), scalarDecl(k), retDecl(k))
		var args []string
		for _, p := range k.ptrs {
			args = append(args, "&"+p+"[0]")
		}
		args = append(args, "len("+k.ptrs[0]+")")
		args = append(args, k.scalars...)
		ret := ""
		if k.nacc > 0 {
			ret = "return "
		}
		a := strings.Join(args, ", ")
		fmt.Fprintf(&g, "\tif path == pathAVX512 {\n\t\t%s%sAVX512(%s)\n", ret, k.name, a)
		if ret == "" {
			fmt.Fprintf(&g, "\t\treturn\n")
		}
		fmt.Fprintf(&g, "\t}\n\t%s%sAVX2(%s)\n}\n", ret, k.name, a)
		fmt.Fprintf(&o, "\nfunc %sAsm(%s []float32%s)%s { panic(\"%s: no assembly in this build\") }\n", k.name, strings.Join(k.ptrs, ", "), scalarDecl(k), retDecl(k), name)
	}
	write(filepath.Join(abs, "asm_other.go"), o.Bytes())
	if err := os.WriteFile(filepath.Join(abs, "asm_amd64.s"), s.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	write(filepath.Join(abs, "asm_amd64.go"), g.Bytes())
}

// write gofmts Go source and writes it to file.
func write(file string, src []byte) {
	src, err := format.Source(src)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(file, src, 0o644); err != nil {
		log.Fatal(err)
	}
}
