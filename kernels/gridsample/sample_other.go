//go:build !amd64 || purego

package gridsample

var useAVX512 = false

func sampleFast(out, table []float32, p *point, C int) bool { return false }

func scatterFast(d, g []float32, wx, wy float32) int { return 0 }
