//go:build !amd64 || purego

package vec

// Without assembly every path falls back to the pure-Go code; these are never called.

func expAsm(dst, x []float32)               { expGeneric(dst, x) }
func sigmoidAsm(dst, x []float32)           { sigmoidGeneric(dst, x) }
func dotAsm(a, b []float32) float32         { return dotGeneric(a, b) }
func axpyAsm(alpha float32, x, y []float32) { axpyGeneric(alpha, x, y) }
func scaleAsm(alpha float32, x []float32)   { scaleGeneric(alpha, x) }
func sumAsm(x []float32) float32            { return sumGeneric(x) }
func maxAsm(x []float32) float32            { return maxGeneric(x) }
