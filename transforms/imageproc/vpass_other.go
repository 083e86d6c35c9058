//go:build !amd64 || purego

package imageproc

const haveAVX2 = false

func filterRow(dst, src []uint8, stride int, k []int32) { filterRowGo(dst, src, stride, k) }
